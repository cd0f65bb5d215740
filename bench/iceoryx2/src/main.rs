//! iceoryx2 0.10 measured the way `shm bench` measures shm-exchange: two processes, a 48-byte
//! round trip and a 10 MiB one-way transfer, beside the same floors (one cache line handed
//! back and forth, one memcpy) measured in the same run. iceoryx2's subscribers busy-poll
//! (`receive` in a loop), as in its own benchmarks.
//!
//! The 10 MiB transfer is measured three ways on the receiving side: `copy` (into the
//! receiver's own buffer, as `shm bench` does), `in place` (one pass over the bytes where they
//! lie, as a decoder or a hash would make) and `take` (the sample taken, its bytes not
//! touched). The sender always copies the payload into the loaned sample: one copy in.
#![allow(unsafe_code)]

use std::process::{Child, Command};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use iceoryx2::prelude::*;

const LARGE: usize = 10 * 1024 * 1024;
const ROUND_TRIPS: usize = 20_000;
const WARM_UP: usize = 1_000;
const LARGE_MESSAGES: usize = 60;
const LARGE_WARM_UP: usize = 5;
/// The timestamp that ends a peer.
const STOP: u64 = u64::MAX;

type Error = Box<dyn std::error::Error>;

/// `CLOCK_MONOTONIC` in nanoseconds: the same clock in both processes.
fn now_ns() -> u64 {
    let mut now = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `now` is a valid, writable timespec.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut now) };
    u64::try_from(now.tv_sec).unwrap_or(0) * 1_000_000_000 + u64::try_from(now.tv_nsec).unwrap_or(0)
}

/// Median and 99th percentile.
fn percentiles(mut samples: Vec<f64>) -> (f64, f64) {
    samples.sort_by(f64::total_cmp);
    let at = |q: f64| samples[((samples.len() - 1) as f64 * q).round() as usize];
    (at(0.5), at(0.99))
}

/// One page of POSIX shared memory whose first word two processes hand back and forth: the
/// round-trip floor (as `shm bench`'s `SharedLine`). Stays mapped until the process exits.
fn shared_word(name: &str, create: bool) -> Result<&'static AtomicU64, Error> {
    let c_name = std::ffi::CString::new(name)?;
    let flags = if create {
        libc::O_CREAT | libc::O_EXCL | libc::O_RDWR
    } else {
        libc::O_RDWR
    };
    let started = Instant::now();
    let fd = loop {
        // SAFETY: `c_name` is NUL-terminated; flags and mode are integers.
        let fd = unsafe { libc::shm_open(c_name.as_ptr(), flags, 0o600) };
        if fd >= 0 {
            break fd;
        }
        if create || started.elapsed() > Duration::from_secs(20) {
            return Err(std::io::Error::last_os_error().into());
        }
        std::thread::sleep(Duration::from_millis(1));
    };
    // SAFETY: `fd` is open; a page of length.
    if create && unsafe { libc::ftruncate(fd, 4096) } != 0 {
        return Err(std::io::Error::last_os_error().into());
    }
    // SAFETY: maps one page of the open `fd`, shared, never unmapped.
    let page = unsafe {
        libc::mmap(
            std::ptr::null_mut(),
            4096,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_SHARED,
            fd,
            0,
        )
    };
    if page == libc::MAP_FAILED {
        return Err(std::io::Error::last_os_error().into());
    }
    // SAFETY: the page is mapped for the rest of the process, page-aligned, and its first 8
    // bytes are accessed only as this atomic, in both processes.
    Ok(unsafe { &*page.cast::<AtomicU64>() })
}

fn unlink(name: &str) -> Result<(), Error> {
    let c_name = std::ffi::CString::new(name)?;
    // SAFETY: `c_name` is NUL-terminated.
    unsafe { libc::shm_unlink(c_name.as_ptr()) };
    Ok(())
}

/// Spins until `word` is not `old`.
fn wait_change(word: &AtomicU64, old: u64) -> u64 {
    loop {
        // Acquire: pairs with the other side's Release store.
        let value = word.load(Ordering::Acquire);
        if value != old {
            return value;
        }
        std::hint::spin_loop();
    }
}

fn service_name(tag: &str, what: &str) -> Result<ServiceName, Error> {
    Ok(format!("{tag}-{what}").as_str().try_into()?)
}

/// A publish-subscribe service of `T`.
type PubSub<T> =
    iceoryx2::service::port_factory::publish_subscribe::PortFactory<ipc::Service, T, ()>;

