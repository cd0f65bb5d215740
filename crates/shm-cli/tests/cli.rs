//! The `shm` command as scripts use it: real processes, unique segments, exit codes and output.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::io::{BufRead, Read};
use std::path::Path;
use std::process::Command;

use common::{SmallTmpfs, fails, json, shm, shm_file, stderr, stdout, succeeds};
use serde_json::Value;
use shm_common::{Capacity, CreationMode, Reader, TestData, Writer};
use shm_testkit::{Corpus, Expect, TestSegment};

fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(bytes)
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect()
}

fn round_trip_every_picture(corpus: &Corpus) {
    let segment = TestSegment::new("corpus");
    let out_dir = tempfile::tempdir().unwrap();
    for (i, entry) in corpus.entries.iter().enumerate() {
        let file = entry.path.to_str().unwrap();
        succeeds(shm(&segment, &["send-image", file, "--persist"]));
        let out = out_dir.path().join(format!("{i}.out"));
        let read = succeeds(shm(
            &segment,
            &["read-image", "--json", "--out", out.to_str().unwrap()],
        ));
        let original = std::fs::read(&entry.path).unwrap();
        assert_eq!(
            std::fs::read(&out).unwrap(),
            original,
            "{} changed in transit",
            entry.relative
        );
        let read = json(&read);
        assert_eq!(
            read["path"],
            std::path::absolute(&entry.path).unwrap().to_str().unwrap()
        );
        assert_eq!(read["len"], original.len());
        assert_eq!(read["sha256"], sha256_hex(&original));
        assert!(read["sent_ago_us"].as_u64().is_some());
        assert!(read["write_us"].as_u64().is_some());
        assert_eq!(read["in_place"], true, "written from a lease, not a copy");
    }
    succeeds(shm(&segment, &["remove"]));
    println!(
        "{} pictures from {} round-tripped byte-identical",
        corpus.entries.len(),
        corpus.root.display()
    );
}

#[test]
fn every_bundled_picture_round_trips_byte_identical() {
    round_trip_every_picture(&Corpus::bundled());
}

#[test]
#[ignore = "needs the shared image corpus (../shared/testdata/images or $SHM_TESTDATA); scripts/check.sh runs it where it is"]
fn every_picture_of_the_shared_corpus_round_trips_byte_identical() {
    let corpus = Corpus::shared();
    assert!(corpus.entries.len() >= 100);
    round_trip_every_picture(&corpus);
}

#[test]
fn reading_before_any_writer_is_a_clear_error() {
    let segment = TestSegment::new("cli-nowriter");
    let message = fails(shm(&segment, &["read-image"]));
    assert_eq!(
        message.trim(),
        format!(
            "shm: segment '{}' does not exist yet: no writer has created it; start the Writer (or run `shm send-image`) first",
            segment.name
        )
    );
    fails(shm(&segment, &["read-struct"]));
    fails(shm(&segment, &["info"]));
}

#[test]
fn a_picture_larger_than_the_segment_grows_it_keeping_the_struct() {
    let segment = TestSegment::new("cli-grow");
    let dir = tempfile::tempdir().unwrap();
    let large = dir.path().join("large.png");
    std::fs::write(&large, vec![2u8; 100_000]).unwrap();
    succeeds(shm(
        &segment,
        &[
            "send-struct",
            "--persist",
            "--id",
            "9",
            "--capacity",
            "64KiB",
        ],
    ));
    let sent = succeeds(shm(
        &segment,
        &["send-image", large.to_str().unwrap(), "--persist"],
    ));
    assert!(
        stderr(&sent).contains(&format!(
            "segment '{}' grown to 3 MiB in all, to hold a picture of 97.7 KiB",
            segment.name
        )),
        "{}",
        stderr(&sent)
    );
    let read = json(&succeeds(shm(&segment, &["read-image", "--json"])));
    assert_eq!(read["len"], 100_000);
    let info = json(&succeeds(shm(&segment, &["info", "--json"])));
    assert_eq!(info["capacity"], 1 << 20);
    let data = json(&succeeds(shm(&segment, &["read-struct", "--json"])));
    assert_eq!(data["id"], 9, "the struct was carried over");
}

#[test]
#[ignore = "needs root to mount a 3 MiB tmpfs; scripts/check.sh runs it"]
fn growth_that_the_file_system_cannot_hold_is_refused_in_words_and_loses_nothing() {
    let tmpfs = SmallTmpfs::mount("3M");
    let file = tmpfs.dir.path().join("segment");
    let dir = tempfile::tempdir().unwrap();
    let small = dir.path().join("small.png");
    let large = dir.path().join("large.png");
    std::fs::write(&small, vec![1u8; 1000]).unwrap();
    std::fs::write(&large, vec![2u8; 1_500_000]).unwrap();
    let on_file = |args: &[&str]| {
        let mut command = Command::new(env!("CARGO_BIN_EXE_shm"));
        command.arg("--file").arg(&file).args(args);
        command.output().unwrap()
    };
    succeeds(on_file(&[
        "send-image",
        small.to_str().unwrap(),
        "--capacity",
        "64KiB",
    ]));
    let message = fails(on_file(&["send-image", large.to_str().unwrap()]));
    assert!(
        message.contains("cannot grow to 6 MiB: only")
            && message.contains(&format!("free in {}", tmpfs.dir.path().display())),
        "{message}"
    );
    let read = json(&succeeds(on_file(&["read-image", "--json"])));
    assert_eq!(read["len"], 1000, "the earlier picture stays");
}

