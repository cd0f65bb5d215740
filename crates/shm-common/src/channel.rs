//! The API the apps use: a [`Writer`] that publishes messages and a [`Reader`] that reads the
//! latest ones and waits for new ones.

use std::os::fd::AsFd;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use crate::directory::{ChannelSpec, demo_channel};
use crate::error::{
    ChannelError, CreateError, GrowError, LoanError, OpenError, ReadError, SendError,
};
use crate::layout::{Capacities, ControlBlock, LAYOUT_VERSION, Layout, MAX_CAPACITY};
use crate::lease::{HeldRecord, Holder, Lease};
use crate::message::{
    FrameHeader, FrameMessage, ImageMessage, Message, RecordKind, Sink, Source, TestData,
};
use crate::protocol::backoff::Backoff;
use crate::protocol::follow::{STALL_AFTER, Streamed};
use crate::protocol::notify::{self, notify_change};
use crate::protocol::slot::{RecordWrite, Slot};
use crate::protocol::{RecordMeta, RecordNumber};
use crate::schema::Schema;
use crate::segment::{self, CreationMode, Segment, SegmentLocation};
use crate::sys;
use crate::typed::{BytesChannel, Channel, ChannelRef};

/// How long [`Reader::wait_for_change`] spins before sleeping in the kernel. Long enough to
/// catch a writer that is about to publish (a cross-core futex wake-up costs ~50 us on a small
/// VM), short enough that an idle reader costs nothing measurable.
const SPIN_BEFORE_SLEEP: Duration = Duration::from_micros(50);

/// How long [`Reader::wait_for_change`] keeps spinning while a writer is visibly in the middle
/// of a publish (a large picture takes about a millisecond to copy in): waking from the futex
/// would add tens of microseconds to the transfer.
const SPIN_WHILE_WRITING: Duration = Duration::from_millis(10);

/// Channel `index` of `segment` (an index below its channel count).
fn slot(segment: &Segment, index: usize) -> Slot<'_> {
    let control = segment.region.control();
    let channel = &segment.layout.channels[index];
    Slot {
        region: &segment.region,
        control: &control.slots[index],
        layout: channel.slot,
        kind: channel.spec.kind,
    }
}

/// The index of the demo's channel for `kind` records, if `segment` has it.
fn demo_index(segment: &Segment, kind: RecordKind) -> Option<usize> {
    segment.layout.demo_channel(kind)
}

/// The index of channel `name` of `segment`, checked to hold `kind` records.
fn find_channel(segment: &Segment, name: &str, kind: RecordKind) -> Result<usize, OpenError> {
    let index = segment
        .layout
        .channel(name)
        .ok_or_else(|| OpenError::NoChannel {
            segment: segment.location.clone(),
            channel: name.to_owned(),
        })?;
    let found = segment.layout.channels[index].spec.kind;
    if found != kind {
        return Err(OpenError::ChannelKind {
            segment: segment.location.clone(),
            channel: name.to_owned(),
            found,
            expected: kind,
        });
    }
    Ok(index)
}

/// Channel `name` of `segment`, checked to carry values of `T`.
fn find_typed<T: Schema>(segment: &Segment, name: &str) -> Result<Channel<T>, OpenError> {
    let index = find_channel(segment, name, RecordKind::Struct)?;
    let stored = segment.layout.channels[index].spec.descriptor.as_ref();
    if let Some(stored) = stored {
        stored
            .check_matches(&T::descriptor())
            .map_err(|mismatch| OpenError::TypeMismatch {
                segment: segment.location.clone(),
                channel: name.to_owned(),
                mismatch: Box::new(mismatch),
            })?;
    }
    Ok(Channel::new(index, name, segment.instance_id()))
}

/// Channel `name` of `segment`, checked to carry bytes.
fn find_bytes(segment: &Segment, name: &str) -> Result<BytesChannel, OpenError> {
    let index = find_channel(segment, name, RecordKind::Bytes)?;
    Ok(BytesChannel::new(index, name, segment.instance_id()))
}

/// Copies a whole record's bytes into `buffer` (its length checked against the channel's
/// capacity before the call).
fn copy_into(buffer: &mut Vec<u8>, source: &mut dyn Source) -> Result<(), crate::FrameError> {
    buffer.clear();
    buffer.resize(source.remaining(), 0);
    source.read_exact(buffer)
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

/// One channel's state in [`SegmentInfo`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChannelInfo {
    /// The channel: its name, kind, capacity and (for a struct channel) type.
    pub spec: ChannelSpec,
    /// Records published so far (the latest record's sequence number).
    pub published: u64,
    /// Payload length of the latest record, as its metadata claims (0 if none).
    pub last_len: u64,
    /// When the latest record was complete, on the writer's monotonic clock (0 if none).
    pub last_published_ns: u64,
    /// The largest payload the channel holds.
    pub capacity: usize,
}

/// A snapshot of a segment's header and channels, for `shm info` and the apps' status lines.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SegmentInfo {
    /// Where it lives.
    pub location: SegmentLocation,
    /// Its layout version.
    pub layout_version: u32,
    /// Largest picture record in bytes (0: the segment has no picture channel).
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
    /// Its channels, in order (the demo's: picture, struct, frames).
    pub channels: Vec<ChannelInfo>,
}

/// What a read of `segment`, which someone truncated to `len` bytes, reports.
#[cold]
fn truncated(segment: &Segment, len: u64) -> ReadError {
    ReadError::FileTruncated {
        segment: segment.location.clone(),
        len,
    }
}

