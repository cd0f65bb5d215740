//! The bytes of a segment: a control page of atomics, the channel directory, the data buffers.
//!
//! ```text
//! offset 0     ControlBlock (one 4 KiB page, only atomics)
//!                Header        magic, layout version, sizes, instance id, channel count,
//!                              directory length                            (written once)
//!                WriterLock    pid of the writer holding the segment's (kernel) lock, attach
//!                              generation, whether a larger segment replaced this one,
//!                              whether the writer keeps the segment after it closes
//!                Notify        change counter (the futex word), sleeping-waiter count, the
//!                              CPU of the writer's last wake-up
//!                SlotControl   x 15: one per channel, two buffer descriptors each, each with
//!                              an inline line that holds a one-line channel's buffer itself
//! offset 4096  the channel directory (see crate::directory)                (written once)
//! next page    channel buffers: three per channel whose records exceed one line, in channel
//!              order (capacity rounded up to 64 bytes each); none for a channel of capacity 0
//! ```
//!
//! A channel whose records exceed one line has two *logical* buffers, as every slot does (record
//! `n` goes to logical buffer `n % 2`), and [`STREAMED_REGIONS`] physical ones: each logical
//! buffer's descriptor names the physical buffer that holds its record (`region`), so that a
//! reader can hold one record in place (a lease) while the writer goes on in the other two.
//!
//! The writer's line, the change counter and each descriptor have cache lines of their own, so a
//! writer filling one buffer does not bounce a line another reader polls. A descriptor and its
//! inline line form an aligned 128-byte pair: a record of up to 64 bytes (a struct), with its
//! sequence word and metadata, crosses between cores as those two lines and nothing else.
//! Everything read from an existing segment is untrusted: [`Layout::validate`] checks the
//! header and the directory against the mapping before any offset is used.

use crate::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::mem::{align_of, offset_of, size_of};

use crate::directory::{self, ChannelSpec, MAX_CHANNELS, MAX_DIRECTORY_LEN};
use crate::error::{ChannelError, LayoutError};
use crate::message::RecordKind;

/// `b"SHMXCHG1"` read as a little-endian `u64`: marks a segment as one of ours.
pub const MAGIC: u64 = u64::from_le_bytes(*b"SHMXCHG1");
/// The version of this layout. Bumped on any incompatible change.
pub const LAYOUT_VERSION: u32 = 5;
/// Size of the control page; the channel directory starts here.
pub const CONTROL_SIZE: usize = 4096;
/// Alignment of every data buffer.
pub const BUFFER_ALIGN: usize = 64;
/// Smallest picture capacity a segment may have.
pub const MIN_CAPACITY: usize = 4096;
/// Largest capacity a channel may have (the picture framing's lengths are `i32`).
pub const MAX_CAPACITY: usize = 1 << 30;
/// Default picture capacity: 10 MiB, as in the original demo.
pub const DEFAULT_CAPACITY: usize = 10 * 1024 * 1024;
/// Physical buffers of a channel whose records exceed one line: one for each logical buffer,
/// and one for the record a reader holds in place while the writer writes the next two.
pub const STREAMED_REGIONS: usize = 3;

/// Identity and sizes, written once by the creator. `magic` is stored last, with `Release`, so an
/// opener that sees the magic with `Acquire` also sees every other field.
#[derive(Default)]
#[repr(C, align(64))]
pub struct Header {
    /// [`MAGIC`] once the segment is fully initialised, zero before.
    pub magic: AtomicU64,
    /// [`LAYOUT_VERSION`] of the creator.
    pub layout_version: AtomicU32,
    /// Size of the control page in bytes ([`CONTROL_SIZE`]).
    pub header_size: AtomicU32,
    /// Size of the whole segment in bytes.
    pub total_size: AtomicU64,
    /// Random number chosen at creation: tells a re-created segment from the old one.
    pub instance_id: AtomicU64,
    /// Length of the channel directory in bytes (a multiple of 8).
    pub directory_len: AtomicU64,
    /// Number of channels.
    pub channel_count: AtomicU32,
}