#[test]
fn structs_round_trip_with_defaults_and_edited_fields() {
    let segment = TestSegment::new("cli-struct");
    fails(shm(
        &segment,
        &["send-struct", "--persist", "--scores", "1,2,3"],
    ));
    succeeds(shm(&segment, &["send-struct", "--persist"]));
    let text = stdout(&succeeds(shm(&segment, &["read-struct"])));
    assert_eq!(text, "Id=100,Age=20,Scores=60,61,62,63,64,65,66,67,68,69\n");
    succeeds(shm(
        &segment,
        &[
            "send-struct",
            "--persist",
            "--id",
            "-7",
            "--age",
            "33",
            "--scores=-1,0,1,2,3,4,5,6,7,2147483647",
        ],
    ));
    let read = json(&succeeds(shm(&segment, &["read-struct", "--json"])));
    assert_eq!(read["id"], -7);
    assert_eq!(read["age"], 33);
    assert_eq!(read["scores"][9], 2147483647);
    assert_eq!(
        read["text"],
        "Id=-7,Age=33,Scores=-1,0,1,2,3,4,5,6,7,2147483647"
    );
    assert_eq!(read["sequence"], 2);
}

#[test]
fn without_persist_the_segment_goes_with_the_command() {
    let segment = TestSegment::new("cli-lifetime");
    let sent = succeeds(shm(&segment, &["send-struct"]));
    assert!(stdout(&sent).contains("pass --persist to keep it"));
    assert!(!segment.dev_shm_path().exists());
    fails(shm(&segment, &["read-struct"]));

    succeeds(shm(&segment, &["send-struct", "--persist"]));
    assert!(segment.dev_shm_path().exists());
    succeeds(shm(&segment, &["read-struct"]));
    // A persisted segment taken over by a plain send goes when that send exits.
    succeeds(shm(&segment, &["send-struct"]));
    assert!(!segment.dev_shm_path().exists());
}

#[test]
fn info_describes_layout_writer_and_records() {
    let segment = TestSegment::new("cli-info");
    let picture = Corpus::bundled().find("basn2c08.png").path.clone();
    succeeds(shm(
        &segment,
        &[
            "send-image",
            picture.to_str().unwrap(),
            "--persist",
            "--capacity",
            "1MiB",
        ],
    ));
    succeeds(shm(&segment, &["send-struct", "--persist"]));
    let info = json(&succeeds(shm(&segment, &["info", "--json"])));
    assert_eq!(info["layout_version"], shm_common::layout::LAYOUT_VERSION);
    assert_eq!(info["capacity"], 1 << 20);
    assert_eq!(info["writer_alive"], false);
    assert_eq!(info["writer_state"], "closed");
    assert_eq!(info["image"]["sequence"], 1);
    let framed = 8
        + std::path::absolute(&picture)
            .unwrap()
            .to_str()
            .unwrap()
            .len()
        + 145;
    assert_eq!(info["image"]["last_len"], framed);
    assert_eq!(info["struct"]["last_len"], 48);
    let text = stdout(&succeeds(shm(&segment, &["info"])));
    assert!(text.contains("capacity: 1 MiB per picture"), "{text}");
    assert!(text.contains("writer:   none (closed)"), "{text}");
    succeeds(shm(&segment, &["remove"]));
    let message = fails(shm(&segment, &["remove"]));
    assert!(message.contains("does not exist, so there is nothing to remove"));
}

#[test]
fn bad_input_files_get_their_own_messages() {
    let segment = TestSegment::new("cli-badfile");
    let message = fails(shm(&segment, &["send-image", "/definitely/not/here.png"]));
    assert!(message.contains("picture file '/definitely/not/here.png' does not exist"));
    let dir = tempfile::tempdir().unwrap();
    let message = fails(shm(&segment, &["send-image", dir.path().to_str().unwrap()]));
    assert!(
        message.contains("is a directory, not a picture file"),
        "{message}"
    );
    assert!(
        !segment.dev_shm_path().exists(),
        "a failed send creates nothing"
    );
}

#[test]
fn file_backed_segments_work_through_the_cli() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("seg");
    let run = |args: &[&str]| shm_file(&file, args);
    let picture = Corpus::bundled().find("hopper.gif").path.clone();
    let sent = run(&["send-image", picture.to_str().unwrap()]);
    assert!(sent.status.success(), "{}", stderr(&sent));
    let read = run(&["read-image", "--json"]);
    assert_eq!(json(&read)["len"], std::fs::read(&picture).unwrap().len());
    assert!(run(&["remove"]).status.success());
    assert!(!Path::new(&file).exists());
}

