//! A segment's life where people really run it: writers in other PID namespaces, killed
//! writers, reused pids, a full /dev/shm, creation races, other users' segments. Real
//! processes throughout; the tests that need root (namespaces, mounts, other uids) are
//! `#[ignore]`d and run by `scripts/check.sh`, which CI runs as root.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::os::unix::fs::{FileExt, PermissionsExt};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::{SmallTmpfs, fails, json, shm, shm_file, stderr, succeeds};
use shm_testkit::TestSegment;

const SHM: &str = env!("CARGO_BIN_EXE_shm");

/// Waits until `shm info` says a writer is active on the segment.
#[track_caller]
fn wait_for_writer(segment: &TestSegment) -> serde_json::Value {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let info = shm(segment, &["info", "--json"]);
        if info.status.success() {
            let info = json(&info);
            if info["writer_state"] == "active" {
                return info;
            }
        }
        assert!(Instant::now() < deadline, "no active writer appeared");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A writer that stays: `shm send-struct --hold 60`, in the background.
fn holding_writer(command: &mut Command) -> Child {
    command
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

/// A writer that holds `segment` (for a minute), once it is active there.
fn writer_holding(segment: &TestSegment) -> Child {
    let writer = holding_writer(Command::new(SHM).args([
        "--name",
        &segment.name,
        "send-struct",
        "--hold",
        "60",
    ]));
    wait_for_writer(segment);
    writer
}

/// Ends `child` with SIGKILL and reaps it.
fn kill_9(mut child: Child) {
    child.kill().unwrap();
    child.wait().unwrap();
}

#[test]
#[ignore = "needs root for unshare --pid; scripts/check.sh runs it"]
fn a_writer_in_another_pid_namespace_is_never_taken_over_and_is_replaced_at_once_when_killed() {
    let segment = TestSegment::new("ns");
    // unshare forks the writer as pid 1 of a new PID namespace; --kill-child ends it with
    // unshare, so the SIGKILL below reaches the writer.
    let inside = holding_writer(Command::new("unshare").args([
        "--pid",
        "--fork",
        "--kill-child",
        "--mount-proc",
        SHM,
        "--name",
        &segment.name,
        "send-struct",
        "--id",
        "1",
        "--hold",
        "60",
    ]));
    let info = wait_for_writer(&segment);
    assert_eq!(
        info["writer_pid"], 1,
        "its pid in its own namespace: {info}"
    );
    // Outside, pid 1 is init: judged by pid, the writer would look alive or dead for the
    // wrong reason. The kernel lock says it lives.
    for _ in 0..3 {
        let refused = fails(shm(&segment, &["send-struct", "--id", "2"]));
        assert!(
            refused.contains("another writer (pid 1) is already writing"),
            "{refused}"
        );
    }
    // SIGKILL to the writer itself (pid 1 in there; unshare's child out here).
    let children = Command::new("pgrep")
        .args(["-P", &inside.id().to_string()])
        .output()
        .unwrap();
    let writer: u32 = String::from_utf8_lossy(&children.stdout)
        .trim()
        .parse()
        .unwrap();
    let started = Instant::now();
    succeeds(
        Command::new("kill")
            .args(["-KILL", &writer.to_string()])
            .output()
            .unwrap(),
    );
    // unshare exits when its child does, reaping it.
    let mut inside = inside;
    inside.wait().unwrap();
    // The kernel dropped the lock with the process: taken over at once, records kept.
    let sent = succeeds(shm(&segment, &["send-struct", "--id", "2", "--persist"]));
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "took {:?}",
        started.elapsed()
    );
    assert!(String::from_utf8_lossy(&sent.stdout).contains("as record 2"));
    succeeds(shm(&segment, &["remove"]));
}

#[test]
fn a_killed_writer_is_replaced_at_once_and_reported_crashed() {
    let segment = TestSegment::new("killed");
    let writer = writer_holding(&segment);
    let pid = writer.id();
    kill_9(writer);
    let info = json(&succeeds(shm(&segment, &["info", "--json"])));
    assert_eq!(info["writer_state"], "crashed", "{info}");
    assert_eq!(info["writer_pid"], pid);
    succeeds(shm(&segment, &["send-struct", "--id", "5"]));
    assert!(
        !segment.dev_shm_path().exists(),
        "the new writer removed it"
    );
}

#[test]
fn a_lock_word_naming_a_live_unrelated_process_is_taken_over() {
    let segment = TestSegment::new("reused-pid");
    succeeds(shm(&segment, &["send-struct", "--persist", "--id", "7"]));
    // The header names a live process that is no writer (this test): as after a writer died
    // and its pid went to another program.
    let file = std::fs::OpenOptions::new()
        .write(true)
        .open(segment.dev_shm_path())
        .unwrap();
    file.write_all_at(&std::process::id().to_ne_bytes(), 64)
        .unwrap();
    let info = json(&succeeds(shm(&segment, &["info", "--json"])));
    assert_eq!(info["writer_state"], "crashed", "no lock is held: {info}");
    let sent = succeeds(shm(&segment, &["send-struct", "--id", "8", "--persist"]));
    assert!(String::from_utf8_lossy(&sent.stdout).contains("as record 2"));
    succeeds(shm(&segment, &["remove"]));
}

#[test]
#[ignore = "needs root to mount a small tmpfs over /dev/shm in a mount namespace; scripts/check.sh runs it"]
fn a_dev_shm_too_small_for_the_segment_refuses_it_in_words_and_leaves_nothing() {
    let output = Command::new("unshare")
        .args(["--mount", "sh", "-c"])
        .arg(format!(
            "mount -t tmpfs -o size=1M tmpfs /dev/shm && {SHM} --name big send-struct; code=$?; ls -A /dev/shm >&2; exit $code"
        ))
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1), "exit 1, not a signal");
    let message = stderr(&output);
    assert!(
        message.starts_with(
            "shm: segment 'big' needs 30 MiB but /dev/shm has only 1 MiB free; in a container give it more shared memory (docker run --shm-size=256m)"
        ),
        "{message}"
    );
    assert_eq!(
        message.lines().count(),
        1,
        "nothing left in /dev/shm: {message}"
    );
}

