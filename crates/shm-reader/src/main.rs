//! `shm-reader`: the Reader window.

use clap::Parser;

fn main() -> std::process::ExitCode {
    shm_reader::run(shm_reader::Args::parse())
}
