//! `shm-writer [PICTURE]`: the Writer window.

use clap::Parser;

fn main() -> std::process::ExitCode {
    shm_writer::run(shm_writer::Args::parse())
}
