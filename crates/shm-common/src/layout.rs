//! The bytes of a segment: a control page of atomics followed by the data buffers.
//!
//! ```text
//! offset 0     ControlBlock (one 4 KiB page, only atomics)
//!                Header        magic, layout version, sizes, instance id   (written once)
//!                WriterLock    pid of the writer holding the segment's (kernel) lock, attach
//!                              generation, whether a larger segment replaced this one,
//!                              whether the writer keeps the segment after it closes
//!                Notify        change counter (the futex word) and sleeping-waiter count
//!                SlotControl   picture slot: two buffer descriptors, each with an inline line
//!                SlotControl   struct slot:  two buffer descriptors, each with an inline line
//!                                            that holds the struct buffer itself
//!                SlotControl   frame slot:   two buffer descriptors
//! offset 4096  picture buffer 0, picture buffer 1   (capacity rounded up to 64 bytes each)
//!              frame buffer 0, frame buffer 1       (none until a writer streams frames)
//! ```
//!
//! The writer's line, the change counter and each descriptor have cache lines of their own, so a
//! writer filling one buffer does not bounce a line another reader polls. A descriptor and its
//! inline line form an aligned 128-byte pair: a struct record, with its sequence word and
//! metadata, crosses between cores as those two lines and nothing else.
//! Everything read from an existing segment is untrusted: [`Layout::validate`] checks the
//! header against the mapping before any offset is used.

use crate::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::mem::{align_of, offset_of, size_of};

use crate::error::LayoutError;
use crate::message::RecordKind;

/// `b"SHMXCHG1"` read as a little-endian `u64`: marks a segment as one of ours.
pub const MAGIC: u64 = u64::from_le_bytes(*b"SHMXCHG1");
/// The version of this layout. Bumped on any incompatible change.
pub const LAYOUT_VERSION: u32 = 3;
/// Where the data buffers start: the control block fills the first page.
pub const DATA_OFFSET: usize = 4096;
/// Alignment of every data buffer.
pub const BUFFER_ALIGN: usize = 64;
/// Capacity of the struct slot's buffers: one inline line.
pub const STRUCT_CAPACITY: usize = size_of::<InlineLine>();
/// Smallest picture capacity a segment may have.
pub const MIN_CAPACITY: usize = 4096;
/// Largest picture capacity a segment may have (the framing's lengths are `i32`).
pub const MAX_CAPACITY: usize = 1 << 30;
/// Default picture capacity: 10 MiB, as in the original demo.
pub const DEFAULT_CAPACITY: usize = 10 * 1024 * 1024;
/// Number of slots: one per [`RecordKind`].
pub const SLOT_COUNT: usize = 3;

/// Identity and sizes, written once by the creator. `magic` is stored last, with `Release`, so an
/// opener that sees the magic with `Acquire` also sees every other field.
#[derive(Default)]
#[repr(C, align(64))]
pub struct Header {
    /// [`MAGIC`] once the segment is fully initialised, zero before.
    pub magic: AtomicU64,
    /// [`LAYOUT_VERSION`] of the creator.
    pub layout_version: AtomicU32,
    /// Size of the control area in bytes ([`DATA_OFFSET`]).
    pub header_size: AtomicU32,
    /// Size of the whole segment in bytes.
    pub total_size: AtomicU64,
    /// Capacity of each picture buffer in bytes (the largest picture record).
    pub capacity: AtomicU64,
    /// Random number chosen at creation: tells a re-created segment from the old one.
    pub instance_id: AtomicU64,
    /// Capacity of each frame buffer in bytes; 0 while the segment has no frame buffers.
    pub frame_capacity: AtomicU64,
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
    /// Bytes of the record written so far, while `seq` is odd: a streaming reader may copy that
    /// many before the write completes. Reset to 0 before the odd word is stored.
    pub written: AtomicU64,
    /// Writer's `CLOCK_MONOTONIC` time, in nanoseconds, once the record's last byte was stored
    /// (just before the even sequence word).
    pub published_ns: AtomicU64,
    /// The buffer itself for a slot whose records fit in one line (the struct slot), right
    /// after the descriptor; unused by the picture slot.
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
    /// One slot per record kind.
    pub slots: [SlotControl; SLOT_COUNT],
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
    assert!(offset_of!(Header, capacity) == 24);
    assert!(offset_of!(Header, instance_id) == 32);
    assert!(offset_of!(Header, frame_capacity) == 40);
    assert!(size_of::<WriterLock>() == 64);
    assert!(offset_of!(WriterLock, persist) == 12);
    assert!(size_of::<Notify>() == 64);
    assert!(size_of::<BufferMeta>() == 128);
    assert!(offset_of!(BufferMeta, started_ns) == 24);
    assert!(offset_of!(BufferMeta, kind) == 32);
    assert!(offset_of!(BufferMeta, written) == 40);
    assert!(offset_of!(BufferMeta, published_ns) == 48);
    assert!(offset_of!(BufferMeta, inline) == 64);
    assert!(size_of::<InlineLine>() == 64);
    assert!(size_of::<SlotControl>() == 256);
    assert!(offset_of!(ControlBlock, writer) == 64);
    assert!(offset_of!(ControlBlock, notify) == 128);
    assert!(offset_of!(ControlBlock, slots) == 256);
    assert!(size_of::<ControlBlock>() == 1024);
    assert!(align_of::<ControlBlock>() == 128);
    assert!(size_of::<ControlBlock>() <= DATA_OFFSET);
    assert!(STRUCT_INLINE_OFFSET == 512 + 64);
};