/// Who writes: the writer's pid (for messages; the lock itself is the kernel's, on the
/// segment's file), and what readers should know about writers coming and going.
#[derive(Default)]
#[repr(C, align(64))]
pub struct WriterLock {
    /// Pid of the writer holding the segment's lock, 0 once it closed; left in place by a
    /// writer that died.
    pub pid: AtomicU32,
    /// Incremented each time a writer attaches or detaches.
    pub generation: AtomicU32,
    /// Non-zero once the writer re-created the segment under the same name (larger): readers
    /// should reopen the name rather than wait for a writer here.
    pub superseded: AtomicU32,
    /// Non-zero if the (last) writer keeps the segment after it closes (`--persist`): tools
    /// tell a segment left on purpose from one a crashed writer left behind.
    pub persist: AtomicU32,
}

/// Change notification.
#[derive(Default)]
#[repr(C, align(64))]
pub struct Notify {
    /// Incremented after every publish and writer attach/detach; readers sleep on it (futex).
    pub counter: AtomicU32,
    /// Number of readers asleep on `counter`; a writer makes the wake-up syscall only if non-zero.
    pub waiters: AtomicU32,
    /// One more than the CPU the writer ran on when it last woke sleeping readers, 0 if not
    /// known: a woken reader that finds itself there moves to another CPU (see
    /// `protocol::notify`). A hint, never needed for correctness; 0 in segments of writers
    /// that do not store it.
    pub waker_cpu: AtomicU32,
}

/// Descriptor of one data buffer; its fields are valid only while `seq` is even and unchanged.
#[derive(Default)]
#[repr(C, align(128))]
pub struct BufferMeta {
    /// `2n` once record `n` is complete in this buffer, `2n - 1` while it is being written,
    /// 0 before the first. Record `n` always goes to buffer `n % 2`; the higher of a slot's two
    /// words says which record is the newest.
    pub seq: AtomicU64,
    /// Payload length in bytes. Untrusted: checked against the slot's capacity before use.
    pub len: AtomicU64,
    /// [`Checksum`](crate::checksum::Checksum) of the payload.
    pub checksum: AtomicU64,
    /// Writer's `CLOCK_MONOTONIC` time, in nanoseconds, before it stored the record's first
    /// byte.
    pub started_ns: AtomicU64,
    /// [`RecordKind`] code of the payload.
    pub kind: AtomicU32,
    /// For a channel whose records exceed one line, the physical buffer (`0..`
    /// [`STREAMED_REGIONS`]) that holds this logical buffer's record. Changed only by the
    /// writer, after the odd sequence word, so it is valid while `seq` is even and unchanged.
    pub region: AtomicU32,
    /// Bytes of the record written so far, while `seq` is odd: a streaming reader may copy that
    /// many before the write completes. Reset to 0 before the odd word is stored.
    pub written: AtomicU64,
    /// Writer's `CLOCK_MONOTONIC` time, in nanoseconds, once the record's last byte was stored
    /// (just before the even sequence word).
    pub published_ns: AtomicU64,
    /// In buffer 0's descriptor of a channel whose records exceed one line, the slot's lease:
    /// 0, or one more than the physical buffer a reader holds in place, which the writer
    /// then leaves alone (see `protocol::lease`). Unused in buffer 1's.
    pub lease: AtomicU64,
    /// The buffer itself for a channel whose records fit in one line, right after the
    /// descriptor; unused by larger channels.
    pub inline: InlineLine,
}

/// Words in a cache line.
pub const LINE_WORDS: usize = 8;

/// One cache line of record bytes inside the control page.
#[derive(Default)]
#[repr(C, align(64))]
pub struct InlineLine {
    /// The bytes, as words.
    pub words: [AtomicU64; LINE_WORDS],
}

/// One slot: two buffers used alternately.
#[derive(Default)]
#[repr(C, align(128))]
pub struct SlotControl {
    /// The two buffers' descriptors.
    pub buffers: [BufferMeta; 2],
}

/// Everything in the first page of a segment.
#[derive(Default)]
#[repr(C, align(128))]
pub struct ControlBlock {
    /// Identity and sizes.
    pub header: Header,
    /// The writer's pid and generation.
    pub writer: WriterLock,
    /// Change notification.
    pub notify: Notify,
    /// One slot per channel, in directory order; the rest unused.
    pub slots: [SlotControl; MAX_CHANNELS],
}