fn info(segment: &Segment) -> Result<SegmentInfo, ReadError> {
    if let Some(len) = segment.truncated_file_len(true) {
        return Err(truncated(segment, len));
    }
    let control = segment.region.control();
    let channels = (0..segment.layout.channels.len())
        .map(|index| {
            let slot = slot(segment, index);
            let published = slot.newest().number();
            let meta = &slot.control.buffers[RecordNumber(published).buffer()];
            // Relaxed: a snapshot for display, which may be a record newer than `published`.
            let (last_len, last_published_ns) = if published == 0 {
                (0, 0)
            } else {
                (
                    meta.len.load(Ordering::Relaxed),
                    meta.published_ns.load(Ordering::Relaxed),
                )
            };
            ChannelInfo {
                spec: segment.layout.channels[index].spec.clone(),
                published,
                last_len,
                last_published_ns,
                capacity: slot.layout.capacity,
            }
        })
        .collect();
    let capacities = segment.layout.capacities();
    Ok(SegmentInfo {
        location: segment.location.clone(),
        layout_version: LAYOUT_VERSION,
        capacity: capacities.picture,
        frame_capacity: capacities.frame,
        total_size: segment.layout.total_size,
        instance_id: segment.instance_id(),
        writer: writer_status(segment),
        // Relaxed: a counter for display.
        writer_generation: control.writer.generation.load(Ordering::Relaxed),
        // Relaxed: a snapshot for display.
        persist: control.writer.persist.load(Ordering::Relaxed) != 0,
        channels,
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
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Growth {
    /// The kind of record that did not fit.
    pub kind: RecordKind,
    /// The channel it did not fit.
    pub channel: String,
    /// The capacities of the demo's picture and frame channels in the larger segment.
    pub capacities: Capacities,
    /// Its channels.
    pub channels: Vec<ChannelSpec>,
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

/// The channels a writer asking for `wanted` needs in a segment that has `existing`: `None`
/// if it has them all; otherwise the existing ones followed by the missing ones. A channel
/// that exists with another kind or type is refused.
fn merged_channels(
    segment: &Segment,
    wanted: &[ChannelSpec],
) -> Result<Option<Vec<ChannelSpec>>, OpenError> {
    let mut channels = segment.layout.specs();
    for spec in wanted {
        let Some(index) = segment.layout.channel(spec.name.as_str()) else {
            channels.push(spec.clone());
            continue;
        };
        let existing = &channels[index];
        if existing.kind != spec.kind {
            return Err(OpenError::ChannelKind {
                segment: segment.location.clone(),
                channel: spec.name.to_string(),
                found: existing.kind,
                expected: spec.kind,
            });
        }
        if let (Some(found), Some(expected)) = (&existing.descriptor, &spec.descriptor) {
            found
                .check_matches(expected)
                .map_err(|mismatch| OpenError::TypeMismatch {
                    segment: segment.location.clone(),
                    channel: spec.name.to_string(),
                    mismatch: Box::new(mismatch),
                })?;
        }
    }
    Ok((channels.len() > segment.layout.channels.len()).then_some(channels))
}

/// A failed move to a new segment, as the failure of the writer's creation that needed it.
fn replace_error(err: GrowError) -> CreateError {
    match err {
        GrowError::Create { source, .. } => *source,
        other => CreateError::Replace(Box::new(other)),
    }
}

/// The one process allowed to publish to a segment.
///
/// Created with [`Writer::create`] (the demo's channels) or [`Writer::create_with`] (channels
/// of your own), which take the segment's writer lock: a second live writer gets
/// [`CreateError::WriterActive`] naming the first one's pid, and the lock of a writer that died
/// is taken over. Dropping the writer releases the lock and, for a named segment that this
/// writer created or published to, removes the segment's name (see the crate docs on lifetime)
/// unless [`Writer::set_persist`] was called.
pub struct Writer {
    segment: Segment,
    persist: bool,
    published_any: bool,
    /// A larger segment took this one's name: closing must leave the name alone.
    superseded: bool,
    /// Let go of as a crashed writer would ([`Writer::abandon`]): closing stores nothing.
    abandoned: bool,
    /// For each one-line channel this writer has published to, the number its next record
    /// gets (see [`Writer::next_record`]).
    next_records: Vec<Option<RecordNumber>>,
}

impl Writer {
    /// Creates or opens the demo's segment (picture, struct and frame channels) at `location`
    /// and takes its writer lock, which the kernel holds for this writer until it is dropped
    /// or its process ends, however it ends.
    ///
    /// A new segment gets the [`Capacity`] asked for, its space reserved on the spot
    /// ([`CreateError::NoSpace`] if the file system cannot hold it). An existing one keeps its
    /// own, unless [`Capacity::AtLeast`] asks for more: then it is re-created at the requested
    /// capacity and its latest records are carried over. A named segment left half-created by
    /// a writer that died is set up afresh.
    pub fn create(
        location: &SegmentLocation,
        mode: CreationMode,
        capacity: Capacity,
    ) -> Result<Writer, CreateError> {
        let bytes = capacity.bytes();
        if !(crate::MIN_CAPACITY..=MAX_CAPACITY).contains(&bytes) {
            return Err(CreateError::Capacity { capacity: bytes });
        }
        let mut writer = Writer::create_with(location, mode, ChannelSpec::demo(bytes, 0))?;
        let picture = writer.segment.layout.capacities().picture;
        if matches!(capacity, Capacity::AtLeast(_))
            && !writer.segment.created
            && mode == CreationMode::CreateOrOpen
            && picture < bytes
        {
            let channels = writer
                .segment
                .layout
                .specs()
                .into_iter()
                .map(|spec| match spec.kind {
                    RecordKind::Image => spec.with_capacity(bytes),
                    _ => spec,
                })
                .collect();
            writer.replace_with(channels).map_err(replace_error)?;
        }
        Ok(writer)
    }

    /// Creates or opens a segment with `channels` at `location` and takes its writer lock.
    ///
    /// A new segment gets exactly these channels. An existing one is used if it has them all
    /// (each keeps its own capacity); if some are missing it is re-created with its own
    /// channels and the missing ones, its latest records carried over, and its readers move
    /// with it ([`Reader::reopen_if_replaced`]). A channel that exists with another kind or
    /// type is refused ([`OpenError::ChannelKind`], [`OpenError::TypeMismatch`]).
    pub fn create_with(
        location: &SegmentLocation,
        mode: CreationMode,
        channels: Vec<ChannelSpec>,
    ) -> Result<Writer, CreateError> {
        let channels_error = |source: ChannelError| CreateError::Channels {
            segment: location.clone(),
            source,
        };
        let layout = Layout::for_channels(channels.clone()).map_err(channels_error)?;
        let segment = Segment::for_writer(location, mode, layout)?;
        // Checked before this writer names itself in the segment: a refusal changes nothing.
        let merged = if segment.created {
            None
        } else {
            merged_channels(&segment, &channels)?
        };
        claim(&segment);
        let mut writer = Writer::around(segment);
        if let Some(merged) = merged {
            writer.replace_with(merged).map_err(replace_error)?;
        }
        Ok(writer)
    }

    /// Moves to a new segment with `channels` under the same name (see [`Writer::grow`]).
    fn replace_with(&mut self, channels: Vec<ChannelSpec>) -> Result<(), GrowError> {
        let layout = Layout::for_channels(channels).map_err(|source| GrowError::Create {
            segment: self.segment.location.clone(),
            source: Box::new(CreateError::Channels {
                segment: self.segment.location.clone(),
                source,
            }),
        })?;
        let mut next = successor(&self.segment, layout)?;
        next.set_persist(self.persist);
        next.published_any = true;
        let mut old = std::mem::replace(self, next);
        // Its drop releases the old lock and wakes the old segment's readers, who find it
        // replaced; the name is the new segment's now.
        old.superseded = true;
        drop(old);
        Ok(())
    }

    fn around(segment: Segment) -> Writer {
        Writer {
            next_records: vec![None; segment.layout.channels.len()],
            segment,
            persist: false,
            published_any: false,
            superseded: false,
            abandoned: false,
        }
    }

    /// Lets go of the segment as a writer that crashed would: the segment, its records and this
    /// writer's pid stay, the lock is released, and readers see [`WriterStatus::Crashed`] (a
    /// next writer carries on, as after any crash). For a program that mirrors another
    /// machine's segment (`shm-bridge`) and passes on that the writer there crashed.
    pub fn abandon(mut self) {
        self.abandoned = true;
        if sys::unlock_writer(self.segment.region.file()).is_ok() {
            self.segment.locked = false;
        }
        // Dropping stores nothing but wakes the readers, which find the lock free.
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

    /// Largest picture record in bytes (0 if the segment has no picture channel).
    pub fn capacity(&self) -> usize {
        self.segment.layout.capacities().picture
    }

    /// What the segment's picture and frame channels hold.
    pub fn capacities(&self) -> Capacities {
        self.segment.layout.capacities()
    }

    /// The segment's channels, in order.
    pub fn channels(&self) -> Vec<ChannelSpec> {
        self.segment.layout.specs()
    }

    /// Size of the whole segment in bytes.
    pub fn total_size(&self) -> usize {
        self.segment.layout.total_size
    }

    /// Whether this writer created the segment (rather than opening an existing one).
    pub fn created(&self) -> bool {
        self.segment.created
    }

    /// A snapshot of the segment's header and channels ([`ReadError::FileTruncated`] if
    /// someone truncated its file).
    pub fn info(&self) -> Result<SegmentInfo, ReadError> {
        info(&self.segment)
    }

    /// Whether a record of `kind` with `len` encoded bytes fits the demo's channel for it.
    pub fn fits(&self, kind: RecordKind, len: usize) -> bool {
        demo_index(&self.segment, kind)
            .is_some_and(|index| len <= self.segment.layout.channels[index].slot.capacity)
    }

    /// The larger segment a record of `kind` with `len` encoded bytes needs, checked against
    /// the space left where the segment lives (`/dev/shm` for a named segment).
    pub fn plan_growth(&self, kind: RecordKind, len: usize) -> Result<Growth, GrowError> {
        let too_large = |max| GrowError::TooLarge {
            kind,
            size: len,
            max,
        };
        let index = demo_index(&self.segment, kind)
            .filter(|_| kind != RecordKind::Struct)
            .ok_or_else(|| too_large(crate::TestData::SIZE))?;
        let capacity = capacity_for(len).ok_or_else(|| too_large(MAX_CAPACITY))?;
        let mut channels = self.segment.layout.specs();
        let grown = &mut channels[index];
        *grown = grown.with_capacity(capacity.max(grown.capacity));
        let name = grown.name.to_string();
        let layout = Layout::for_channels(channels).map_err(|_| too_large(MAX_CAPACITY))?;
        let growth = Growth {
            kind,
            channel: name,
            capacities: layout.capacities(),
            total_size: layout.total_size,
            previous_total_size: self.segment.layout.total_size,
            channels: layout.specs(),
        };
        let directory = self.segment.location.storage_dir();
        // Both segments exist until every reader has moved over, so the new one needs its
        // whole size free. (If the file system cannot be asked, creation will tell.)
        if let Ok(space) = sys::space(&directory)
            && space.available < growth.total_size as u64
        {
            return Err(GrowError::NoSpace {
                segment: self.segment.location.clone(),
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
    /// channel, and then takes the old one's name in one atomic rename, so a reader never
    /// finds the name missing. The old segment is marked as replaced
    /// ([`WriterStatus::Replaced`]): readers reopen the name and go on
    /// ([`Reader::reopen_if_replaced`]). If anything fails, the old segment stays as it was and
    /// this writer keeps writing to it.
    pub fn grow(&mut self, growth: &Growth) -> Result<(), GrowError> {
        self.replace_with(growth.channels.clone())
    }

    /// The channel `name`, checked to carry values of `T`, to publish to with
    /// [`Writer::publish`].
    pub fn channel<T: Schema>(&self, name: &str) -> Result<Channel<T>, OpenError> {
        find_typed(&self.segment, name)
    }

    /// The bytes channel `name`, to publish to with [`Writer::publish_bytes`].
    pub fn bytes_channel(&self, name: &str) -> Result<BytesChannel, OpenError> {
        find_bytes(&self.segment, name)
    }

    /// Publishes `value` to its channel and wakes waiting readers.
    pub fn publish<T: Schema>(
        &mut self,
        channel: &Channel<T>,
        value: &T,
    ) -> Result<RecordMeta, SendError> {
        let index = self.resolve(channel.target())?;
        self.publish_to(index, size_of::<T>(), |sink| {
            sink.put(bytemuck::bytes_of(value))
        })
    }

    /// Publishes `bytes` as the next record of the channel named `name`, whatever it holds:
    /// for tools and other languages' bindings that encode a channel's records themselves, a
    /// struct channel's from the [`TypeDescriptor`](crate::TypeDescriptor) stored with it
    /// ([`SendError::StructSize`] unless `bytes` is exactly its size). Readers check pictures
    /// and frames sent this way as any others; [`Writer::send_image`] and
    /// [`Writer::send_frame`] frame them for you.
    pub fn publish_raw(&mut self, name: &str, bytes: &[u8]) -> Result<RecordMeta, SendError> {
        self.publish_raw_started(name, bytes, None)
    }

    /// [`Writer::publish_raw`] for a record that began elsewhere, at `started_ns` on this
    /// machine's monotonic clock (a bridge's record, its first writer's start carried over):
    /// readers' transfer times then include the way here ([`RecordMeta::delivery`]). `None`:
    /// now, as `publish_raw`.
    pub fn publish_raw_started(
        &mut self,
        name: &str,
        bytes: &[u8],
        started_ns: Option<u64>,
    ) -> Result<RecordMeta, SendError> {
        let index = self
            .segment
            .layout
            .channel(name)
            .ok_or_else(|| SendError::NoChannel {
                segment: self.segment.location.clone(),
                channel: name.to_owned(),
            })?;
        let spec = &self.segment.layout.channels[index].spec;
        if spec.kind == RecordKind::Struct && bytes.len() != spec.capacity {
            return Err(SendError::StructSize {
                channel: name.to_owned(),
                len: bytes.len(),
                size: spec.capacity,
            });
        }
        self.publish_started_to(index, bytes.len(), |sink| sink.put(bytes), started_ns)
    }

    /// Publishes `bytes` to a bytes channel and wakes waiting readers; more bytes than the
    /// channel holds are refused ([`SendError::TooLarge`]) and leave it as it was.
    pub fn publish_bytes(
        &mut self,
        channel: &BytesChannel,
        bytes: &[u8],
    ) -> Result<RecordMeta, SendError> {
        let index = self.resolve(channel.target())?;
        self.publish_to(index, bytes.len(), |sink| sink.put(bytes))
    }

    /// A handle's channel index in this writer's segment: the handle's own if the channel
    /// there still has its name (growing keeps the channels' order and types), else looked up.
    fn resolve(&self, target: &ChannelRef) -> Result<usize, SendError> {
        let channels = &self.segment.layout.channels;
        if channels
            .get(target.index)
            .is_some_and(|channel| channel.spec.name.as_str() == target.name)
        {
            return Ok(target.index);
        }
        self.segment
            .layout
            .channel(&target.name)
            .ok_or_else(|| SendError::NoChannel {
                segment: self.segment.location.clone(),
                channel: target.name.clone(),
            })
    }

    /// Publishes a message to the demo's channel for it and wakes waiting readers.
    ///
    /// A message larger than the channel is refused with [`SendError::TooLarge`] before
    /// anything is written: the previous record stays intact.
    pub fn send<M: Message>(&mut self, message: &M) -> Result<RecordMeta, SendError> {
        self.publish_demo(M::KIND, message.encoded_len(), |mut sink| {
            message.encode(&mut sink)
        })
    }

    /// Publishes a picture from borrowed parts (no copy into an [`ImageMessage`] first).
    pub fn send_image(&mut self, path: &str, bytes: &[u8]) -> Result<RecordMeta, SendError> {
        let len = ImageMessage::framed_len(path, bytes.len());
        self.publish_demo(RecordKind::Image, len, |mut sink| {
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
        self.publish_demo(RecordKind::Frame, len, |mut sink| {
            FrameMessage::encode_header(header, &mut sink);
            for part in parts {
                sink.put(part);
            }
        })
    }

    /// Publishes to the demo's channel for `kind`.
    fn publish_demo(
        &mut self,
        kind: RecordKind,
        len: usize,
        encode: impl FnOnce(&mut dyn Sink),
    ) -> Result<RecordMeta, SendError> {
        let index = self.demo_index(kind)?;
        self.publish_to(index, len, encode)
    }

    /// The index of the demo's `kind` channel, which a segment made for other data lacks.
    #[inline]
    fn demo_index(&self, kind: RecordKind) -> Result<usize, SendError> {
        match demo_index(&self.segment, kind) {
            Some(index) => Ok(index),
            None => Err(self.no_demo_channel(kind)),
        }
    }

    /// The error for a segment without the demo's `kind` channel, out of the send path.
    #[cold]
    fn no_demo_channel(&self, kind: RecordKind) -> SendError {
        SendError::NoChannel {
            segment: self.segment.location.clone(),
            channel: demo_channel(kind).unwrap_or_default().to_owned(),
        }
    }

    /// Begins a picture of `len` bytes named `path` that is filled in place, straight in
    /// shared memory: [`ImageLoan::fill_from`] reads a file into it with `read(2)` (the
    /// kernel's copy is then the only one), [`ImageLoan::write`] copies bytes in as they come,
    /// and [`ImageLoan::publish`] publishes it. Readers following writes
    /// ([`Reader::read_next_into`]) copy the bytes as they land. A loan dropped unpublished is
    /// given up: the picture sent before stays the latest, and readers following it stop at
    /// once. Refused as [`Writer::send_image`] refuses a picture that does not fit.
    pub fn loan_image(&mut self, path: &str, len: usize) -> Result<ImageLoan<'_>, SendError> {
        let index = self.demo_index(RecordKind::Image)?;
        let framed = ImageMessage::framed_len(path, len);
        self.check_room(index, framed)?;
        self.published_any = true;
        let control = self.segment.region.control();
        let mut write = slot(&self.segment, index).begin(framed);
        // Readers asleep in `wait_for_next` are woken to follow it.
        notify_change(control);
        ImageMessage::encode_header(path, len, &mut write.sink);
        Ok(ImageLoan {
            write: Some(write),
            control,
            len,
            filled: 0,
        })
    }

    /// Refuses a record of `len` bytes that channel `index` cannot hold, or a segment whose file
    /// was cut short.
    #[inline]
    fn check_room(&self, index: usize, len: usize) -> Result<(), SendError> {
        let layout = self.segment.layout.channels[index].slot;
        if len > layout.capacity {
            return Err(self.too_large(index, len));
        }
        // A one-line record lives in the control page; the others in the data buffers.
        match self.segment.truncated_file_len(!layout.is_one_line()) {
            None => Ok(()),
            Some(len) => Err(self.truncated(len)),
        }
    }

    #[cold]
    fn too_large(&self, index: usize, size: usize) -> SendError {
        let channel = &self.segment.layout.channels[index];
        SendError::TooLarge {
            kind: channel.spec.kind,
            size,
            capacity: channel.slot.capacity,
            segment: self.segment.location.clone(),
        }
    }

    #[cold]
    fn truncated(&self, len: u64) -> SendError {
        SendError::FileTruncated {
            segment: self.segment.location.clone(),
            len,
        }
    }

    fn publish_to(
        &mut self,
        index: usize,
        len: usize,
        encode: impl FnOnce(&mut dyn Sink),
    ) -> Result<RecordMeta, SendError> {
        self.publish_started_to(index, len, encode, None)
    }

    /// [`Writer::publish_to`], the record's start time `started_ns` if given.
    fn publish_started_to(
        &mut self,
        index: usize,
        len: usize,
        encode: impl FnOnce(&mut dyn Sink),
        started_ns: Option<u64>,
    ) -> Result<RecordMeta, SendError> {
        self.check_room(index, len)?;
        let number = self.next_record(index);
        let slot = slot(&self.segment, index);
        let control = self.segment.region.control();
        // Readers asleep in `wait_for_next` are woken when a large record starts, to follow it.
        let meta = slot.publish(number, len, encode, || notify_change(control), started_ns);
        if let Some(next) = self.next_records.get_mut(index)
            && slot.layout.is_one_line()
        {
            *next = Some(number.next());
        }
        self.published_any = true;
        notify_change(control);
        Ok(meta)
    }

    /// The number channel `index`'s next record gets. A one-line channel's is the one after
    /// this writer's last record there, once it has published one: its sequence words lie on
    /// the descriptor lines readers poll, and loading one that a reader on another core has
    /// just read brings the line back across, a transfer more on every publish (on this
    /// project's VM the 48-byte round trip's median went from 0.90 to 0.68 µs while cross-core
    /// traffic was slow, from 0.27 to 0.25 while it was fast). Nobody else stores
    /// the words while this writer holds the lock. A larger channel's number comes from the
    /// words every time: a write given up midway leaves its number to the next record, and one
    /// transfer is nothing beside its bytes.
    #[inline]
    fn next_record(&self, index: usize) -> RecordNumber {
        match self.next_records.get(index) {
            Some(&Some(number)) => number,
            _ => slot(&self.segment, index).next_record(),
        }
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
        if !self.abandoned {
            // Release: the next writer, which swaps its pid in with Acquire, sees every record.
            control.writer.pid.store(0, Ordering::Release);
        }
        // Relaxed: a counter readers compare for inequality only.
        control.writer.generation.fetch_add(1, Ordering::Relaxed);
        notify_change(control);
        if !self.abandoned && self.removes_on_close() {
            // Already gone (someone ran `shm remove`) is fine; there is nobody to tell otherwise.
            let _ = self.segment.unlink_if_ours();
        }
    }
}

/// Publishes the latest record of every channel of `old` into the channel of the same name of
/// `writer`'s segment, which is at least as large. A record that cannot be read (a damaged
/// segment) is left behind rather than failing the move.
fn carry_over(old: &Segment, writer: &mut Writer) {
    let mut buffer = Vec::new();
    for (index, channel) in old.layout.channels.iter().enumerate() {
        let read = slot(old, index).read(|source| copy_into(&mut buffer, source));
        let Some(target) = writer.segment.layout.channel(channel.spec.name.as_str()) else {
            continue;
        };
        if matches!(read, Ok(Some(_))) {
            let _ = writer.publish_to(target, buffer.len(), |sink| sink.put(&buffer));
        }
    }
}

/// Creates a segment with `layout` beside `old`, takes its lock, carries `old`'s latest
/// records over and renames it into `old`'s place; then marks `old` as replaced. On failure
/// `old` is untouched and the new segment is gone.
fn successor(old: &Segment, layout: Layout) -> Result<Writer, GrowError> {
    let location = &old.location;
    let create_error = |source| GrowError::Create {
        segment: location.clone(),
        source: Box::new(source),
    };
    let beside = segment::location_beside(location);
    // The name carries our pid: anything already there was left by a dead process that had it.
    let _ = segment::remove(&beside);
    let fresh =
        Segment::for_writer(&beside, CreationMode::CreateNew, layout).map_err(create_error)?;
    claim(&fresh);
    let mut fresh = Writer::around(fresh);
    // Its own closing steps must not remove anything: on failure we remove it below, on
    // success it is the live segment.
    fresh.superseded = true;
    carry_over(old, &mut fresh);
    let moved = segment::rename(&beside, location).map_err(|source| GrowError::Rename {
        segment: location.clone(),
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

/// A picture being written straight into shared memory ([`Writer::loan_image`]).
///
/// Fill it with [`ImageLoan::fill_from`] or [`ImageLoan::write`], then [`ImageLoan::publish`]
/// it. Dropped unpublished (after an error, say), it is given up: nothing is published, the
/// picture sent before stays the latest, and readers following the write stop at once.
pub struct ImageLoan<'w> {
    write: Option<RecordWrite<'w>>,
    control: &'w ControlBlock,
    len: usize,
    filled: usize,
}

impl ImageLoan<'_> {
    /// The picture's length in bytes, as announced.
    pub fn picture_len(&self) -> usize {
        self.len
    }

    /// How many of its bytes are filled.
    pub fn filled(&self) -> usize {
        self.filled
    }

    /// Copies `bytes` in after those filled; refused whole if they do not fit.
    pub fn write(&mut self, bytes: &[u8]) -> Result<(), LoanError> {
        if bytes.len() > self.len - self.filled {
            return Err(LoanError::TooMany {
                given: bytes.len(),
                filled: self.filled,
                len: self.len,
            });
        }
        if let Some(write) = self.write.as_mut() {
            write.sink.put(bytes);
            self.filled += bytes.len();
        }
        Ok(())
    }

    /// Reads the rest of the picture from `source` (a file, a pipe, a socket) with `read(2)`
    /// straight into shared memory. Reads the descriptor itself: bytes a buffered reader over
    /// it already took are not seen. [`LoanError::SourceEnded`] if it ends first.
    pub fn fill_from(&mut self, source: impl AsFd) -> Result<(), LoanError> {
        let (filled, len) = (self.filled, self.len);
        let read_error = |source| LoanError::Read {
            filled,
            len,
            source,
        };
        // A descriptor of its own (sharing the file position) to read through.
        let file = std::fs::File::from(source.as_fd().try_clone_to_owned().map_err(read_error)?);
        let Some(write) = self.write.as_mut() else {
            return Ok(());
        };
        let got = write.sink.fill_from(&file, len - filled);
        match got {
            Ok(got) => self.filled += got,
            Err(err) => return Err(read_error(err)),
        }
        if self.filled < self.len {
            return Err(LoanError::SourceEnded {
                filled: self.filled,
                len: self.len,
            });
        }
        Ok(())
    }

    /// The checksum the record carries if published now: equal to
    /// [`ImageMessage::checksum_of`] the path and the bytes filled, so a caller can check the
    /// bytes a file gave against those it expected before publishing them.
    pub fn checksum(&self) -> u64 {
        self.write.as_ref().map_or(0, RecordWrite::checksum_now)
    }

    /// Publishes the picture, once every byte is filled, and wakes waiting readers.
    pub fn publish(mut self) -> Result<RecordMeta, LoanError> {
        if self.filled < self.len {
            return Err(LoanError::Unfilled {
                filled: self.filled,
                len: self.len,
            });
        }
        let write = self.write.take().ok_or(LoanError::Unfilled {
            filled: self.filled,
            len: self.len,
        })?;
        let meta = write.commit();
        notify_change(self.control);
        Ok(meta)
    }
}

impl Drop for ImageLoan<'_> {
    /// Gives an unpublished write up and wakes readers following it.
    fn drop(&mut self) {
        if let Some(write) = self.write.take() {
            write.abandon(&self.control.writer.generation);
            notify_change(self.control);
        }
    }
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
    for index in 0..segment.layout.channels.len() {
        slot(segment, index).abandon_dead_write(&control.writer.generation);
    }
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
    /// Per channel, the number of the last record this reader read (or skipped).
    seen_sequences: Vec<u64>,
    seen_generation: u32,
    seen_counter: u32,
    /// Per channel, the sequence word of a write this reader spun on to the limit without
    /// seeing it finish (a writer that died mid-write): not spun on again.
    stalled_writes: Vec<u64>,
    /// How long to follow a write that makes no progress.
    stall_timeout: Duration,
    /// How the waits wait.
    wait_mode: WaitMode,
    /// A lease's copy when the record cannot be held in place, and the bytes of a write a
    /// lease follows, passing through.
    scratch: Vec<u8>,
}

/// What follows the last record a reader read.
enum Next {
    /// Nothing yet.
    Nothing,
    /// The record being written was followed to its end.
    Followed(RecordMeta),
    /// A newer complete record is there to read.
    Newest,
}

/// The bytes a lease following a write passes through at a time: small enough to stay in the
/// cache, large enough that each pass is one long run of wide loads.
const STREAM_PASS: usize = 64 * 1024;

/// How a [`Reader`] waits for what it has not read yet ([`Reader::set_wait_mode`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum WaitMode {
    /// Spins for up to 50 µs (longer while a writer is visibly in the middle of a record), then
    /// sleeps on the segment's futex until a writer publishes: no CPU while idle. A reader
    /// woken onto the CPU its writer woke it from moves to another CPU its affinity allows
    /// (its affinity is set without that CPU, then back): otherwise, with two processes
    /// answering each other, each answer would wait out the other's spin until the scheduler
    /// moved one away (on a 2-CPU VM: round trips of about 110 µs, over 1 % of them in most
    /// runs).
    #[default]
    SpinThenSleep,
    /// Spins until something arrives or the timeout passes, never sleeping: the lowest and
    /// steadiest latency, at the cost of a whole CPU for as long as the reader waits.
    BusyPoll,
}

impl Reader {
    /// Opens an existing segment; [`OpenError::NotFound`] if no writer created it yet. One whose
    /// creator is still setting it up is waited for, half a second at most.
    pub fn open(location: &SegmentLocation) -> Result<Reader, OpenError> {
        Ok(Reader::around(Segment::for_reader(location)?))
    }

    /// A reader of `segment` that has read nothing yet.
    fn around(segment: Segment) -> Reader {
        let channels = segment.layout.channels.len();
        Reader {
            segment,
            seen_sequences: vec![0; channels],
            seen_generation: 0,
            seen_counter: 0,
            stalled_writes: vec![0; channels],
            stall_timeout: STALL_AFTER,
            wait_mode: WaitMode::default(),
            scratch: Vec::new(),
        }
    }

    /// Where the segment lives.
    pub fn location(&self) -> &SegmentLocation {
        &self.segment.location
    }

    /// Largest picture record in bytes (0 if the segment has no picture channel).
    pub fn capacity(&self) -> usize {
        self.segment.layout.capacities().picture
    }

    /// What the segment's picture and frame channels hold.
    pub fn capacities(&self) -> Capacities {
        self.segment.layout.capacities()
    }

    /// The segment's channels, in order.
    pub fn channels(&self) -> Vec<ChannelSpec> {
        self.segment.layout.specs()
    }

    /// A snapshot of the segment's header and channels ([`ReadError::FileTruncated`] if
    /// someone truncated its file).
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

    /// The channel `name`, checked to carry values of `T` ([`OpenError::TypeMismatch`] names
    /// both types and what differs), to read with [`Reader::latest_value`].
    pub fn channel<T: Schema>(&self, name: &str) -> Result<Channel<T>, OpenError> {
        find_typed(&self.segment, name)
    }

    /// The bytes channel `name`, to read with [`Reader::read_bytes_into`].
    pub fn bytes_channel(&self, name: &str) -> Result<BytesChannel, OpenError> {
        find_bytes(&self.segment, name)
    }

    /// The latest value of a struct channel, if any was published.
    pub fn latest_value<T: Schema>(
        &mut self,
        channel: &Channel<T>,
    ) -> Result<Option<(T, RecordMeta)>, ReadError> {
        let index = self.resolve_typed(channel)?;
        let mut value = T::zeroed();
        let meta = self.read_channel(index, |source| {
            if source.remaining() != size_of::<T>() {
                return Err(crate::FrameError::StructSize {
                    len: source.remaining(),
                });
            }
            source.read_exact(bytemuck::bytes_of_mut(&mut value))
        })?;
        Ok(meta.map(|meta| (value, meta)))
    }

    /// Reads the latest record of a bytes channel into `buffer`, reusing its allocation;
    /// `Ok(None)` (and `buffer` untouched) if none was published.
    pub fn read_bytes_into(
        &mut self,
        channel: &BytesChannel,
        buffer: &mut Vec<u8>,
    ) -> Result<Option<RecordMeta>, ReadError> {
        let index = self.resolve_bytes(channel.target())?;
        self.read_raw(index, buffer)
    }

    /// Reads the latest record of the channel named `name`, whatever it holds, into `buffer`
    /// as raw bytes: for tools that show any channel (a struct channel's bytes are read
    /// through its [`TypeDescriptor`](crate::TypeDescriptor), see [`Reader::channels`]).
    pub fn read_channel_into(
        &mut self,
        name: &str,
        buffer: &mut Vec<u8>,
    ) -> Result<Option<RecordMeta>, ReadError> {
        let index = self.channel_index(name)?;
        self.read_raw(index, buffer)
    }

    /// Whether the segment has a channel named `name`.
    pub fn has_channel(&self, name: &str) -> bool {
        self.segment.layout.channel(name).is_some()
    }

    /// Whether the channel named `name` has a record this reader has not read.
    pub fn channel_has_new(&self, name: &str) -> bool {
        self.segment
            .layout
            .channel(name)
            .is_some_and(|index| self.has_new_at(index))
    }

    /// Copies channel `index`'s latest record into `buffer`; `buffer` is untouched if there is
    /// none, and its contents unspecified after an error.
    fn read_raw(
        &mut self,
        index: usize,
        buffer: &mut Vec<u8>,
    ) -> Result<Option<RecordMeta>, ReadError> {
        self.read_channel(index, |source| copy_into(buffer, source))
    }

    fn channel_index(&self, name: &str) -> Result<usize, ReadError> {
        self.segment
            .layout
            .channel(name)
            .ok_or_else(|| ReadError::NoChannel {
                segment: self.segment.location.clone(),
                channel: name.to_owned(),
            })
    }

    /// A bytes handle's channel index in this reader's segment: the handle's own if it was made
    /// for this segment, else looked up by name.
    fn resolve_bytes(&self, target: &ChannelRef) -> Result<usize, ReadError> {
        if target.instance_id == self.segment.instance_id() {
            return Ok(target.index);
        }
        self.channel_index(&target.name)
    }

    /// A typed handle's channel index: in another segment than the handle was made for (the
    /// writer re-created it), looked up and its type checked again.
    fn resolve_typed<T: Schema>(&self, channel: &Channel<T>) -> Result<usize, ReadError> {
        let target = channel.target();
        if target.instance_id == self.segment.instance_id() {
            return Ok(target.index);
        }
        let typed = find_typed::<T>(&self.segment, &target.name)
            .map_err(|source| ReadError::ChannelChanged(Box::new(source)))?;
        Ok(typed.target().index)
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
        let index = self.demo_channel(M::KIND)?;
        self.read_channel(index, |source| message.decode_into(&mut &mut *source))
    }

    /// The demo's channel for `kind`, or [`ReadError::NoChannel`].
    #[inline]
    fn demo_channel(&self, kind: RecordKind) -> Result<usize, ReadError> {
        match demo_index(&self.segment, kind) {
            Some(index) => Ok(index),
            None => Err(self.no_demo_channel(kind)),
        }
    }

    /// The error for a segment without the demo's `kind` channel, out of the read path.
    #[cold]
    fn no_demo_channel(&self, kind: RecordKind) -> ReadError {
        ReadError::NoChannel {
            segment: self.segment.location.clone(),
            channel: demo_channel(kind).unwrap_or_default().to_owned(),
        }
    }

    /// A file segment someone truncated is reported instead of touching its missing pages.
    #[inline]
    fn check_file_length(&self, index: usize) -> Result<(), ReadError> {
        let in_data_buffers = !self.segment.layout.channels[index].slot.is_one_line();
        match self.segment.truncated_file_len(in_data_buffers) {
            None => Ok(()),
            Some(len) => Err(truncated(&self.segment, len)),
        }
    }

    /// Reads the latest record of channel `index` through `decode`, once the file length is
    /// checked.
    fn read_channel(
        &mut self,
        index: usize,
        mut decode: impl FnMut(&mut dyn Source) -> Result<(), crate::FrameError>,
    ) -> Result<Option<RecordMeta>, ReadError> {
        self.check_file_length(index)?;
        let read = slot(&self.segment, index).read(&mut decode);
        if let Ok(Some(meta)) = &read {
            self.seen_sequences[index] = meta.sequence;
        }
        read
    }

    /// How [`Reader::wait_for_change`] and [`Reader::wait_for_next`] wait ([`WaitMode`]: spin,
    /// then sleep, unless set).
    pub fn set_wait_mode(&mut self, mode: WaitMode) {
        self.wait_mode = mode;
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
        let index = self.demo_channel(M::KIND)?;
        self.check_file_length(index)?;
        match self.follow_next(index, |mut source| message.decode_into(&mut source))? {
            Next::Followed(meta) => Ok(Some(meta)),
            Next::Nothing => Ok(None),
            Next::Newest => {
                self.read_channel(index, |source| message.decode_into(&mut &mut *source))
            }
        }
    }

    /// If channel `index` has no record this reader has not read, follows the one being
    /// written now, if any, through `decode`.
    fn follow_next(
        &mut self,
        index: usize,
        decode: impl FnOnce(&mut dyn Source) -> Result<(), crate::FrameError>,
    ) -> Result<Next, ReadError> {
        if self.has_new_at(index) {
            return Ok(Next::Newest);
        }
        let followed = slot(&self.segment, index).stream(
            self.seen_sequences[index],
            self.stalled_writes[index],
            self.stall_timeout,
            decode,
        )?;
        match followed {
            Streamed::Read(meta) => {
                self.seen_sequences[index] = meta.sequence;
                return Ok(Next::Followed(meta));
            }
            Streamed::Stalled(word) => self.stalled_writes[index] = word,
            Streamed::NotWriting | Streamed::Overtaken => {}
        }
        Ok(if self.has_new_at(index) {
            Next::Newest
        } else {
            Next::Nothing
        })
    }

    /// Holds the latest record of the channel `name` for reading where it lies, without
    /// copying it: decode a picture, upload a frame or hash bytes straight from the segment
    /// ([`Lease`]). `Ok(None)` if nothing was published.
    ///
    /// The writer never waits for a lease: while one lives it writes the channel's next
    /// records into its other two buffers. A channel has one lease; while another reader holds
    /// it, the lease is a copy ([`Lease::is_in_place`] says which). The bytes are checked
    /// against the record's checksum before the lease is returned.
    pub fn lease(&mut self, name: &str) -> Result<Option<Lease<'_>>, ReadError> {
        let index = self.channel_index(name)?;
        self.check_file_length(index)?;
        self.lease_newest(index, None)?
            .map(Lease::check)
            .transpose()
    }

    /// Holds the latest record of the channel `name` where it lies, as [`Reader::lease`] does,
    /// but does not check it yet: for a reader that copies it out anyway,
    /// [`HeldRecord::copy_into`] copies and checks it in one pass. `Ok(None)` if nothing was
    /// published.
    pub fn hold(&mut self, name: &str) -> Result<Option<HeldRecord<'_>>, ReadError> {
        let index = self.channel_index(name)?;
        self.check_file_length(index)?;
        let held = self.lease_newest(index, None)?;
        Ok(held.map(|lease| HeldRecord { lease }))
    }

    /// Holds the record of channel `name` after the last one this reader read, as
    /// [`Reader::read_next_into`] reads it: the newest complete one if there is a newer one;
    /// otherwise the one being written now, whose bytes are checked while the writer writes
    /// them (so a large picture is held about one copy after the writer started), and held
    /// once it is complete. `Ok(None)` if there is nothing newer.
    pub fn lease_next(&mut self, name: &str) -> Result<Option<Lease<'_>>, ReadError> {
        let index = self.channel_index(name)?;
        self.check_file_length(index)?;
        let mut scratch = std::mem::take(&mut self.scratch);
        // Only the checksum of a followed record is kept: its bytes pass through a small
        // buffer that stays in the cache.
        let followed = self.follow_next(index, |source| {
            scratch.resize(STREAM_PASS, 0);
            while source.remaining() > 0 {
                let take = source.remaining().min(STREAM_PASS);
                source.read_exact(&mut scratch[..take])?;
            }
            Ok(())
        });
        self.scratch = scratch;
        let lease = match followed? {
            Next::Nothing => return Ok(None),
            Next::Newest => self.lease_newest(index, None)?,
            Next::Followed(meta) => self.lease_newest(index, Some(meta))?,
        };
        lease.map(Lease::check).transpose()
    }

    /// Holds channel `index`'s newest record in place, or copies it if the lease is taken.
    /// `followed`: a record whose bytes were checked while it was written; if it is still the
    /// newest, it is held as checked. Any other record held in place is not checked yet.
    fn lease_newest(
        &mut self,
        index: usize,
        followed: Option<RecordMeta>,
    ) -> Result<Option<Lease<'_>>, ReadError> {
        let Reader {
            segment,
            seen_sequences,
            scratch,
            ..
        } = self;
        let Some(holder) = Holder::take(slot(segment, index), segment.region.file(), index) else {
            let read = slot(segment, index).read(|source| copy_into(scratch, source))?;
            return Ok(read.map(|meta| {
                seen_sequences[index] = meta.sequence;
                Lease {
                    bytes: scratch,
                    meta,
                    checked: true,
                    holder: None,
                }
            }));
        };
        if let Some(meta) = followed {
            let number = RecordNumber(meta.sequence);
            let word = number.complete().0;
            if let Some(held) = holder.slot.try_hold(number, word)? {
                return holder.into_lease(held, true).map(Some);
            }
        }
        let Some(held) = holder.slot.hold_newest()? else {
            return Ok(None);
        };
        seen_sequences[index] = held.meta.sequence;
        holder.into_lease(held, false).map(Some)
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
        for index in 0..self.seen_sequences.len() {
            self.seen_sequences[index] = slot(&self.segment, index).newest().number();
        }
    }

    /// The number of the last record of the demo's `kind` channel this reader read (or
    /// skipped), 0 if none (or the segment has no such channel).
    pub fn seen_sequence(&self, kind: RecordKind) -> u64 {
        demo_index(&self.segment, kind).map_or(0, |index| self.seen_sequences[index])
    }

    /// Whether a record of the demo's `kind` channel was published that this reader has not
    /// read yet.
    pub fn has_new(&self, kind: RecordKind) -> bool {
        demo_index(&self.segment, kind).is_some_and(|index| self.has_new_at(index))
    }

    fn has_new_at(&self, index: usize) -> bool {
        slot(&self.segment, index).newest().number() != self.seen_sequences[index]
    }

    fn something_new(&self) -> bool {
        let control = self.segment.region.control();
        // Relaxed: compared for inequality only.
        (0..self.seen_sequences.len()).any(|index| self.has_new_at(index))
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
        // Never yields: a publish lands within microseconds, or the reader goes to sleep.
        let mut backoff = Backoff::new(u32::MAX);
        loop {
            // Polls the slots' sequence words and the writer generation: the descriptor line
            // that brings the change also holds the record's metadata. (Polling the change
            // counter instead measured slower: the writer's read-modify-write on it then
            // competes with the spinning reader for the line.) The next record's line is
            // loaded just before, so that both lines travel at once when a record lands, not
            // one after the other (7 to 13 % off a struct round trip).
            self.touch_next_lines();
            if self.ready(follow_writes) {
                return true;
            }
            backoff.snooze();
            if backoff.steps().is_multiple_of(32) {
                let elapsed = start.elapsed();
                if elapsed >= timeout {
                    return false;
                }
                if elapsed >= spin_for
                    && self.wait_mode == WaitMode::SpinThenSleep
                    && !self.keep_spinning(elapsed)
                {
                    break;
                }
            }
        }
        // The sleep costs a syscall anyway: the file's length is checked before it, so that an
        // idle reader notices a truncation the rare checks on the busy path would leave for long.
        if self.segment.truncated_file_len(true).is_some() {
            return true;
        }
        let mut seen = self.seen_counter;
        let notify = &self.segment.region.control().notify;
        let changed = notify::sleep_until(notify, &mut seen, start, timeout, || {
            self.ready(follow_writes)
        });
        self.seen_counter = seen;
        changed
    }

    /// Loads the line the next record of each one-line channel will be written to, so that
    /// when its descriptor changes the record's bytes are already on their way rather than
    /// fetched one transfer later.
    fn touch_next_lines(&self) {
        let control = self.segment.region.control();
        for (index, channel) in self.segment.layout.channels.iter().enumerate() {
            if !channel.slot.is_one_line() {
                continue;
            }
            let next = self.seen_sequences[index].wrapping_add(1);
            let slot = &control.slots[index];
            // Relaxed: the value is not used; only the cache line matters.
            std::hint::black_box(
                slot.buffers[(next & 1) as usize].inline.words[0].load(Ordering::Relaxed),
            );
        }
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

    /// Whether the writer is writing a record this reader has not read (and has not given up
    /// on as stalled) in a channel whose records are streamed.
    fn write_to_follow(&self) -> bool {
        (0..self.seen_sequences.len()).any(|index| {
            let slot = slot(&self.segment, index);
            let next = self.seen_sequences[index].wrapping_add(1);
            let word = slot.write_in_progress();
            !slot.layout.is_one_line()
                && word == next.wrapping_mul(2).wrapping_sub(1)
                && word != self.stalled_writes[index]
        })
    }

    /// Per channel, the odd sequence word of a record being written now, or 0.
    fn writes_in_progress(&self) -> Vec<u64> {
        (0..self.seen_sequences.len())
            .map(|index| slot(&self.segment, index).write_in_progress())
            .collect()
    }

    /// If the segment at this reader's location is now a different one (its writer exited and a
    /// new one re-created it), switches to it and returns `Ok(true)`.
    ///
    /// When the writer moved to a larger segment ([`WriterStatus::Replaced`]), it carried the
    /// latest record of each channel over: a channel this reader had read up to date counts
    /// as read in the new segment too, so following readers do not see it twice.
    pub fn reopen_if_replaced(&mut self) -> Result<bool, OpenError> {
        let mut fresh = Reader::open(&self.segment.location)?;
        if fresh.instance_id() == self.instance_id() {
            return Ok(false);
        }
        fresh.stall_timeout = self.stall_timeout;
        if self.writer_status() == WriterStatus::Replaced {
            for (index, channel) in self.segment.layout.channels.iter().enumerate() {
                let old_newest = slot(&self.segment, index).newest().number();
                let Some(target) = fresh.segment.layout.channel(channel.spec.name.as_str()) else {
                    continue;
                };
                // The carried record is the new segment's first in its channel.
                if old_newest != 0 && old_newest == self.seen_sequences[index] {
                    fresh.seen_sequences[target] = 1;
                }
            }
        }
        *self = fresh;
        Ok(true)
    }
}
