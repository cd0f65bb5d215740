//! `shm ls`, `shm doctor` and `shm remove --stale`: what is there, what is wrong with it, and
//! tidying up after crashed writers.

use std::path::PathBuf;
use std::time::Duration;

use serde_json::{Value, json};
use shm_common::layout::Layout;
use shm_common::{
    ByteSize, CapacityArgs, Elapsed, FoundSegment, NAMED_SEGMENTS_DIR, RecordKind, SegmentInfo,
    SegmentLocation, StaleOutcome, find_segments, monotonic_ns,
};

use crate::commands::{Result, channel_json, channel_label, writer_fields};

/// The file `--file` names, if it does: listed and checked beside the named segments.
fn given_files(location: &SegmentLocation) -> Vec<PathBuf> {
    match location {
        SegmentLocation::File(path) => vec![path.clone()],
        SegmentLocation::Named(_) => Vec::new(),
    }
}

/// How long ago the newest record of the demo's `kind` channel was sent, if there is one.
fn age(info: &SegmentInfo, kind: RecordKind) -> Option<Duration> {
    let channel = info
        .channels
        .iter()
        .find(|channel| channel.spec.kind == kind && channel.spec.is_demo())?;
    (channel.published > 0)
        .then(|| Duration::from_nanos(monotonic_ns().saturating_sub(channel.last_published_ns)))
}

fn segment_json(found: &FoundSegment) -> Value {
    let mut object = json!({
        "location": found.location.to_string(),
        "size": found.size,
        "owner": found.owner,
        "mode": format!("{:04o}", found.mode),
    });
    match &found.info {
        Ok(info) => {
            let (pid, _, state) = writer_fields(info.writer);
            let micros = |kind| age(info, kind).map(|age| age.as_micros() as u64);
            object["capacity"] = json!(info.capacity);
            object["frame_capacity"] = json!(info.frame_capacity);
            object["writer_pid"] = json!(pid);
            object["writer_state"] = json!(state);
            object["persist"] = json!(info.persist);
            object["stale"] = json!(found.is_stale());
            object["picture_age_us"] = json!(micros(RecordKind::Image));
            object["struct_age_us"] = json!(micros(RecordKind::Struct));
            object["channels"] = info.channels.iter().map(channel_json).collect();
        }
        Err(err) => object["error"] = json!(err.to_string()),
    }
    object
}

pub fn ls(location: &SegmentLocation, as_json: bool) -> Result<()> {
    let found = find_segments(&given_files(location));
    if as_json {
        println!("{}", Value::Array(found.iter().map(segment_json).collect()));
        return Ok(());
    }
    if found.is_empty() {
        println!("no segments of ours in {NAMED_SEGMENTS_DIR}");
        return Ok(());
    }
    println!(
        "{:<32} {:>9} {:>9}  {:<22} {:<8} {:>10} {:>10}  CHANNELS",
        "SEGMENT", "SIZE", "CAPACITY", "WRITER", "PERSIST", "PICTURE", "STRUCT"
    );
    for found in &found {
        let name = match &found.location {
            SegmentLocation::Named(name) => name.to_string(),
            SegmentLocation::File(path) => path.display().to_string(),
        };
        let size = ByteSize(usize::try_from(found.size).unwrap_or(usize::MAX)).to_string();
        match &found.info {
            Ok(info) => {
                let (pid, _, state) = writer_fields(info.writer);
                let writer = pid.map_or(state.to_owned(), |pid| format!("{state} (pid {pid})"));
                let ago =
                    |kind| age(info, kind).map_or("-".to_owned(), |age| Elapsed(age).to_string());
                let channels: Vec<String> = info
                    .channels
                    .iter()
                    .map(|channel| channel_label(&channel.spec))
                    .collect();
                println!(
                    "{name:<32} {size:>9} {:>9}  {writer:<22} {:<8} {:>10} {:>10}  {}",
                    if info.capacity == 0 {
                        "-".to_owned()
                    } else {
                        ByteSize(info.capacity).to_string()
                    },
                    if info.persist { "yes" } else { "no" },
                    ago(RecordKind::Image),
                    ago(RecordKind::Struct),
                    channels.join(", "),
                );
            }
            Err(err) => println!("{name:<32} {size:>9}  cannot be opened: {err}"),
        }
    }
    Ok(())
}

/// One thing `shm doctor` found.
struct Finding {
    /// `ok`, `warning` or `error`.
    level: &'static str,
    message: String,
}

fn finding(level: &'static str, message: String) -> Finding {
    Finding { level, message }
}

/// Docker gives a container 64 MiB of /dev/shm unless told otherwise.
const DOCKER_DEFAULT_SHM: u64 = 64 << 20;