// The layout is shared between processes and versions: pin it. (Loom's atomics, used only to
// model-check the protocol, are larger.)
#[cfg(not(loom))]
const _: () = {
    assert!(size_of::<Header>() == 64);
    assert!(offset_of!(Header, magic) == 0);
    assert!(offset_of!(Header, layout_version) == 8);
    assert!(offset_of!(Header, header_size) == 12);
    assert!(offset_of!(Header, total_size) == 16);
    assert!(offset_of!(Header, instance_id) == 24);
    assert!(offset_of!(Header, directory_len) == 32);
    assert!(offset_of!(Header, channel_count) == 40);
    assert!(size_of::<WriterLock>() == 64);
    assert!(offset_of!(WriterLock, persist) == 12);
    assert!(size_of::<Notify>() == 64);
    assert!(offset_of!(Notify, waker_cpu) == 8);
    assert!(size_of::<BufferMeta>() == 128);
    assert!(offset_of!(BufferMeta, started_ns) == 24);
    assert!(offset_of!(BufferMeta, kind) == 32);
    assert!(offset_of!(BufferMeta, region) == 36);
    assert!(offset_of!(BufferMeta, written) == 40);
    assert!(offset_of!(BufferMeta, published_ns) == 48);
    assert!(offset_of!(BufferMeta, lease) == 56);
    assert!(offset_of!(BufferMeta, inline) == 64);
    assert!(size_of::<InlineLine>() == 64);
    assert!(size_of::<SlotControl>() == 256);
    assert!(offset_of!(ControlBlock, writer) == 64);
    assert!(offset_of!(ControlBlock, notify) == 128);
    assert!(offset_of!(ControlBlock, slots) == 256);
    assert!(size_of::<ControlBlock>() == CONTROL_SIZE);
    assert!(align_of::<ControlBlock>() == 128);
};

/// Offset of channel `index`'s inline buffer 0: the inline line of its first descriptor.
/// Buffer 1 is one descriptor (128 bytes) further.
pub const fn inline_offset(index: usize) -> usize {
    offset_of!(ControlBlock, slots)
        + index * size_of::<SlotControl>()
        + offset_of!(SlotControl, buffers)
        + offset_of!(BufferMeta, inline)
}

/// Where a slot's buffers are and how large each is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SlotLayout {
    /// Offset of physical buffer 0 from the start of the segment.
    pub offset: usize,
    /// Bytes between one physical buffer and the next (the capacity rounded up to
    /// [`BUFFER_ALIGN`]).
    pub stride: usize,
    /// Largest payload a buffer holds.
    pub capacity: usize,
    /// Physical buffers: 2 for a one-line channel (its descriptors' inline lines, one per
    /// logical buffer), [`STREAMED_REGIONS`] for a larger one.
    pub regions: usize,
}

impl SlotLayout {
    /// Offset of physical buffer `region`, or `None` if the slot has no such buffer (a region
    /// number read from a corrupt segment).
    pub fn region_offset(&self, region: usize) -> Option<usize> {
        (region < self.regions).then(|| self.offset + region * self.stride)
    }

    /// The words of its inline line a one-line slot's records span (its capacity's, at most
    /// the line's).
    #[inline]
    pub fn line_words(&self) -> usize {
        self.capacity.div_ceil(8).min(LINE_WORDS)
    }

    /// Whether every record fits in one cache line: such records are staged on the stack and
    /// moved in one burst of word stores or loads rather than streamed.
    pub fn is_one_line(&self) -> bool {
        self.capacity > 0 && self.capacity <= LINE_WORDS * 8
    }
}

/// The capacities of the demo's picture and frame channels.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Capacities {
    /// Largest picture record in bytes (0: no picture channel).
    pub picture: usize,
    /// Largest frame record in bytes; 0 for a segment without frame buffers.
    pub frame: usize,
}

impl Capacities {
    /// Pictures of up to `picture` bytes, no frame buffers.
    pub fn pictures(picture: usize) -> Capacities {
        Capacities { picture, frame: 0 }
    }
}

/// One channel of a [`Layout`]: what it is and where its buffers are.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChannelLayout {
    /// The channel.
    pub spec: ChannelSpec,
    /// Its buffers.
    pub slot: SlotLayout,
}

