//! `shm-reader`: the Reader window.

use std::process::ExitCode;

use clap::Parser;
use shm_common::SegmentArgs;
use shm_reader::{ReaderApp, ReaderOptions, TITLE};
use shm_ui::WindowArgs;

/// The Reader window: show what the Writer sends, on a click (咻一下, Struct) or live.
#[derive(Parser, Debug)]
#[command(name = "shm-reader", version, about)]
struct Args {
    #[command(flatten)]
    segment: SegmentArgs,
    #[command(flatten)]
    window: WindowArgs,
}

fn main() -> ExitCode {
    let args = Args::parse();
    let events = match args.window.event_log("reader") {
        Ok(events) => events,
        Err(message) => {
            eprintln!("shm-reader: {message}");
            return ExitCode::FAILURE;
        }
    };
    let options = ReaderOptions {
        location: args.segment.location(),
        events,
    };
    args.window
        .run(TITLE, "shm-reader", |cc| ReaderApp::new(cc, options))
}
