//! The Reader's background thread: it owns the segment, waits for a Writer, follows it across
//! exits and restarts, reads and decodes records, and tells the window what happened.
//!
//! It never busy-loops: without Live it sleeps on its command queue; with Live it sleeps in
//! [`Reader::wait_for_change`] (a futex), waking within microseconds of a publish.

use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use serde_json::json;
use shm_common::{
    ImageMessage, OpenError, Reader, RecordKind, SegmentLocation, TestData, WriterStatus,
};
use shm_picture::{DecodeError, DecodedPicture};
use shm_ui::EventLog;

/// How long one live wait lasts before the worker looks at its commands and the writer again.
const LIVE_WAIT: Duration = Duration::from_millis(50);
/// How often the writer's liveness is checked (a killed writer announces nothing).
const WRITER_CHECK: Duration = Duration::from_millis(200);

/// What the window asks of the worker.
pub(crate) enum Command {
    /// 咻一下: read and decode the latest picture.
    ReadImage,
    /// Struct: read the latest struct.
    ReadStruct,
    /// Follow new records as they are published.
    SetLive(bool),
    /// The largest texture side the GPU takes.
    SetMaxSide(u32),
}

/// A picture read from the segment.
pub(crate) struct Received {
    pub(crate) path: String,
    pub(crate) len: usize,
    pub(crate) sequence: u64,
    pub(crate) latency: Duration,
    pub(crate) decoded: Result<DecodedPicture, DecodeError>,
}

/// What the worker tells the window.
pub(crate) enum Event {
    /// No segment yet: waiting for a Writer to create it.
    Waiting,
    /// The segment exists but cannot be opened.
    OpenFailed(String),
    /// Attached to a segment (the first, or a re-created one).
    Connected {
        capacity: usize,
        writer: WriterStatus,
        reconnected: bool,
    },
    /// The writer attached, exited or died.
    Writer(WriterStatus),
    /// A picture was read (and decoded, or not).
    Picture(Box<Received>),
    /// 咻一下 with nothing sent yet.
    NoPicture,
    /// A struct was read; `clicked` if it answers the Struct button.
    Struct {
        data: Option<TestData>,
        clicked: bool,
    },
    /// A read failed (corrupt segment...).
    ReadFailed(String),
    /// A button was clicked before any Writer appeared.
    NotConnected,
}

/// The window's end of the worker.
pub(crate) struct WorkerHandle {
    commands: Option<Sender<Command>>,
    pub(crate) events: Receiver<Event>,
    thread: Option<JoinHandle<()>>,
}

impl WorkerHandle {
    pub(crate) fn send(&self, command: Command) {
        if let Some(commands) = &self.commands {
            // The worker only stops when this handle drops; a failed send cannot happen earlier.
            let _ = commands.send(command);
        }
    }
}