/// Sizes and offsets of a segment, derived from its channels.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Layout {
    /// The channels, in directory order (channel `i` uses slot `i`).
    pub channels: Vec<ChannelLayout>,
    /// The encoded directory.
    pub directory: Vec<u8>,
    /// Total size of the segment in bytes.
    pub total_size: usize,
    /// Per [`RecordKind`](crate::RecordKind), indexed by its `index()`, the demo's channel for
    /// it if the segment has one: looked up once, not on every publish and read.
    demo: [Option<usize>; RecordKind::ALL.len()],
}

impl Layout {
    /// The demo's layout for a picture capacity, without frame buffers.
    pub fn for_capacity(capacity: usize) -> Result<Layout, LayoutError> {
        Layout::for_capacities(Capacities::pictures(capacity))
    }

    /// The demo's layout (picture, struct and frame channels) for these capacities.
    pub fn for_capacities(capacities: Capacities) -> Result<Layout, LayoutError> {
        let out_of_range = |capacity: usize| !(MIN_CAPACITY..=MAX_CAPACITY).contains(&capacity);
        if out_of_range(capacities.picture) {
            return Err(LayoutError::CapacityOutOfRange {
                capacity: capacities.picture,
            });
        }
        if capacities.frame != 0 && out_of_range(capacities.frame) {
            return Err(LayoutError::CapacityOutOfRange {
                capacity: capacities.frame,
            });
        }
        Layout::for_channels(ChannelSpec::demo(capacities.picture, capacities.frame)).map_err(
            |err| match err {
                ChannelError::Capacity { capacity, .. } => {
                    LayoutError::CapacityOutOfRange { capacity }
                }
                other => LayoutError::Directory(crate::error::DirectoryError::Channel(other)),
            },
        )
    }

    /// The layout for these channels, or why a segment cannot have them.
    pub fn for_channels(channels: Vec<ChannelSpec>) -> Result<Layout, ChannelError> {
        directory::check_channels(&channels)?;
        let directory = directory::encode(&channels);
        if directory.len() > MAX_DIRECTORY_LEN {
            return Err(ChannelError::DirectoryTooLarge {
                len: directory.len(),
            });
        }
        let mut end = (CONTROL_SIZE + directory.len()).next_multiple_of(CONTROL_SIZE);
        let channels: Vec<ChannelLayout> = channels
            .into_iter()
            .enumerate()
            .map(|(index, spec)| {
                let capacity = spec.capacity;
                let slot = if capacity > 0 && capacity <= LINE_WORDS * 8 {
                    SlotLayout {
                        offset: inline_offset(index),
                        stride: size_of::<BufferMeta>(),
                        capacity,
                        regions: 2,
                    }
                } else {
                    let stride = capacity.next_multiple_of(BUFFER_ALIGN);
                    let slot = SlotLayout {
                        offset: end,
                        stride,
                        capacity,
                        regions: STREAMED_REGIONS,
                    };
                    end += STREAMED_REGIONS * stride;
                    slot
                };
                ChannelLayout { spec, slot }
            })
            .collect();
        let demo = RecordKind::ALL.map(|kind| {
            channels
                .iter()
                .position(|channel| channel.spec.kind == kind && channel.spec.is_demo())
        });
        Ok(Layout {
            channels,
            directory,
            total_size: end.next_multiple_of(CONTROL_SIZE),
            demo,
        })
    }

    /// The index of the demo's channel for `kind` records, if the segment has it.
    pub fn demo_channel(&self, kind: RecordKind) -> Option<usize> {
        self.demo[kind.index()]
    }

    /// The index of the channel named `name`.
    pub fn channel(&self, name: &str) -> Option<usize> {
        self.channels
            .iter()
            .position(|channel| channel.spec.name.as_str() == name)
    }

    /// The channels' specifications, in order.
    pub fn specs(&self) -> Vec<ChannelSpec> {
        self.channels.iter().map(|c| c.spec.clone()).collect()
    }

    /// The capacities of the demo's picture and frame channels (0 for one it lacks).
    pub fn capacities(&self) -> Capacities {
        let of = |name: &str| {
            self.channel(name)
                .map_or(0, |index| self.channels[index].slot.capacity)
        };
        Capacities {
            picture: of(directory::PICTURE_CHANNEL),
            frame: of(directory::FRAME_CHANNEL),
        }
    }

