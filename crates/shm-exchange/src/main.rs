//! `shm-exchange`: the Writer and the Reader side by side, as two processes on one segment.

use std::ffi::OsString;
use std::process::{Child, Command, ExitCode};

use clap::Parser;
use shm_common::{SegmentArgs, SegmentLocation};

/// Opens the Writer and the Reader side by side, as two processes on one segment.
#[derive(Parser, Debug)]
#[command(name = "shm-exchange", version, about)]
struct Launcher {
    /// The segment both windows use.
    #[command(flatten)]
    segment: SegmentArgs,
}

/// Where each window goes: the Writer on the left, the Reader on its right.
const WRITER_POSITION: &str = "0,0";
const READER_POSITION: &str = "900,0";

fn main() -> ExitCode {
    let mut args: Vec<OsString> = std::env::args_os().collect();
    match args.get(1).and_then(|arg| arg.to_str()) {
        Some("writer") => {
            args.remove(1);
            shm_writer::run(shm_writer::Args::parse_from(args))
        }
        Some("reader") => {
            args.remove(1);
            shm_reader::run(shm_reader::Args::parse_from(args))
        }
        _ => launch(&Launcher::parse()),
    }
}

fn launch(launcher: &Launcher) -> ExitCode {
    let segment_flags: Vec<OsString> = match launcher.segment.location() {
        SegmentLocation::Named(name) => vec!["--name".into(), name.as_str().into()],
        SegmentLocation::File(path) => vec!["--file".into(), path.into_os_string()],
    };
    let exe = match std::env::current_exe() {
        Ok(exe) => exe,
        Err(err) => {
            eprintln!("shm-exchange: cannot find its own executable to start the windows: {err}");
            return ExitCode::FAILURE;
        }
    };
    let spawn = |app: &str, position: &str| -> Option<Child> {
        Command::new(&exe)
            .arg(app)
            .args(&segment_flags)
            .args(["--position", position])
            .spawn()
            .map_err(|err| eprintln!("shm-exchange: cannot start the {app}: {err}"))
            .ok()
    };
    // The Writer first, so the Reader finds its segment at once (it would wait for it anyway).
    let children = [
        spawn("writer", WRITER_POSITION),
        spawn("reader", READER_POSITION),
    ];
    let mut all_ok = children.iter().all(Option::is_some);
    for mut child in children.into_iter().flatten() {
        all_ok &= child.wait().is_ok_and(|status| status.success());
    }
    if all_ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
