//! `shm-reader`: the Reader window.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use shm_common::SegmentArgs;
use shm_reader::{ReaderApp, ReaderOptions, TITLE};
use shm_ui::EventLog;

/// The Reader window: show what the Writer sends, on a click (咻一下, Struct) or live.
#[derive(Parser, Debug)]
#[command(name = "shm-reader", version, about)]
struct Args {
    #[command(flatten)]
    segment: SegmentArgs,
    /// Append a JSON line to this file for everything the window receives, shows or fails at.
    #[arg(long, value_name = "FILE")]
    events: Option<PathBuf>,
    /// Where to put the window's top-left corner on the screen, e.g. 920,0.
    #[arg(long, value_name = "X,Y", value_delimiter = ',', num_args = 2)]
    position: Option<Vec<f32>>,
}

fn main() -> ExitCode {
    let args = Args::parse();
    let events = match &args.events {
        Some(path) => match EventLog::open("reader", path) {
            Ok(log) => log,
            Err(err) => {
                eprintln!(
                    "shm-reader: cannot open the event log '{}': {err}",
                    path.display()
                );
                return ExitCode::FAILURE;
            }
        },
        None => EventLog::disabled("reader"),
    };
    let options = ReaderOptions {
        location: args.segment.location(),
        events,
    };
    let mut viewport = egui::ViewportBuilder::default()
        .with_title(TITLE)
        .with_app_id("shm-reader")
        .with_inner_size([900.0, 620.0]);
    if let Some([x, y]) = args
        .position
        .as_deref()
        .and_then(|p| <[f32; 2]>::try_from(p).ok())
    {
        viewport = viewport.with_position([x, y]);
    }
    let native = eframe::NativeOptions {
        viewport,
        ..Default::default()
    };
    let result = eframe::run_native(
        TITLE,
        native,
        Box::new(|cc| Ok(Box::new(ReaderApp::new(cc, options)))),
    );
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("shm-reader: cannot open a window: {err}");
            ExitCode::FAILURE
        }
    }
}