#[test]
#[ignore = "needs root to mount a small tmpfs; scripts/check.sh runs it"]
fn a_file_system_too_small_for_a_file_segment_refuses_it_and_leaves_nothing() {
    let tmpfs = SmallTmpfs::mount("1M");
    let file = tmpfs.dir.path().join("segment");
    let message = fails(shm_file(&file, &["send-struct"]));
    assert!(
        message.contains("needs 30 MiB but")
            && message.contains("has only 1 MiB free; free some space there"),
        "{message}"
    );
    assert!(!file.exists(), "the half-made file is gone");
    // A capacity it can hold works.
    succeeds(shm_file(&file, &["send-struct", "--capacity", "64KiB"]));
}

/// Starts `writers` writers on one location at once (each waits in a shell for one line on
/// its stdin, all of which are sent together); the one that wins holds for a moment.
fn race(location: &[&str], writers: usize) -> Vec<std::process::Output> {
    use std::io::Write;
    let mut children: Vec<Child> = (0..writers)
        .map(|id| {
            Command::new("sh")
                .arg("-c")
                .arg(r#"read go; exec "$0" "$@""#)
                .arg(SHM)
                .args(location)
                .args([
                    "send-struct",
                    "--id",
                    &id.to_string(),
                    "--persist",
                    "--hold",
                    "0.5",
                ])
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    for child in &mut children {
        let mut stdin = child.stdin.take().unwrap();
        stdin.write_all(b"go\n").unwrap();
    }
    children
        .into_iter()
        .map(|child| child.wait_with_output().unwrap())
        .collect()
}

#[test]
fn writers_racing_to_create_one_segment_end_with_one_writer_every_time() {
    let dir = tempfile::tempdir().unwrap();
    let segment = TestSegment::new("race");
    let file = dir.path().join("segment");
    let named = ["--name", segment.name.as_str()];
    let filed = ["--file", file.to_str().unwrap()];
    for location in [&named[..], &filed[..]] {
        for round in 0..50 {
            let outputs = race(location, 20);
            let winners: Vec<_> = outputs
                .iter()
                .filter(|output| output.status.success())
                .collect();
            assert_eq!(winners.len(), 1, "round {round} of {location:?}");
            for loser in outputs.iter().filter(|output| !output.status.success()) {
                let message = stderr(loser);
                assert_eq!(loser.status.code(), Some(1), "{message}");
                assert!(
                    message.contains("is already writing to"),
                    "round {round}: {message}"
                );
            }
            // One segment, initialised once: the winner's struct is its first record.
            let winner = String::from_utf8_lossy(&winners[0].stdout).into_owned();
            let id: &str = winner
                .split("Id=")
                .nth(1)
                .and_then(|rest| rest.split(',').next())
                .unwrap();
            let read = json(&succeeds(
                Command::new(SHM)
                    .args(location)
                    .args(["read-struct", "--json"])
                    .output()
                    .unwrap(),
            ));
            assert_eq!(read["id"].to_string(), id, "round {round}");
            assert_eq!(read["sequence"], 1, "round {round}: initialised twice?");
            succeeds(
                Command::new(SHM)
                    .args(location)
                    .arg("remove")
                    .output()
                    .unwrap(),
            );
        }
    }
    let leftovers: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

#[test]
fn a_segment_open_to_other_users_is_refused() {
    let segment = TestSegment::new("planted");
    succeeds(shm(&segment, &["send-struct", "--persist"]));
    std::fs::set_permissions(segment.dev_shm_path(), PermissionsExt::from_mode(0o666)).unwrap();
    for command in [&["read-struct"][..], &["send-struct"]] {
        let message = fails(shm(&segment, command));
        assert!(
            message.contains("has mode 0666: other users could read or change its records"),
            "{message}"
        );
    }
    succeeds(shm(&segment, &["remove"]));
}

#[test]
#[ignore = "needs root and setpriv to act as another user; scripts/check.sh runs it"]
fn a_segment_of_another_user_is_refused_even_to_root() {
    let segment = TestSegment::new("foreign");
    let planted = Command::new("setpriv")
        .args(["--reuid=65534", "--regid=65534", "--clear-groups", SHM])
        .args(["--name", &segment.name, "send-struct", "--persist"])
        .output()
        .unwrap();
    succeeds(planted);
    // Root could open it; it is refused for whom it belongs to.
    let message = fails(shm(&segment, &["read-struct"]));
    assert!(
        message.contains("belongs to user 65534, not to you (user 0)"),
        "{message}"
    );
    fails(shm(&segment, &["send-struct"]));
    succeeds(shm(&segment, &["remove"]));
}

/// A segment whose writer was killed, left in /dev/shm.
fn crashed_segment(segment: &TestSegment) {
    kill_9(writer_holding(segment));
}

#[test]
fn ls_and_doctor_tell_live_closed_crashed_and_open_segments_apart() {
    let live = TestSegment::new("ls-live");
    let kept = TestSegment::new("ls-kept");
    let crashed = TestSegment::new("ls-crashed");
    let planted = TestSegment::new("ls-planted");
    let mut holder = writer_holding(&live);
    succeeds(shm(&kept, &["send-struct", "--persist"]));
    crashed_segment(&crashed);
    succeeds(shm(&planted, &["send-struct", "--persist"]));
    std::fs::set_permissions(planted.dev_shm_path(), PermissionsExt::from_mode(0o666)).unwrap();

    let listed = json(&succeeds(
        Command::new(SHM).args(["ls", "--json"]).output().unwrap(),
    ));
    let entry = |segment: &TestSegment| {
        listed
            .as_array()
            .unwrap()
            .iter()
            .find(|entry| entry["location"] == format!("segment '{}'", segment.name))
            .cloned()
            .unwrap_or_else(|| panic!("{} not listed: {listed}", segment.name))
    };
    let live_entry = entry(&live);
    assert_eq!(live_entry["writer_state"], "active");
    assert_eq!(live_entry["writer_pid"], holder.id());
    assert_eq!(live_entry["capacity"], 10 << 20);
    assert!(live_entry["struct_age_us"].as_u64().is_some());
    assert_eq!(live_entry["picture_age_us"], serde_json::Value::Null);
    let kept_entry = entry(&kept);
    assert_eq!(
        (
            &kept_entry["writer_state"],
            &kept_entry["persist"],
            &kept_entry["stale"]
        ),
        (&"closed".into(), &true.into(), &false.into())
    );
    let crashed_entry = entry(&crashed);
    assert_eq!(crashed_entry["writer_state"], "crashed");
    assert_eq!(crashed_entry["stale"], true);
    let planted_entry = entry(&planted);
    assert_eq!(planted_entry["mode"], "0666");
    assert!(
        planted_entry["error"]
            .as_str()
            .unwrap()
            .contains("other users could read or change its records"),
        "{planted_entry}"
    );

    let doctor = Command::new(SHM)
        .args(["doctor", "--json"])
        .output()
        .unwrap();
    assert_eq!(
        doctor.status.code(),
        Some(1),
        "a segment open to others is wrong"
    );
    let report = json(&doctor);
    let findings = report["findings"].as_array().unwrap();
    let says = |level: &str, text: &str| {
        findings.iter().any(|finding| {
            finding["level"] == level && finding["message"].as_str().unwrap().contains(text)
        })
    };
    assert!(says("ok", "/dev/shm has"), "{report}");
    assert!(
        says(
            "warning",
            &format!(
                "segment '{}' was left by a writer that crashed",
                crashed.name
            )
        ),
        "{report}"
    );
    assert!(
        says(
            "error",
            &format!("segment '{}' has mode 0666", planted.name)
        ),
        "{report}"
    );
    // Text: one line a finding.
    let text = Command::new(SHM).arg("doctor").output().unwrap();
    let text = String::from_utf8_lossy(&text.stdout).into_owned();
    assert!(
        text.lines().all(|line| line.starts_with("ok: ")
            || line.starts_with("warning: ")
            || line.starts_with("error: ")),
        "{text}"
    );

    holder.kill().unwrap();
    holder.wait().unwrap();
    for segment in [&live, &kept, &crashed, &planted] {
        let _ = std::fs::remove_file(segment.dev_shm_path());
    }
}

#[test]
#[ignore = "needs root for a private /dev/shm (a mount namespace), so that no other test's segment is touched; scripts/check.sh runs it"]
fn remove_stale_removes_only_segments_whose_writer_crashed() {
    // In a private /dev/shm: remove --stale looks at every segment there.
    let script = format!(
        r#"set -e
mount -t tmpfs -o size=128M tmpfs /dev/shm
{SHM} --name live send-struct --hold 60 >/dev/null & live=$!
trap 'kill $live 2>/dev/null || true' EXIT
{SHM} --name crashed send-struct --hold 60 >/dev/null & crashed=$!
{SHM} --name kept send-struct --persist >/dev/null
for _ in $(seq 200); do [ -e /dev/shm/live ] && [ -e /dev/shm/crashed ] && break; sleep 0.05; done
sleep 0.3
kill -9 $crashed; wait $crashed 2>/dev/null || true
{SHM} --name closed send-struct --hold 0.1 --persist >/dev/null
{SHM} remove --stale --json
{SHM} ls --json
kill $live; wait $live 2>/dev/null || true
"#
    );
    let output = Command::new("unshare")
        .args(["--mount", "sh", "-c", &script])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(output.status.success(), "{text}{}", stderr(&output));
    let mut lines = text.lines();
    let removed: serde_json::Value = serde_json::from_str(lines.next().unwrap()).unwrap();
    assert_eq!(
        removed["removed"],
        serde_json::json!(["segment 'crashed'"]),
        "{removed}"
    );
    let listed: serde_json::Value = serde_json::from_str(lines.next().unwrap()).unwrap();
    let names: Vec<&str> = listed
        .as_array()
        .unwrap()
        .iter()
        .map(|entry| entry["location"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        ["segment 'closed'", "segment 'kept'", "segment 'live'"],
        "{listed}"
    );
}
