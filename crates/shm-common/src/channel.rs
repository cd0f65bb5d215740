//! The API the apps use: a [`Writer`] that publishes messages and a [`Reader`] that reads the
//! latest ones and waits for new ones.

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use crate::error::{GrowError, OpenError, ReadError, SendError};
use crate::layout::{Capacities, ControlBlock, LAYOUT_VERSION, Layout, MAX_CAPACITY, SLOT_COUNT};
use crate::message::{
    FrameHeader, FrameMessage, ImageMessage, Message, RecordKind, Sink, TestData,
};
use crate::segment::{self, CreationMode, Segment, SegmentLocation};
use crate::slot::{RecordMeta, Slot};
use crate::stream::{STALL_AFTER, Streamed};
use crate::sys;

/// How long [`Reader::wait_for_change`] spins before sleeping in the kernel. Long enough to
/// catch a writer that is about to publish (a cross-core futex wake-up costs ~50 us on a small
/// VM), short enough that an idle reader costs nothing measurable.
const SPIN_BEFORE_SLEEP: Duration = Duration::from_micros(50);

/// How long [`Reader::wait_for_change`] keeps spinning while a writer is visibly in the middle
/// of a publish (a large picture takes about a millisecond to copy in): waking from the futex
/// would add tens of microseconds to the transfer.
const SPIN_WHILE_WRITING: Duration = Duration::from_millis(10);

fn slot<'a>(segment: &'a Segment, kind: RecordKind) -> Slot<'a> {
    let control = segment.region.control();
    Slot {
        region: &segment.region,
        control: &control.slots[kind.slot()],
        layout: segment.layout.slots[kind.slot()],
        kind,
    }
}

/// Wakes readers: bump the change counter, and make the syscall only if someone sleeps.
fn notify_change(control: &ControlBlock) {
    // SeqCst on both: with the reader's SeqCst increment of `waiters` and load of `counter`,
    // either the reader sees the new counter or this load sees the reader's waiter count.
    control.notify.counter.fetch_add(1, Ordering::SeqCst);
    if control.notify.waiters.load(Ordering::SeqCst) != 0 {
        sys::futex_wake_all(&control.notify.counter);
    }
}

/// The state of a segment's writer, as a reader sees it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WriterStatus {
    /// A live process holds the writer lock.
    Active {
        /// Its pid.
        pid: u32,
    },
    /// The lock names a process that no longer exists: the writer crashed.
    Crashed {
        /// The dead writer's pid.
        pid: u32,
    },
    /// No writer holds the lock: it closed, or none ever attached.
    Closed,
    /// The writer moved to a larger segment it created under the same name: reopen the name
    /// ([`Reader::reopen_if_replaced`]).
    Replaced,
}

/// The writer's state, from the segment's writer lock (which the kernel releases when its
/// holder dies) and the header: the pid there only names the writer. The header is read
/// through the file, so a truncated one cannot raise SIGBUS here.
fn writer_status(segment: &Segment) -> WriterStatus {
    let words = segment.writer_words().unwrap_or_default();
    if words.superseded {
        return WriterStatus::Replaced;
    }
    match (segment.writer_lock_held(), words.pid) {
        // A writer stores 0 just before it lets go of the lock: it is closing.
        (_, 0) => WriterStatus::Closed,
        (true, pid) => WriterStatus::Active { pid },
        (false, pid) => WriterStatus::Crashed { pid },
    }
}

/// One slot's state in [`SegmentInfo`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SlotInfo {
    /// The slot's kind.
    pub kind: RecordKind,
    /// Records published so far (the latest record's sequence number).
    pub published: u64,
    /// Payload length of the latest record, as its metadata claims (0 if none).
    pub last_len: u64,
    /// When the latest record was complete, on the writer's monotonic clock (0 if none).
    pub last_published_ns: u64,
    /// The largest payload the slot holds.
    pub capacity: usize,
}

/// A snapshot of a segment's header and slots, for `shm info` and the apps' status lines.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SegmentInfo {
    /// Where it lives.
    pub location: SegmentLocation,
    /// Its layout version.
    pub layout_version: u32,
    /// Largest picture record in bytes.
    pub capacity: usize,
    /// Largest frame record in bytes (0: the segment has no frame buffers yet).
    pub frame_capacity: usize,
    /// Size of the whole segment in bytes.
    pub total_size: usize,
    /// Random id of this incarnation of the segment.
    pub instance_id: u64,
    /// The writer's state.
    pub writer: WriterStatus,
    /// How many times writers attached or detached.
    pub writer_generation: u32,
    /// Whether the (last) writer keeps the segment after it closes.
    pub persist: bool,
    /// Picture, struct and frame slots.
    pub slots: Vec<SlotInfo>,
}