impl Drop for WorkerHandle {
    fn drop(&mut self) {
        // Closing the queue stops the worker within one wait.
        self.commands = None;
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Starts the worker for `location`; it asks `ctx` for a repaint after every event.
pub(crate) fn spawn(location: SegmentLocation, ctx: egui::Context, log: EventLog) -> WorkerHandle {
    let (command_tx, command_rx) = mpsc::channel();
    let (event_tx, event_rx) = mpsc::channel();
    let worker = Worker {
        location,
        ctx,
        log,
        events: event_tx,
        reader: None,
        live: false,
        max_side: 2048,
        writer: None,
        waiting_announced: false,
        last_open_error: None,
        last_writer_check: Instant::now(),
        image: ImageMessage::default(),
    };
    let thread = std::thread::Builder::new()
        .name("reader-worker".to_owned())
        .spawn(move || worker.run(&command_rx))
        .ok();
    WorkerHandle {
        commands: Some(command_tx),
        events: event_rx,
        thread,
    }
}

struct Worker {
    location: SegmentLocation,
    ctx: egui::Context,
    log: EventLog,
    events: Sender<Event>,
    reader: Option<Reader>,
    live: bool,
    max_side: u32,
    writer: Option<WriterStatus>,
    waiting_announced: bool,
    last_open_error: Option<String>,
    last_writer_check: Instant,
    /// Reused for every picture, so following a stream does not allocate per record.
    image: ImageMessage,
}

impl Worker {
    fn run(mut self, commands: &Receiver<Command>) {
        loop {
            self.connect();
            let idle = if self.live && self.reader.is_some() {
                Duration::ZERO
            } else {
                shm_ui::POLL_INTERVAL
            };
            match commands.recv_timeout(idle) {
                Ok(command) => self.handle(command),
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => return,
            }
            while let Ok(command) = commands.try_recv() {
                self.handle(command);
            }
            if self.live {
                self.follow();
            }
            self.check_writer();
        }
    }

    fn send(&self, event: Event) {
        // The window is closing if this fails; the next recv sees the closed queue.
        let _ = self.events.send(event);
        self.ctx.request_repaint();
    }

    fn connect(&mut self) {
        if self.reader.is_some() {
            return;
        }
        match Reader::open(&self.location) {
            Ok(reader) => {
                let writer = reader.writer_status();
                self.log.record(
                    "connected",
                    json!({ "segment": self.location.to_string(), "capacity": reader.capacity() }),
                );
                self.send(Event::Connected {
                    capacity: reader.capacity(),
                    writer,
                    reconnected: false,
                });
                self.writer = Some(writer);
                self.reader = Some(reader);
                self.last_open_error = None;
            }
            Err(OpenError::NotFound { .. }) => {
                if !self.waiting_announced {
                    self.waiting_announced = true;
                    self.log
                        .record("waiting", json!({ "segment": self.location.to_string() }));
                    self.send(Event::Waiting);
                }
            }
            Err(err) => {
                let message = err.to_string();
                if self.last_open_error.as_ref() != Some(&message) {
                    self.log.record("error", json!({ "message": message }));
                    self.last_open_error = Some(message.clone());
                    self.send(Event::OpenFailed(message));
                }
            }
        }
    }

    fn handle(&mut self, command: Command) {
        match command {
            Command::SetLive(live) => self.live = live,
            Command::SetMaxSide(side) => self.max_side = side,
            Command::ReadImage | Command::ReadStruct if self.reader.is_none() => {
                self.send(Event::NotConnected);
            }
            Command::ReadImage => self.read_image(true),
            Command::ReadStruct => self.read_struct(true),
        }
    }

    /// Live: sleep until something is published or a picture starts, then read whatever is
    /// new (a picture while it is being written).
    fn follow(&mut self) {
        let Some(reader) = self.reader.as_mut() else {
            return;
        };
        if !reader.wait_for_next(LIVE_WAIT) {
            return;
        }
        self.read_image(false);
        if self
            .reader
            .as_ref()
            .is_some_and(|reader| reader.has_new(RecordKind::Struct))
        {
            self.read_struct(false);
        }
    }

    fn read_image(&mut self, clicked: bool) {
        let Some(reader) = self.reader.as_mut() else {
            return;
        };
        let read = if clicked {
            reader.read_into(&mut self.image)
        } else {
            reader.read_next_into(&mut self.image)
        };
        match read {
            Ok(Some(meta)) => {
                let latency = meta.age();
                self.log.record(
                    "received",
                    json!({
                        "kind": "image",
                        "path": self.image.path,
                        "len": self.image.bytes.len(),
                        "sequence": meta.sequence,
                        "latency_us": latency.as_micros() as u64,
                    }),
                );
                let decoded = shm_picture::decode(&self.image.bytes, self.max_side);
                self.send(Event::Picture(Box::new(Received {
                    path: self.image.path.clone(),
                    len: self.image.bytes.len(),
                    sequence: meta.sequence,
                    latency,
                    decoded,
                })));
            }
            Ok(None) if clicked => self.send(Event::NoPicture),
            Ok(None) => {}
            Err(err) => {
                self.log
                    .record("error", json!({ "message": err.to_string() }));
                self.send(Event::ReadFailed(err.to_string()));
            }
        }
    }

    fn read_struct(&mut self, clicked: bool) {
        let Some(reader) = self.reader.as_mut() else {
            return;
        };
        match reader.latest_struct() {
            Ok(data) => {
                let data = data.map(|(data, _)| data);
                if let Some(data) = &data {
                    self.log.record(
                        "received",
                        json!({ "kind": "struct", "text": data.to_string() }),
                    );
                }
                self.send(Event::Struct { data, clicked });
            }
            Err(err) => {
                self.log
                    .record("error", json!({ "message": err.to_string() }));
                self.send(Event::ReadFailed(err.to_string()));
            }
        }
    }

    /// Notices a writer that exited, died or attached, and moves to a re-created segment.
    fn check_writer(&mut self) {
        if self.last_writer_check.elapsed() < WRITER_CHECK {
            return;
        }
        self.last_writer_check = Instant::now();
        let Some(status) = self.reader.as_ref().map(Reader::writer_status) else {
            return;
        };
        if self.writer != Some(status) {
            self.writer = Some(status);
            self.log
                .record("writer", json!({ "status": format!("{status:?}") }));
            self.send(Event::Writer(status));
        }
        if matches!(status, WriterStatus::Active { .. }) {
            return;
        }
        let Some(reader) = self.reader.as_mut() else {
            return;
        };
        if let Ok(true) = reader.reopen_if_replaced() {
            let writer = reader.writer_status();
            let capacity = reader.capacity();
            self.writer = Some(writer);
            self.log.record(
                "reconnected",
                json!({ "segment": self.location.to_string() }),
            );
            self.send(Event::Connected {
                capacity,
                writer,
                reconnected: true,
            });
        }
    }
}
