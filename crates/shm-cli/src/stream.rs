//! `shm stream`: raw frames at a chosen rate (or as fast as possible) from a moving test
//! pattern, or from the frames of pictures, animations and folders of pictures.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use serde_json::json;
use shm_common::{
    ByteSize, Elapsed, FrameHeader, FrameMessage, PixelFormat, RecordKind, SegmentLocation,
};
use shm_picture::{Pacer, StreamFrames};

use crate::SendArgs;
use crate::bench::percentiles;
use crate::commands::{Result, open_writer, send_growing};

/// What `shm stream` sends.
#[derive(Debug, clap::Args)]
pub struct StreamArgs {
    /// Pictures, animated GIF/APNG/WebP files or folders of pictures; none: a moving test
    /// pattern.
    #[arg(value_name = "FILE|DIR")]
    pub files: Vec<PathBuf>,
    /// Frame size, e.g. 1920x1080: the pattern's size (default 1280x720), or the size
    /// pictures are fitted into (default: the first picture's).
    #[arg(long, value_name = "WxH", value_parser = parse_frame_size)]
    pub size: Option<(u32, u32)>,
    /// Frames per second; 0 sends as fast as possible.
    #[arg(long, default_value_t = 30.0)]
    pub fps: f64,
    /// Stop after this many seconds (default: until Ctrl-C).
    #[arg(long)]
    pub seconds: Option<f64>,
    /// Print the summary as one JSON object.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub send: SendArgs,
}

/// The pattern's size when none is given.
const PATTERN_SIZE: (u32, u32) = (1280, 720);

fn parse_frame_size(text: &str) -> std::result::Result<(u32, u32), String> {
    let parse = |part: &str| part.trim().parse::<u32>().ok().filter(|&side| side > 0);
    match text
        .split_once(['x', 'X'])
        .map(|(w, h)| (parse(w), parse(h)))
    {
        Some((Some(width), Some(height))) => Ok((width, height)),
        _ => Err(format!(
            "'{text}' is not a frame size; write WIDTHxHEIGHT, e.g. 1280x720"
        )),
    }
}

/// Streams until the time is up or Ctrl-C, then prints what was sent.
pub fn run(location: &SegmentLocation, args: &StreamArgs) -> Result<()> {
    let frames = if args.files.is_empty() {
        let (width, height) = args.size.unwrap_or(PATTERN_SIZE);
        StreamFrames::pattern(width, height)?
    } else {
        let (frames, notes) = StreamFrames::from_paths(&args.files, args.size)?;
        for note in notes {
            eprintln!("shm: {note}");
        }
        frames
    };
    if !args.fps.is_finite() || args.fps < 0.0 {
        return Err(format!("--fps {} is not a frame rate; give 0 or more", args.fps).into());
    }
    let stop = Arc::new(AtomicBool::new(false));
    let on_signal = Arc::clone(&stop);
    // Without the handler Ctrl-C would kill the process before the segment is removed.
    ctrlc::set_handler(move || on_signal.store(true, Ordering::Relaxed))
        .map_err(|err| format!("cannot catch Ctrl-C: {err}"))?;
    let mut writer = open_writer(location, &args.send)?;
    let (width, height) = frames.size();
    let row_len = frames.row_len();
    let len = FrameMessage::framed_len(frames.frame_len());
    let deadline = args.seconds.map(Duration::from_secs_f64);
    let mut pacer = Pacer::new(args.fps);
    let mut write_ms = Vec::new();
    let started = Instant::now();
    let mut number = 0u64;
    while !stop.load(Ordering::Relaxed) && deadline.is_none_or(|limit| started.elapsed() < limit) {
        pacer.wait();
        let header = FrameHeader {
            width,
            height,
            format: PixelFormat::Rgba8,
            stride: row_len as u32,
            number,
        };
        let rows = frames.rows(number);
        let meta = send_growing(&mut writer, RecordKind::Frame, len, |writer| {
            writer.send_frame_rows(&header, &rows)
        })?;
        write_ms.push(meta.write_time().as_secs_f64() * 1e3);
        number += 1;
    }
    let elapsed = started.elapsed().as_secs_f64();
    let fps = number as f64 / elapsed.max(1e-9);
    let (median, p99) = percentiles(&mut write_ms);
    if args.json {
        let summary = json!({
            "frames": number,
            "width": width,
            "height": height,
            "format": "RGBA8",
            "seconds": elapsed,
            "fps": fps,
            "bytes_per_second": fps * len as f64,
            "write_ms_median": median,
            "write_ms_p99": p99,
        });
        println!("{summary}");
    } else {
        println!(
            "sent {number} frames of {width}x{height} RGBA8 ({}) to {location} in {}: {fps:.0} frames/s, {}/s; writing a frame took {median:.3} ms (median), {p99:.3} ms (p99)",
            ByteSize(len),
            Elapsed(started.elapsed()),
            ByteSize((fps * len as f64) as usize),
        );
    }
    Ok(())
}