fn info(segment: &Segment) -> Result<SegmentInfo, ReadError> {
    if let Some(len) = segment.truncated_file_len(true) {
        return Err(ReadError::FileTruncated {
            segment: segment.location.to_string(),
            len,
        });
    }
    let control = segment.region.control();
    let slots = RecordKind::ALL
        .into_iter()
        .map(|kind| {
            let slot = slot(segment, kind);
            let published = slot.newest().sequence();
            let meta = &slot.control.buffers[(published & 1) as usize];
            // Relaxed: a snapshot for display, which may be a record newer than `published`.
            let (last_len, last_published_ns) = if published == 0 {
                (0, 0)
            } else {
                (
                    meta.len.load(Ordering::Relaxed),
                    meta.published_ns.load(Ordering::Relaxed),
                )
            };
            SlotInfo {
                kind,
                published,
                last_len,
                last_published_ns,
                capacity: slot.layout.capacity,
            }
        })
        .collect();
    Ok(SegmentInfo {
        location: segment.location.clone(),
        layout_version: LAYOUT_VERSION,
        capacity: segment.layout.capacity,
        frame_capacity: segment.layout.frame_capacity,
        total_size: segment.layout.total_size,
        instance_id: segment.instance_id(),
        writer: writer_status(segment),
        // Relaxed: a counter for display.
        writer_generation: control.writer.generation.load(Ordering::Relaxed),
        // Relaxed: a snapshot for display.
        persist: control.writer.persist.load(Ordering::Relaxed) != 0,
        slots,
    })
}

/// The picture capacity a [`Writer`] asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Capacity {
    /// [`DEFAULT_CAPACITY`](crate::DEFAULT_CAPACITY) for a new segment; an existing segment is
    /// used with whatever capacity it has.
    #[default]
    Default,
    /// This many bytes for a new segment; an existing smaller one without a live writer is
    /// re-created this large (its latest records carried over).
    AtLeast(usize),
}

impl Capacity {
    /// The capacity a new segment gets.
    pub fn bytes(self) -> usize {
        match self {
            Capacity::Default => crate::layout::DEFAULT_CAPACITY,
            Capacity::AtLeast(bytes) => bytes,
        }
    }
}

/// A larger segment a [`Writer`] can move to; see [`Writer::plan_growth`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Growth {
    /// The kind of record that did not fit.
    pub kind: RecordKind,
    /// The capacities of the larger segment.
    pub capacities: Capacities,
    /// Its size in all, in bytes.
    pub total_size: usize,
    /// The size of the segment it replaces, in bytes.
    pub previous_total_size: usize,
}

/// The slot capacity a record of `len` bytes grows a segment to: the next power of two, at
/// least 1 MiB (so a stream of slowly growing records does not re-create the segment each
/// time); `None` beyond [`MAX_CAPACITY`].
pub fn capacity_for(len: usize) -> Option<usize> {
    if len > MAX_CAPACITY {
        return None;
    }
    Some(len.max(1 << 20).next_power_of_two().min(MAX_CAPACITY))
}

/// The one process allowed to publish to a segment.
///
/// Created with [`Writer::create`], which takes the segment's writer lock: a second live writer
/// gets [`OpenError::WriterActive`] naming the first one's pid, and the lock of a writer that
/// died is taken over. Dropping the writer releases the lock and, for a named segment that this
/// writer created or published to, removes the segment's name (see the crate docs on lifetime)
/// unless [`Writer::set_persist`] was called.
pub struct Writer {
    segment: Segment,
    persist: bool,
    published_any: bool,
    /// A larger segment took this one's name: closing must leave the name alone.
    superseded: bool,
}