/// Offset of the struct slot's buffer 0: the inline line of its first descriptor. Buffer 1 is
/// one descriptor (128 bytes) further.
pub const STRUCT_INLINE_OFFSET: usize = offset_of!(ControlBlock, slots)
    + size_of::<SlotControl>()
    + offset_of!(SlotControl, buffers)
    + offset_of!(BufferMeta, inline);

/// Where a slot's two buffers are and how large each is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SlotLayout {
    /// Offset of buffer 0 from the start of the segment.
    pub offset: usize,
    /// Bytes between buffer 0 and buffer 1 (the capacity rounded up to [`BUFFER_ALIGN`]).
    pub stride: usize,
    /// Largest payload a buffer holds.
    pub capacity: usize,
}

impl SlotLayout {
    /// Offset of buffer `index` (0 or 1).
    pub fn buffer_offset(&self, index: usize) -> usize {
        self.offset + (index & 1) * self.stride
    }

    /// Whether every record fits in one cache line: such records are staged on the stack and
    /// moved in one burst of word stores or loads rather than streamed.
    pub fn is_one_line(&self) -> bool {
        self.capacity > 0 && self.capacity <= LINE_WORDS * 8
    }
}

/// The capacities a segment is created with: what its picture and frame slots hold.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Capacities {
    /// Largest picture record in bytes.
    pub picture: usize,
    /// Largest frame record in bytes; 0 for a segment without frame buffers.
    pub frame: usize,
}

impl Capacities {
    /// Pictures of up to `picture` bytes, no frame buffers.
    pub fn pictures(picture: usize) -> Capacities {
        Capacities { picture, frame: 0 }
    }

    /// The capacity of `kind`'s slot.
    pub fn of(self, kind: RecordKind) -> usize {
        match kind {
            RecordKind::Image => self.picture,
            RecordKind::Struct => STRUCT_CAPACITY,
            RecordKind::Frame => self.frame,
        }
    }
}

/// Sizes and offsets of a segment, derived from its capacities.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Layout {
    /// Largest picture record in bytes.
    pub capacity: usize,
    /// Largest frame record in bytes (0: no frame buffers).
    pub frame_capacity: usize,
    /// Total size of the segment in bytes.
    pub total_size: usize,
    /// Picture, struct and frame slots, indexed by [`RecordKind::slot`](crate::RecordKind::slot).
    pub slots: [SlotLayout; SLOT_COUNT],
}

impl Layout {
    /// The layout for a picture capacity, without frame buffers.
    pub fn for_capacity(capacity: usize) -> Result<Layout, LayoutError> {
        Layout::for_capacities(Capacities::pictures(capacity))
    }

    /// The layout for these capacities, or an error if one is out of range.
    pub fn for_capacities(capacities: Capacities) -> Result<Layout, LayoutError> {
        let Capacities {
            picture: capacity,
            frame: frame_capacity,
        } = capacities;
        if !(MIN_CAPACITY..=MAX_CAPACITY).contains(&capacity) {
            return Err(LayoutError::CapacityOutOfRange { capacity });
        }
        if frame_capacity != 0 && !(MIN_CAPACITY..=MAX_CAPACITY).contains(&frame_capacity) {
            return Err(LayoutError::CapacityOutOfRange {
                capacity: frame_capacity,
            });
        }
        let image_stride = capacity.next_multiple_of(BUFFER_ALIGN);
        let image = SlotLayout {
            offset: DATA_OFFSET,
            stride: image_stride,
            capacity,
        };
        let strukt = SlotLayout {
            offset: STRUCT_INLINE_OFFSET,
            stride: size_of::<BufferMeta>(),
            capacity: STRUCT_CAPACITY,
        };
        let frame_stride = frame_capacity.next_multiple_of(BUFFER_ALIGN);
        let frame = SlotLayout {
            offset: image.offset + 2 * image_stride,
            stride: frame_stride,
            capacity: frame_capacity,
        };
        let end = frame.offset + 2 * frame_stride;
        Ok(Layout {
            capacity,
            frame_capacity,
            total_size: end.next_multiple_of(DATA_OFFSET),
            slots: [image, strukt, frame],
        })
    }

