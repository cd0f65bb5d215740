//! The Reader's background thread: it owns the segment, waits for a Writer, follows it across
//! exits, restarts and growth, reads and decodes records, and tells the window what happened.
//!
//! It never busy-loops: without Live it sleeps on its command queue; with Live it sleeps in
//! [`Reader::wait_for_next`] (a futex), waking within microseconds of a publish. Frames of a
//! live stream go through a one-frame mailbox rather than the event queue: the window shows the
//! newest one, and a window that draws slower than the stream arrives never piles frames up.

use std::collections::VecDeque;
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use egui::ColorImage;
use serde_json::json;
use shm_common::{
    Capacities, ChannelSpec, Delivery, FRAME_CHANNEL, Follower, FrameView, OpenError,
    PICTURE_CHANNEL, PixelFormat, ReadError, RecordKind, RecordMeta, SegmentEvent, SegmentLocation,
    TestData, WriterStatus, monotonic_ns,
};
use shm_picture::{DecodeError, DecodedPicture};
use shm_ui::EventLog;

/// How long one live wait lasts before the worker looks at its commands and the writer again.
const LIVE_WAIT: Duration = Duration::from_millis(50);
/// How far back the live figures and the plot look.
pub(crate) const STATS_WINDOW: Duration = Duration::from_secs(10);

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

/// When and how a record arrived.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Timing {
    /// The record's number in its slot.
    pub(crate) sequence: u64,
    /// Writer's first byte to this reader holding it (see [`Delivery`]).
    pub(crate) delivery: Delivery,
    /// How long the writer took to store it.
    pub(crate) write_time: Duration,
    /// When the writer completed it, on the monotonic clock.
    pub(crate) published_ns: u64,
}

impl Timing {
    fn of(meta: &RecordMeta, asked_ns: u64, received_ns: u64) -> Timing {
        Timing {
            sequence: meta.sequence,
            delivery: meta.delivery(asked_ns, received_ns),
            write_time: meta.write_time(),
            published_ns: meta.published_ns,
        }
    }
}

/// A picture read from the segment.
pub(crate) struct Received {
    pub(crate) path: String,
    pub(crate) len: usize,
    pub(crate) timing: Timing,
    pub(crate) decoded: Result<DecodedPicture, DecodeError>,
}

/// A picture as read from its lease, decoded.
struct Picture {
    path: String,
    len: usize,
    meta: RecordMeta,
    received: u64,
    in_place: bool,
    decoded: Result<DecodedPicture, DecodeError>,
}

/// The latest record of a channel other than the demo's three.
pub(crate) struct ChannelValue {
    /// The channel, with its type for a struct channel.
    pub(crate) channel: ChannelSpec,
    /// The record's bytes (for a struct, read field by field through the channel's type).
    pub(crate) bytes: Vec<u8>,
    pub(crate) timing: Timing,
}

/// What the worker tells the window.
pub(crate) enum Event {
    /// No segment yet: waiting for a Writer to create it.
    Waiting,
    /// The segment exists but cannot be opened.
    OpenFailed(OpenError),
    /// Attached to a segment (the first, or a re-created one).
    Connected {
        capacities: Capacities,
        writer: WriterStatus,
        reconnected: bool,
    },
    /// Followed the Writer to the larger segment it moved to.
    Followed { capacities: Capacities },
    /// The writer attached, exited or died.
    Writer(WriterStatus),
    /// A picture was read (and decoded, or not).
    Picture(Box<Received>),
    /// 咻一下 with nothing sent yet.
    NoPicture,
    /// A struct was read; `clicked` if it answers the Struct button.
    Struct {
        data: Option<(TestData, Timing)>,
        clicked: bool,
    },
    /// A channel other than the demo's has a new record.
    Channel(Box<ChannelValue>),
    /// A read failed (corrupt segment...).
    ReadFailed(ReadError),
    /// A button was clicked before any Writer appeared.
    NotConnected,
}

/// What is known about a frame of a live stream.
#[derive(Clone, Copy, Debug)]
pub(crate) struct FrameInfo {
    pub(crate) number: u64,
    pub(crate) width: u32,
    pub(crate) height: u32,
    pub(crate) format: PixelFormat,
    pub(crate) len: usize,
    pub(crate) timing: Timing,
}

/// A frame ready to upload.
pub(crate) struct LiveFrame {
    pub(crate) image: ColorImage,
    pub(crate) info: FrameInfo,
}