/// The round trip's two services: pings out, pongs back.
fn round_trip_services(
    node: &Node<ipc::Service>,
    tag: &str,
) -> Result<(PubSub<[u64; 6]>, PubSub<[u64; 6]>), Error> {
    let ping = node
        .service_builder(&service_name(tag, "ping")?)
        .publish_subscribe::<[u64; 6]>()
        .open_or_create()?;
    let pong = node
        .service_builder(&service_name(tag, "pong")?)
        .publish_subscribe::<[u64; 6]>()
        .open_or_create()?;
    Ok((ping, pong))
}

/// The one-way transfer's two services: the large samples out, their latencies back.
fn one_way_services(
    node: &Node<ipc::Service>,
    tag: &str,
) -> Result<(PubSub<[u8]>, PubSub<u64>), Error> {
    let large = node
        .service_builder(&service_name(tag, "large")?)
        .publish_subscribe::<[u8]>()
        .open_or_create()?;
    let acks = node
        .service_builder(&service_name(tag, "ack")?)
        .publish_subscribe::<u64>()
        .open_or_create()?;
    Ok((large, acks))
}

/// The peer process's side of each measurement.
fn peer(role: &str, tag: &str) -> Result<(), Error> {
    if role == "floor" {
        let word = shared_word(&format!("/{tag}-line"), false)?;
        let mut seen = 0;
        loop {
            let value = wait_change(word, seen);
            if value == STOP {
                return Ok(());
            }
            seen = value + 1;
            word.store(seen, Ordering::Release);
        }
    }
    let node = NodeBuilder::new().create::<ipc::Service>()?;
    if role == "echo" {
        let (ping, pong) = round_trip_services(&node, tag)?;
        let subscriber = ping.subscriber_builder().create()?;
        let publisher = pong.publisher_builder().create()?;
        loop {
            if let Some(sample) = subscriber.receive()? {
                let value = *sample;
                drop(sample);
                publisher.send_copy(value)?;
                if value[0] == STOP {
                    return Ok(());
                }
            }
        }
    }
    let (large, acks) = one_way_services(&node, tag)?;
    let subscriber = large.subscriber_builder().create()?;
    let publisher = acks.publisher_builder().create()?;
    let mut own = vec![0u8; LARGE + 8];
    loop {
        let Some(sample) = subscriber.receive()? else {
            continue;
        };
        let payload = sample.payload();
        let sent = u64::from_le_bytes(payload[..8].try_into()?);
        if sent == STOP {
            return Ok(());
        }
        match role {
            "copy" => {
                own.copy_from_slice(payload);
                std::hint::black_box(&own);
            }
            "in-place" => {
                let sum = payload
                    .chunks_exact(8)
                    .map(|word| u64::from_ne_bytes(word.try_into().unwrap_or_default()))
                    .fold(0u64, u64::wrapping_add);
                std::hint::black_box(sum);
            }
            _ => {}
        }
        let latency = now_ns() - sent;
        drop(sample);
        publisher.send_copy(latency)?;
    }
}

fn spawn(role: &str, tag: &str) -> Result<Child, Error> {
    Ok(Command::new(std::env::current_exe()?)
        .args([role, tag])
        .spawn()?)
}

fn floor(tag: &str) -> Result<(f64, f64), Error> {
    let name = format!("/{tag}-line");
    let word = shared_word(&name, true)?;
    let mut peer = spawn("floor", tag)?;
    let mut samples = Vec::with_capacity(ROUND_TRIPS);
    let mut value = 0;
    for i in 0..ROUND_TRIPS + WARM_UP {
        let started = Instant::now();
        value += 1;
        word.store(value, Ordering::Release);
        value = wait_change(word, value);
        if i >= WARM_UP {
            samples.push(started.elapsed().as_secs_f64() * 1e6);
        }
    }
    word.store(STOP, Ordering::Release);
    peer.wait()?;
    unlink(&name)?;
    Ok(percentiles(samples))
}

