//! The Writer's background thread: it owns the segment, reads and decodes picture files, sends
//! pictures and structs, grows the segment when a picture needs it, and runs live streams, so
//! the window never waits on a file, a decoder or a copy.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use serde_json::json;
use sha2::{Digest, Sha256};
use shm_common::{
    Capacity, CreateError, CreationMode, FrameHeader, FrameMessage, Growth, ImageMessage,
    PixelFormat, RecordKind, RecordMeta, SegmentLocation, SendError, TestData, Writer,
};
use shm_picture::{DecodedPicture, Pacer, StreamFrames};
use shm_ui::{EventLog, Note};

/// Past this size in all, the Writer asks before growing the segment (unless told otherwise).
pub const ASK_BEYOND: usize = 256 << 20;
/// How often a running stream reports its progress.
const PROGRESS_EVERY: Duration = Duration::from_millis(250);

/// What a stream sends.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StreamSource {
    /// The moving test pattern at this size.
    Pattern { width: u32, height: u32 },
    /// The frames of these pictures, animations or folders, at the first one's size.
    Paths(Vec<PathBuf>),
}

/// What the window asks of the worker.
pub enum Command {
    /// Read and decode a picture file: it becomes the current picture.
    Open(PathBuf),
    /// 咻一下: send the file at this path as it is on disk now (opening it first if it is not
    /// the current picture, or if it changed since it was opened).
    Send(PathBuf),
    /// Struct: send it.
    SendStruct(TestData),
    /// The answer to [`Event::AskGrow`].
    Grow(bool),
    /// Start a stream; `fps` 0 is as fast as possible.
    StartStream { source: StreamSource, fps: f64 },
    /// Stop the stream.
    StopStream,
    /// The largest texture side the GPU takes.
    SetMaxSide(u32),
}

/// A picture read and decoded.
pub struct Opened {
    pub path: PathBuf,
    pub len: usize,
    pub decoded: DecodedPicture,
}

/// What the worker tells the window.
pub enum Event {
    /// Attached to the segment.
    Connected { total_size: usize },
    /// Could not attach (another live Writer, a foreign segment...).
    ConnectFailed(CreateError),
    /// The current picture is now this one.
    Opened(Box<Opened>),
    /// Opening failed: there is no current picture now.
    OpenFailed { path: PathBuf, note: Note },
    /// Something was sent or done; the note says what.
    Done(Note),
    /// Something failed; the note says why.
    Failed(Note),
    /// The picture needs the segment grown past the limit that needs a yes: grow it?
    AskGrow { growth: Growth, size: usize },
    /// The segment grew.
    Grown { total_size: usize, kind: RecordKind },
    /// A stream started.
    StreamStarted { width: u32, height: u32 },
    /// A stream's progress so far.
    StreamProgress { frames: u64, frames_per_second: f64 },
    /// A stream ended (stopped, or failed: see the `Failed` before it).
    StreamStopped { frames: u64, elapsed: Duration },
}

/// The window's end of the worker.
pub struct WorkerHandle {
    commands: Option<Sender<Command>>,
    pub events: Receiver<Event>,
    thread: Option<JoinHandle<()>>,
}

impl WorkerHandle {
    pub fn send(&self, command: Command) {
        if let Some(commands) = &self.commands {
            // The worker only stops when this handle drops; a failed send cannot happen earlier.
            let _ = commands.send(command);
        }
    }
}