#[test]
fn usage_errors_exit_2_without_panicking() {
    for args in [
        &["frobnicate"][..],
        &["send-image"],
        &["read-image", "--name", "a/b"],
        &["send-struct", "--id", "x"],
    ] {
        let output = Command::new(env!("CARGO_BIN_EXE_shm"))
            .args(args)
            .output()
            .unwrap();
        assert_eq!(output.status.code(), Some(2), "{args:?}");
        assert!(!stderr(&output).contains("panicked"));
    }
}

/// `shm bench --json` with a few of each measurement: seconds, not a minute.
const SHORT_BENCH: [&str; 10] = [
    "bench",
    "--json",
    "--messages",
    "200",
    "--large-messages",
    "3",
    "--frame-seconds",
    "0.3",
    "--idle-seconds",
    "0.3",
];

#[test]
fn bench_json_has_every_key_as_a_number() {
    let output = Command::new(env!("CARGO_BIN_EXE_shm"))
        .args(SHORT_BENCH)
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", stderr(&output));
    let result = json(&output);
    for key in [
        "memcpy_10mib_ms",
        "shm_10mib_oneway_ms",
        "shm_10mib_lease_ms",
        "shm_10mib_lease_p99_ms",
        "shm_10mib_write_ms",
        "shm_10mib_write_p99_ms",
        "floor_10mib_load_ms",
        "floor_10mib_load_p99_ms",
        "floor_10mib_copy_ms",
        "floor_10mib_copy_p99_ms",
        "pipe_10mib_oneway_ms",
        "uds_10mib_oneway_ms",
        "tcp_10mib_oneway_ms",
        "shm_48b_rtt_us",
        "shm_busy_poll_48b_rtt_us",
        "shm_busy_poll_48b_rtt_p99_us",
        "uds_48b_rtt_us",
        "pipe_48b_rtt_us",
        "tcp_48b_rtt_us",
        "shm_1080p_fps",
        "memcpy_1080p_fps",
        "floor_1080p_fps",
        "floor_48b_rtt_us",
        "floor_48b_rtt_p99_us",
        "floor_seqlock_48b_rtt_us",
        "floor_seqlock_48b_rtt_p99_us",
        "shm_48b_work_us",
        "shm_48b_work_p99_us",
        "shm_first_send_3mib_ms",
        "idle_reader_cpu_percent",
    ] {
        let value = result[key].as_f64();
        assert!(
            value.is_some_and(|v| v.is_finite() && v >= 0.0),
            "{key}: {:?}",
            result[key]
        );
    }
    assert!(
        result["shm_1080p_fps"].as_f64().unwrap() > 0.0,
        "no frame arrived"
    );
}

/// The `shm-bridge` program, built in its own workspace (`scripts/bridge.sh` builds it and sets
/// SHM_BRIDGE to it).
fn bridge_program() -> String {
    std::env::var("SHM_BRIDGE").expect("SHM_BRIDGE names the shm-bridge program")
}