impl Writer {
    /// Creates or opens the segment at `location` and takes its writer lock, which the kernel
    /// holds for this writer until it is dropped or its process ends, however it ends.
    ///
    /// A new segment gets the [`Capacity`] asked for, its space reserved on the spot
    /// ([`OpenError::NoSpace`] if the file system cannot hold it). An existing one keeps its
    /// own, unless [`Capacity::AtLeast`] asks for more: then it is re-created at the requested
    /// capacity and its latest records are carried over. A named segment left half-created by
    /// a writer that died is set up afresh.
    pub fn create(
        location: &SegmentLocation,
        mode: CreationMode,
        capacity: Capacity,
    ) -> Result<Writer, OpenError> {
        let bytes = capacity.bytes();
        let segment = Segment::for_writer(location, mode, Capacities::pictures(bytes))?;
        claim(&segment);
        let too_small = matches!(capacity, Capacity::AtLeast(_))
            && !segment.created
            && mode == CreationMode::CreateOrOpen
            && segment.layout.capacity < bytes;
        if !too_small {
            return Ok(Writer::around(segment));
        }
        let capacities = Capacities {
            picture: bytes,
            frame: segment.layout.frame_capacity,
        };
        let mut writer = successor(&segment, capacities).map_err(|err| match err {
            GrowError::Create { source, .. } => source,
            other => OpenError::Os {
                action: "re-create",
                segment: location.to_string(),
                source: std::io::Error::other(other.to_string()),
            },
        })?;
        writer.published_any = true;
        Ok(writer)
    }

    fn around(segment: Segment) -> Writer {
        Writer {
            segment,
            persist: false,
            published_any: false,
            superseded: false,
        }
    }

    /// Keeps the segment (and its records) in place after this writer closes.
    pub fn set_persist(&mut self, persist: bool) {
        self.persist = persist;
        // Relaxed: read by tools (`shm ls`, `shm remove --stale`) as a snapshot.
        self.segment
            .region
            .control()
            .writer
            .persist
            .store(u32::from(persist), Ordering::Relaxed);
    }

    /// Whether closing this writer will remove the segment.
    pub fn removes_on_close(&self) -> bool {
        !self.persist
            && !self.superseded
            && matches!(self.segment.location, SegmentLocation::Named(_))
            && (self.segment.created || self.published_any)
    }

    /// Where the segment lives.
    pub fn location(&self) -> &SegmentLocation {
        &self.segment.location
    }

    /// Largest picture record in bytes.
    pub fn capacity(&self) -> usize {
        self.segment.layout.capacity
    }

    /// What the segment's picture and frame slots hold.
    pub fn capacities(&self) -> Capacities {
        self.segment.layout.capacities()
    }

    /// Size of the whole segment in bytes.
    pub fn total_size(&self) -> usize {
        self.segment.layout.total_size
    }

    /// Whether this writer created the segment (rather than opening an existing one).
    pub fn created(&self) -> bool {
        self.segment.created
    }

    /// A snapshot of the segment's header and slots ([`ReadError::FileTruncated`] if someone
    /// truncated its file).
    pub fn info(&self) -> Result<SegmentInfo, ReadError> {
        info(&self.segment)
    }

    /// Whether a record of `kind` with `len` encoded bytes fits the segment as it is.
    pub fn fits(&self, kind: RecordKind, len: usize) -> bool {
        len <= self.segment.layout.capacities().of(kind)
    }

    /// The larger segment a record of `kind` with `len` encoded bytes needs, checked against
    /// the space left where the segment lives (`/dev/shm` for a named segment).
    pub fn plan_growth(&self, kind: RecordKind, len: usize) -> Result<Growth, GrowError> {
        let current = self.segment.layout.capacities();
        let too_large = || GrowError::TooLarge {
            kind,
            size: len,
            max: match kind {
                RecordKind::Struct => crate::layout::STRUCT_CAPACITY,
                RecordKind::Image | RecordKind::Frame => MAX_CAPACITY,
            },
        };
        let capacity = capacity_for(len).ok_or_else(too_large)?;
        let capacities = match kind {
            RecordKind::Image => Capacities {
                picture: capacity.max(current.picture),
                ..current
            },
            RecordKind::Frame => Capacities {
                frame: capacity.max(current.frame),
                ..current
            },
            RecordKind::Struct => return Err(too_large()),
        };
        let layout = Layout::for_capacities(capacities).map_err(|_| too_large())?;
        let growth = Growth {
            kind,
            capacities,
            total_size: layout.total_size,
            previous_total_size: self.segment.layout.total_size,
        };
        let directory = self.segment.location.storage_dir();
        // Both segments exist until every reader has moved over, so the new one needs its
        // whole size free. (If the file system cannot be asked, creation will tell.)
        if let Ok(space) = sys::space(&directory)
            && space.available < growth.total_size as u64
        {
            return Err(GrowError::NoSpace {
                segment: self.segment.location.to_string(),
                needed: growth.total_size,
                available: space.available,
                directory,
            });
        }
        Ok(growth)
    }

