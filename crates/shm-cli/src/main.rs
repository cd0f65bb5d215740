//! `shm`: send, read, inspect and remove shared-memory segments from scripts and tests.

mod advice;
mod bench;
mod commands;
mod stream;
mod tidy;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};
use shm_common::{CapacityArgs, SegmentArgs};

/// Exchange pictures and structs through shared memory, like the Writer and Reader apps.
#[derive(Parser, Debug)]
#[command(name = "shm", version, about)]
struct Cli {
    #[command(flatten)]
    segment: SegmentArgs,
    #[command(subcommand)]
    command: Command,
}

/// Options of the commands that write.
#[derive(Args, Debug)]
pub(crate) struct SendArgs {
    #[command(flatten)]
    pub(crate) capacity: CapacityArgs,
    /// Leave the segment and its records in place after this command exits.
    #[arg(long)]
    pub(crate) persist: bool,
    /// Stay the segment's writer this many seconds after sending (SIGINT, SIGTERM or SIGHUP
    /// end it early), then close as usual.
    #[arg(long, value_name = "SECONDS", default_value_t = 0.0)]
    pub(crate) hold: f64,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Send a picture file's path and bytes.
    SendImage {
        /// The picture file (sent as it is, not re-encoded).
        #[arg(value_name = "FILE")]
        picture: PathBuf,
        #[command(flatten)]
        send: SendArgs,
    },
    /// Send the fixed-layout struct.
    SendStruct {
        /// Id field.
        #[arg(long, default_value_t = 100, allow_negative_numbers = true)]
        id: i32,
        /// Age field.
        #[arg(long, default_value_t = 20, allow_negative_numbers = true)]
        age: i32,
        /// Ten scores, comma-separated (default 60,61,...,69).
        #[arg(long, value_delimiter = ',', allow_negative_numbers = true)]
        scores: Option<Vec<i32>>,
        #[command(flatten)]
        send: SendArgs,
    },
    /// Read the latest picture.
    ReadImage {
        /// Write the picture's bytes to this file.
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
        /// Print one JSON object: path, len, sha256, age_us (and width, height, format).
        #[arg(long)]
        json: bool,
        /// Also decode the picture, exactly as the Reader does (same function, same memory
        /// limits), and print its width, height and format; fail if it cannot be decoded.
        #[arg(long)]
        decode: bool,
    },
    /// Read the latest struct and print it like the original's message box.
    ReadStruct {
        /// Print one JSON object instead.
        #[arg(long)]
        json: bool,
    },
    /// Read the latest record of any channel: a struct field by field, from the type stored
    /// beside it (no need to know the type here), other records by size and hash.
    Read {
        /// The channel (`shm info` lists them).
        #[arg(long, value_name = "NAME")]
        channel: String,
        /// Print one JSON object: channel, kind, type, fields (or sha256 and text).
        #[arg(long)]
        json: bool,
    },
    /// Describe the segment: layout, capacity, writer, channels and their records.
    Info {
        /// Print one JSON object instead.
        #[arg(long)]
        json: bool,
    },
    /// Delete the segment (readers that have it open keep their copy until they close it).
    Remove {
        /// Instead: delete every segment whose writer crashed and that was not kept with
        /// --persist (the named ones, and the file given with --file).
        #[arg(long)]
        stale: bool,
        /// With --stale: print one JSON object.
        #[arg(long, requires = "stale")]
        json: bool,
    },
    /// List every segment of ours: the named ones in /dev/shm, and the file given with --file.
    Ls {
        /// Print one JSON array instead.
        #[arg(long)]
        json: bool,
    },
    /// Check what makes shared memory fail: room in /dev/shm for a segment, segments left by
    /// crashed writers, segments of other users or open to them, overcommit settings. One line
    /// a finding; exit 1 if something is wrong.
    Doctor {
        #[command(flatten)]
        capacity: CapacityArgs,
        /// Print one JSON object instead.
        #[arg(long)]
        json: bool,
    },
    /// Print one line per record as it arrives (kind, size, transfer time) and one per change
    /// of writer; records already there are marked so. Waits for a writer.
    Watch {
        /// Print JSON lines instead.
        #[arg(long)]
        json: bool,
        /// Exit after this many new records.
        #[arg(long)]
        count: Option<u64>,
    },
    /// Send raw frames at a chosen rate: a moving test pattern, or the frames of pictures,
    /// animations and folders.
    Stream(stream::StreamArgs),
    /// Measure shm against a pipe, a Unix socket and TCP between two processes, with the
    /// memcpy floor, in one run (under a minute).
    Bench(bench::BenchArgs),
    /// One side of `shm bench` (started by it).
    #[command(hide = true)]
    BenchPeer(bench::PeerArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match commands::run(&cli.segment.location(), cli.command) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("shm: {}", advice::message(&*err));
            ExitCode::FAILURE
        }
    }
}