fn round_trip(node: &Node<ipc::Service>, tag: &str) -> Result<(f64, f64), Error> {
    let (ping, pong) = round_trip_services(node, tag)?;
    let publisher = ping.publisher_builder().create()?;
    let subscriber = pong.subscriber_builder().create()?;
    let mut peer = spawn("echo", tag)?;
    // Samples sent before the echo subscribed go nowhere: send until one comes back.
    'connected: loop {
        publisher.send_copy([0; 6])?;
        let sent = Instant::now();
        while sent.elapsed() < Duration::from_millis(10) {
            if subscriber.receive()?.is_some() {
                break 'connected;
            }
        }
    }
    let mut samples = Vec::with_capacity(ROUND_TRIPS);
    for i in 1..=(ROUND_TRIPS + WARM_UP) as u64 {
        let started = Instant::now();
        publisher.send_copy([i, 0, 0, 0, 0, 0])?;
        while !subscriber.receive()?.is_some_and(|sample| sample[0] == i) {}
        if i > WARM_UP as u64 {
            samples.push(started.elapsed().as_secs_f64() * 1e6);
        }
    }
    publisher.send_copy([STOP; 6])?;
    peer.wait()?;
    Ok(percentiles(samples))
}

fn memcpy_floor() -> f64 {
    let source = vec![0x5au8; LARGE];
    let mut target = vec![0u8; LARGE];
    let samples = (0..LARGE_MESSAGES + LARGE_WARM_UP)
        .map(|_| {
            let started = Instant::now();
            target.copy_from_slice(std::hint::black_box(&source));
            std::hint::black_box(&target);
            started.elapsed().as_secs_f64() * 1e3
        })
        .skip(LARGE_WARM_UP)
        .collect();
    percentiles(samples).0
}

fn one_way(node: &Node<ipc::Service>, tag: &str, role: &str) -> Result<(f64, f64), Error> {
    let tag = format!("{tag}-{role}");
    let (large, acks) = one_way_services(node, &tag)?;
    let publisher = large
        .publisher_builder()
        .initial_max_slice_len(LARGE + 8)
        .create()?;
    let subscriber = acks.subscriber_builder().create()?;
    let mut peer = spawn(role, &tag)?;
    let payload = vec![0x5au8; LARGE];
    // The sender's one copy, into the loaned sample, behind an 8-byte timestamp.
    let send = |stamp: u64| -> Result<(), Error> {
        let mut sample = publisher.loan_slice_uninit(LARGE + 8)?;
        let bytes = sample.payload_mut();
        bytes[..8].write_copy_of_slice(&stamp.to_le_bytes());
        bytes[8..].write_copy_of_slice(&payload);
        // SAFETY: every byte was written just above.
        unsafe { sample.assume_init() }.send()?;
        Ok(())
    };
    'connected: loop {
        send(now_ns())?;
        let sent = Instant::now();
        while sent.elapsed() < Duration::from_millis(50) {
            if subscriber.receive()?.is_some() {
                break 'connected;
            }
        }
    }
    // Acknowledgements of samples sent while connecting.
    std::thread::sleep(Duration::from_millis(20));
    while subscriber.receive()?.is_some() {}
    let mut samples = Vec::with_capacity(LARGE_MESSAGES);
    for i in 0..LARGE_MESSAGES + LARGE_WARM_UP {
        send(now_ns())?;
        let latency = loop {
            if let Some(sample) = subscriber.receive()? {
                break *sample;
            }
        };
        if i >= LARGE_WARM_UP {
            samples.push(latency as f64 / 1e6);
        }
    }
    send(STOP)?;
    peer.wait()?;
    Ok(percentiles(samples))
}

fn main() -> Result<(), Error> {
    let args: Vec<String> = std::env::args().collect();
    if let [_, role, tag] = &args[..] {
        return peer(role, tag);
    }
    let tag = format!("ice-bench-{}", std::process::id());
    let floor = floor(&tag)?;
    let node = NodeBuilder::new().create::<ipc::Service>()?;
    let rtt = round_trip(&node, &tag)?;
    let memcpy = memcpy_floor();
    println!("iceoryx2 0.10: 2 processes, busy polling");
    println!("48-byte round trip                median        p99");
    println!(
        "  one cache line (floor)     {:>9.2} µs {:>9.2} µs",
        floor.0, floor.1
    );
    println!(
        "  iceoryx2                   {:>9.2} µs {:>9.2} µs   ({:.1} x floor, p99 {:.1} x)",
        rtt.0,
        rtt.1,
        rtt.0 / floor.0,
        rtt.1 / floor.1
    );
    println!("10 MiB, one way                   median        p99");
    println!("  memcpy (one copy, floor)   {memcpy:>9.3} ms");
    for role in ["copy", "in-place", "take"] {
        let (median, p99) = one_way(&node, &tag, role)?;
        println!(
            "  iceoryx2, {role:<8}         {median:>9.3} ms {p99:>9.3} ms   ({:.2} x memcpy)",
            median / memcpy
        );
    }
    Ok(())
}