    /// Moves to a larger segment under the same name, as planned by [`Writer::plan_growth`].
    ///
    /// The new segment is created beside the old one, receives the latest record of every
    /// kind, and then takes the old one's name in one atomic rename, so a reader never finds
    /// the name missing. The old segment is marked as replaced ([`WriterStatus::Replaced`]):
    /// readers reopen the name and go on ([`Reader::reopen_if_replaced`]). If anything fails,
    /// the old segment stays as it was and this writer keeps writing to it.
    pub fn grow(&mut self, growth: &Growth) -> Result<(), GrowError> {
        let mut next = successor(&self.segment, growth.capacities)?;
        next.set_persist(self.persist);
        next.published_any = true;
        let mut old = std::mem::replace(self, next);
        // Its drop releases the old lock and wakes the old segment's readers, who find it
        // replaced; the name is the new segment's now.
        old.superseded = true;
        drop(old);
        Ok(())
    }

    /// Publishes a message to its kind's slot and wakes waiting readers.
    ///
    /// A message larger than the slot is refused with [`SendError::TooLarge`] before anything
    /// is written: the previous record stays intact.
    pub fn send<M: Message>(&mut self, message: &M) -> Result<RecordMeta, SendError> {
        self.publish(M::KIND, message.encoded_len(), |mut sink| {
            message.encode(&mut sink)
        })
    }

    /// Publishes a picture from borrowed parts (no copy into an [`ImageMessage`] first).
    pub fn send_image(&mut self, path: &str, bytes: &[u8]) -> Result<RecordMeta, SendError> {
        let len = ImageMessage::framed_len(path, bytes.len());
        self.publish(RecordKind::Image, len, |mut sink| {
            ImageMessage::encode_parts(path, bytes, &mut sink)
        })
    }

    /// Publishes the struct.
    pub fn send_struct(&mut self, data: &TestData) -> Result<RecordMeta, SendError> {
        self.send(data)
    }

    /// Publishes a frame from borrowed parts (no copy into a [`FrameMessage`] first); the
    /// pixels must be exactly what the header describes.
    pub fn send_frame(
        &mut self,
        header: &FrameHeader,
        pixels: &[u8],
    ) -> Result<RecordMeta, SendError> {
        self.send_frame_rows(header, &[pixels])
    }

    /// Publishes a frame whose pixels are `parts` one after the other (rows of a larger
    /// picture, say), copied straight into shared memory.
    pub fn send_frame_rows(
        &mut self,
        header: &FrameHeader,
        parts: &[&[u8]],
    ) -> Result<RecordMeta, SendError> {
        let pixel_len = parts.iter().map(|part| part.len()).sum();
        header
            .check(pixel_len)
            .map_err(|source| SendError::Malformed {
                kind: RecordKind::Frame,
                source,
            })?;
        let len = FrameMessage::framed_len(pixel_len);
        self.publish(RecordKind::Frame, len, |mut sink| {
            FrameMessage::encode_header(header, &mut sink);
            for part in parts {
                sink.put(part);
            }
        })
    }

    fn publish(
        &mut self,
        kind: RecordKind,
        len: usize,
        encode: impl FnOnce(&mut dyn Sink),
    ) -> Result<RecordMeta, SendError> {
        let slot = slot(&self.segment, kind);
        if len > slot.layout.capacity {
            return Err(SendError::TooLarge {
                kind,
                size: len,
                capacity: slot.layout.capacity,
                segment: self.segment.location.to_string(),
            });
        }
        // A struct lives in the control page; pictures and frames in the data buffers.
        if let Some(len) = self.segment.truncated_file_len(!slot.layout.is_one_line()) {
            return Err(SendError::FileTruncated {
                segment: self.segment.location.to_string(),
                len,
            });
        }
        let control = self.segment.region.control();
        // Readers asleep in `wait_for_next` are woken when a large record starts, to follow it.
        let meta = slot.publish(len, encode, || notify_change(control));
        self.published_any = true;
        notify_change(control);
        Ok(meta)
    }
}

