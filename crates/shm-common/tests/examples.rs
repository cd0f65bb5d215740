//! Each example run as its README says: two processes, one per terminal, on a segment of this
//! test's own. The binaries are the ones `cargo test` builds beside this one.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::PathBuf;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use shm_common::{SegmentLocation, SegmentName};
use shm_testkit::TestSegment;

/// `target/<profile>/examples/<name>`, built by `cargo test` with this test.
fn example(name: &str) -> Command {
    let exe = std::env::current_exe().unwrap();
    let path: PathBuf = exe
        .parent()
        .and_then(|deps| deps.parent())
        .unwrap()
        .join("examples")
        .join(name);
    assert!(
        path.exists(),
        "{} is missing: run `cargo test -p shm-common`, which builds the examples \
         (`--test examples` alone does not)",
        path.display()
    );
    let mut command = Command::new(path);
    command.stdout(Stdio::piped()).stderr(Stdio::piped());
    command
}

/// A running example. One that a failed assertion leaves running is stopped as Ctrl-C would
/// stop it, so that its writer removes its segment.
struct Running(Option<Child>);

impl Running {
    fn start(command: &mut Command) -> Running {
        Running(Some(command.spawn().unwrap()))
    }

    fn id(&self) -> u32 {
        self.0.as_ref().map(Child::id).expect("still running")
    }

    fn into_child(mut self) -> Child {
        self.0.take().unwrap()
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let Some(mut child) = self.0.take() else {
            return;
        };
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(child.id().to_string())
            .status();
        let deadline = Instant::now() + Duration::from_secs(5);
        while matches!(child.try_wait(), Ok(None)) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(10));
        }
        let _ = child.kill();
        let _ = child.wait();
    }
}

/// Waits for `child` to exit, within `limit`.
fn finish(child: Running, limit: Duration) -> Output {
    let child = child.into_child();
    let pid = child.id();
    let (done, result) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = done.send(child.wait_with_output());
    });
    match result.recv_timeout(limit) {
        Ok(output) => output.unwrap(),
        Err(_) => {
            let _ = Command::new("kill")
                .arg("-KILL")
                .arg(pid.to_string())
                .status();
            panic!("example pid {pid} did not finish within {limit:?}");
        }
    }
}

/// Asks `child` to stop as Ctrl-C would, and returns what it printed.
fn interrupt(child: Running, signal: &str) -> Output {
    let status = Command::new("kill")
        .arg(format!("-{signal}"))
        .arg(child.id().to_string())
        .status()
        .unwrap();
    assert!(status.success());
    finish(child, Duration::from_secs(10))
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn assert_succeeded(output: &Output, what: &str) {
    assert!(
        output.status.success(),
        "{what} failed: {}\nstdout: {}\nstderr: {}",
        output.status,
        text(&output.stdout),
        text(&output.stderr)
    );
}

/// Waits until the segment's file is gone (its writer removed it on the way out).
fn assert_removed(segment: &TestSegment) {
    let deadline = Instant::now() + Duration::from_secs(5);
    while segment.dev_shm_path().exists() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
    assert!(
        !segment.dev_shm_path().exists(),
        "{} was left behind",
        segment.name
    );
}

#[test]
fn custom_struct_passes_a_user_type_from_one_process_to_another() {
    let segment = TestSegment::new("ex-struct");
    let writer = Running::start(example("custom_struct").args(["write", &segment.name]));
    let reader =
        Running::start(example("custom_struct").args(["read", &segment.name, "--count", "3"]));
    let read = finish(reader, Duration::from_secs(30));
    assert_succeeded(&read, "read");
    let lines: Vec<String> = text(&read.stdout).lines().map(str::to_owned).collect();
    assert_eq!(lines.len(), 3, "{lines:?}");
    let ticks: Vec<u64> = lines
        .iter()
        .map(|line| {
            let rest = line.strip_prefix("Telemetry { tick: ").expect(line);
            rest.split(',').next().unwrap().parse().unwrap()
        })
        .collect();
    assert!(ticks.windows(2).all(|pair| pair[0] < pair[1]), "{ticks:?}");
    assert!(lines[0].contains("position: ["), "{}", lines[0]);
    let wrote = interrupt(writer, "TERM");
    assert_succeeded(&wrote, "write");
    assert!(
        text(&wrote.stdout).contains("stopped after"),
        "{}",
        text(&wrote.stdout)
    );
    assert_removed(&segment);
}

#[test]
fn ping_pong_prints_the_median_round_trip() {
    let segment = TestSegment::new("ex-pingpong");
    // The two segments the example makes of the name, removed if an assertion fails.
    let [ping_segment, pong_segment] = ["ping", "pong"].map(|end| {
        let name = format!("{}-{end}", segment.name);
        TestSegment {
            location: SegmentLocation::Named(SegmentName::new(name.clone()).unwrap()),
            name,
        }
    });
    let pong = Running::start(example("ping_pong").args(["pong", &segment.name]));
    let ping =
        Running::start(example("ping_pong").args(["ping", &segment.name, "--rounds", "2000"]));
    let pinged = finish(ping, Duration::from_secs(60));
    assert_succeeded(&pinged, "ping");
    let line = text(&pinged.stdout);
    assert!(
        line.starts_with("2000 round trips of a 48-byte struct: median ")
            && line.contains(" µs, p99 "),
        "{line}"
    );
    let ponged = finish(pong, Duration::from_secs(10));
    assert_succeeded(&ponged, "pong");
    assert_eq!(text(&ponged.stdout).trim(), "answered 2000 balls");
    for made in [ping_segment, pong_segment] {
        assert!(!made.dev_shm_path().exists(), "{} left behind", made.name);
    }
}

#[test]
fn picture_sends_a_file_that_arrives_byte_for_byte() {
    let segment = TestSegment::new("ex-picture");
    let dir = tempfile::tempdir().unwrap();
    let original = dir.path().join("cat.png");
    let copy = dir.path().join("copy.png");
    let bytes: Vec<u8> = (0..300_000u32).map(|i| (i * 7 % 251) as u8).collect();
    std::fs::write(&original, &bytes).unwrap();
    let sender = Running::start(example("picture").args([
        "send",
        &segment.name,
        original.to_str().unwrap(),
    ]));
    let received = finish(
        Running::start(example("picture").args(["receive", &segment.name, copy.to_str().unwrap()])),
        Duration::from_secs(30),
    );
    assert_succeeded(&received, "receive");
    assert_eq!(std::fs::read(&copy).unwrap(), bytes);
    assert!(
        text(&received.stdout).contains("(300000 bytes, record 1)"),
        "{}",
        text(&received.stdout)
    );
    assert_succeeded(&interrupt(sender, "INT"), "send");
    assert_removed(&segment);
}

#[test]
fn frames_stream_from_one_process_to_another_intact() {
    let segment = TestSegment::new("ex-frames");
    let sender =
        Running::start(example("frames").args(["send", &segment.name, "--count", "100000"]));
    let received = finish(
        Running::start(example("frames").args(["receive", &segment.name, "--count", "60"])),
        Duration::from_secs(60),
    );
    assert_succeeded(&received, "receive");
    let summary = text(&received.stdout);
    assert!(
        summary.contains("received 60 frames, all intact; skipped "),
        "{summary}"
    );
    assert_succeeded(&interrupt(sender, "TERM"), "send");
    assert_removed(&segment);
}