pub fn doctor(location: &SegmentLocation, capacity: &CapacityArgs, as_json: bool) -> Result<()> {
    let mut findings = Vec::new();
    let needed = Layout::for_capacity(capacity.capacity().bytes())
        .map(|layout| layout.total_size as u64)
        .map_err(|err| format!("that capacity is not possible: {err}"))?;
    findings.extend(space_findings(location, needed));
    for found in find_segments(&given_files(location)) {
        findings.extend(segment_findings(&found));
    }
    findings.extend(overcommit_findings());
    let wrong = findings.iter().any(|finding| finding.level == "error");
    if as_json {
        let list: Vec<Value> = findings
            .iter()
            .map(|finding| json!({ "level": finding.level, "message": finding.message }))
            .collect();
        println!("{}", json!({ "ok": !wrong, "findings": list }));
    } else {
        for finding in &findings {
            println!("{}: {}", finding.level, finding.message);
        }
    }
    if wrong {
        std::process::exit(1);
    }
    Ok(())
}

/// Room where the segment's memory comes from.
fn space_findings(location: &SegmentLocation, needed: u64) -> Vec<Finding> {
    let dir = location.storage_dir();
    let Ok(space) = shm_common::file_system_space(&dir) else {
        return vec![finding(
            "error",
            format!("{} cannot be inspected: is it there?", dir.display()),
        )];
    };
    let shown = |bytes: u64| ByteSize(usize::try_from(bytes).unwrap_or(usize::MAX)).to_string();
    let mut findings = Vec::new();
    if space.available < needed {
        findings.push(finding(
            "error",
            format!(
                "{} has {} free but a segment of this capacity needs {}: {}",
                dir.display(),
                shown(space.available),
                shown(needed),
                if matches!(location, SegmentLocation::Named(_)) {
                    "start the container with more shared memory (docker run --shm-size=256m), ask for a smaller --capacity, or use --file on a disk"
                } else {
                    "free some space there or ask for a smaller --capacity"
                }
            ),
        ));
    } else {
        findings.push(finding(
            "ok",
            format!(
                "{} has {} free; a segment of this capacity needs {}",
                dir.display(),
                shown(space.available),
                shown(needed)
            ),
        ));
    }
    if matches!(location, SegmentLocation::Named(_)) && space.total <= DOCKER_DEFAULT_SHM {
        findings.push(finding(
            "warning",
            format!(
                "{} is only {} in all, Docker's default: a picture over about {} will not fit; start the container with --shm-size=256m",
                dir.display(),
                shown(space.total),
                // Half of it: growing holds the old segment and the new one at once.
                shown(space.total / 2 / shm_common::layout::STREAMED_REGIONS as u64)
            ),
        ));
    }
    findings
}

/// Stale, foreign or damaged segments.
fn segment_findings(found: &FoundSegment) -> Vec<Finding> {
    let location = &found.location;
    match &found.info {
        Ok(info) if found.is_stale() => vec![finding(
            "warning",
            format!(
                "{location} was left by a writer that crashed ({}) and is not kept on purpose: `shm remove --stale` removes it",
                writer_fields(info.writer)
                    .0
                    .map_or("pid unknown".to_owned(), |pid| format!("pid {pid}"))
            ),
        )],
        Ok(_) => Vec::new(),
        Err(err) => vec![finding("error", err.to_string())],
    }
}

/// Strict overcommit makes large mappings fail.
fn overcommit_findings() -> Vec<Finding> {
    let Ok(mode) = std::fs::read_to_string("/proc/sys/vm/overcommit_memory") else {
        return Vec::new();
    };
    if mode.trim() != "2" {
        return vec![finding(
            "ok",
            format!(
                "memory overcommit mode {} (vm.overcommit_memory): mapping segments does not depend on the commit limit",
                mode.trim()
            ),
        )];
    }
    let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
    let field = |name: &str| {
        meminfo
            .lines()
            .find(|line| line.starts_with(name))
            .and_then(|line| line.split_whitespace().nth(1))
            .unwrap_or("?")
            .to_owned()
    };
    vec![finding(
        "warning",
        format!(
            "strict memory overcommit (vm.overcommit_memory=2, CommitLimit {} kB, Committed_AS {} kB): creating or mapping a large segment can fail once the commit limit is reached",
            field("CommitLimit:"),
            field("Committed_AS:")
        ),
    )]
}

pub fn remove_stale(location: &SegmentLocation, as_json: bool) -> Result<()> {
    let outcomes = shm_common::remove_stale(&given_files(location));
    let mut failed = false;
    let mut removed = Vec::new();
    let mut kept = Vec::new();
    let mut errors = Vec::new();
    for (location, outcome) in &outcomes {
        match outcome {
            StaleOutcome::Removed => removed.push(location.to_string()),
            StaleOutcome::Kept => kept.push(location.to_string()),
            StaleOutcome::Failed(err) => {
                failed = true;
                errors.push(err.to_string());
            }
        }
    }
    if as_json {
        println!(
            "{}",
            json!({ "removed": removed, "kept": kept, "errors": errors })
        );
    } else {
        for location in &removed {
            println!("removed {location}: its writer had crashed");
        }
        for location in &kept {
            println!("kept {location}: a writer took it over meanwhile");
        }
        for error in &errors {
            eprintln!("shm: {error}");
        }
        if outcomes.is_empty() {
            println!("no stale segments");
        }
    }
    if failed {
        return Err("some stale segments could not be removed (see above)".into());
    }
    Ok(())
}