    /// Writes the header and directory of a new segment; `magic` last, so openers see all of
    /// it or nothing. `directory` is the mapping's words from [`CONTROL_SIZE`] on.
    pub fn initialise(&self, control: &ControlBlock, directory: &[AtomicU64], instance_id: u64) {
        // Relaxed: none of these is read before `magic`, whose Release store below publishes
        // them.
        for (word, bytes) in directory.iter().zip(self.directory.chunks_exact(8)) {
            let mut value = [0u8; 8];
            value.copy_from_slice(bytes);
            word.store(u64::from_le_bytes(value), Ordering::Relaxed);
        }
        let header = &control.header;
        header
            .layout_version
            .store(LAYOUT_VERSION, Ordering::Relaxed);
        header
            .header_size
            .store(CONTROL_SIZE as u32, Ordering::Relaxed);
        header
            .total_size
            .store(self.total_size as u64, Ordering::Relaxed);
        header
            .directory_len
            .store(self.directory.len() as u64, Ordering::Relaxed);
        header
            .channel_count
            .store(self.channels.len() as u32, Ordering::Relaxed);
        header.instance_id.store(instance_id, Ordering::Relaxed);
        // Logical buffer 1 starts in physical buffer 1 (a new segment's zeros put buffer 0 in 0).
        for slot in &control.slots {
            slot.buffers[1].region.store(1, Ordering::Relaxed);
        }
        // Release: an opener that loads MAGIC with Acquire sees every store above.
        header.magic.store(MAGIC, Ordering::Release);
    }

