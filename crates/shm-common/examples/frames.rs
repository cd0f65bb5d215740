//! A stream of raw frames: as fast as the channel goes, or at a rate you choose.
//!
//! ```text
//! terminal 1: cargo run --release -p shm-common --example frames -- send video
//! terminal 2: cargo run --release -p shm-common --example frames -- receive video
//! ```
//!
//! `send` publishes 1280x720 RGBA frames of a moving pattern (`--fps N` to pace them,
//! `--count N` to stop) and prints frames per second; `receive` checks every frame it gets
//! and prints how many arrived and how many it skipped. A channel holds the latest frame, not
//! a queue: a slow reader skips frames, it never slows the writer down.

mod common;

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use shm_common::{
    Capacity, CreationMode, FrameHeader, FrameMessage, Message, PixelFormat, RecordKind, Writer,
    WriterStatus,
};

const WIDTH: u32 = 1280;
const HEIGHT: u32 = 720;

fn main() -> common::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let count: u64 = common::flag(&args, "--count", u64::MAX)?;
    match (args.first().map(String::as_str), args.get(1)) {
        (Some("send"), Some(name)) => send(name, count, common::flag(&args, "--fps", 0.0)?),
        (Some("receive"), Some(name)) => receive(name, count),
        _ => Err("usage: frames send NAME [--fps N] [--count N] | receive NAME [--count N]".into()),
    }
}

/// Frame `number`'s byte at `offset`: a pattern the receiver can check anywhere.
fn pattern(number: u64, offset: usize) -> u8 {
    (offset as u64 / 4).wrapping_add(number.wrapping_mul(7)) as u8
}

fn send(name: &str, count: u64, fps: f64) -> common::Result<()> {
    let stop = common::stop_on_signal()?;
    let location = common::segment(name)?;
    let mut writer = Writer::create(&location, CreationMode::CreateOrOpen, Capacity::Default)?;
    let mut frame = FrameMessage::blank(WIDTH, HEIGHT, PixelFormat::Rgba8, 0);
    if !writer.fits(RecordKind::Frame, frame.encoded_len()) {
        let growth = writer.plan_growth(RecordKind::Frame, frame.encoded_len())?;
        writer.grow(&growth)?;
    }
    println!("sending {WIDTH}x{HEIGHT} RGBA frames to {location}; Ctrl-C stops");
    let interval = (fps > 0.0).then(|| Duration::from_secs_f64(1.0 / fps));
    let (mut second, mut in_second) = (Instant::now(), 0u64);
    let mut number = 0;
    while number < count && !stop.load(Ordering::Relaxed) {
        number += 1;
        let started = Instant::now();
        for (offset, byte) in frame.pixels.iter_mut().enumerate() {
            *byte = pattern(number, offset);
        }
        let header = FrameHeader {
            width: WIDTH,
            height: HEIGHT,
            format: PixelFormat::Rgba8,
            stride: WIDTH * 4,
            number,
        };
        writer.send_frame(&header, &frame.pixels)?;
        in_second += 1;
        if second.elapsed() >= Duration::from_secs(1) {
            println!("{in_second} frames/s");
            (second, in_second) = (Instant::now(), 0);
        }
        if let Some(interval) = interval {
            std::thread::sleep(interval.saturating_sub(started.elapsed()));
        }
    }
    println!("sent {number} frames");
    Ok(())
}

fn receive(name: &str, count: u64) -> common::Result<()> {
    let stop = common::stop_on_signal()?;
    let mut reader = common::wait_for_segment(&common::segment(name)?, &stop)?;
    let mut frame = FrameMessage::default();
    let (mut received, mut skipped, mut last) = (0u64, 0u64, None::<u64>);
    let (mut second, mut in_second) = (Instant::now(), 0u64);
    while received < count && !stop.load(Ordering::Relaxed) {
        // Wakes as soon as a frame starts: it is copied right behind the writer.
        reader.wait_for_next(Duration::from_millis(250));
        if let Some(meta) = reader.read_next_into(&mut frame)? {
            let intact = frame
                .pixels
                .iter()
                .enumerate()
                .step_by(4093)
                .all(|(offset, &byte)| byte == pattern(frame.number, offset));
            if !intact {
                return Err(format!(
                    "frame {} (record {}) is damaged",
                    frame.number, meta.sequence
                )
                .into());
            }
            skipped += last.map_or(0, |last| frame.number.saturating_sub(last + 1));
            last = Some(frame.number);
            received += 1;
            in_second += 1;
        }
        if second.elapsed() >= Duration::from_secs(1) {
            println!("{in_second} frames/s");
            (second, in_second) = (Instant::now(), 0);
        }
        match reader.writer_status() {
            WriterStatus::Replaced => {
                reader.reopen_if_replaced()?;
            }
            WriterStatus::Closed | WriterStatus::Crashed { .. } if received > 0 => break,
            _ => {}
        }
    }
    println!("received {received} frames, all intact; skipped {skipped}");
    Ok(())
}