/// A count for each kind of record, indexed by [`RecordKind::index`].
pub(crate) type PerKind = [u64; RecordKind::ALL.len()];

/// What Live mode has seen, for the figures and the plot.
#[derive(Default)]
pub(crate) struct LiveStats {
    /// Records received, per kind.
    pub(crate) received: PerKind,
    /// Records published that this reader never saw (a newer one came first), per kind.
    pub(crate) skipped: PerKind,
    /// Frames received while the window was still to draw the previous one: never shown.
    pub(crate) not_drawn: u64,
    /// (when received, transfer time) of recent frames and pictures.
    pub(crate) transfers: VecDeque<(Instant, Duration)>,
    /// When recent frames arrived.
    pub(crate) frame_times: VecDeque<Instant>,
    /// The last sequence number per kind, to count gaps.
    last_sequence: PerKind,
}

impl LiveStats {
    fn record(&mut self, kind: RecordKind, timing: &Timing) {
        let slot = kind.index();
        self.received[slot] += 1;
        let last = self.last_sequence[slot];
        if last != 0 && timing.sequence > last + 1 {
            self.skipped[slot] += timing.sequence - last - 1;
        }
        self.last_sequence[slot] = timing.sequence;
        let now = Instant::now();
        self.transfers.push_back((now, timing.delivery.transfer));
        if kind == RecordKind::Frame {
            self.frame_times.push_back(now);
        }
        self.forget_before(now);
    }

    /// Drops samples older than the window.
    pub(crate) fn forget_before(&mut self, now: Instant) {
        let old = |at: &Instant| now.duration_since(*at) > STATS_WINDOW;
        while self.transfers.front().is_some_and(|(at, _)| old(at)) {
            self.transfers.pop_front();
        }
        while self.frame_times.front().is_some_and(old) {
            self.frame_times.pop_front();
        }
    }

    /// A new segment numbers its records from 1 again.
    fn restart_numbering(&mut self) {
        self.last_sequence = PerKind::default();
    }
}

/// The newest frame and the live figures, shared by worker and window.
#[derive(Default)]
pub(crate) struct Mailbox {
    pub(crate) frame: Option<LiveFrame>,
    pub(crate) stats: LiveStats,
}

/// The window's end of the worker.
pub(crate) struct WorkerHandle {
    commands: Option<Sender<Command>>,
    pub(crate) events: Receiver<Event>,
    pub(crate) mailbox: Arc<Mutex<Mailbox>>,
    thread: Option<JoinHandle<()>>,
}

impl WorkerHandle {
    pub(crate) fn send(&self, command: Command) {
        if let Some(commands) = &self.commands {
            // The worker only stops when this handle drops; a failed send cannot happen earlier.
            let _ = commands.send(command);
        }
    }

    /// The mailbox, even if a thread panicked while holding it (its data is still whole).
    pub(crate) fn mailbox(&self) -> std::sync::MutexGuard<'_, Mailbox> {
        self.mailbox.lock().unwrap_or_else(PoisonError::into_inner)
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
    let mailbox = Arc::new(Mutex::new(Mailbox::default()));
    let worker = Worker {
        follower: Follower::new(location.clone()),
        location,
        ctx,
        log,
        events: event_tx,
        mailbox: Arc::clone(&mailbox),
        live: false,
        max_side: 2048,
        others: (0, Vec::new()),
    };
    let thread = std::thread::Builder::new()
        .name("reader-worker".to_owned())
        .spawn(move || worker.run(&command_rx))
        .ok();
    WorkerHandle {
        commands: Some(command_tx),
        events: event_rx,
        mailbox,
        thread,
    }
}

struct Worker {
    location: SegmentLocation,
    ctx: egui::Context,
    log: EventLog,
    events: Sender<Event>,
    mailbox: Arc<Mutex<Mailbox>>,
    /// The segment, followed across writers that exit, die, restart or grow it.
    follower: Follower,
    live: bool,
    max_side: u32,
    /// The segment's channels other than the demo's, and the instance they belong to.
    others: (u64, Vec<ChannelSpec>),
}

