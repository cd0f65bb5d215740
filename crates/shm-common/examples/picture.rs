//! A picture file from one process to another.
//!
//! ```text
//! terminal 1: cargo run -p shm-common --example picture -- send gallery cat.png
//! terminal 2: cargo run -p shm-common --example picture -- receive gallery copy.png
//! ```
//!
//! `send` publishes the file's path and bytes (the original demo's framing) and stays the
//! segment's writer until Ctrl-C; `receive` waits for a picture, writes its bytes to the file
//! given and prints what it got. The Reader window (`--name gallery`) shows it too.

mod common;

use std::sync::atomic::Ordering;
use std::time::Duration;

use shm_common::{Capacity, CreationMode, DEFAULT_CAPACITY, ImageMessage, Writer};

fn main() -> common::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match (args.first().map(String::as_str), args.get(1), args.get(2)) {
        (Some("send"), Some(name), Some(file)) => send(name, file),
        (Some("receive"), Some(name), Some(out)) => receive(name, out),
        _ => Err("usage: picture send NAME FILE | receive NAME OUT".into()),
    }
}

fn send(name: &str, file: &str) -> common::Result<()> {
    let stop = common::stop_on_signal()?;
    let bytes = std::fs::read(file).map_err(|err| format!("cannot read '{file}': {err}"))?;
    let framed = ImageMessage::framed_len(file, bytes.len());
    let location = common::segment(name)?;
    let mut writer = Writer::create(
        &location,
        CreationMode::CreateOrOpen,
        Capacity::AtLeast(framed.max(DEFAULT_CAPACITY)),
    )?;
    let meta = writer.send_image(file, &bytes)?;
    println!(
        "sent '{file}' ({} bytes) to {location} as record {}; Ctrl-C ends (and removes it)",
        bytes.len(),
        meta.sequence
    );
    while !stop.load(Ordering::Relaxed) {
        std::thread::sleep(Duration::from_millis(50));
    }
    Ok(())
}

fn receive(name: &str, out: &str) -> common::Result<()> {
    let stop = common::stop_on_signal()?;
    let mut reader = common::wait_for_segment(&common::segment(name)?, &stop)?;
    let mut picture = ImageMessage::default();
    loop {
        if let Some(meta) = reader.read_into(&mut picture)? {
            std::fs::write(out, &picture.bytes)
                .map_err(|err| format!("cannot write '{out}': {err}"))?;
            println!(
                "received '{}' ({} bytes, record {}) into '{out}'",
                picture.path,
                picture.bytes.len(),
                meta.sequence
            );
            return Ok(());
        }
        if stop.load(Ordering::Relaxed) {
            return Err("stopped before a picture arrived".into());
        }
        reader.wait_for_change(Duration::from_millis(250));
    }
}
