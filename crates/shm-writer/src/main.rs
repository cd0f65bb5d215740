//! `shm-writer [PICTURE]`: the Writer window.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use shm_common::{CapacityArgs, SegmentArgs};
use shm_ui::EventLog;
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
    /// Append a JSON line to this file for everything the window loads, sends or fails at.
    #[arg(long, value_name = "FILE")]
    events: Option<PathBuf>,
    /// Where to put the window's top-left corner on the screen, e.g. 0,0.
    #[arg(long, value_name = "X,Y", value_delimiter = ',', num_args = 2)]
    position: Option<Vec<f32>>,
}

fn main() -> ExitCode {
    let args = Args::parse();
    let events = match &args.events {
        Some(path) => match EventLog::open("writer", path) {
            Ok(log) => log,
            Err(err) => {
                eprintln!(
                    "shm-writer: cannot open the event log '{}': {err}",
                    path.display()
                );
                return ExitCode::FAILURE;
            }
        },
        None => EventLog::disabled("writer"),
    };
    let options = WriterOptions {
        location: args.segment.location(),
        capacity: args.capacity.capacity(),
        picture: args.picture,
        events,
    };
    let mut viewport = egui::ViewportBuilder::default()
        .with_title(TITLE)
        .with_app_id("shm-writer")
        .with_inner_size([900.0, 620.0])
        .with_drag_and_drop(true);
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
        Box::new(|cc| Ok(Box::new(WriterApp::new(cc, options)))),
    );
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("shm-writer: cannot open a window: {err}");
            ExitCode::FAILURE
        }
    }
}
