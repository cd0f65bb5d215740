//! Multi-process tests: real writer and reader processes on unique named segments.
//!
//! The children are this very test binary, re-run with `--exact child_process --ignored` and the
//! role in `SHM_CHILD_ROLE`; they print one `RESULT {json}` line the parent parses (a `holder`
//! prints `HOLDING` once it holds a record in place, and then waits to be killed).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use shm_common::{
    Capacity, CreateError, CreationMode, ImageMessage, ImageView, MIN_CAPACITY, OpenError,
    PICTURE_CHANNEL, Reader, SegmentLocation, SegmentName, TestData, Writer, WriterStatus,
};
use shm_testkit::TestSegment;

const CAPACITY: usize = 1 << 20;

/// A self-checking picture: its path names the counter and length, its bytes follow from them.
fn payload(counter: u64) -> (String, Vec<u8>) {
    let len = 1 + (counter.wrapping_mul(2_654_435_761) % 300_000) as usize;
    let path = format!("/stress/{counter}/{len}.bin");
    let bytes = (0..len)
        .map(|i| (counter as usize).wrapping_mul(131).wrapping_add(i) as u8 ^ (i >> 8) as u8)
        .collect();
    (path, bytes)
}

fn payload_is_intact(image: &ImageMessage) -> bool {
    view_is_intact(path_and_bytes(image))
}

fn path_and_bytes(image: &ImageMessage) -> ImageView<'_> {
    ImageView {
        path: &image.path,
        bytes: &image.bytes,
    }
}

fn view_is_intact(image: ImageView<'_>) -> bool {
    let mut parts = image.path.trim_start_matches("/stress/").split('/');
    let Some(Ok(counter)) = parts.next().map(str::parse::<u64>) else {
        return false;
    };
    let (path, bytes) = payload(counter);
    path == image.path && bytes == image.bytes
}

fn struct_for(counter: u64) -> TestData {
    let id = counter as i32;
    TestData {
        id,
        age: id ^ 0x5555,
        scores: std::array::from_fn(|i| id.wrapping_add(i as i32)),
    }
}

fn struct_is_intact(data: &TestData) -> bool {
    *data == struct_for(data.id as u32 as u64)
}

fn open_reader(location: &SegmentLocation) -> Reader {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        match Reader::open(location) {
            Ok(reader) => return reader,
            Err(OpenError::NotFound { .. }) if Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(2));
            }
            Err(err) => panic!("reader cannot open: {err}"),
        }
    }
}

fn env(name: &str) -> String {
    std::env::var(name).unwrap_or_default()
}

