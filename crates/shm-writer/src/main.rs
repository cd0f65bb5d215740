//! `shm-writer [PICTURE]`: the Writer window.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use shm_common::{CapacityArgs, SegmentArgs};
use shm_ui::WindowArgs;
use shm_writer::{TITLE, WriterApp, WriterOptions};

/// The Writer window: pick a picture and send it with 咻一下, or send the struct.
#[derive(Parser, Debug)]
#[command(name = "shm-writer", version, about)]
struct Args {
    /// A picture to open at start.
    picture: Option<PathBuf>,
    #[command(flatten)]
    segment: SegmentArgs,
    #[command(flatten)]
    capacity: CapacityArgs,
    #[command(flatten)]
    window: WindowArgs,
}

fn main() -> ExitCode {
    let args = Args::parse();
    let events = match args.window.event_log("writer") {
        Ok(events) => events,
        Err(message) => {
            eprintln!("shm-writer: {message}");
            return ExitCode::FAILURE;
        }
    };
    let options = WriterOptions {
        location: args.segment.location(),
        capacity: args.capacity.capacity(),
        picture: args.picture,
        events,
    };
    args.window
        .run(TITLE, "shm-writer", |cc| WriterApp::new(cc, options))
}
