//! What each command does; every failure is returned as a one-line message.

use std::fmt::Write as _;
use std::io;
use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::json;
use sha2::{Digest, Sha256};
use shm_common::{
    ByteSize, CreationMode, Elapsed, ImageMessage, Reader, RecordKind, RecordMeta, SegmentInfo,
    SegmentLocation, TestData, Writer, WriterStatus,
};

use crate::{Command, SendArgs};

type Result<T> = std::result::Result<T, Box<dyn std::error::Error>>;

/// Runs one command against the segment at `location`.
pub fn run(location: &SegmentLocation, command: Command) -> Result<()> {
    match command {
        Command::SendImage { picture, send } => send_image(location, &picture, &send),
        Command::SendStruct {
            id,
            age,
            scores,
            send,
        } => send_struct(location, id, age, scores, &send),
        Command::ReadImage { out, json, decode } => {
            read_image(location, out.as_deref(), json, decode)
        }
        Command::ReadStruct { json } => read_struct(location, json),
        Command::Info { json } => info(location, json),
        Command::Watch { json, count } => watch(location, json, count),
        Command::Bench(args) => crate::bench::run(&args),
        Command::BenchPeer(args) => crate::bench::peer(&args),
        Command::Remove => {
            shm_common::remove(location)?;
            println!("removed {location}");
            Ok(())
        }
    }
}

fn open_writer(location: &SegmentLocation, send: &SendArgs) -> Result<Writer> {
    let mut writer = Writer::create(
        location,
        CreationMode::CreateOrOpen,
        send.capacity.capacity(),
    )?;
    writer.set_persist(send.persist);
    Ok(writer)
}

/// What happens to the segment when this command exits, for the success line.
fn lifetime_note(writer: &Writer) -> &'static str {
    if writer.removes_on_close() {
        "; the segment is removed as this command exits (pass --persist to keep it for later readers)"
    } else {
        ""
    }
}

fn read_picture_file(file: &Path) -> Result<Vec<u8>> {
    std::fs::read(file).map_err(|err| {
        let shown = file.display();
        let message = match err.kind() {
            io::ErrorKind::NotFound => format!("picture file '{shown}' does not exist"),
            io::ErrorKind::PermissionDenied => {
                format!("picture file '{shown}' cannot be read: permission denied")
            }
            io::ErrorKind::IsADirectory => format!("'{shown}' is a directory, not a picture file"),
            _ => format!("picture file '{shown}' cannot be read: {err}"),
        };
        message.into()
    })
}

fn send_image(location: &SegmentLocation, file: &Path, send: &SendArgs) -> Result<()> {
    let bytes = read_picture_file(file)?;
    // The original sent the full path; a path that is not UTF-8 travels with replacement
    // characters, since the framing's path is UTF-8.
    let full_path = std::path::absolute(file).unwrap_or_else(|_| file.to_path_buf());
    let path = full_path.to_string_lossy();
    let mut writer = open_writer(location, send)?;
    let started = Instant::now();
    let meta = writer.send_image(&path, &bytes)?;
    println!(
        "sent picture '{path}' ({}) to {location} as record {} in {}{}",
        ByteSize(bytes.len()),
        meta.sequence,
        Elapsed(started.elapsed()),
        lifetime_note(&writer)
    );
    Ok(())
}

fn send_struct(
    location: &SegmentLocation,
    id: i32,
    age: i32,
    scores: Option<Vec<i32>>,
    send: &SendArgs,
) -> Result<()> {
    let mut data = TestData {
        id,
        age,
        ..TestData::default()
    };
    if let Some(scores) = scores {
        data.scores = scores.as_slice().try_into().map_err(|_| {
            format!(
                "--scores needs exactly 10 comma-separated numbers, got {}",
                scores.len()
            )
        })?;
    }
    let mut writer = open_writer(location, send)?;
    let meta = writer.send_struct(&data)?;
    println!(
        "sent struct {data} to {location} as record {}{}",
        meta.sequence,
        lifetime_note(&writer)
    );
    Ok(())
}