    /// The capacities this layout was made for.
    pub fn capacities(&self) -> Capacities {
        Capacities {
            picture: self.capacity,
            frame: self.frame_capacity,
        }
    }

    /// Writes the header of a new segment; `magic` last, so openers see all of it or nothing.
    pub fn initialise(&self, control: &ControlBlock, instance_id: u64) {
        let header = &control.header;
        // Relaxed: none of these is read before `magic`, whose Release store below publishes them.
        header
            .layout_version
            .store(LAYOUT_VERSION, Ordering::Relaxed);
        header
            .header_size
            .store(DATA_OFFSET as u32, Ordering::Relaxed);
        header
            .total_size
            .store(self.total_size as u64, Ordering::Relaxed);
        header
            .capacity
            .store(self.capacity as u64, Ordering::Relaxed);
        header
            .frame_capacity
            .store(self.frame_capacity as u64, Ordering::Relaxed);
        header.instance_id.store(instance_id, Ordering::Relaxed);
        // Release: an opener that loads MAGIC with Acquire sees every store above.
        header.magic.store(MAGIC, Ordering::Release);
    }

    /// Reads and checks the header of an existing segment mapped with `mapped_len` bytes.
    ///
    /// Checks, in order: the magic (is this ours, and initialised?), the layout version, the
    /// header size, the capacity's range, and that the total size the header claims matches the
    /// capacity and fits inside the mapping.
    pub fn validate(control: &ControlBlock, mapped_len: usize) -> Result<Layout, LayoutError> {
        let header = &control.header;
        // Acquire: pairs with the creator's Release store of MAGIC, so the fields below are the
        // creator's.
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
        if header_size as usize != DATA_OFFSET {
            return Err(LayoutError::HeaderSize { found: header_size });
        }
        let untrusted =
            |word: &AtomicU64| usize::try_from(word.load(Ordering::Relaxed)).unwrap_or(usize::MAX);
        let capacities = Capacities {
            picture: untrusted(&header.capacity),
            frame: untrusted(&header.frame_capacity),
        };
        let layout = Layout::for_capacities(capacities)?;
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
    fn default_layout_has_two_picture_buffers_and_two_inline_struct_buffers() {
        let layout = Layout::for_capacity(DEFAULT_CAPACITY).unwrap();
        let [image, strukt, frame] = layout.slots;
        assert_eq!(frame.capacity, 0);
        assert_eq!(image.buffer_offset(0), DATA_OFFSET);
        assert_eq!(image.buffer_offset(1), DATA_OFFSET + DEFAULT_CAPACITY);
        let control = ControlBlock::default();
        let base = &control as *const ControlBlock as usize;
        for (index, meta) in control.slots[1].buffers.iter().enumerate() {
            let inline = &meta.inline as *const InlineLine as usize - base;
            assert_eq!(strukt.buffer_offset(index), inline);
        }
        assert_eq!(layout.total_size, DATA_OFFSET + 2 * DEFAULT_CAPACITY);
    }

    #[test]
    fn odd_capacity_keeps_buffers_aligned() {
        let layout = Layout::for_capacity(5000).unwrap();
        for slot in layout.slots {
            assert_eq!(slot.buffer_offset(0) % BUFFER_ALIGN, 0);
            assert_eq!(slot.buffer_offset(1) % BUFFER_ALIGN, 0);
            assert!(slot.buffer_offset(1) + slot.capacity <= layout.total_size);
        }
    }

    #[test]
    fn frame_buffers_follow_the_picture_buffers() {
        let layout = Layout::for_capacities(Capacities {
            picture: 5000,
            frame: 9000,
        })
        .unwrap();
        let [image, _, frame] = layout.slots;
        assert_eq!(
            frame.buffer_offset(0),
            image.buffer_offset(1) + image.stride
        );
        assert_eq!(frame.buffer_offset(1) % BUFFER_ALIGN, 0);
        assert!(frame.buffer_offset(1) + frame.capacity <= layout.total_size);
        assert!(
            Layout::for_capacities(Capacities {
                picture: 5000,
                frame: 1
            })
            .is_err()
        );
    }

    #[test]
    fn capacity_out_of_range_is_refused() {
        assert!(Layout::for_capacity(0).is_err());
        assert!(Layout::for_capacity(MIN_CAPACITY - 1).is_err());
        assert!(Layout::for_capacity(MAX_CAPACITY + 1).is_err());
        assert!(Layout::for_capacity(MAX_CAPACITY).is_ok());
    }
}