impl Drop for Writer {
    /// Closes the writer: marks the segment closed, wakes readers, removes the name if it is
    /// this writer's to remove (and still names this segment), and only then lets go of the
    /// lock, when the segment is dropped.
    fn drop(&mut self) {
        if self.segment.truncated_file_len(true).is_some() {
            // The control page may be gone: no store into it, only the name to remove.
            if self.removes_on_close() {
                let _ = self.segment.unlink_if_ours();
            }
            return;
        }
        let control = self.segment.region.control();
        // Release: the next writer, which swaps its pid in with Acquire, sees every record.
        control.writer.pid.store(0, Ordering::Release);
        // Relaxed: a counter readers compare for inequality only.
        control.writer.generation.fetch_add(1, Ordering::Relaxed);
        notify_change(control);
        if self.removes_on_close() {
            // Already gone (someone ran `shm remove`) is fine; there is nobody to tell otherwise.
            let _ = self.segment.unlink_if_ours();
        }
    }
}

/// The latest record of each kind, read out of a segment to be published into its successor.
struct Carried {
    image: Option<ImageMessage>,
    data: Option<TestData>,
    frame: Option<FrameMessage>,
}

impl Carried {
    /// Reads what `segment` holds; a record that cannot be read (a damaged segment) is left
    /// behind rather than failing the move.
    fn latest(segment: &Segment) -> Carried {
        fn read<M: Message + Default>(segment: &Segment) -> Option<M> {
            let mut message = M::default();
            let read = slot(segment, M::KIND).read(|mut source| message.decode_into(&mut source));
            matches!(read, Ok(Some(_))).then_some(message)
        }
        Carried {
            image: read(segment),
            data: read(segment),
            frame: read(segment),
        }
    }

    /// Publishes the records into `writer`'s segment, whose slots are at least as large as
    /// the ones they were read from.
    fn publish_to(&self, writer: &mut Writer) {
        if let Some(image) = &self.image {
            let _ = writer.send(image);
        }
        if let Some(data) = &self.data {
            let _ = writer.send(data);
        }
        if let Some(frame) = &self.frame {
            let _ = writer.send(frame);
        }
    }
}

/// Creates a segment with `capacities` beside `old`, takes its lock, carries `old`'s latest
/// records over and renames it into `old`'s place; then marks `old` as replaced. On failure
/// `old` is untouched and the new segment is gone.
fn successor(old: &Segment, capacities: Capacities) -> Result<Writer, GrowError> {
    let location = &old.location;
    let create_error = |source| GrowError::Create {
        segment: location.to_string(),
        source,
    };
    let beside = segment::location_beside(location);
    // The name carries our pid: anything already there was left by a dead process that had it.
    let _ = segment::remove(&beside);
    let fresh =
        Segment::for_writer(&beside, CreationMode::CreateNew, capacities).map_err(create_error)?;
    claim(&fresh);
    let mut fresh = Writer::around(fresh);
    // Its own closing steps must not remove anything: on failure we remove it below, on
    // success it is the live segment.
    fresh.superseded = true;
    Carried::latest(old).publish_to(&mut fresh);
    let moved = segment::rename(&beside, location).map_err(|source| GrowError::Rename {
        segment: location.to_string(),
        source,
    });
    if let Err(err) = moved {
        drop(fresh);
        let _ = segment::remove(&beside);
        return Err(err);
    }
    fresh.superseded = false;
    fresh.segment.location = location.clone();
    let control = old.region.control();
    // Relaxed: readers reopen the name on seeing it, and the new segment's Release-stored
    // magic orders everything in it.
    control.writer.superseded.store(1, Ordering::Relaxed);
    // Relaxed: a counter readers compare for inequality only.
    control.writer.generation.fetch_add(1, Ordering::Relaxed);
    notify_change(control);
    Ok(fresh)
}

/// Names this process as the writer of `segment`, whose lock it holds, and tells readers a
/// writer attached.
fn claim(segment: &Segment) {
    let control = segment.region.control();
    // AcqRel: acquires the previous writer's Release store of 0 (everything it published is
    // visible before this writer numbers its next record); the kernel lock's hand-over orders
    // the same for a writer that died.
    control
        .writer
        .pid
        .swap(std::process::id(), Ordering::AcqRel);
    // Relaxed: a snapshot for tools; a new writer keeps nothing unless it says so.
    control.writer.persist.store(0, Ordering::Relaxed);
    // Relaxed: a counter readers compare for inequality only.
    control.writer.generation.fetch_add(1, Ordering::Relaxed);
    notify_change(control);
}