/// Follows the segment: one line per new record, across writer restarts.
fn watch(location: &SegmentLocation, as_json: bool, count: Option<u64>) -> Result<()> {
    let mut announced = false;
    let mut reader = loop {
        match Reader::open(location) {
            Ok(reader) => break reader,
            Err(shm_common::OpenError::NotFound { .. }) => {
                if !announced {
                    eprintln!("shm: waiting for a writer to create {location}…");
                    announced = true;
                }
                std::thread::sleep(Duration::from_millis(100));
            }
            Err(err) => return Err(err.into()),
        }
    };
    let mut image = ImageMessage::default();
    let mut printed = 0u64;
    while count.is_none_or(|count| printed < count) {
        // Wakes when a picture starts, too: it is read while it is being written.
        if !reader.wait_for_next(Duration::from_millis(250)) {
            if !matches!(reader.writer_status(), WriterStatus::Active { .. }) {
                // A writer that removed its segment on exit: keep waiting for the next one.
                match reader.reopen_if_replaced() {
                    Ok(_) | Err(shm_common::OpenError::NotFound { .. }) => {}
                    Err(err) => return Err(err.into()),
                }
            }
            continue;
        }
        for kind in RecordKind::ALL {
            if count.is_some_and(|count| printed >= count) {
                continue;
            }
            let (meta, detail) = match kind {
                RecordKind::Image => match reader.read_next_into(&mut image)? {
                    Some(meta) => (meta, image.path.clone()),
                    None => continue,
                },
                RecordKind::Struct if !reader.has_new(kind) => continue,
                RecordKind::Struct => match reader.latest_struct()? {
                    Some((data, meta)) => (meta, data.to_string()),
                    None => continue,
                },
            };
            let latency = meta.age();
            if as_json {
                let object = json!({
                    "kind": kind.name(),
                    "sequence": meta.sequence,
                    "len": meta.len,
                    "latency_us": u64::try_from(latency.as_micros()).unwrap_or(u64::MAX),
                    "detail": detail,
                });
                println!("{object}");
            } else {
                println!(
                    "{kind:<6} #{:<6} {:>10}  latency {:>10}  {detail}",
                    meta.sequence,
                    ByteSize(meta.len).to_string(),
                    Elapsed(latency).to_string()
                );
            }
            printed += 1;
        }
    }
    Ok(())
}

fn nothing_sent(kind: RecordKind, location: &SegmentLocation) -> String {
    let noun = match kind {
        RecordKind::Image => "picture",
        RecordKind::Struct => "struct",
    };
    format!("no {noun} has been sent to {location} yet")
}

fn age_us(meta: &RecordMeta) -> u64 {
    u64::try_from(meta.age().as_micros()).unwrap_or(u64::MAX)
}

fn read_image(
    location: &SegmentLocation,
    out: Option<&Path>,
    as_json: bool,
    decode: bool,
) -> Result<()> {
    let mut reader = Reader::open(location)?;
    let mut image = ImageMessage::default();
    let meta = reader
        .read_into(&mut image)?
        .ok_or_else(|| nothing_sent(RecordKind::Image, location))?;
    let age = age_us(&meta);
    if let Some(out) = out {
        std::fs::write(out, &image.bytes)
            .map_err(|err| format!("cannot write '{}': {err}", out.display()))?;
    }
    let decoded = if decode {
        let picture = shm_picture::decode(&image.bytes, u32::MAX)
            .map_err(|err| format!("the picture '{}' cannot be decoded: {err}", image.path))?;
        Some(picture)
    } else {
        None
    };
    let sha256 = hex(&Sha256::digest(&image.bytes));
    if as_json {
        let mut object = json!({
            "path": image.path,
            "len": image.bytes.len(),
            "sha256": sha256,
            "age_us": age,
            "sequence": meta.sequence,
        });
        if let Some(picture) = &decoded {
            object["width"] = json!(picture.width);
            object["height"] = json!(picture.height);
            object["format"] = json!(shm_picture::format_name(picture.format));
            object["decode_ms"] = json!(picture.decode_time.as_secs_f64() * 1e3);
        }
        println!("{object}");
    } else {
        let pixels = decoded.as_ref().map_or_else(String::new, |picture| {
            format!(
                ", {} {}x{}",
                shm_picture::format_name(picture.format),
                picture.width,
                picture.height
            )
        });
        println!(
            "{}  ({}{pixels}, sha256 {sha256}, record {}, sent {} ago)",
            image.path,
            ByteSize(image.bytes.len()),
            meta.sequence,
            Elapsed(Duration::from_micros(age))
        );
    }
    Ok(())
}