    /// Reads and checks the header and directory of an existing segment mapped with
    /// `mapped_len` bytes; `words(offset, count)` gives the mapping's words there.
    ///
    /// Checks, in order: the magic (is this ours, and initialised?), the layout version, the
    /// header size, the directory's length and contents, and that the total size the header
    /// claims matches the channels and fits inside the mapping.
    pub fn validate<'a>(
        control: &ControlBlock,
        mapped_len: usize,
        words: impl FnOnce(usize, usize) -> Option<&'a [AtomicU64]>,
    ) -> Result<Layout, LayoutError> {
        let header = &control.header;
        // Acquire: pairs with the creator's Release store of MAGIC, so the fields below (and
        // the directory) are the creator's.
        match header.magic.load(Ordering::Acquire) {
            MAGIC => {}
            0 => return Err(LayoutError::Uninitialised),
            found => return Err(LayoutError::BadMagic { found }),
        }
        // Relaxed: ordered by the Acquire load of the magic above.
        let version = header.layout_version.load(Ordering::Relaxed);
        if version != LAYOUT_VERSION {
            return Err(LayoutError::Version {
                found: version,
                expected: LAYOUT_VERSION,
            });
        }
        let header_size = header.header_size.load(Ordering::Relaxed);
        if header_size as usize != CONTROL_SIZE {
            return Err(LayoutError::HeaderSize { found: header_size });
        }
        let directory_len = header.directory_len.load(Ordering::Relaxed);
        let len = usize::try_from(directory_len)
            .ok()
            .filter(|&len| len <= MAX_DIRECTORY_LEN && len.is_multiple_of(8))
            .ok_or(LayoutError::DirectoryLength { len: directory_len })?;
        let needed = CONTROL_SIZE + len;
        if mapped_len < needed {
            return Err(LayoutError::Truncated {
                mapped: mapped_len,
                needed,
            });
        }
        let stored = words(CONTROL_SIZE, len / 8).ok_or(LayoutError::Truncated {
            mapped: mapped_len,
            needed,
        })?;
        // Relaxed: ordered by the Acquire load of the magic; written once, before it.
        let bytes: Vec<u8> = stored
            .iter()
            .flat_map(|word| word.load(Ordering::Relaxed).to_le_bytes())
            .collect();
        let channels = directory::decode(&bytes).map_err(LayoutError::Directory)?;
        let layout = Layout::for_channels(channels)
            .map_err(|err| LayoutError::Directory(crate::error::DirectoryError::Channel(err)))?;
        let claimed = header.total_size.load(Ordering::Relaxed);
        if claimed != layout.total_size as u64 {
            return Err(LayoutError::TotalSize {
                claimed,
                expected: layout.total_size,
            });
        }
        if mapped_len < layout.total_size {
            return Err(LayoutError::Truncated {
                mapped: mapped_len,
                needed: layout.total_size,
            });
        }
        Ok(layout)
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn the_demo_layout_has_picture_buffers_after_the_directory_and_an_inline_struct() {
        let layout = Layout::for_capacity(DEFAULT_CAPACITY).unwrap();
        let [image, strukt, frame] = [0, 1, 2].map(|i| layout.channels[i].slot);
        assert_eq!(frame.capacity, 0);
        assert_eq!(image.region_offset(0), Some(2 * CONTROL_SIZE));
        assert_eq!(
            image.region_offset(2),
            Some(2 * CONTROL_SIZE + 2 * DEFAULT_CAPACITY)
        );
        assert_eq!(image.region_offset(STREAMED_REGIONS), None);
        let control = ControlBlock::default();
        let base = &control as *const ControlBlock as usize;
        for (index, meta) in control.slots[1].buffers.iter().enumerate() {
            let inline = &meta.inline as *const InlineLine as usize - base;
            assert_eq!(strukt.region_offset(index), Some(inline));
        }
        assert_eq!(strukt.region_offset(2), None);
        assert!(strukt.is_one_line());
        assert_eq!(
            layout.total_size,
            2 * CONTROL_SIZE + STREAMED_REGIONS * DEFAULT_CAPACITY
        );
    }

    #[test]
    fn odd_capacity_keeps_buffers_aligned() {
        let layout = Layout::for_capacity(5000).unwrap();
        for channel in &layout.channels {
            let slot = channel.slot;
            for region in 0..slot.regions {
                let offset = slot.region_offset(region).unwrap();
                assert_eq!(offset % BUFFER_ALIGN, 0);
                assert!(offset + slot.capacity <= layout.total_size);
            }
        }
    }

    #[test]
    fn frame_buffers_follow_the_picture_buffers() {
        let layout = Layout::for_capacities(Capacities {
            picture: 5000,
            frame: 9000,
        })
        .unwrap();
        let (image, frame) = (layout.channels[0].slot, layout.channels[2].slot);
        let last = STREAMED_REGIONS - 1;
        assert_eq!(
            frame.region_offset(0),
            Some(image.region_offset(last).unwrap() + image.stride)
        );
        let frame_last = frame.region_offset(last).unwrap();
        assert_eq!(frame_last % BUFFER_ALIGN, 0);
        assert!(frame_last + frame.capacity <= layout.total_size);
        assert!(
            Layout::for_capacities(Capacities {
                picture: 5000,
                frame: 1
            })
            .is_err()
        );
    }

    #[test]
    fn a_new_segment_maps_each_logical_buffer_to_its_own_physical_one() {
        let layout = Layout::for_capacity(5000).unwrap();
        let control = ControlBlock::default();
        layout.initialise(&control, &[], 1);
        for slot in &control.slots {
            let regions = slot
                .buffers
                .each_ref()
                .map(|meta| meta.region.load(Ordering::Relaxed));
            assert_eq!(regions, [0, 1]);
        }
    }

    #[test]
    fn capacity_out_of_range_is_refused() {
        assert!(Layout::for_capacity(0).is_err());
        assert!(Layout::for_capacity(MIN_CAPACITY - 1).is_err());
        assert!(Layout::for_capacity(MAX_CAPACITY + 1).is_err());
        assert!(Layout::for_capacity(MAX_CAPACITY).is_ok());
    }

    #[test]
    fn a_one_line_channel_of_a_user_segment_uses_its_own_slots_inline_line() {
        let layout = Layout::for_channels(vec![
            ChannelSpec::bytes("big", 100).unwrap(),
            ChannelSpec::bytes("small", 8).unwrap(),
            ChannelSpec::bytes("later", 0).unwrap(),
        ])
        .unwrap();
        assert_eq!(layout.channels[1].slot.offset, inline_offset(1));
        assert_eq!(layout.channels[0].slot.offset, 2 * CONTROL_SIZE);
        assert_eq!(layout.channels[2].slot.capacity, 0);
        assert_eq!(layout.channel("small"), Some(1));
        assert_eq!(layout.channel("none"), None);
    }
}