/// Reads the latest records of a segment and waits for new ones.
///
/// A reader never writes records; it only updates the segment's waiter count while it sleeps in
/// [`Reader::wait_for_change`].
pub struct Reader {
    segment: Segment,
    seen_sequences: [u64; SLOT_COUNT],
    seen_generation: u32,
    seen_counter: u32,
    /// The sequence words of writes this reader spun on to the limit without seeing them
    /// finish (a writer that died mid-write): not spun on again.
    stalled_writes: [u64; SLOT_COUNT],
    /// How long to follow a write that makes no progress.
    stall_timeout: Duration,
}

impl Reader {
    /// Opens an existing segment; [`OpenError::NotFound`] if no writer created it yet.
    pub fn open(location: &SegmentLocation) -> Result<Reader, OpenError> {
        Ok(Reader::around(Segment::for_reader(location)?))
    }

    /// A reader of `segment` that has read nothing yet.
    fn around(segment: Segment) -> Reader {
        Reader {
            segment,
            seen_sequences: [0; SLOT_COUNT],
            seen_generation: 0,
            seen_counter: 0,
            stalled_writes: [0; SLOT_COUNT],
            stall_timeout: STALL_AFTER,
        }
    }

    /// Where the segment lives.
    pub fn location(&self) -> &SegmentLocation {
        &self.segment.location
    }

    /// Largest picture record in bytes.
    pub fn capacity(&self) -> usize {
        self.segment.layout.capacity
    }

    /// What the segment's picture and frame slots hold.
    pub fn capacities(&self) -> Capacities {
        self.segment.layout.capacities()
    }

    /// A snapshot of the segment's header and slots ([`ReadError::FileTruncated`] if someone
    /// truncated its file).
    pub fn info(&self) -> Result<SegmentInfo, ReadError> {
        info(&self.segment)
    }

    /// The writer's state: active, crashed, closed, or moved to a larger segment.
    pub fn writer_status(&self) -> WriterStatus {
        writer_status(&self.segment)
    }

    /// Random id of the segment this reader has mapped; a re-created segment has another.
    pub fn instance_id(&self) -> u64 {
        self.segment.instance_id()
    }

    /// Reads the latest record of `M`'s kind into `message`, reusing its allocations.
    ///
    /// Returns `Ok(None)` if nothing of that kind was published yet, leaving `message` as it
    /// was; after an error its contents are unspecified. Only the record's own length is
    /// copied, and every length is checked first.
    pub fn read_into<M: Message>(
        &mut self,
        message: &mut M,
    ) -> Result<Option<RecordMeta>, ReadError> {
        self.check_file_length(M::KIND)?;
        self.read_latest(message)
    }

    /// A file segment someone truncated is reported instead of touching its missing pages.
    fn check_file_length(&self, kind: RecordKind) -> Result<(), ReadError> {
        let in_data_buffers = !slot(&self.segment, kind).layout.is_one_line();
        match self.segment.truncated_file_len(in_data_buffers) {
            Some(len) => Err(ReadError::FileTruncated {
                segment: self.segment.location.to_string(),
                len,
            }),
            None => Ok(()),
        }
    }

    /// [`Reader::read_into`] once the file length is checked.
    fn read_latest<M: Message>(
        &mut self,
        message: &mut M,
    ) -> Result<Option<RecordMeta>, ReadError> {
        let kind = M::KIND;
        let read = slot(&self.segment, kind).read(|mut source| message.decode_into(&mut source));
        if let Ok(Some(meta)) = &read {
            self.seen_sequences[kind.slot()] = meta.sequence;
        }
        read
    }

    /// How long [`Reader::read_next_into`] waits for a writer that stops making progress in
    /// the middle of a picture before giving up on it (1 s unless set).
    pub fn set_stall_timeout(&mut self, timeout: Duration) {
        self.stall_timeout = timeout;
    }

    /// Reads the record of `M`'s kind after the last one this reader read, into `message`: the
    /// newest complete one if there is a newer one; otherwise, if the writer is writing the next
    /// one now, that one, copying each part as soon as the writer has stored it (so a large
    /// picture arrives about one copy after the writer started rather than two). `Ok(None)` if
    /// there is nothing newer.
    ///
    /// Following a write gives up on a writer that makes no progress for a second (it died
    /// mid-write; see [`Reader::set_stall_timeout`]) and on one that writes two more records
    /// meanwhile; the newest complete record is read instead. A torn record is never returned.
    pub fn read_next_into<M: Message>(
        &mut self,
        message: &mut M,
    ) -> Result<Option<RecordMeta>, ReadError> {
        self.check_file_length(M::KIND)?;
        let kind = M::KIND;
        if !self.has_new(kind) {
            let index = kind.slot();
            let followed = slot(&self.segment, kind).stream(
                self.seen_sequences[index],
                self.stalled_writes[index],
                self.stall_timeout,
                |mut source| message.decode_into(&mut source),
            )?;
            match followed {
                Streamed::Read(meta) => {
                    self.seen_sequences[index] = meta.sequence;
                    return Ok(Some(meta));
                }
                Streamed::Stalled(word) => self.stalled_writes[index] = word,
                Streamed::NotWriting | Streamed::Overtaken => {}
            }
            if !self.has_new(kind) {
                return Ok(None);
            }
        }
        self.read_latest(message)
    }