fn read_struct(location: &SegmentLocation, as_json: bool) -> Result<()> {
    let mut reader = Reader::open(location)?;
    let (data, meta) = reader
        .latest_struct()?
        .ok_or_else(|| nothing_sent(RecordKind::Struct, location))?;
    if as_json {
        let object = json!({
            "id": data.id,
            "age": data.age,
            "scores": data.scores,
            "text": data.to_string(),
            "age_us": age_us(&meta),
            "sequence": meta.sequence,
        });
        println!("{object}");
    } else {
        println!("{data}");
    }
    Ok(())
}

fn info(location: &SegmentLocation, as_json: bool) -> Result<()> {
    let info = Reader::open(location)?.info();
    if as_json {
        println!("{}", info_json(&info));
    } else {
        print!("{}", info_text(&info));
    }
    Ok(())
}

fn writer_fields(status: WriterStatus) -> (Option<u32>, bool, &'static str) {
    match status {
        WriterStatus::Active { pid } => (Some(pid), true, "active"),
        WriterStatus::Crashed { pid } => (Some(pid), false, "crashed"),
        WriterStatus::Closed => (None, false, "closed"),
    }
}

fn info_json(info: &SegmentInfo) -> serde_json::Value {
    let (pid, alive, state) = writer_fields(info.writer);
    let now = shm_common::monotonic_ns();
    let mut object = json!({
        "location": info.location.to_string(),
        "layout_version": info.layout_version,
        "capacity": info.capacity,
        "total_size": info.total_size,
        "instance_id": format!("{:016x}", info.instance_id),
        "writer_pid": pid,
        "writer_alive": alive,
        "writer_state": state,
        "writer_generation": info.writer_generation,
    });
    for slot in &info.slots {
        object[slot.kind.name()] = json!({
            "sequence": slot.published,
            "last_len": slot.last_len,
            "capacity": slot.capacity,
            "age_us": (slot.published > 0).then(|| now.saturating_sub(slot.last_timestamp_ns) / 1000),
        });
    }
    object
}

fn info_text(info: &SegmentInfo) -> String {
    let mut text = String::new();
    let (pid, _, state) = writer_fields(info.writer);
    let now = shm_common::monotonic_ns();
    let _ = writeln!(
        text,
        "{} (layout version {})",
        info.location, info.layout_version
    );
    let _ = writeln!(
        text,
        "capacity: {} per picture, {} in all",
        ByteSize(info.capacity),
        ByteSize(info.total_size)
    );
    let _ = match pid {
        Some(pid) => writeln!(text, "writer:   pid {pid}, {state}"),
        None => writeln!(text, "writer:   none ({state})"),
    };
    for slot in &info.slots {
        let _ = if slot.published == 0 {
            writeln!(text, "{:<9} nothing sent yet", format!("{}:", slot.kind))
        } else {
            writeln!(
                text,
                "{:<9} record {}, {}, sent {} ago",
                format!("{}:", slot.kind),
                slot.published,
                ByteSize(usize::try_from(slot.last_len).unwrap_or(usize::MAX)),
                Elapsed(Duration::from_nanos(
                    now.saturating_sub(slot.last_timestamp_ns)
                ))
            )
        };
    }
    text
}

fn hex(bytes: &[u8]) -> String {
    bytes
        .iter()
        .fold(String::with_capacity(bytes.len() * 2), |mut out, byte| {
            let _ = write!(out, "{byte:02x}");
            out
        })
}
