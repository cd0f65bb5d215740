//! What the examples share: their command lines, waiting for the other side, stopping on
//! Ctrl-C. (Not an example itself: each example includes it with `mod common;`.)
#![allow(dead_code)]

use std::error::Error;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use shm_common::{OpenError, Reader, SegmentLocation, SegmentName};

pub type Result<T> = std::result::Result<T, Box<dyn Error>>;

/// The named segment `name` (in /dev/shm on Linux).
pub fn segment(name: &str) -> Result<SegmentLocation> {
    Ok(SegmentLocation::Named(SegmentName::new(name)?))
}

/// The value after `--flag` among `args`, parsed; `default` if the flag is absent.
pub fn flag<T: std::str::FromStr>(args: &[String], flag: &str, default: T) -> Result<T> {
    match args.iter().position(|arg| arg == flag) {
        None => Ok(default),
        Some(at) => args
            .get(at + 1)
            .and_then(|value| value.parse().ok())
            .ok_or_else(|| format!("{flag} needs a number after it").into()),
    }
}

/// Opens the segment at `location` once its writer has created it.
pub fn wait_for_segment(location: &SegmentLocation, stop: &AtomicBool) -> Result<Reader> {
    let mut said = false;
    loop {
        match Reader::open(location) {
            Ok(reader) => return Ok(reader),
            Err(OpenError::NotFound { .. }) if !stop.load(Ordering::Relaxed) => {
                if !said {
                    eprintln!("waiting for a writer to create {location}…");
                    said = true;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            Err(err) => return Err(err.into()),
        }
    }
}

/// A flag that Ctrl-C (or SIGTERM, SIGHUP) sets: the examples end cleanly on it, so their
/// writers remove their segments.
pub fn stop_on_signal() -> Result<Arc<AtomicBool>> {
    let stop = Arc::new(AtomicBool::new(false));
    let flag = Arc::clone(&stop);
    ctrlc::set_handler(move || flag.store(true, Ordering::Relaxed))?;
    Ok(stop)
}
