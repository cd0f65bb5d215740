//! What each command does; every failure is returned as a one-line message.

use std::fmt::Write as _;
use std::io;
use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::json;
use sha2::{Digest, Sha256};
use shm_common::{
    ByteSize, ChannelInfo, ChannelSpec, CreationMode, Delivery, Elapsed, Follower, FrameMessage,
    ImageMessage, Number, PICTURE_CHANNEL, Reader, RecordKind, RecordMeta, SegmentEvent,
    SegmentInfo, SegmentLocation, SendError, TestData, Writer, WriterStatus, monotonic_ns,
};

use crate::{Command, SendArgs};

pub(crate) type Result<T> = std::result::Result<T, Box<dyn std::error::Error>>;

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
        Command::Read { channel, json } => read_channel(location, &channel, json),
        Command::Info { json } => info(location, json),
        Command::Watch { json, count } => watch(location, json, count),
        Command::Stream(args) => crate::stream::run(location, &args),
        Command::Bench(args) => crate::bench::run(&args),
        Command::BenchPeer(args) => crate::bench::peer(&args),
        Command::Remove { stale: false, .. } => {
            shm_common::remove(location)?;
            println!("removed {location}");
            Ok(())
        }
        Command::Remove { stale: true, json } => crate::tidy::remove_stale(location, json),
        Command::Ls { json } => crate::tidy::ls(location, json),
        Command::Doctor { capacity, json } => crate::tidy::doctor(location, &capacity, json),
    }
}