impl Drop for WorkerHandle {
    fn drop(&mut self) {
        // Closing the queue stops the worker (and a stream) within one frame.
        self.commands = None;
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Starts the worker; it asks `ctx` for a repaint after every event.
pub fn spawn(
    location: SegmentLocation,
    capacity: Capacity,
    ask_beyond: usize,
    ctx: egui::Context,
    log: EventLog,
) -> WorkerHandle {
    let (command_tx, command_rx) = mpsc::channel();
    let (event_tx, event_rx) = mpsc::channel();
    let worker = Worker {
        location,
        capacity,
        ask_beyond,
        ctx,
        log,
        events: event_tx,
        writer: None,
        current: None,
        pending: None,
        stream: None,
        max_side: 2048,
    };
    let thread = std::thread::Builder::new()
        .name("writer-worker".to_owned())
        .spawn(move || worker.run(&command_rx))
        .ok();
    WorkerHandle {
        commands: Some(command_tx),
        events: event_rx,
        thread,
    }
}

/// The current picture's file, as it was read.
struct Current {
    path: PathBuf,
    bytes: Vec<u8>,
    /// The checksum its record carries ([`ImageMessage::checksum_of`]): a file read straight
    /// into shared memory is sent only if it gives the same.
    record_checksum: u64,
}

/// A picture waiting for the answer to "grow the segment?".
struct PendingSend {
    growth: Growth,
    size: usize,
    changed_on_disk: bool,
}

/// A stream being sent.
struct Stream {
    frames: StreamFrames,
    pacer: Pacer,
    number: u64,
    started: Instant,
    last_progress: Instant,
    frames_at_progress: u64,
}

struct Worker {
    location: SegmentLocation,
    capacity: Capacity,
    /// Growing the segment past this size needs the user's yes.
    ask_beyond: usize,
    ctx: egui::Context,
    log: EventLog,
    events: Sender<Event>,
    writer: Option<Writer>,
    current: Option<Current>,
    pending: Option<PendingSend>,
    stream: Option<Stream>,
    max_side: u32,
}

impl Worker {
    fn run(mut self, commands: &Receiver<Command>) {
        self.connect();
        loop {
            let command = if self.stream.is_some() {
                match commands.try_recv() {
                    Ok(command) => Some(command),
                    Err(mpsc::TryRecvError::Empty) => None,
                    Err(mpsc::TryRecvError::Disconnected) => return,
                }
            } else {
                match commands.recv_timeout(shm_ui::POLL_INTERVAL) {
                    Ok(command) => Some(command),
                    Err(RecvTimeoutError::Timeout) => None,
                    Err(RecvTimeoutError::Disconnected) => return,
                }
            };
            match command {
                Some(command) => self.handle(command),
                None if self.stream.is_some() => self.next_frame(),
                None => {}
            }
        }
    }

    fn send(&self, event: Event) {
        // The window is closing if this fails; the next recv sees the closed queue.
        let _ = self.events.send(event);
        self.ctx.request_repaint();
    }

    fn fail(&self, note: Note) {
        self.log.record(
            "error",
            json!({ "message": shm_ui::Language::English.word(&note, &self.location) }),
        );
        self.send(Event::Failed(note));
    }

    /// Attaches to the segment if not attached yet; false (and the reason told) on failure.
    fn connect(&mut self) -> bool {
        if self.writer.is_some() {
            return true;
        }
        match Writer::create(&self.location, CreationMode::CreateOrOpen, self.capacity) {
            Ok(writer) => {
                self.log.record(
                    "attached",
                    json!({ "segment": writer.location().to_string(), "capacity": writer.capacity() }),
                );
                self.send(Event::Connected {
                    total_size: writer.total_size(),
                });
                self.writer = Some(writer);
                true
            }
            Err(err) => {
                self.log
                    .record("error", json!({ "message": err.to_string() }));
                self.send(Event::ConnectFailed(err));
                false
            }
        }
    }

    fn handle(&mut self, command: Command) {
        match command {
            Command::Open(path) => {
                let _ = self.open(&path);
            }
            Command::Send(path) => self.send_picture(&path),
            Command::SendStruct(data) => self.send_struct(&data),
            Command::Grow(confirmed) => self.answer_grow(confirmed),
            Command::StartStream { source, fps } => self.start_stream(source, fps),
            Command::StopStream => self.stop_stream(),
            Command::SetMaxSide(side) => self.max_side = side,
        }
    }

    /// Reads and decodes `path`; on success it is the current picture, on failure there is
    /// none (the window shows the error in its place).
    fn open(&mut self, path: &Path) -> Result<(), Note> {
        match std::fs::read(path) {
            Ok(bytes) => self.open_bytes(path, bytes),
            Err(error) => Err(self.open_failed(path, read_note(path, error))),
        }
    }

    fn open_bytes(&mut self, path: &Path, bytes: Vec<u8>) -> Result<(), Note> {
        let decoded = match shm_picture::decode(&bytes, self.max_side) {
            Ok(decoded) => decoded,
            Err(error) => {
                let note = Note::NotAPicture {
                    path: path.display().to_string(),
                    error,
                };
                return Err(self.open_failed(path, note));
            }
        };
        let (width, height) = decoded.shown_size();
        self.log.record(
            "loaded",
            json!({
                "path": path.to_string_lossy(),
                "len": bytes.len(),
                "width": width,
                "height": height,
                "format": shm_picture::format_name(decoded.format),
                "frames": decoded.frames.len(),
            }),
        );
        let len = bytes.len();
        self.current = Some(Current {
            record_checksum: ImageMessage::checksum_of(&path.to_string_lossy(), &bytes),
            path: path.to_path_buf(),
            bytes,
        });
        self.send(Event::Opened(Box::new(Opened {
            path: path.to_path_buf(),
            len,
            decoded,
        })));
        Ok(())
    }

    /// There is no current picture now; returns the reason, also told to the window.
    fn open_failed(&mut self, path: &Path, note: Note) -> Note {
        self.current = None;
        self.log.record(
            "error",
            json!({ "message": shm_ui::Language::English.word(&note, &self.location) }),
        );
        self.send(Event::OpenFailed {
            path: path.to_path_buf(),
            note: note.clone(),
        });
        note
    }

    /// 咻一下: the file as it is on disk now; reopened first if it is new or changed. If it
    /// cannot be read or is not a picture any more, nothing is sent and there is no current
    /// picture.
    fn send_picture(&mut self, path: &Path) {
        if self.send_unchanged_file(path) {
            return;
        }
        let bytes = match std::fs::read(path) {
            Ok(bytes) => bytes,
            Err(error) => {
                let note = self.open_failed(path, read_note(path, error));
                return self.fail(Note::NotSent(Box::new(note)));
            }
        };
        let same_file = self
            .current
            .as_ref()
            .is_some_and(|current| current.path == path);
        let unchanged = same_file
            && self
                .current
                .as_ref()
                .is_some_and(|current| current.bytes == bytes);
        if !unchanged && let Err(note) = self.open_bytes(path, bytes) {
            return self.fail(Note::NotSent(Box::new(note)));
        }
        self.send_current(same_file && !unchanged);
    }

    /// Sends the current picture by having the kernel read its file straight into shared
    /// memory (a loan: one copy instead of a read and a copy in), if `path` is the current
    /// picture's, it fits without growing the segment, and the file still holds exactly the
    /// bytes opened (its record's checksum is the same). True if that settled the click: sent,
    /// or no segment to send to (already told). Otherwise nothing was published, and the usual
    /// way reads the file, reopens it if it changed, and sends it.
    fn send_unchanged_file(&mut self, path: &Path) -> bool {
        let Some(len) = self
            .current
            .as_ref()
            .filter(|current| current.path == path)
            .map(|current| current.bytes.len())
        else {
            return false;
        };
        let Ok(file) = std::fs::File::open(path) else {
            return false;
        };
        if file.metadata().map(|metadata| metadata.len()).ok() != Some(len as u64) {
            return false;
        }
        if !self.connect() {
            return true;
        }
        let (Some(writer), Some(current)) = (self.writer.as_mut(), self.current.as_ref()) else {
            return false;
        };
        let name = current.path.to_string_lossy().into_owned();
        if !writer.fits(RecordKind::Image, ImageMessage::framed_len(&name, len)) {
            return false;
        }
        let Ok(mut loan) = writer.loan_image(&name, len) else {
            return false;
        };
        // A loan dropped unpublished (a failed read, other bytes) publishes nothing.
        if loan.fill_from(&file).is_err() || loan.checksum() != current.record_checksum {
            return false;
        }
        match loan.publish() {
            Ok(meta) => {
                self.sent(meta, "loan", false, None);
                true
            }
            Err(_) => false,
        }
    }

    fn send_current(&mut self, changed_on_disk: bool) {
        if !self.connect() {
            return;
        }
        let (Some(writer), Some(current)) = (self.writer.as_mut(), self.current.as_ref()) else {
            return;
        };
        let path = current.path.to_string_lossy().into_owned();
        let len = ImageMessage::framed_len(&path, current.bytes.len());
        if !writer.fits(RecordKind::Image, len) {
            let growth = match writer.plan_growth(RecordKind::Image, len) {
                Ok(growth) => growth,
                Err(error) => return self.fail(Note::Grow(Arc::new(error))),
            };
            if growth.total_size > self.ask_beyond {
                self.pending = Some(PendingSend {
                    growth: growth.clone(),
                    size: len,
                    changed_on_disk,
                });
                return self.send(Event::AskGrow { growth, size: len });
            }
            if !self.grow(&growth) {
                return;
            }
            return self.publish_current(changed_on_disk, Some(growth.total_size));
        }
        self.publish_current(changed_on_disk, None);
    }

    fn answer_grow(&mut self, confirmed: bool) {
        let Some(pending) = self.pending.take() else {
            return;
        };
        if !confirmed {
            return self.fail(Note::GrowDeclined { size: pending.size });
        }
        if self.grow(&pending.growth) {
            self.publish_current(pending.changed_on_disk, Some(pending.growth.total_size));
        }
    }

    /// Grows the segment as planned; false (and the reason told) on failure.
    fn grow(&mut self, growth: &Growth) -> bool {
        let Some(writer) = self.writer.as_mut() else {
            return false;
        };
        match writer.grow(growth) {
            Ok(()) => {
                self.log.record(
                    "grown",
                    json!({ "total_size": growth.total_size, "capacity": growth.capacities.picture, "frame_capacity": growth.capacities.frame }),
                );
                self.send(Event::Grown {
                    total_size: growth.total_size,
                    kind: growth.kind,
                });
                true
            }
            Err(error) => {
                self.fail(Note::Grow(Arc::new(error)));
                false
            }
        }
    }

    /// Sends the current picture; `grown_to` is the segment's new size if it just grew for it.
    fn publish_current(&mut self, changed_on_disk: bool, grown_to: Option<usize>) {
        let (Some(writer), Some(current)) = (self.writer.as_mut(), self.current.as_ref()) else {
            return;
        };
        let path = current.path.to_string_lossy().into_owned();
        match writer.send_image(&path, &current.bytes) {
            Ok(meta) => self.sent(meta, "copy", changed_on_disk, grown_to),
            Err(error) => self.fail(Note::Send(Arc::new(error))),
        }
    }

    /// Logs and tells that the current picture went out as record `meta`, by a `via` of
    /// "copy" (copied in from memory) or "loan" (read from its file into shared memory).
    fn sent(
        &mut self,
        meta: RecordMeta,
        via: &str,
        changed_on_disk: bool,
        grown_to: Option<usize>,
    ) {
        let Some(current) = self.current.as_ref() else {
            return;
        };
        let path = current.path.to_string_lossy().into_owned();
        self.log.record(
            "sent",
            json!({
                "kind": "image",
                "path": path,
                "len": current.bytes.len(),
                "sha256": hex(&Sha256::digest(&current.bytes)),
                "sequence": meta.sequence,
                "write_us": meta.write_time().as_micros() as u64,
                "via": via,
            }),
        );
        let note = Note::Sent {
            path,
            len: current.bytes.len(),
            write_time: meta.write_time(),
            sequence: meta.sequence,
            changed_on_disk,
            grown_to,
        };
        self.send(Event::Done(note));
    }

    fn send_struct(&mut self, data: &TestData) {
        if !self.connect() {
            return;
        }
        let Some(writer) = self.writer.as_mut() else {
            return;
        };
        match writer.send_struct(data) {
            Ok(meta) => {
                self.log.record(
                    "sent",
                    json!({ "kind": "struct", "text": data.to_string(), "sequence": meta.sequence }),
                );
                self.send(Event::Done(Note::SentStruct { data: *data }));
            }
            Err(error) => self.fail(Note::Send(Arc::new(error))),
        }
    }

    fn start_stream(&mut self, source: StreamSource, fps: f64) {
        self.stop_stream();
        if !self.connect() {
            return;
        }
        let frames = match &source {
            StreamSource::Pattern { width, height } => StreamFrames::pattern(*width, *height),
            StreamSource::Paths(paths) => {
                StreamFrames::from_paths(paths, None).map(|(frames, notes)| {
                    for note in notes {
                        self.fail(Note::StreamSkipped(Arc::new(note)));
                    }
                    frames
                })
            }
        };
        let frames = match frames {
            Ok(frames) => frames,
            Err(error) => return self.fail(Note::StreamFailed(Arc::new(error))),
        };
        let (width, height) = frames.size();
        self.log.record(
            "stream_started",
            json!({ "width": width, "height": height, "fps": fps, "cycle": frames.cycle_len() }),
        );
        self.send(Event::StreamStarted { width, height });
        let now = Instant::now();
        self.stream = Some(Stream {
            frames,
            pacer: Pacer::new(fps),
            number: 0,
            started: now,
            last_progress: now,
            frames_at_progress: 0,
        });
    }

    fn next_frame(&mut self) {
        let (Some(stream), Some(writer)) = (self.stream.as_mut(), self.writer.as_mut()) else {
            return;
        };
        stream.pacer.wait();
        let (width, height) = stream.frames.size();
        let header = FrameHeader {
            width,
            height,
            format: PixelFormat::Rgba8,
            stride: stream.frames.row_len() as u32,
            number: stream.number,
        };
        let len = FrameMessage::framed_len(stream.frames.frame_len());
        if !writer.fits(RecordKind::Frame, len) {
            let growth = match writer.plan_growth(RecordKind::Frame, len) {
                Ok(growth) => growth,
                Err(error) => {
                    self.fail(Note::Grow(Arc::new(error)));
                    return self.stop_stream();
                }
            };
            if !self.grow(&growth) {
                return self.stop_stream();
            }
        }
        let (Some(stream), Some(writer)) = (self.stream.as_mut(), self.writer.as_mut()) else {
            return;
        };
        let rows = stream.frames.rows(stream.number);
        let sent: Result<RecordMeta, SendError> = writer.send_frame_rows(&header, &rows);
        if let Err(error) = sent {
            self.fail(Note::Send(Arc::new(error)));
            return self.stop_stream();
        }
        stream.number += 1;
        if stream.last_progress.elapsed() >= PROGRESS_EVERY {
            let elapsed = stream.last_progress.elapsed().as_secs_f64();
            let frames_per_second = (stream.number - stream.frames_at_progress) as f64 / elapsed;
            stream.last_progress = Instant::now();
            stream.frames_at_progress = stream.number;
            let frames = stream.number;
            self.send(Event::StreamProgress {
                frames,
                frames_per_second,
            });
        }
    }

    fn stop_stream(&mut self) {
        let Some(stream) = self.stream.take() else {
            return;
        };
        let elapsed = stream.started.elapsed();
        self.log.record(
            "stream_stopped",
            json!({ "frames": stream.number, "seconds": elapsed.as_secs_f64() }),
        );
        self.send(Event::StreamStopped {
            frames: stream.number,
            elapsed,
        });
    }
}

/// Why a file could not be read, as a note.
fn read_note(path: &Path, error: std::io::Error) -> Note {
    let path = path.to_path_buf();
    match error.kind() {
        std::io::ErrorKind::NotFound => Note::FileMissing { path },
        std::io::ErrorKind::IsADirectory => Note::IsDirectory { path },
        _ => Note::CannotRead {
            path,
            error: Arc::new(error),
        },
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}
