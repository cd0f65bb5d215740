//! A struct of your own through shared memory, its layout stored beside it.
//!
//! ```text
//! terminal 1: cargo run -p shm-common --example custom_struct -- write robot
//! terminal 2: cargo run -p shm-common --example custom_struct -- read robot
//! ```
//!
//! `write NAME` publishes a changing `Telemetry` every 100 ms until Ctrl-C; `read NAME` prints
//! each new value (`--count N`: only N). `shm --name robot read --channel telemetry` prints it
//! too, field by field, though `shm` was never compiled with `Telemetry`.

mod common;

use std::sync::atomic::Ordering;
use std::time::Duration;

use bytemuck::{Pod, Zeroable};
use shm_common::{ChannelSpec, CreationMode, Schema, Writer, WriterStatus};

/// What a robot reports ten times a second.
#[derive(Clone, Copy, Debug, PartialEq, Pod, Zeroable, Schema)]
#[repr(C)]
struct Telemetry {
    tick: u64,
    position: [f64; 3],
    speed: f32,
    battery_mv: u32,
}

const CHANNEL: &str = "telemetry";

fn main() -> common::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match (args.first().map(String::as_str), args.get(1)) {
        (Some("write"), Some(name)) => write(name, &args),
        (Some("read"), Some(name)) => read(name, &args),
        _ => Err("usage: custom_struct write NAME | read NAME [--count N]".into()),
    }
}

fn write(name: &str, args: &[String]) -> common::Result<()> {
    let count: u64 = common::flag(args, "--count", u64::MAX)?;
    let stop = common::stop_on_signal()?;
    let location = common::segment(name)?;
    let mut writer = Writer::create_with(
        &location,
        CreationMode::CreateOrOpen,
        vec![ChannelSpec::of::<Telemetry>(CHANNEL)?],
    )?;
    let channel = writer.channel::<Telemetry>(CHANNEL)?;
    println!("writing Telemetry to channel `{CHANNEL}` of {location} every 100 ms; Ctrl-C stops");
    let mut tick = 0;
    while tick < count && !stop.load(Ordering::Relaxed) {
        tick += 1;
        let t = tick as f64 / 10.0;
        let value = Telemetry {
            tick,
            position: [t.cos() * 5.0, t.sin() * 5.0, 0.0],
            speed: 0.5 + (tick % 10) as f32 / 10.0,
            battery_mv: 12_600 - (tick % 1000) as u32,
        };
        writer.publish(&channel, &value)?;
        std::thread::sleep(Duration::from_millis(100));
    }
    println!("stopped after {tick} values");
    Ok(())
}

fn read(name: &str, args: &[String]) -> common::Result<()> {
    let count: u64 = common::flag(args, "--count", u64::MAX)?;
    let stop = common::stop_on_signal()?;
    let location = common::segment(name)?;
    let mut reader = common::wait_for_segment(&location, &stop)?;
    // Refused, in words naming both types, if the channel carries anything but `Telemetry`.
    let channel = reader.channel::<Telemetry>(CHANNEL)?;
    let mut printed = 0;
    let mut last = 0;
    while printed < count && !stop.load(Ordering::Relaxed) {
        reader.wait_for_change(Duration::from_millis(250));
        if let Some((value, meta)) = reader.latest_value(&channel)?
            && meta.sequence != last
        {
            last = meta.sequence;
            printed += 1;
            println!("{value:?}");
        }
        match reader.writer_status() {
            WriterStatus::Active { .. } => {}
            // A new writer re-created the segment: the handle is checked again on its next use.
            WriterStatus::Replaced => {
                reader.reopen_if_replaced()?;
                last = 0;
            }
            WriterStatus::Closed | WriterStatus::Crashed { .. } => {
                if reader.reopen_if_replaced().unwrap_or(false) {
                    last = 0;
                }
            }
        }
    }
    Ok(())
}