/// Entry point of the child processes; does nothing unless `SHM_CHILD_ROLE` is set.
#[test]
#[ignore = "entry point for the child processes the other tests spawn"]
fn child_process() {
    let name = SegmentName::new(env("SHM_CHILD_SEGMENT")).unwrap();
    let location = SegmentLocation::Named(name);
    let seconds: f64 = env("SHM_CHILD_SECONDS").parse().unwrap_or(3.0);
    let until = Instant::now() + Duration::from_secs_f64(seconds);
    match env("SHM_CHILD_ROLE").as_str() {
        "writer" => {
            let mut writer = Writer::create(
                &location,
                CreationMode::CreateOrOpen,
                Capacity::AtLeast(CAPACITY),
            )
            .unwrap();
            writer.set_persist(true);
            let mut counter = 0u64;
            while Instant::now() < until {
                counter += 1;
                let (path, bytes) = payload(counter);
                writer.send_image(&path, &bytes).unwrap();
                if counter.is_multiple_of(4) {
                    writer.send_struct(&struct_for(counter)).unwrap();
                }
            }
            println!("RESULT {{\"sent\":{counter}}}");
        }
        // A follower reads pictures while they are written (`read_next_into`).
        role @ ("reader" | "follower") => {
            let follow = role == "follower";
            let mut reader = open_reader(&location);
            let started = Instant::now();
            let half = Duration::from_secs_f64(seconds / 2.0);
            let (mut halves, mut bad, mut distinct, mut last) = ([0u64; 2], 0u64, 0u64, 0u64);
            let mut image = ImageMessage::default();
            while Instant::now() < until {
                let half_index = usize::from(started.elapsed() >= half);
                let read = if follow {
                    reader.read_next_into(&mut image)
                } else {
                    reader.read_into(&mut image)
                };
                match read {
                    Ok(Some(meta)) => {
                        halves[half_index] += 1;
                        if !payload_is_intact(&image) {
                            bad += 1;
                        }
                        if meta.sequence != last {
                            distinct += 1;
                            last = meta.sequence;
                        }
                    }
                    Ok(None) => {
                        if follow {
                            reader.wait_for_next(Duration::from_millis(1));
                        }
                    }
                    Err(err) => {
                        eprintln!("read error: {err}");
                        bad += 1;
                    }
                }
                match reader.latest_struct() {
                    Ok(Some((data, _))) if !struct_is_intact(&data) => bad += 1,
                    Err(err) => {
                        eprintln!("struct read error: {err}");
                        bad += 1;
                    }
                    _ => {}
                }
            }
            println!(
                "RESULT {{\"first_half\":{},\"second_half\":{},\"bad\":{bad},\"distinct\":{distinct}}}",
                halves[0], halves[1]
            );
        }
        // A leaser holds each record in place (`lease_next`, or `lease` every other time) and
        // checks it twice: when it gets it, and again after a pause during which the writer
        // goes on writing. `in_place` counts leases that were not copies.
        "leaser" => {
            let mut reader = open_reader(&location);
            let started = Instant::now();
            let half = Duration::from_secs_f64(seconds / 2.0);
            let (mut halves, mut bad, mut distinct, mut last, mut in_place) =
                ([0u64; 2], 0u64, 0u64, 0u64, 0u64);
            let mut round = 0u64;
            while Instant::now() < until {
                round += 1;
                let half_index = usize::from(started.elapsed() >= half);
                let idle = {
                    let leased = if round.is_multiple_of(2) {
                        reader.lease(PICTURE_CHANNEL)
                    } else {
                        reader.lease_next(PICTURE_CHANNEL)
                    };
                    match leased {
                        Ok(Some(lease)) => {
                            halves[half_index] += 1;
                            in_place += u64::from(lease.is_in_place());
                            let intact = || lease.image().is_ok_and(view_is_intact);
                            if !intact() {
                                bad += 1;
                            }
                            std::thread::sleep(Duration::from_micros(200));
                            if !intact() {
                                eprintln!("a held record changed while held");
                                bad += 1;
                            }
                            if lease.meta().sequence != last {
                                distinct += 1;
                                last = lease.meta().sequence;
                            }
                            false
                        }
                        Ok(None) => true,
                        Err(err) => {
                            eprintln!("lease error: {err}");
                            bad += 1;
                            false
                        }
                    }
                };
                if idle {
                    reader.wait_for_next(Duration::from_millis(1));
                }
            }
            println!(
                "RESULT {{\"first_half\":{},\"second_half\":{},\"bad\":{bad},\"distinct\":{distinct},\"in_place\":{in_place}}}",
                halves[0], halves[1]
            );
        }
        // A holder holds the latest picture in place and waits to be killed.
        "holder" => {
            let mut reader = open_reader(&location);
            let lease = loop {
                if let Some(lease) = reader.lease(PICTURE_CHANNEL).unwrap() {
                    break lease;
                }
                std::thread::sleep(Duration::from_millis(1));
            };
            assert!(lease.is_in_place());
            println!("HOLDING {}", lease.meta().sequence);
            std::thread::sleep(Duration::from_secs(60));
        }
        _ => {}
    }
}