    /// The latest record of `M`'s kind, if any.
    pub fn latest<M: Message + Default>(&mut self) -> Result<Option<(M, RecordMeta)>, ReadError> {
        let mut message = M::default();
        Ok(self.read_into(&mut message)?.map(|meta| (message, meta)))
    }

    /// The latest picture, if any.
    pub fn latest_image(&mut self) -> Result<Option<(ImageMessage, RecordMeta)>, ReadError> {
        self.latest()
    }

    /// The latest struct, if any.
    pub fn latest_struct(&mut self) -> Result<Option<(TestData, RecordMeta)>, ReadError> {
        self.latest()
    }

    /// The latest frame, if any.
    pub fn latest_frame(&mut self) -> Result<Option<(FrameMessage, RecordMeta)>, ReadError> {
        self.latest()
    }

    /// Marks every record there is now as read: [`Reader::has_new`] and the waits then report
    /// only what is published from here on.
    pub fn skip_existing(&mut self) {
        for kind in RecordKind::ALL {
            self.seen_sequences[kind.slot()] = slot(&self.segment, kind).newest().sequence();
        }
    }

    /// The number of the last record of `kind` this reader read (or skipped), 0 if none.
    pub fn seen_sequence(&self, kind: RecordKind) -> u64 {
        self.seen_sequences[kind.slot()]
    }

    /// Whether a record of `kind` was published that this reader has not read yet.
    pub fn has_new(&self, kind: RecordKind) -> bool {
        slot(&self.segment, kind).newest().sequence() != self.seen_sequences[kind.slot()]
    }

    fn something_new(&self) -> bool {
        let control = self.segment.region.control();
        // Relaxed: compared for inequality only.
        RecordKind::ALL.into_iter().any(|kind| self.has_new(kind))
            || control.writer.generation.load(Ordering::Relaxed) != self.seen_generation
    }

    /// Waits until there is a record this reader has not read, or a writer attached or
    /// detached, or `timeout` passed. Returns whether something changed.
    ///
    /// Spins for up to 50 us (a publish usually lands within that when the writer is busy), then
    /// sleeps on the segment's change counter (a shared futex on Linux), costing no CPU until a
    /// writer publishes. A writer that is killed wakes nobody: callers that must notice that use
    /// a finite timeout and check [`Reader::writer_status`].
    pub fn wait_for_change(&mut self, timeout: Duration) -> bool {
        self.wait(timeout, false)
    }

    /// Like [`Reader::wait_for_change`], but also returns as soon as the writer starts a picture
    /// this reader has not read, which [`Reader::read_next_into`] then reads while it is being
    /// written (the writer wakes sleeping readers when a picture starts, too).
    pub fn wait_for_next(&mut self, timeout: Duration) -> bool {
        self.wait(timeout, true)
    }

    fn wait(&mut self, timeout: Duration, follow_writes: bool) -> bool {
        if self.segment.truncated_file_len(false).is_some() {
            // Something changed indeed: the next read says what, instead of a SIGBUS here.
            return true;
        }
        let start = Instant::now();
        let changed = self.wait_until(start, timeout, follow_writes);
        let control = self.segment.region.control();
        // Relaxed: compared for inequality only.
        self.seen_generation = control.writer.generation.load(Ordering::Relaxed);
        changed
    }