impl Worker {
    fn run(mut self, commands: &Receiver<Command>) {
        loop {
            if self.follower.reader().is_none() {
                self.check_segment(false);
            }
            let idle = if self.live && self.follower.reader().is_some() {
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
            // Other channels' values are small: shown as they change, Live or not (Live reads
            // them in `follow`).
            if !self.live {
                self.read_channels(monotonic_ns());
            }
            // A live wake-up that brought no record may be the writer attaching or leaving:
            // asked about at once; otherwise every `WRITER_CHECK`.
            let woke_without_record = self.live && self.follow();
            self.check_segment(woke_without_record);
        }
    }

    fn send(&self, event: Event) {
        // The window is closing if this fails; the next recv sees the closed queue.
        let _ = self.events.send(event);
        self.ctx.request_repaint();
    }

    fn mailbox(&self) -> std::sync::MutexGuard<'_, Mailbox> {
        self.mailbox.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Opens the segment, notices its writer attaching, exiting, dying or growing it, and
    /// follows it to a re-created or grown segment, telling the window each time.
    fn check_segment(&mut self, at_once: bool) {
        for event in self.follower.check(at_once) {
            match event {
                SegmentEvent::Waiting => {
                    self.log
                        .record("waiting", json!({ "segment": self.location.to_string() }));
                    self.send(Event::Waiting);
                }
                SegmentEvent::Unusable(err) => {
                    self.log
                        .record("error", json!({ "message": err.to_string() }));
                    self.send(Event::OpenFailed(err));
                }
                SegmentEvent::Opened { writer, reopened } => {
                    let Some(reader) = self.follower.reader() else {
                        continue;
                    };
                    let capacities = reader.capacities();
                    if reopened {
                        self.mailbox().stats.restart_numbering();
                        self.log.record(
                            "reconnected",
                            json!({ "segment": self.location.to_string() }),
                        );
                    } else {
                        self.log.record(
                            "connected",
                            json!({ "segment": self.location.to_string(), "capacity": capacities.picture }),
                        );
                    }
                    self.send(Event::Connected {
                        capacities,
                        writer,
                        reconnected: reopened,
                    });
                }
                SegmentEvent::Grown => {
                    let Some(reader) = self.follower.reader() else {
                        continue;
                    };
                    let capacities = reader.capacities();
                    self.mailbox().stats.restart_numbering();
                    self.log.record(
                        "followed",
                        json!({ "capacity": capacities.picture, "frame_capacity": capacities.frame }),
                    );
                    self.send(Event::Followed { capacities });
                }
                SegmentEvent::Writer(status) => {
                    self.log
                        .record("writer", json!({ "status": format!("{status:?}") }));
                    self.send(Event::Writer(status));
                }
            }
        }
    }

    fn handle(&mut self, command: Command) {
        match command {
            Command::SetLive(live) => {
                if live && !self.live {
                    self.mailbox().stats = LiveStats::default();
                }
                self.live = live;
            }
            Command::SetMaxSide(side) => self.max_side = side,
            Command::ReadImage | Command::ReadStruct if self.follower.reader().is_none() => {
                self.send(Event::NotConnected);
            }
            Command::ReadImage => {
                let asked = monotonic_ns();
                self.read_image(true, asked);
            }
            Command::ReadStruct => {
                let asked = monotonic_ns();
                self.read_struct(true, asked);
            }
        }
    }

    /// Live: sleep until something is published or a picture or frame starts, then read
    /// whatever is new (a picture or frame while it is being written). Returns whether it
    /// woke up without a record to read: then the writer attached, left or moved.
    fn follow(&mut self) -> bool {
        let asked = monotonic_ns();
        if !self.follower.wait(LIVE_WAIT, true) {
            return false;
        }
        let mut read = self.read_image(false, asked);
        let has_struct = self
            .follower
            .reader()
            .is_some_and(|reader| reader.has_new(RecordKind::Struct));
        if has_struct {
            read |= self.read_struct(false, asked);
        }
        read |= self.read_frame(asked);
        read |= self.read_channels(asked);
        !read
    }

    /// Reads the latest picture (clicked) or the next one, and decodes it where the writer
    /// put it: from a lease, with no copy.
    fn read_image(&mut self, clicked: bool, asked: u64) -> bool {
        let max_side = self.max_side;
        let picture = {
            let Some(reader) = self.follower.reader_mut() else {
                return false;
            };
            // A segment of someone else's channels: nothing to follow here (a click says why).
            if !clicked && !reader.has_channel(PICTURE_CHANNEL) {
                return false;
            }
            let leased = if clicked {
                reader.lease(PICTURE_CHANNEL)
            } else {
                reader.lease_next(PICTURE_CHANNEL)
            };
            let received = monotonic_ns();
            match leased {
                Ok(Some(lease)) => lease.image().map(|image| {
                    let decoded = shm_picture::decode(image.bytes, max_side);
                    Some(Picture {
                        path: image.path.to_owned(),
                        len: image.bytes.len(),
                        meta: *lease.meta(),
                        received,
                        in_place: lease.is_in_place(),
                        decoded,
                    })
                }),
                Ok(None) => Ok(None),
                Err(err) => Err(err),
            }
        };
        let Picture {
            path,
            len,
            meta,
            received,
            in_place,
            decoded,
        } = match picture {
            Ok(Some(picture)) => picture,
            Ok(None) => {
                if clicked {
                    self.send(Event::NoPicture);
                }
                return false;
            }
            Err(err) => {
                self.read_failed(err);
                return false;
            }
        };
        let timing = Timing::of(&meta, asked, received);
        if !clicked {
            self.mailbox().stats.record(RecordKind::Image, &timing);
        }
        self.log.record(
            "received",
            json!({
                "kind": "image",
                "path": path,
                "len": len,
                "sequence": meta.sequence,
                "in_place": in_place,
                "transfer_us": timing.delivery.transfer.as_micros() as u64,
                "waited_us": timing.delivery.waited.as_micros() as u64,
            }),
        );
        self.send(Event::Picture(Box::new(Received {
            path,
            len,
            timing,
            decoded,
        })));
        true
    }

    fn read_struct(&mut self, clicked: bool, asked: u64) -> bool {
        let Some(reader) = self.follower.reader_mut() else {
            return false;
        };
        match reader.latest_struct() {
            Ok(data) => {
                let received = monotonic_ns();
                let data = data.map(|(data, meta)| (data, Timing::of(&meta, asked, received)));
                if let Some((data, timing)) = &data {
                    if !clicked {
                        self.mailbox().stats.record(RecordKind::Struct, timing);
                    }
                    self.log.record(
                        "received",
                        json!({ "kind": "struct", "text": data.to_string() }),
                    );
                }
                let read = data.is_some();
                self.send(Event::Struct { data, clicked });
                read
            }
            Err(err) => {
                self.read_failed(err);
                false
            }
        }
    }

    /// Reads every channel other than the demo's that has a record not shown yet; returns
    /// whether there was one.
    fn read_channels(&mut self, asked: u64) -> bool {
        let mut read = false;
        let Some(reader) = self.follower.reader_mut() else {
            return false;
        };
        let instance = reader.instance_id();
        if self.others.0 != instance {
            let others = reader
                .channels()
                .into_iter()
                .filter(|channel| !channel.is_demo())
                .collect();
            self.others = (instance, others);
        }
        for channel in &self.others.1 {
            let name = channel.name.as_str();
            if !reader.channel_has_new(name) {
                continue;
            }
            let mut bytes = Vec::new();
            match reader.read_channel_into(name, &mut bytes) {
                Ok(Some(meta)) => {
                    read = true;
                    let timing = Timing::of(&meta, asked, monotonic_ns());
                    self.log.record(
                        "received",
                        json!({ "kind": channel.kind.name(), "channel": name, "len": bytes.len() }),
                    );
                    let _ = self.events.send(Event::Channel(Box::new(ChannelValue {
                        channel: channel.clone(),
                        bytes,
                        timing,
                    })));
                    self.ctx.request_repaint();
                }
                Ok(None) => {}
                Err(err) => {
                    self.log
                        .record("error", json!({ "message": err.to_string() }));
                    let _ = self.events.send(Event::ReadFailed(err));
                    self.ctx.request_repaint();
                }
            }
        }
        read
    }

    /// Live: the next frame, converted for upload straight from a lease and left in the
    /// mailbox.
    fn read_frame(&mut self, asked: u64) -> bool {
        let max_side = self.max_side;
        // A window still drawing the previous frame would never show the next one: converting
        // it would only take time from reading the one after.
        let window_busy = self.mailbox().frame.is_some();
        let frame = {
            let Some(reader) = self.follower.reader_mut() else {
                return false;
            };
            if !reader.has_channel(FRAME_CHANNEL) {
                return false;
            }
            match reader.lease_next(FRAME_CHANNEL) {
                Ok(Some(lease)) => lease.frame().map(|frame| {
                    let image = (!window_busy).then(|| frame_image(&frame, max_side));
                    Some((*lease.meta(), frame.header, image))
                }),
                Ok(None) => Ok(None),
                Err(err) => Err(err),
            }
        };
        let (meta, header, image) = match frame {
            Ok(Some(frame)) => frame,
            Ok(None) => return false,
            Err(err) => {
                self.read_failed(err);
                return false;
            }
        };
        let timing = Timing::of(&meta, asked, monotonic_ns());
        let mut mailbox = self.mailbox();
        mailbox.stats.record(RecordKind::Frame, &timing);
        let Some(image) = image else {
            mailbox.stats.not_drawn += 1;
            return true;
        };
        mailbox.frame = Some(LiveFrame {
            image,
            info: FrameInfo {
                number: header.number,
                width: header.width,
                height: header.height,
                format: header.format,
                len: meta.len,
                timing,
            },
        });
        drop(mailbox);
        self.ctx.request_repaint();
        true
    }

    fn read_failed(&self, err: ReadError) {
        self.log
            .record("error", json!({ "message": err.to_string() }));
        self.send(Event::ReadFailed(err));
    }
}

/// A frame's pixels as an image egui can upload, scaled down by whole steps if a side exceeds
/// the GPU's limit. Every row offset was checked when the frame was read.
pub(crate) fn frame_image(frame: &FrameView<'_>, max_side: u32) -> ColorImage {
    let header = &frame.header;
    let (width, height) = (header.width as usize, header.height as usize);
    let step = (header.width.max(header.height).div_ceil(max_side.max(1))).max(1) as usize;
    let (out_width, out_height) = (width.div_ceil(step), height.div_ceil(step));
    let stride = header.stride as usize;
    let bytes_per_pixel = header.format.bytes_per_pixel();
    let mut pixels = Vec::with_capacity(out_width * out_height);
    for y in (0..height).step_by(step) {
        let start = y * stride;
        let row = frame
            .pixels
            .get(start..start + width * bytes_per_pixel)
            .unwrap_or(&[]);
        let pixel = |x: usize| row.get(x * bytes_per_pixel..(x + 1) * bytes_per_pixel);
        for x in (0..width).step_by(step) {
            let colour = match (header.format, pixel(x)) {
                (PixelFormat::Rgba8, Some(&[r, g, b, 255])) => egui::Color32::from_rgb(r, g, b),
                (PixelFormat::Rgba8, Some(&[r, g, b, a])) => {
                    egui::Color32::from_rgba_unmultiplied(r, g, b, a)
                }
                (PixelFormat::Rgb8, Some(&[r, g, b])) => egui::Color32::from_rgb(r, g, b),
                (PixelFormat::Gray8, Some(&[grey])) => egui::Color32::from_gray(grey),
                _ => egui::Color32::BLACK,
            };
            pixels.push(colour);
        }
    }
    ColorImage::new([out_width, out_height], pixels)
}

#[cfg(test)]
mod tests {
    use super::*;
    use shm_common::FrameMessage;

    fn view(frame: &FrameMessage) -> FrameView<'_> {
        FrameView {
            header: frame.header(),
            pixels: &frame.pixels,
        }
    }

    #[test]
    fn frames_of_every_format_and_stride_become_images_of_their_size() {
        let mut frame = FrameMessage::blank(3, 2, PixelFormat::Rgb8, 0);
        frame.stride = 10;
        frame.pixels = vec![0; 20];
        frame.pixels[3..6].copy_from_slice(&[1, 2, 3]);
        frame.pixels[10..13].copy_from_slice(&[9, 8, 7]);
        let image = frame_image(&view(&frame), 4096);
        assert_eq!(image.size, [3, 2]);
        assert_eq!(image.pixels[1], egui::Color32::from_rgb(1, 2, 3));
        assert_eq!(image.pixels[3], egui::Color32::from_rgb(9, 8, 7));

        let mut grey = FrameMessage::blank(5000, 2, PixelFormat::Gray8, 0);
        grey.pixels.fill(200);
        let image = frame_image(&view(&grey), 2048);
        assert_eq!(
            image.size,
            [1667, 1],
            "scaled by whole steps to fit the GPU"
        );
        assert_eq!(image.pixels[0], egui::Color32::from_gray(200));
    }
}