fn spawn_child(role: &str, segment: &TestSegment, seconds: f64) -> Child {
    Command::new(std::env::current_exe().unwrap())
        .args([
            "child_process",
            "--exact",
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env("SHM_CHILD_ROLE", role)
        .env("SHM_CHILD_SEGMENT", &segment.name)
        .env("SHM_CHILD_SECONDS", seconds.to_string())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap()
}

fn result_of(child: Child) -> HashMap<String, u64> {
    let output = child.wait_with_output().unwrap();
    assert!(output.status.success(), "child failed: {:?}", output.status);
    let line = BufReader::new(&output.stdout[..])
        .lines()
        .map_while(Result::ok)
        .find_map(|line| line.split_once("RESULT ").map(|(_, json)| json.to_owned()))
        .expect("child printed no RESULT line");
    serde_json::from_str(&line).unwrap()
}

#[test]
fn readers_never_accept_torn_records_while_a_writer_rewrites_flat_out() {
    // One reader reads complete records, one follows writes as they happen, one holds them
    // in place.
    let segment = TestSegment::new("stress");
    let seconds = 3.0;
    let writer = spawn_child("writer", &segment, seconds);
    let readers = [
        spawn_child("reader", &segment, seconds),
        spawn_child("follower", &segment, seconds),
        spawn_child("leaser", &segment, seconds),
    ];
    let sent = result_of(writer)["sent"];
    assert!(sent > 10, "the writer sent only {sent} records");
    for reader in readers {
        let result = result_of(reader);
        println!("writer sent {sent}; reader: {result:?}");
        assert_eq!(result["bad"], 0, "a reader accepted a torn or bad record");
        assert!(
            result["first_half"] > 0 && result["second_half"] > 0,
            "a reader starved: {result:?}"
        );
        assert!(
            result["distinct"] > 1,
            "a reader saw no progress: {result:?}"
        );
        if let Some(&in_place) = result.get("in_place") {
            assert!(in_place > 0, "no lease was held in place: {result:?}");
        }
    }
}

/// A reader killed (SIGKILL) while it holds a picture in place never holds up the writer: the
/// writer goes on publishing, and the next reader takes the channel's lease over.
#[test]
fn a_reader_killed_while_holding_a_record_never_blocks_the_writer() {
    let segment = TestSegment::new("lease-kill9");
    let mut writer = Writer::create(
        &segment.location,
        CreationMode::CreateNew,
        Capacity::AtLeast(CAPACITY),
    )
    .unwrap();
    let (path, bytes) = payload(1);
    writer.send_image(&path, &bytes).unwrap();
    let mut holder = spawn_child("holder", &segment, 60.0);
    let mut lines = BufReader::new(holder.stdout.take().unwrap()).lines();
    let holding = lines
        .find_map(|line| Some(line.ok()?.split_once("HOLDING ")?.1.to_owned()))
        .expect("the holder never held the picture");
    assert_eq!(holding, "1");
    holder.kill().unwrap(); // SIGKILL, holding the lease
    holder.wait().unwrap();

    let mut reader = Reader::open(&segment.location).unwrap();
    for counter in 2..=50 {
        let (path, bytes) = payload(counter);
        // Would hang or fail if the writer waited for the dead holder.
        writer.send_image(&path, &bytes).unwrap();
        let lease = reader.lease(PICTURE_CHANNEL).unwrap().unwrap();
        assert!(
            lease.is_in_place(),
            "the dead reader's lease was not taken over"
        );
        assert_eq!(lease.meta().sequence, counter);
        assert!(lease.image().is_ok_and(view_is_intact), "record {counter}");
    }
}

/// Rounds of the kill test: a few by default; `SHM_KILL_ROUNDS=100` for the stress run.
fn kill_rounds() -> u64 {
    std::env::var("SHM_KILL_ROUNDS")
        .ok()
        .and_then(|rounds| rounds.parse().ok())
        .unwrap_or(4)
}

#[test]
fn a_killed_writer_leaves_its_last_complete_record_and_is_replaced() {
    let segment = TestSegment::new("kill9");
    // A small generator, seeded differently each run, picks the moments.
    let mut random = u64::from(std::process::id()).wrapping_mul(6_364_136_223_846_793_005) | 1;
    let mut next = move || {
        random = random
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        random >> 33
    };
    let rounds = kill_rounds();
    for _ in 0..rounds {
        let mut writer = spawn_child("writer", &segment, 60.0);
        let writer_pid = writer.id();
        let reader = open_reader(&segment.location);
        let deadline = Instant::now() + Duration::from_secs(30);
        // The segment outlives each round: wait for this round's writer to hold it.
        while reader.writer_status() != (WriterStatus::Active { pid: writer_pid }) {
            assert!(Instant::now() < deadline, "the writer never attached");
            std::thread::sleep(Duration::from_millis(1));
        }
        // Let it publish a random number of records, then kill it at a random moment.
        let target = reader.info().unwrap().channels[0].published + 1 + next() % 80;
        while reader.info().unwrap().channels[0].published < target {
            assert!(Instant::now() < deadline, "the writer published too little");
            std::thread::sleep(Duration::from_millis(1));
        }

        // A rival writer is refused, naming the live one.
        let rival = Writer::create(
            &segment.location,
            CreationMode::CreateOrOpen,
            Capacity::AtLeast(CAPACITY),
        );
        assert!(
            matches!(rival, Err(CreateError::WriterActive { pid, .. }) if pid == writer_pid),
            "a second writer was not refused"
        );

        std::thread::sleep(Duration::from_micros(next() % 3000));
        writer.kill().unwrap(); // SIGKILL
        writer.wait().unwrap();

        let mut reader = open_reader(&segment.location);
        assert_eq!(
            reader.writer_status(),
            WriterStatus::Crashed { pid: writer_pid }
        );
        let (image, meta) = reader
            .latest_image()
            .unwrap()
            .expect("the last record survives");
        assert!(payload_is_intact(&image), "the last record is damaged");
        assert!(meta.sequence >= target);
        if let Some((data, _)) = reader.latest_struct().unwrap() {
            assert!(struct_is_intact(&data));
        }

        // A new writer takes over the dead one's segment; a new reader sees its records.
        let mut next = Writer::create(
            &segment.location,
            CreationMode::CreateOrOpen,
            Capacity::AtLeast(MIN_CAPACITY),
        )
        .expect("a new writer takes over");
        assert_eq!(next.capacity(), CAPACITY, "the existing segment is reused");
        next.send_image("after-the-crash.png", b"fresh").unwrap();
        next.set_persist(true);
        let mut fresh_reader = Reader::open(&segment.location).unwrap();
        let (image, meta) = fresh_reader.latest_image().unwrap().unwrap();
        assert_eq!(image.path, "after-the-crash.png");
        assert_eq!(meta.sequence, reader.info().unwrap().channels[0].published);
        assert!(matches!(
            fresh_reader.writer_status(),
            WriterStatus::Active { .. }
        ));
    }
    println!("{rounds} writers killed with SIGKILL at random moments; every last record was whole");
}
