//! Round trips of a 48-byte struct between two processes: the latency of the channel.
//!
//! ```text
//! terminal 1: cargo run --release -p shm-common --example ping_pong -- pong table
//! terminal 2: cargo run --release -p shm-common --example ping_pong -- ping table
//! ```
//!
//! `ping` sends `--rounds N` balls (100 000 unless given) on segment `NAME-ping` and waits for
//! each to come back on `NAME-pong`, then prints the median round trip; `pong` sends every
//! ball back, and ends when `ping` does (or on Ctrl-C).

mod common;

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use bytemuck::{Pod, Zeroable};
use shm_common::{ChannelSpec, CreationMode, Schema, Writer, WriterStatus};

/// The ball: a round number and 40 bytes of payload, 48 bytes like the demo's struct.
#[derive(Clone, Copy, Debug, PartialEq, Pod, Zeroable, Schema)]
#[repr(C)]
struct Ball {
    round: u64,
    payload: [u64; 5],
}

const CHANNEL: &str = "ball";

fn main() -> common::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match (args.first().map(String::as_str), args.get(1)) {
        (Some("ping"), Some(name)) => ping(name, common::flag(&args, "--rounds", 100_000)?),
        (Some("pong"), Some(name)) => pong(name),
        _ => Err("usage: ping_pong ping NAME [--rounds N] | pong NAME".into()),
    }
}

/// A writer of balls on segment `name`.
fn ball_writer(name: &str) -> common::Result<Writer> {
    Ok(Writer::create_with(
        &common::segment(name)?,
        CreationMode::CreateOrOpen,
        vec![ChannelSpec::of::<Ball>(CHANNEL)?],
    )?)
}

fn ping(name: &str, rounds: u64) -> common::Result<()> {
    let stop = common::stop_on_signal()?;
    let mut writer = ball_writer(&format!("{name}-ping"))?;
    let out = writer.channel::<Ball>(CHANNEL)?;
    let mut reader = common::wait_for_segment(&common::segment(&format!("{name}-pong"))?, &stop)?;
    let back = reader.channel::<Ball>(CHANNEL)?;
    let mut times = Vec::with_capacity(rounds as usize);
    for round in 1..=rounds {
        let started = Instant::now();
        writer.publish(
            &out,
            &Ball {
                round,
                payload: [round; 5],
            },
        )?;
        loop {
            if let Some((ball, _)) = reader.latest_value(&back)?
                && ball.round == round
            {
                break;
            }
            if stop.load(Ordering::Relaxed) {
                return Err("stopped".into());
            }
            if !reader.wait_for_change(Duration::from_secs(5)) {
                return Err(format!("pong did not answer round {round} within 5 s").into());
            }
        }
        times.push(started.elapsed());
    }
    times.sort_unstable();
    let median = times[times.len() / 2];
    let p99 = times[times.len() * 99 / 100];
    println!(
        "{rounds} round trips of a 48-byte struct: median {:.2} µs, p99 {:.2} µs",
        median.as_secs_f64() * 1e6,
        p99.as_secs_f64() * 1e6
    );
    Ok(())
}

fn pong(name: &str) -> common::Result<()> {
    let stop = common::stop_on_signal()?;
    let mut writer = ball_writer(&format!("{name}-pong"))?;
    let out = writer.channel::<Ball>(CHANNEL)?;
    let mut reader = common::wait_for_segment(&common::segment(&format!("{name}-ping"))?, &stop)?;
    let balls = reader.channel::<Ball>(CHANNEL)?;
    let mut answered = 0u64;
    let mut last = 0;
    while !stop.load(Ordering::Relaxed) {
        if reader.wait_for_change(Duration::from_millis(250))
            && let Some((ball, meta)) = reader.latest_value(&balls)?
            && meta.sequence != last
        {
            last = meta.sequence;
            writer.publish(&out, &ball)?;
            answered += 1;
        }
        if matches!(
            reader.writer_status(),
            WriterStatus::Closed | WriterStatus::Crashed { .. }
        ) {
            break;
        }
    }
    println!("answered {answered} balls");
    Ok(())
}
