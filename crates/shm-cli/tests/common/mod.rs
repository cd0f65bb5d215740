//! What the `shm` command's tests share: running it, and reading what it said.
#![allow(clippy::unwrap_used, clippy::expect_used, dead_code)]

use std::path::Path;
use std::process::{Command, Output};

use serde_json::Value;
use shm_testkit::TestSegment;

pub fn shm(segment: &TestSegment, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_shm"))
        .args(args)
        .args(["--name", &segment.name])
        .output()
        .unwrap()
}

pub fn shm_file(file: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_shm"))
        .args(args)
        .args(["--file", file.to_str().unwrap()])
        .output()
        .unwrap()
}

pub fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

pub fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[track_caller]
pub fn succeeds(output: Output) -> Output {
    assert!(
        output.status.success(),
        "shm failed: {}{}",
        stdout(&output),
        stderr(&output)
    );
    output
}

/// A failure: exit code 1 and exactly one line on stderr, no panic.
#[track_caller]
pub fn fails(output: Output) -> String {
    assert_eq!(output.status.code(), Some(1), "{}", stdout(&output));
    let message = stderr(&output);
    assert_eq!(message.lines().count(), 1, "{message}");
    assert!(message.starts_with("shm: "), "{message}");
    assert!(!message.contains("panicked"), "{message}");
    message
}

pub fn json(output: &Output) -> Value {
    serde_json::from_str(stdout(output).trim()).unwrap()
}

/// Mounts a tmpfs of `size` at a fresh directory: a file system that fills up.
pub struct SmallTmpfs {
    pub dir: tempfile::TempDir,
}

impl SmallTmpfs {
    pub fn mount(size: &str) -> SmallTmpfs {
        let dir = tempfile::tempdir().unwrap();
        let status = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(dir.path())
            .status()
            .unwrap();
        assert!(status.success(), "mounting a tmpfs needs root");
        SmallTmpfs { dir }
    }
}

impl Drop for SmallTmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(self.dir.path()).status();
    }
}