    fn wait_until(&mut self, start: Instant, timeout: Duration, follow_writes: bool) -> bool {
        let spin_for = SPIN_BEFORE_SLEEP.min(timeout);
        let mut spins = 0u32;
        loop {
            // Polls the slots' sequence words and the writer generation: the descriptor line
            // that brings the change also holds the record's metadata. (Polling the change
            // counter instead measured slower: the writer's read-modify-write on it then
            // competes with the spinning reader for the line.)
            if self.ready(follow_writes) {
                return true;
            }
            self.touch_next_struct();
            spins = spins.wrapping_add(1);
            if spins.is_multiple_of(32) {
                let elapsed = start.elapsed();
                if elapsed >= timeout {
                    return false;
                }
                if elapsed >= spin_for && !self.keep_spinning(elapsed) {
                    break;
                }
            }
            std::hint::spin_loop();
        }
        let notify = &self.segment.region.control().notify;
        // SeqCst: pairs with the writer's SeqCst counter increment and waiter load in
        // `notify_change` (see there), so a publish cannot slip between our check and our sleep.
        notify.waiters.fetch_add(1, Ordering::SeqCst);
        let changed = loop {
            let counter = notify.counter.load(Ordering::SeqCst);
            if counter != self.seen_counter {
                self.seen_counter = counter;
                if self.ready(follow_writes) {
                    break true;
                }
            }
            let elapsed = start.elapsed();
            if elapsed >= timeout {
                break false;
            }
            sys::futex_wait(&notify.counter, counter, timeout - elapsed);
        };
        // SeqCst: keeps the waiter count exact for the writer's check.
        notify.waiters.fetch_sub(1, Ordering::SeqCst);
        changed
    }

    /// Loads the line the next struct will be written to, so that when its descriptor changes
    /// the record's bytes are already on their way rather than fetched one transfer later.
    fn touch_next_struct(&self) {
        let next = self.seen_sequences[RecordKind::Struct.slot()].wrapping_add(1);
        let slot = &self.segment.region.control().slots[RecordKind::Struct.slot()];
        // Relaxed: the value is not used; only the cache line matters.
        std::hint::black_box(
            slot.buffers[(next & 1) as usize].inline.words[0].load(Ordering::Relaxed),
        );
    }

    /// Whether to go on spinning after the usual spin: yes while a writer is in the middle of
    /// a publish, up to [`SPIN_WHILE_WRITING`], and never again for a write that stalled.
    fn keep_spinning(&mut self, elapsed: Duration) -> bool {
        let writing = self.writes_in_progress();
        if elapsed < SPIN_WHILE_WRITING {
            return writing
                .iter()
                .zip(&self.stalled_writes)
                .any(|(&seq, &stalled)| seq != 0 && seq != stalled);
        }
        self.stalled_writes = writing;
        false
    }

    /// Whether there is something to return from a wait.
    fn ready(&self, follow_writes: bool) -> bool {
        self.something_new() || (follow_writes && self.write_to_follow())
    }

    /// Whether the writer is writing a picture this reader has not read (and has not given up
    /// on as stalled).
    fn write_to_follow(&self) -> bool {
        RecordKind::ALL.into_iter().any(|kind| {
            let slot = slot(&self.segment, kind);
            let next = self.seen_sequences[kind.slot()].wrapping_add(1);
            let word = slot.write_in_progress();
            !slot.layout.is_one_line()
                && word == next.wrapping_mul(2).wrapping_sub(1)
                && word != self.stalled_writes[kind.slot()]
        })
    }

    /// Per slot, the odd sequence word of a record being written now, or 0.
    fn writes_in_progress(&self) -> [u64; SLOT_COUNT] {
        RecordKind::ALL.map(|kind| slot(&self.segment, kind).write_in_progress())
    }

    /// If the segment at this reader's location is now a different one (its writer exited and a
    /// new one re-created it), switches to it and returns `Ok(true)`.
    ///
    /// When the writer moved to a larger segment ([`WriterStatus::Replaced`]), it carried the
    /// latest record of each kind over: a kind this reader had read up to date counts as read
    /// in the new segment too, so following readers do not see it twice.
    pub fn reopen_if_replaced(&mut self) -> Result<bool, OpenError> {
        let mut fresh = Reader::open(&self.segment.location)?;
        if fresh.instance_id() == self.instance_id() {
            return Ok(false);
        }
        fresh.stall_timeout = self.stall_timeout;
        if self.writer_status() == WriterStatus::Replaced {
            for kind in RecordKind::ALL {
                let old_newest = slot(&self.segment, kind).newest().sequence();
                // The carried record is the new segment's first of its kind.
                if old_newest != 0 && old_newest == self.seen_sequences[kind.slot()] {
                    fresh.seen_sequences[kind.slot()] = 1;
                }
            }
        }
        *self = fresh;
        Ok(true)
    }
}