#[test]
fn bench_with_no_bridge_program_there_fails_at_once_in_words() {
    let output = Command::new(env!("CARGO_BIN_EXE_shm"))
        .args(["bench", "--json", "--bridge", "/nonexistent/shm-bridge"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    let message = stderr(&output);
    assert!(
        message.contains("--bridge: there is no program at /nonexistent/shm-bridge; build it with `cargo build --release --manifest-path crates/shm-bridge/Cargo.toml`"),
        "{message}"
    );
    assert!(output.stdout.is_empty(), "measured before it failed");
}

#[test]
#[ignore = "needs the shm-bridge program (its own workspace): scripts/bridge.sh builds it and runs this"]
fn bench_through_bridges_reports_their_figures_beside_the_local_ones() {
    let bench = Command::new(env!("CARGO_BIN_EXE_shm"))
        .args(SHORT_BENCH)
        .args(["--bridge", &bridge_program()])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let pid = bench.id();
    let output = bench.wait_with_output().unwrap();
    assert!(output.status.success(), "{}", stderr(&output));
    let result = json(&output);
    for key in [
        "bridge_48b_rtt_us",
        "bridge_48b_rtt_p99_us",
        "bridge_10mib_oneway_ms",
        "bridge_10mib_oneway_p99_ms",
        "shm_48b_rtt_us",
        "shm_10mib_oneway_ms",
    ] {
        let value = result[key].as_f64();
        assert!(
            value.is_some_and(|v| v.is_finite() && v > 0.0),
            "{key}: {:?}",
            result[key]
        );
    }
    assert_eq!(bench_segments(pid), Vec::<String>::new());
}

#[test]
#[ignore = "needs the shm-bridge program (its own workspace): scripts/bridge.sh builds it and runs this"]
fn bench_through_bridges_killed_ends_the_bridges_too() {
    let mut bench = Command::new(env!("CARGO_BIN_EXE_shm"))
        .args([
            "bench",
            "--json",
            "--messages",
            "20000",
            "--bridge",
            &bridge_program(),
        ])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let pid = bench.id();
    let bridges = [child_with(pid, "--listen"), child_with(pid, "--connect")];
    let peer = child_with(pid, "shm-echo");
    kill(pid);
    bench.wait().unwrap();
    for process in bridges.into_iter().chain([peer]) {
        assert!(gone_within_30_s(process), "{process} outlived the bench");
    }
    // The bridges closed cleanly, removing the copies they wrote; the peer removed its segment.
    let left = bench_segments(pid);
    for name in &left {
        let _ = std::fs::remove_file(Path::new("/dev/shm").join(name));
    }
    assert_eq!(left, vec![format!("shm-bench-{pid}-bridge-rtt-ping")]);
}

#[test]
fn a_picture_from_a_pipe_arrives_as_one_from_a_file() {
    let segment = TestSegment::new("cli-pipe");
    let dir = tempfile::tempdir().unwrap();
    let bytes: Vec<u8> = (0..300_001u32).map(|i| (i * 13 + i / 7) as u8).collect();
    let file = dir.path().join("p.bin");
    std::fs::write(&file, &bytes).unwrap();
    let out = dir.path().join("out.bin");
    let read = |out: &Path| {
        succeeds(shm(
            &segment,
            &["read-image", "--out", out.to_str().unwrap()],
        ));
        std::fs::read(out).unwrap()
    };
    // A regular file (read by the kernel straight into shared memory).
    succeeds(shm(
        &segment,
        &["send-image", file.to_str().unwrap(), "--persist"],
    ));
    assert!(read(&out) == bytes, "the file's bytes changed");
    // A pipe, whose length is known only at its end.
    let mut sender = Command::new(env!("CARGO_BIN_EXE_shm"))
        .args([
            "send-image",
            "/dev/stdin",
            "--persist",
            "--name",
            &segment.name,
        ])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = sender.stdin.take().unwrap();
    let piped = bytes.clone();
    let feeder = std::thread::spawn(move || {
        use std::io::Write as _;
        for piece in piped.chunks(65_537) {
            stdin.write_all(piece).unwrap();
        }
    });
    feeder.join().unwrap();
    succeeds(sender.wait_with_output().unwrap());
    assert!(read(&out) == bytes, "the pipe's bytes changed");
    succeeds(shm(&segment, &["remove"]));
}

/// The process id of `parent`'s child whose command line has `word`, waiting up to 60 s.
fn child_with(parent: u32, word: &str) -> u32 {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    loop {
        for entry in std::fs::read_dir("/proc").unwrap().flatten() {
            let Some(pid) = entry
                .file_name()
                .to_str()
                .and_then(|n| n.parse::<u32>().ok())
            else {
                continue;
            };
            let stat = std::fs::read_to_string(entry.path().join("stat")).unwrap_or_default();
            let ppid = stat
                .rsplit_once(')')
                .and_then(|(_, rest)| rest.split_whitespace().nth(1))
                .and_then(|field| field.parse::<u32>().ok());
            let cmdline = std::fs::read(entry.path().join("cmdline")).unwrap_or_default();
            if ppid == Some(parent) && String::from_utf8_lossy(&cmdline).contains(word) {
                return pid;
            }
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no child of {parent} runs {word}"
        );
        std::thread::sleep(std::time::Duration::from_millis(1));
    }
}

fn kill(pid: u32) {
    succeeds(
        Command::new("kill")
            .args(["-KILL", &pid.to_string()])
            .output()
            .unwrap(),
    );
}

/// Whether a process `pid` exists (and is not a zombie), polled until it is gone or 30 s pass.
fn gone_within_30_s(pid: u32) -> bool {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while std::time::Instant::now() < deadline {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
        let state = stat
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().next());
        if matches!(state, None | Some("Z")) {
            return true;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    false
}

/// The bench's segments still in /dev/shm for the `shm bench` process `pid`.
fn bench_segments(pid: u32) -> Vec<String> {
    let prefix = format!("shm-bench-{pid}-");
    std::fs::read_dir("/dev/shm")
        .unwrap()
        .flatten()
        .filter_map(|entry| entry.file_name().into_string().ok())
        .filter(|name| name.starts_with(&prefix))
        .collect()
}

fn long_bench() -> std::process::Child {
    Command::new(env!("CARGO_BIN_EXE_shm"))
        .args(["bench", "--json", "--messages", "1000000"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap()
}

#[test]
fn bench_fails_in_words_when_its_peer_is_killed_and_leaves_nothing() {
    let bench = long_bench();
    let pid = bench.id();
    kill(child_with(pid, "shm-echo"));
    // Returns only once no process holds the output open: no peer is left behind.
    let output = bench.wait_with_output().unwrap();
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    let message = stderr(&output);
    assert!(
        message.contains("the benchmark peer exited (signal: 9 (SIGKILL)) before it answered"),
        "{message}"
    );
    assert_eq!(bench_segments(pid), Vec::<String>::new());
}

#[test]
fn a_bench_peer_ends_itself_when_the_bench_is_killed() {
    let mut bench = long_bench();
    let pid = bench.id();
    let peer = child_with(pid, "shm-echo");
    kill(pid);
    bench.wait().unwrap();
    assert!(gone_within_30_s(peer), "the peer {peer} outlived the bench");
    // The killed bench leaves its own segment (which `shm tidy` finds); the peer removed its.
    let left = bench_segments(pid);
    for name in &left {
        let _ = std::fs::remove_file(Path::new("/dev/shm").join(name));
    }
    assert_eq!(left, vec![format!("shm-bench-{pid}-rtt-ping")]);
}

#[test]
fn watch_prints_one_line_per_new_record_and_waits_for_the_writer() {
    let segment = TestSegment::new("cli-watch");
    let watcher = Command::new(env!("CARGO_BIN_EXE_shm"))
        .args(["watch", "--json", "--count", "2", "--name", &segment.name])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(300));
    succeeds(shm(&segment, &["send-struct", "--persist", "--id", "5"]));
    let picture = Corpus::bundled().find("basn2c08.png").path.clone();
    // The watcher may open the segment before or after the struct: it either prints it as new
    // or as already there, and then the picture as new.
    std::thread::sleep(std::time::Duration::from_millis(300));
    succeeds(shm(
        &segment,
        &["send-image", picture.to_str().unwrap(), "--persist"],
    ));
    succeeds(shm(&segment, &["send-struct", "--persist", "--id", "6"]));
    let output = watcher.wait_with_output().unwrap();
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(
        stderr(&output).contains("waiting for a writer"),
        "{}",
        stderr(&output)
    );
    let lines: Vec<Value> = stdout(&output)
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    let new: Vec<&Value> = lines
        .iter()
        .filter(|line| line["event"] == "record" && line["existing"] == false)
        .collect();
    assert_eq!(new.len(), 2, "{lines:?}");
    for line in &new {
        assert!(line["transfer_us"].as_u64().is_some(), "{line}");
        assert!(line["sent_ago_us"].is_null(), "{line}");
    }
    assert!(
        lines
            .iter()
            .any(|line| line["event"] == "writer" && line["state"] != "attached"),
        "the writers come and go: {lines:?}"
    );
}

/// A process killed when dropped.
struct Spawned(std::process::Child);

impl Drop for Spawned {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
#[ignore = "needs the shm-bridge program (its own workspace): scripts/bridge.sh builds it and runs this"]
fn watch_through_bridges_shows_the_other_segment_s_records_with_their_transfer_times() {
    let (from, into) = (
        TestSegment::new("cli-bridge-from"),
        TestSegment::new("cli-bridge-into"),
    );
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let endpoint = format!("tcp/127.0.0.1:{port}");
    let bridge = |args: &[&str]| {
        Spawned(
            Command::new(bridge_program())
                .args(args)
                .stderr(std::process::Stdio::null())
                .spawn()
                .unwrap(),
        )
    };
    let mut writer =
        Writer::create(&from.location, CreationMode::CreateNew, Capacity::Default).unwrap();
    let _out = bridge(&["--name", &from.name, "--listen", &endpoint]);
    let _in = bridge(&[
        "--from",
        &from.name,
        "--into",
        &into.name,
        "--connect",
        &endpoint,
    ]);
    // Structs until one has crossed: the bridged segment is there and up to date.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    for id in 1.. {
        assert!(
            std::time::Instant::now() < deadline,
            "nothing crossed the bridge"
        );
        writer
            .send_struct(&TestData {
                id,
                ..TestData::default()
            })
            .unwrap();
        std::thread::sleep(std::time::Duration::from_millis(100));
        let crossed = Reader::open(&into.location)
            .ok()
            .and_then(|mut reader| reader.latest_struct().ok().flatten())
            .is_some_and(|(data, _)| data.id == id);
        if crossed {
            break;
        }
    }
    let mut watcher = Command::new(env!("CARGO_BIN_EXE_shm"))
        .args(["watch", "--json", "--count", "2", "--name", &into.name])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Once it has said who writes the segment, it has it open: what comes next is new.
    let mut lines = std::io::BufReader::new(watcher.stdout.take().unwrap()).lines();
    let mut seen = Vec::new();
    while !seen.iter().any(|line: &Value| line["event"] == "writer") {
        let line = lines.next().expect("the watcher ended early").unwrap();
        seen.push(serde_json::from_str(&line).unwrap());
    }
    let picture = Corpus::bundled().find("basn2c08.png").path.clone();
    writer
        .send_image("/bridged.png", &std::fs::read(&picture).unwrap())
        .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(500));
    writer
        .send_struct(&TestData {
            id: 6,
            ..TestData::default()
        })
        .unwrap();
    seen.extend(lines.map(|line| serde_json::from_str::<Value>(&line.unwrap()).unwrap()));
    let status = watcher.wait().unwrap();
    let mut said = String::new();
    watcher
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut said)
        .unwrap();
    assert!(status.success(), "{said}");
    let new: Vec<&Value> = seen
        .iter()
        .filter(|line| line["event"] == "record" && line["existing"] == false)
        .collect();
    let kinds: Vec<&str> = new
        .iter()
        .map(|line| line["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["image", "struct"], "{new:?}");
    assert!(
        new[1]["detail"].as_str().unwrap().contains("Id=6"),
        "{new:?}"
    );
    for line in &new {
        assert!(
            line["transfer_us"].as_u64().is_some_and(|us| us > 0),
            "{line}"
        );
    }
}

#[test]
fn watch_marks_records_already_there_and_says_when_the_writer_exits() {
    let segment = TestSegment::new("cli-watch-old");
    succeeds(shm(&segment, &["send-struct", "--persist", "--id", "3"]));
    let watcher = Command::new(env!("CARGO_BIN_EXE_shm"))
        .args(["watch", "--count", "1", "--name", &segment.name])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(300));
    succeeds(shm(&segment, &["send-struct", "--persist", "--id", "4"]));
    let output = watcher.wait_with_output().unwrap();
    let text = stdout(&output);
    let lines: Vec<&str> = text.lines().collect();
    assert!(lines[0].starts_with("no writer is attached"), "{text}");
    assert!(
        lines[1].contains("already there, sent") && lines[1].contains("Id=3,"),
        "{text}"
    );
    assert!(text.contains("attached"), "{text}");
    let new = lines
        .iter()
        .find(|line| line.contains("Id=4,"))
        .unwrap_or_else(|| panic!("{text}"));
    assert!(
        new.contains("transfer") && !new.contains("already"),
        "{text}"
    );
}

#[test]
fn a_stream_of_frames_is_watched_frame_by_frame() {
    let segment = TestSegment::new("cli-stream");
    let watcher = Command::new(env!("CARGO_BIN_EXE_shm"))
        .args(["watch", "--json", "--count", "20", "--name", &segment.name])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let summary = json(&succeeds(shm(
        &segment,
        &[
            "stream",
            "--size",
            "160x90",
            "--fps",
            "50",
            "--seconds",
            "2",
            "--json",
        ],
    )));
    assert_eq!(
        (summary["width"].as_u64(), summary["height"].as_u64()),
        (Some(160), Some(90))
    );
    assert!(summary["frames"].as_u64().unwrap() >= 20, "{summary}");
    let output = watcher.wait_with_output().unwrap();
    assert!(output.status.success(), "{}", stderr(&output));
    let frames: Vec<Value> = stdout(&output)
        .lines()
        .map(|line| serde_json::from_str::<Value>(line).unwrap())
        .filter(|line| line["kind"] == "frame" && line["existing"] == false)
        .collect();
    assert_eq!(frames.len(), 20);
    let numbers: Vec<u64> = frames
        .iter()
        .map(|line| line["frame"].as_u64().unwrap())
        .collect();
    assert!(
        numbers.windows(2).all(|pair| pair[0] < pair[1]),
        "{numbers:?}"
    );
    for frame in &frames {
        assert_eq!(frame["width"], 160);
        assert_eq!(frame["format"], "RGBA8");
        assert_eq!(frame["len"], 24 + 160 * 90 * 4);
    }
    assert!(
        !segment.dev_shm_path().exists(),
        "the stream's segment goes with it"
    );
}

#[test]
fn a_folder_streams_every_picture_and_names_what_it_leaves_out() {
    let segment = TestSegment::new("cli-stream-dir");
    let dir = tempfile::tempdir().unwrap();
    for name in ["basn2c08.png", "hopper.gif"] {
        std::fs::copy(
            Corpus::bundled().find(name).path.clone(),
            dir.path().join(name),
        )
        .unwrap();
    }
    std::fs::write(dir.path().join("notes.txt"), "not a picture").unwrap();
    let sent = succeeds(shm(
        &segment,
        &[
            "stream",
            dir.path().to_str().unwrap(),
            "--seconds",
            "0.3",
            "--persist",
        ],
    ));
    assert!(
        stderr(&sent).contains("notes.txt' left out"),
        "{}",
        stderr(&sent)
    );
    assert!(
        stdout(&sent).contains("frames of 32x32 RGBA8"),
        "{}",
        stdout(&sent)
    );
    let info = json(&succeeds(shm(&segment, &["info", "--json"])));
    assert!(info["frame"]["sequence"].as_u64().unwrap() > 0, "{info}");
    assert_eq!(info["frame_capacity"], 1 << 20);
    succeeds(shm(&segment, &["remove"]));
}

fn decode_every_picture(corpus: &Corpus) {
    let segment = TestSegment::new("cli-decode");
    for entry in &corpus.entries {
        succeeds(shm(
            &segment,
            &["send-image", entry.path.to_str().unwrap(), "--persist"],
        ));
        let output = shm(&segment, &["read-image", "--decode", "--json"]);
        match (entry.expect, output.status.success()) {
            (Expect::Ok | Expect::Any, true) => {
                let read = json(&output);
                assert_eq!(
                    read["width"].as_u64(),
                    entry.width.map(u64::from),
                    "{}",
                    entry.relative
                );
                assert_eq!(
                    read["height"].as_u64(),
                    entry.height.map(u64::from),
                    "{}",
                    entry.relative
                );
                assert!(read["format"].as_str().is_some_and(|f| !f.is_empty()));
            }
            (Expect::Error | Expect::Any, false) => {
                let message = fails(output);
                assert!(
                    message.contains("cannot be decoded: the "),
                    "{}: {message}",
                    entry.relative
                );
            }
            (expect, _) => panic!(
                "{}: expected {expect:?}: {}{}",
                entry.relative,
                stdout(&output),
                stderr(&output)
            ),
        }
    }
    println!(
        "{} pictures decoded by `shm read-image --decode` as their manifest says",
        corpus.entries.len()
    );
}

#[test]
fn read_image_decode_follows_the_bundled_manifest() {
    decode_every_picture(&Corpus::bundled());
}

#[test]
#[ignore = "needs the shared image corpus (../shared/testdata/images or $SHM_TESTDATA); scripts/check.sh runs it where it is"]
fn read_image_decode_follows_the_shared_corpus_manifest() {
    decode_every_picture(&Corpus::shared());
}

#[test]
fn hostile_file_segments_get_specific_messages_not_crashes() {
    use shm_common::RecordKind;
    use shm_common::layout::LAYOUT_VERSION;
    use shm_testkit::offsets;
    use std::os::unix::fs::FileExt;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("seg");
    let run = |args: &[&str]| shm_file(&file, args);
    let picture = Corpus::bundled().find("basn2c08.png").path.clone();
    assert!(
        run(&["send-image", picture.to_str().unwrap()])
            .status
            .success()
    );
    let poke = |offset: u64, bytes: &[u8]| {
        let handle = std::fs::OpenOptions::new().write(true).open(&file).unwrap();
        handle.write_all_at(bytes, offset).unwrap();
    };
    // The record's length field (record 1 is in buffer 1 of the picture slot).
    poke(
        offsets::length_field(RecordKind::Image, 1),
        &u64::MAX.to_le_bytes(),
    );
    assert!(fails(run(&["read-image"])).contains("exceeds the capacity"));
    poke(8, &99u32.to_le_bytes());
    assert!(
        fails(run(&["read-image"]))
            .contains(&format!("layout version 99, expected {LAYOUT_VERSION}"))
    );
    poke(0, b"NOTOURS!");
    assert!(fails(run(&["info"])).contains("not a segment of ours"));
    std::fs::write(&file, b"").unwrap();
    assert!(fails(run(&["read-struct"])).contains("not initialised"));
}

#[test]
fn unusual_paths_travel_intact() {
    let segment = TestSegment::new("cli-paths");
    let dir = tempfile::tempdir().unwrap();
    let bytes = std::fs::read(&Corpus::bundled().find("basn2c08.png").path).unwrap();

    let mut long = dir.path().to_path_buf();
    for i in 0..20 {
        long.push(format!("目录-{i}-{}", "x".repeat(30)));
    }
    std::fs::create_dir_all(&long).unwrap();
    let long_file = long.join("图片 (1).png");
    std::fs::write(&long_file, &bytes).unwrap();
    assert!(long_file.to_str().unwrap().len() > 800);
    succeeds(shm(
        &segment,
        &["send-image", long_file.to_str().unwrap(), "--persist"],
    ));
    let read = json(&succeeds(shm(&segment, &["read-image", "--json"])));
    assert_eq!(read["path"], long_file.to_str().unwrap());

    // A file name that is not UTF-8 travels with a replacement character (the framing's path
    // is UTF-8); its bytes are untouched.
    use std::os::unix::ffi::OsStrExt;
    let odd = dir
        .path()
        .join(std::ffi::OsStr::from_bytes(b"pic-\xff.png"));
    std::fs::write(&odd, &bytes).unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_shm"))
        .arg("send-image")
        .arg(&odd)
        .args(["--persist", "--name", &segment.name])
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", stderr(&output));
    let read = json(&succeeds(shm(&segment, &["read-image", "--json"])));
    assert!(
        read["path"].as_str().unwrap().ends_with("pic-\u{FFFD}.png"),
        "{}",
        read["path"]
    );
    assert_eq!(read["sha256"], sha256_hex(&bytes));
}

#[test]
#[ignore = "needs root and setpriv to act as another user; scripts/check.sh runs it"]
fn other_users_cannot_open_a_segment() {
    let setpriv = Path::new("/usr/bin/setpriv");
    let segment = TestSegment::new("cli-perm");
    succeeds(shm(&segment, &["send-struct", "--persist"]));
    let dir = tempfile::tempdir().unwrap();
    std::fs::set_permissions(
        dir.path(),
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();
    let file = dir.path().join("seg");
    let sent = Command::new(env!("CARGO_BIN_EXE_shm"))
        .args(["send-struct", "--persist", "--file", file.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(sent.status.success());
    let as_nobody = |location: &[&str]| {
        Command::new(setpriv)
            .args([
                "--reuid=65534",
                "--regid=65534",
                "--clear-groups",
                env!("CARGO_BIN_EXE_shm"),
                "read-struct",
            ])
            .args(location)
            .output()
            .unwrap()
    };
    for location in [
        &["--name", segment.name.as_str()][..],
        &["--file", file.to_str().unwrap()],
    ] {
        let output = as_nobody(location);
        assert_eq!(
            output.status.code(),
            Some(1),
            "{location:?}: {}",
            stdout(&output)
        );
        assert!(
            stderr(&output).contains("permission denied"),
            "{location:?}: {}",
            stderr(&output)
        );
    }
}

/// A type only this test knows: `shm` was never compiled with it.
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable, shm_common::Schema)]
#[repr(C)]
struct Sample {
    stamp: u64,
    gain: f32,
    label: [u8; 4],
    extremes: [u128; 2],
    grid: [[i16; 3]; 2],
    pad: [u8; 4],
}

#[test]
fn read_channel_prints_a_user_type_it_was_never_compiled_with() {
    use shm_common::{ChannelSpec, CreationMode, Writer};
    let segment = TestSegment::new("cli-typed");
    let mut writer = Writer::create_with(
        &segment.location,
        CreationMode::CreateNew,
        vec![
            ChannelSpec::of::<Sample>("sample").unwrap(),
            ChannelSpec::bytes("note", 64).unwrap(),
        ],
    )
    .unwrap();
    let channel = writer.channel::<Sample>("sample").unwrap();
    let sample = Sample {
        stamp: 1_700_000_000_123,
        grid: [[1, -2, 3], [-4, 5, -32768]],
        gain: 0.1,
        extremes: [u128::MAX, 7],
        label: *b"abcd",
        pad: [0; 4],
    };
    writer.publish(&channel, &sample).unwrap();
    let note = writer.bytes_channel("note").unwrap();
    writer.publish_bytes(&note, "grüß dich".as_bytes()).unwrap();

    let read = json(&succeeds(shm(
        &segment,
        &["read", "--channel", "sample", "--json"],
    )));
    assert_eq!(read["type"], "Sample");
    assert_eq!(read["kind"], "struct");
    assert_eq!(read["sequence"], 1);
    let fields = read["fields"].as_object().unwrap();
    let names: Vec<&str> = fields.keys().map(String::as_str).collect();
    assert_eq!(names, ["stamp", "gain", "label", "extremes", "grid", "pad"]);
    assert_eq!(fields["stamp"], 1_700_000_000_123u64);
    assert_eq!(
        fields["grid"],
        serde_json::json!([[1, -2, 3], [-4, 5, -32768]])
    );
    assert_eq!(fields["gain"], 0.1);
    assert_eq!(
        fields["extremes"],
        serde_json::json!([u128::MAX.to_string(), 7]),
        "integers beyond 64 bits travel as strings"
    );
    assert_eq!(fields["label"], serde_json::json!([97, 98, 99, 100]));

    let text = stdout(&succeeds(shm(&segment, &["read", "--channel", "sample"])));
    let lines: Vec<&str> = text.lines().collect();
    assert!(
        lines[0].starts_with(&format!(
            "sample (Sample, {} bytes) of {}: record 1,",
            size_of::<Sample>(),
            segment.location
        )),
        "{text}"
    );
    assert!(
        lines.contains(&"  grid      [[i16; 3]; 2]  [[1, -2, 3], [-4, 5, -32768]]"),
        "{text}"
    );
    assert!(lines.contains(&"  gain      f32            0.1"), "{text}");

    let note = json(&succeeds(shm(
        &segment,
        &["read", "--channel", "note", "--json"],
    )));
    assert_eq!(note["text"], "grüß dich");
    assert_eq!(note["kind"], "bytes");

    let missing = fails(shm(&segment, &["read", "--channel", "nope"]));
    assert_eq!(
        missing.trim(),
        format!(
            "shm: {} has no channel `nope`; its channels are: sample, note",
            segment.location
        )
    );
    let info = json(&succeeds(shm(&segment, &["info", "--json"])));
    let channels = info["channels"].as_array().unwrap();
    assert_eq!(channels[0]["type"]["name"], "Sample");
    assert_eq!(channels[0]["type"]["fields"][4]["type"], "[[i16; 3]; 2]");
    assert_eq!(channels[1]["kind"], "bytes");
    let listed = stdout(&succeeds(shm(&segment, &["ls"])));
    let row = listed
        .lines()
        .find(|line| line.starts_with(&segment.name))
        .unwrap_or_default();
    assert!(
        row.ends_with(&format!(
            "sample (Sample, {} bytes), note (bytes)",
            size_of::<Sample>()
        )),
        "{listed}"
    );
}