pub(crate) fn open_writer(location: &SegmentLocation, send: &SendArgs) -> Result<Writer> {
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

/// Opens a picture file to send, with its length if it is a regular file (not a pipe); errors
/// say what is wrong with the file.
fn open_picture_file(file: &Path) -> Result<(std::fs::File, Option<usize>)> {
    let shown = file.display();
    let cannot_read = |err: io::Error| -> Box<dyn std::error::Error> {
        match err.kind() {
            io::ErrorKind::NotFound => format!("picture file '{shown}' does not exist"),
            io::ErrorKind::PermissionDenied => {
                format!("picture file '{shown}' cannot be read: permission denied")
            }
            _ => format!("picture file '{shown}' cannot be read: {err}"),
        }
        .into()
    };
    let opened = std::fs::File::open(file).map_err(cannot_read)?;
    let metadata = opened.metadata().map_err(cannot_read)?;
    if metadata.is_dir() {
        return Err(format!("'{shown}' is a directory, not a picture file").into());
    }
    if !metadata.is_file() {
        return Ok((opened, None));
    }
    let len = usize::try_from(metadata.len())
        .map_err(|_| format!("picture file '{shown}' is too large to send"))?;
    Ok((opened, Some(len)))
}

/// Sends a picture file. A regular file is read by the kernel straight into shared memory (a
/// loan), so its bytes are copied once, not read into this process and copied again; a pipe,
/// whose length is not known before it ends, is read whole first.
fn send_image(location: &SegmentLocation, file: &Path, send: &SendArgs) -> Result<()> {
    let (mut opened, len) = open_picture_file(file)?;
    let shown = file.display();
    let (len, piped) = match len {
        Some(len) => (len, None),
        None => {
            let mut bytes = Vec::new();
            io::Read::read_to_end(&mut opened, &mut bytes)
                .map_err(|err| format!("picture file '{shown}' cannot be read: {err}"))?;
            (bytes.len(), Some(bytes))
        }
    };
    // The original sent the full path; a path that is not UTF-8 travels with replacement
    // characters, since the framing's path is UTF-8.
    let full_path = std::path::absolute(file).unwrap_or_else(|_| file.to_path_buf());
    let path = full_path.to_string_lossy();
    let mut writer = open_writer(location, send)?;
    let started = Instant::now();
    make_room(
        &mut writer,
        RecordKind::Image,
        ImageMessage::framed_len(&path, len),
    )?;
    let meta = match piped {
        Some(bytes) => writer.send_image(&path, &bytes)?,
        None => {
            let mut loan = writer.loan_image(&path, len)?;
            loan.fill_from(&opened)
                .map_err(|err| format!("picture file '{shown}': {err}"))?;
            // A file that grew while it was read would be sent cut short.
            if opened.metadata().map(|now| now.len()).ok() != Some(len as u64) {
                return Err(format!(
                    "picture file '{shown}' changed while it was read; nothing was sent, try again"
                )
                .into());
            }
            loan.publish()?
        }
    };
    println!(
        "sent picture '{path}' ({}) to {location} as record {} in {}{}",
        ByteSize(len),
        meta.sequence,
        Elapsed(started.elapsed()),
        lifetime_note(&writer)
    );
    hold(send.hold)
}

/// Sends through `send`; if the record does not fit, grows the segment first and says so on
/// stderr (a segment grows only as far as the file system holding it has room).
pub(crate) fn send_growing(
    writer: &mut Writer,
    kind: RecordKind,
    len: usize,
    mut send: impl FnMut(&mut Writer) -> std::result::Result<RecordMeta, SendError>,
) -> Result<RecordMeta> {
    make_room(writer, kind, len)?;
    Ok(send(writer)?)
}

/// Grows the segment if a `kind` record of `len` bytes does not fit, and says so on stderr.
fn make_room(writer: &mut Writer, kind: RecordKind, len: usize) -> Result<()> {
    if !writer.fits(kind, len) {
        let growth = writer.plan_growth(kind, len)?;
        writer.grow(&growth)?;
        eprintln!(
            "shm: {} grown to {} in all, to hold a {} of {}",
            writer.location(),
            ByteSize(growth.total_size),
            kind.noun(),
            ByteSize(len)
        );
    }
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
    hold(send.hold)
}

/// `--hold`: stays the writer (the caller still holds it) for `seconds`, or until a signal.
fn hold(seconds: f64) -> Result<()> {
    if seconds <= 0.0 {
        return Ok(());
    }
    if !seconds.is_finite() {
        return Err(format!("--hold {seconds} is not a number of seconds").into());
    }
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let on_signal = std::sync::Arc::clone(&stop);
    ctrlc::set_handler(move || on_signal.store(true, std::sync::atomic::Ordering::Relaxed))
        .map_err(|err| format!("cannot catch signals to end --hold cleanly: {err}"))?;
    let until = Instant::now() + Duration::from_secs_f64(seconds);
    while Instant::now() < until && !stop.load(std::sync::atomic::Ordering::Relaxed) {
        std::thread::sleep(Duration::from_millis(20));
    }
    Ok(())
}

/// Follows the segment: one line per new record, across writer restarts and growth, and one
/// per change of writer; records that were already there are marked as such.
fn watch(location: &SegmentLocation, as_json: bool, count: Option<u64>) -> Result<()> {
    let mut watch = Watch {
        follower: Follower::new(location.clone()),
        as_json,
        count,
        printed: 0,
        last_pid: None,
        image: ImageMessage::default(),
        frame: FrameMessage::default(),
        bytes: Vec::new(),
    };
    while !watch.done() {
        let asked = monotonic_ns();
        // Wakes when a picture or frame starts, too: it is read while it is being written.
        if watch.follower.wait(Duration::from_millis(250), true) {
            watch.read_new(asked)?;
        }
        // Every time: a wake-up that brought no record may be a writer attaching or leaving.
        for event in watch.follower.check(true) {
            watch.segment_event(event)?;
        }
    }
    Ok(())
}

/// `shm watch`'s state.
struct Watch {
    follower: Follower,
    as_json: bool,
    count: Option<u64>,
    /// New records printed so far.
    printed: u64,
    /// The pid of the last writer seen, to name it when it exits.
    last_pid: Option<u32>,
    image: ImageMessage,
    frame: FrameMessage,
    /// The latest record of a channel other than the demo's.
    bytes: Vec<u8>,
}

/// How a record reached `shm watch`.
enum Arrival {
    /// It was there before the watch began (or before it reached this segment).
    Existing,
    /// It arrived while the watch waited.
    New(Delivery),
}

impl Watch {
    fn done(&self) -> bool {
        self.count.is_some_and(|count| self.printed >= count)
    }

    /// Prints the records the segment holds now, marked as already there.
    fn existing(&mut self) -> Result<()> {
        for channel in self.channels() {
            if let Some((meta, detail)) = self.read(&channel, false)? {
                self.print(&channel, &meta, &Arrival::Existing, &detail);
            }
        }
        if let Some(reader) = self.follower.reader_mut() {
            reader.skip_existing();
        }
        Ok(())
    }

    fn channels(&self) -> Vec<ChannelSpec> {
        self.follower
            .reader()
            .map(Reader::channels)
            .unwrap_or_default()
    }

    /// Reads and prints whatever is new; `asked` is when the watch began waiting for it.
    fn read_new(&mut self, asked: u64) -> Result<()> {
        for channel in self.channels() {
            if self.done() {
                return Ok(());
            }
            if let Some((meta, detail)) = self.read(&channel, true)? {
                let delivery = meta.delivery(asked, monotonic_ns());
                self.print(&channel, &meta, &Arrival::New(delivery), &detail);
                self.printed += 1;
            }
        }
        Ok(())
    }

    /// The latest record of `channel` and a line about it; with `next`, only one not read
    /// yet (a picture or frame of the demo's channels followed while it is written).
    fn read(&mut self, channel: &ChannelSpec, next: bool) -> Result<Option<(RecordMeta, String)>> {
        let Some(reader) = self.follower.reader_mut() else {
            return Ok(None);
        };
        let kind = channel.kind;
        if !channel.is_demo() {
            if next && !reader.channel_has_new(channel.name.as_str()) {
                return Ok(None);
            }
            let read = reader.read_channel_into(channel.name.as_str(), &mut self.bytes)?;
            return Ok(read.map(|meta| (meta, value_detail(channel, &self.bytes))));
        }
        Ok(match kind {
            RecordKind::Image => {
                let read = if next {
                    reader.read_next_into(&mut self.image)?
                } else {
                    reader.read_into(&mut self.image)?
                };
                read.map(|meta| (meta, self.image.path.clone()))
            }
            RecordKind::Struct if next && !reader.has_new(kind) => None,
            RecordKind::Struct => reader
                .latest_struct()?
                .map(|(data, meta)| (meta, data.to_string())),
            RecordKind::Frame => {
                let read = if next {
                    reader.read_next_into(&mut self.frame)?
                } else {
                    reader.read_into(&mut self.frame)?
                };
                read.map(|meta| (meta, frame_detail(&self.frame)))
            }
            RecordKind::Bytes => None,
        })
    }

    fn print(&self, channel: &ChannelSpec, meta: &RecordMeta, arrival: &Arrival, detail: &str) {
        let kind = meta.kind;
        if self.as_json {
            let micros =
                |duration: Duration| u64::try_from(duration.as_micros()).unwrap_or(u64::MAX);
            let mut object = json!({
                "event": "record",
                "channel": channel.name.as_str(),
                "kind": kind.name(),
                "sequence": meta.sequence,
                "len": meta.len,
                "write_us": micros(meta.write_time()),
                "detail": detail,
            });
            match arrival {
                Arrival::Existing => {
                    object["existing"] = json!(true);
                    object["sent_ago_us"] = json!(micros(meta.since_published()));
                }
                Arrival::New(delivery) => {
                    object["existing"] = json!(false);
                    object["transfer_us"] = json!(micros(delivery.transfer));
                    object["waited_us"] = json!(micros(delivery.waited));
                }
            }
            if kind == RecordKind::Frame {
                object["frame"] = json!(self.frame.number);
                object["width"] = json!(self.frame.width);
                object["height"] = json!(self.frame.height);
                object["format"] = json!(self.frame.format.name());
            }
            println!("{object}");
            return;
        }
        let when = match arrival {
            Arrival::Existing => format!(
                "already there, sent {} ago",
                Elapsed(meta.since_published())
            ),
            Arrival::New(delivery) => {
                format!("transfer {:>10}", Elapsed(delivery.transfer).to_string())
            }
        };
        // The demo's channels go by their kinds, as they always have; the others by name.
        let label = if channel.is_demo() {
            kind.name()
        } else {
            channel.name.as_str()
        };
        println!(
            "{label:<6} #{:<6} {:>10}  {when}  {detail}",
            meta.sequence,
            ByteSize(meta.len).to_string(),
        );
    }

    /// Prints what happened to the segment: a line when the writer attaches, exits, crashes or
    /// moves to a larger segment, and the records of a segment opened (or re-created).
    fn segment_event(&mut self, event: SegmentEvent) -> Result<()> {
        match event {
            SegmentEvent::Waiting => {
                eprintln!(
                    "shm: waiting for a writer to create {}…",
                    self.follower.location()
                );
            }
            SegmentEvent::Unusable(err) => return Err(err.into()),
            SegmentEvent::Opened { writer, reopened } => {
                if reopened {
                    self.print_writer("new-segment", None);
                }
                self.writer_state(writer, true);
                self.existing()?;
            }
            SegmentEvent::Grown => self.print_writer("grown", self.last_pid),
            SegmentEvent::Writer(status) => self.writer_state(status, false),
        }
        Ok(())
    }

    /// One line for the writer's state: `attached`, `exited`, `crashed`, or `none` when a
    /// segment is `opened` without a writer.
    fn writer_state(&mut self, status: WriterStatus, opened: bool) {
        let (state, pid) = match status {
            WriterStatus::Active { pid } => {
                self.last_pid = Some(pid);
                ("attached", Some(pid))
            }
            WriterStatus::Closed if opened || self.last_pid.is_none() => ("none", None),
            WriterStatus::Closed => ("exited", self.last_pid),
            WriterStatus::Crashed { pid } => ("crashed", Some(pid)),
            WriterStatus::Replaced => ("grown", self.last_pid),
        };
        self.print_writer(state, pid);
    }

    fn print_writer(&self, state: &str, pid: Option<u32>) {
        if self.as_json {
            let mut object = json!({ "event": "writer", "state": state, "pid": pid });
            if let Some(reader) = self.follower.reader()
                && (state == "grown" || state == "new-segment")
            {
                let capacities = reader.capacities();
                object["capacity"] = json!(capacities.picture);
                object["frame_capacity"] = json!(capacities.frame);
            }
            println!("{object}");
            return;
        }
        let pid = pid.map_or_else(String::new, |pid| format!(" (pid {pid})"));
        let line = match state {
            "attached" => format!("writer{pid} attached"),
            "none" => "no writer is attached; waiting for one".to_owned(),
            "exited" => format!("writer{pid} exited; its last records stay"),
            "crashed" => format!("writer{pid} died without closing; its last records stay"),
            "grown" => format!("writer{pid} moved to a larger segment; following it"),
            _ => format!(
                "a new writer re-created {}; following it",
                self.follower.location()
            ),
        };
        println!("{line}");
    }
}

/// A record of a channel other than the demo's, in one line: a struct field by field, bytes
/// as text if they are UTF-8, else by size and hash.
fn value_detail(channel: &ChannelSpec, bytes: &[u8]) -> String {
    if let Some(line) = channel
        .descriptor
        .as_ref()
        .and_then(|descriptor| descriptor.format_value(bytes))
    {
        return line;
    }
    match std::str::from_utf8(bytes) {
        Ok(text) if !text.chars().any(char::is_control) => text.to_owned(),
        _ => format!(
            "{}, sha256 {}",
            ByteSize(bytes.len()),
            hex(&Sha256::digest(bytes))
        ),
    }
}

fn frame_detail(frame: &FrameMessage) -> String {
    format!(
        "frame {}, {}x{} {}",
        frame.number, frame.width, frame.height, frame.format
    )
}

fn nothing_sent(kind: RecordKind, location: &SegmentLocation) -> String {
    format!("no {} has been sent to {location} yet", kind.noun())
}

fn micros(duration: Duration) -> u64 {
    u64::try_from(duration.as_micros()).unwrap_or(u64::MAX)
}

fn read_image(
    location: &SegmentLocation,
    out: Option<&Path>,
    as_json: bool,
    decode: bool,
) -> Result<()> {
    let mut reader = Reader::open(location)?;
    // Held in place: written to `--out`, hashed and decoded where the writer put it.
    let lease = reader
        .lease(PICTURE_CHANNEL)?
        .ok_or_else(|| nothing_sent(RecordKind::Image, location))?;
    let image = lease.image()?;
    let meta = lease.meta();
    let sent_ago = meta.since_published();
    if let Some(out) = out {
        std::fs::write(out, image.bytes)
            .map_err(|err| format!("cannot write '{}': {err}", out.display()))?;
    }
    let decoded = if decode {
        let picture = shm_picture::decode(image.bytes, u32::MAX)
            .map_err(|err| format!("the picture '{}' cannot be decoded: {err}", image.path))?;
        Some(picture)
    } else {
        None
    };
    let sha256 = hex(&Sha256::digest(image.bytes));
    if as_json {
        let mut object = json!({
            "path": image.path,
            "len": image.bytes.len(),
            "sha256": sha256,
            "sent_ago_us": micros(sent_ago),
            "write_us": micros(meta.write_time()),
            "sequence": meta.sequence,
            "in_place": lease.is_in_place(),
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
            Elapsed(sent_ago)
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
            "sent_ago_us": micros(meta.since_published()),
            "sequence": meta.sequence,
        });
        println!("{object}");
    } else {
        println!("{data}");
    }
    Ok(())
}

fn info(location: &SegmentLocation, as_json: bool) -> Result<()> {
    let info = Reader::open(location)?.info()?;
    if as_json {
        println!("{}", info_json(&info));
    } else {
        print!("{}", info_text(&info));
    }
    Ok(())
}

pub(crate) fn writer_fields(status: WriterStatus) -> (Option<u32>, bool, &'static str) {
    match status {
        WriterStatus::Active { pid } => (Some(pid), true, "active"),
        WriterStatus::Crashed { pid } => (Some(pid), false, "crashed"),
        WriterStatus::Closed => (None, false, "closed"),
        WriterStatus::Replaced => (None, false, "replaced"),
    }
}

fn info_json(info: &SegmentInfo) -> serde_json::Value {
    let (pid, alive, state) = writer_fields(info.writer);
    let now = shm_common::monotonic_ns();
    let mut object = json!({
        "location": info.location.to_string(),
        "layout_version": info.layout_version,
        "capacity": info.capacity,
        "frame_capacity": info.frame_capacity,
        "total_size": info.total_size,
        "instance_id": format!("{:016x}", info.instance_id),
        "writer_pid": pid,
        "writer_alive": alive,
        "writer_state": state,
        "writer_generation": info.writer_generation,
    });
    object["channels"] = info.channels.iter().map(channel_json).collect();
    for channel in info
        .channels
        .iter()
        .filter(|channel| channel.spec.is_demo())
    {
        object[channel.spec.kind.name()] = json!({
            "sequence": channel.published,
            "last_len": channel.last_len,
            "capacity": channel.capacity,
            "sent_ago_us": (channel.published > 0).then(|| now.saturating_sub(channel.last_published_ns) / 1000),
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
    let demo = info.channels.iter().any(|channel| channel.spec.is_demo());
    let _ = if demo {
        writeln!(
            text,
            "capacity: {} per picture, {}, {} in all",
            ByteSize(info.capacity),
            if info.frame_capacity == 0 {
                "no frames yet".to_owned()
            } else {
                format!("{} per frame", ByteSize(info.frame_capacity))
            },
            ByteSize(info.total_size)
        )
    } else {
        writeln!(text, "size:     {} in all", ByteSize(info.total_size))
    };
    let _ = match pid {
        Some(pid) => writeln!(text, "writer:   pid {pid}, {state}"),
        None => writeln!(text, "writer:   none ({state})"),
    };
    for channel in &info.channels {
        // The demo's channels go by their kinds, as they always have; the others by name.
        let label = if channel.spec.is_demo() {
            format!("{}:", channel.spec.kind)
        } else {
            format!("{}:", channel_label(&channel.spec))
        };
        let _ = if channel.published == 0 {
            writeln!(text, "{label:<9} nothing sent yet")
        } else {
            writeln!(
                text,
                "{label:<9} record {}, {}, sent {} ago",
                channel.published,
                ByteSize(usize::try_from(channel.last_len).unwrap_or(usize::MAX)),
                Elapsed(Duration::from_nanos(
                    now.saturating_sub(channel.last_published_ns)
                ))
            )
        };
    }
    text
}

/// `name (type)`: `pose (Pose, 32 bytes)`, `picture (image)`.
pub(crate) fn channel_label(channel: &ChannelSpec) -> String {
    match &channel.descriptor {
        Some(descriptor) => format!(
            "{} ({}, {} bytes)",
            channel.name, descriptor.name, descriptor.size
        ),
        None => format!("{} ({})", channel.name, channel.kind),
    }
}

/// A channel's state for `shm info --json` and `shm ls --json`.
pub(crate) fn channel_json(info: &ChannelInfo) -> serde_json::Value {
    let channel = &info.spec;
    let mut object = json!({
        "name": channel.name.as_str(),
        "kind": channel.kind.name(),
        "capacity": info.capacity,
        "sequence": info.published,
        "last_len": info.last_len,
    });
    if let Some(descriptor) = &channel.descriptor {
        object["type"] = json!({
            "name": descriptor.name,
            "size": descriptor.size,
            "align": descriptor.align,
            "byte_order": descriptor.byte_order.to_string(),
            "fields": descriptor.fields.iter().map(|field| json!({
                "name": field.name,
                "offset": field.offset,
                "type": field.type_name(),
            })).collect::<Vec<_>>(),
        });
    }
    object
}

/// `shm read --channel`: the latest record of any channel, a struct field by field from the
/// type stored beside it.
fn read_channel(location: &SegmentLocation, name: &str, as_json: bool) -> Result<()> {
    let mut reader = Reader::open(location)?;
    let channels = reader.channels();
    let channel = channels
        .iter()
        .find(|channel| channel.name.as_str() == name)
        .ok_or_else(|| {
            let names: Vec<&str> = channels.iter().map(|c| c.name.as_str()).collect();
            format!(
                "{location} has no channel `{name}`; its channels are: {}",
                names.join(", ")
            )
        })?;
    let mut bytes = Vec::new();
    let meta = reader
        .read_channel_into(name, &mut bytes)?
        .ok_or_else(|| format!("nothing has been sent to channel `{name}` of {location} yet"))?;
    let sent_ago = meta.since_published();
    let descriptor = channel.descriptor.as_ref();
    if as_json {
        let mut object = json!({
            "channel": name,
            "kind": channel.kind.name(),
            "len": bytes.len(),
            "sequence": meta.sequence,
            "sent_ago_us": micros(sent_ago),
        });
        match descriptor {
            Some(descriptor) => {
                object["type"] = json!(descriptor.name);
                let mut fields = serde_json::Map::new();
                for field in &descriptor.fields {
                    let numbers = field.values(&bytes, descriptor.byte_order).ok_or_else(|| {
                        format!("the record is shorter than field `{}`", field.name)
                    })?;
                    fields.insert(field.name.clone(), nested_json(&field.dimensions, &numbers));
                }
                object["fields"] = serde_json::Value::Object(fields);
            }
            None => {
                object["sha256"] = json!(hex(&Sha256::digest(&bytes)));
                if let Ok(text) = std::str::from_utf8(&bytes) {
                    object["text"] = json!(text);
                }
            }
        }
        println!("{object}");
        return Ok(());
    }
    println!(
        "{} of {location}: record {}, {}, sent {} ago",
        channel_label(channel),
        meta.sequence,
        ByteSize(bytes.len()),
        Elapsed(sent_ago)
    );
    match descriptor {
        Some(descriptor) => {
            let width = descriptor
                .fields
                .iter()
                .map(|f| f.name.len())
                .max()
                .unwrap_or(0);
            let type_width = descriptor
                .fields
                .iter()
                .map(|f| f.type_name().len())
                .max()
                .unwrap_or(0);
            for field in &descriptor.fields {
                let numbers = field
                    .values(&bytes, descriptor.byte_order)
                    .ok_or_else(|| format!("the record is shorter than field `{}`", field.name))?;
                let mut value = String::new();
                shm_common::schema::format_nested(&mut value, &field.dimensions, &numbers);
                println!(
                    "  {:<width$}  {:<type_width$}  {value}",
                    field.name,
                    field.type_name()
                );
            }
        }
        None => println!("  {}", value_detail(channel, &bytes)),
    }
    Ok(())
}

/// Numbers (in memory order) as nested JSON arrays, as `dimensions` say.
fn nested_json(dimensions: &[usize], numbers: &[Number]) -> serde_json::Value {
    shm_common::schema::nest(
        dimensions,
        numbers,
        &|number| number.map_or(serde_json::Value::Null, number_json),
        &serde_json::Value::Array,
    )
}

/// A number as JSON: integers beyond 64 bits as strings, which JSON readers cannot hold
/// exactly otherwise.
fn number_json(number: &Number) -> serde_json::Value {
    match *number {
        Number::Unsigned(value) => {
            u64::try_from(value).map_or_else(|_| json!(value.to_string()), |v| json!(v))
        }
        Number::Signed(value) => {
            i64::try_from(value).map_or_else(|_| json!(value.to_string()), |v| json!(v))
        }
        // Through its shortest decimal form: `1.1f32` prints as 1.1, not 1.100000023841858.
        Number::Float32(value) => json!(value.to_string().parse::<f64>().unwrap_or(f64::NAN)),
        Number::Float(value) => json!(value),
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes
        .iter()
        .fold(String::with_capacity(bytes.len() * 2), |mut out, byte| {
            let _ = write!(out, "{byte:02x}");
            out
        })
}
