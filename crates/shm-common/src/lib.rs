//! Hand your own structs, bytes, pictures and the frames of live streams from one process to
//! another on the same machine through shared memory: safely (no torn reads, every length
//! checked, the type checked), quickly (one copy in, one copy out or none at all, a futex
//! wake-up, 0.25 to 0.7 µs for a 48-byte round trip between two cores) and with errors a user
//! can act on.
//!
//! # Your own struct in ten lines
//!
//! ```no_run
//! use bytemuck::{Pod, Zeroable};
//! use shm_common::{ChannelSpec, CreationMode, Reader, Schema, SegmentLocation, Writer};
//!
//! #[derive(Clone, Copy, Debug, Pod, Zeroable, Schema)]
//! #[repr(C)]
//! struct Pose { position: [f64; 3], heading: f32, id: u32 }
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let robot = SegmentLocation::Named("robot".parse()?); // the file /dev/shm/robot
//! let channels = vec![ChannelSpec::of::<Pose>("pose")?];
//! let mut writer = Writer::create_with(&robot, CreationMode::CreateOrOpen, channels)?;
//! let pose = writer.channel::<Pose>("pose")?;
//! writer.publish(&pose, &Pose { position: [1.0, 2.0, 0.0], heading: 0.5, id: 7 })?;
//!
//! // In another process:
//! let mut reader = Reader::open(&robot)?;
//! let pose = reader.channel::<Pose>("pose")?; // refused, in words, if the type differs
//! reader.wait_for_change(std::time::Duration::from_millis(250)); // sleeps until a publish
//! if let Some((value, meta)) = reader.latest_value(&pose)? {
//!     println!("{value:?}, record {}, sent {:?} ago", meta.sequence, meta.since_published());
//! }
//! # Ok(()) }
//! ```
//!
//! `#[derive(Schema)]` describes the type (its name, size, alignment and every field's name,
//! offset and type: [`schema`]); the writer stores that description in the segment, so a
//! reader of another type gets [`OpenError::TypeMismatch`] naming both types and what differs,
//! and `shm read --channel pose` prints a value field by field without knowing the type. A
//! channel holds the *latest* value, not a queue: a slow reader skips values, it never holds
//! up the writer. Bytes in a format of your own go through [`ChannelSpec::bytes`],
//! [`Writer::publish_bytes`] and [`Reader::read_bytes_into`]. The examples (`cargo run -p
//! shm-common --example custom_struct -- write robot`, and `ping_pong`, `picture`, `frames`)
//! each run in two terminals.
//!
//! # The demo's channels
//!
//! The Writer and Reader apps use three channels, made by [`Writer::create`]: `picture`
//! ([`ImageMessage`]: a path and a file's bytes, in the original's framing), `struct`
//! ([`TestData`], the original's 48-byte struct, an ordinary [`Schema`] type) and `frames`
//! ([`FrameMessage`]: width, height, pixel format, stride, frame number and pixels, for
//! readers that upload without decoding). [`Writer::send_image`], [`Writer::send_struct`],
//! [`Writer::send_frame`] and [`Reader::latest_image`], [`Reader::latest_struct`],
//! [`Reader::read_next_into`] are shorthands for them.
//!
//! ```no_run
//! use shm_common::{Capacity, CreationMode, Reader, SegmentLocation, TestData, Writer};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let location = SegmentLocation::default(); // the named segment 'shm-exchange'
//! let mut writer = Writer::create(&location, CreationMode::CreateOrOpen, Capacity::Default)?;
//! writer.send_image("/home/me/cat.png", &std::fs::read("/home/me/cat.png")?)?;
//! writer.send_struct(&TestData::default())?;
//!
//! let mut reader = Reader::open(&location)?;
//! if let Some((data, _meta)) = reader.latest_struct()? {
//!     assert_eq!(data.to_string(), "Id=100,Age=20,Scores=60,61,62,63,64,65,66,67,68,69");
//! }
//! # Ok(()) }
//! ```
//!
//! A picture in a file need not pass through the sender's memory: [`Writer::loan_image`]
//! begins the record in shared memory and [`ImageLoan::fill_from`] has the kernel `read(2)` the
//! file straight into it, so the kernel's copy is the only one (`shm send-image` sends files
//! this way). A loan dropped unpublished is given up and publishes nothing.
//!
//! ```no_run
//! # use shm_common::{Capacity, CreationMode, SegmentLocation, Writer};
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! # let mut writer = Writer::create(&SegmentLocation::default(), CreationMode::CreateOrOpen, Capacity::Default)?;
//! let file = std::fs::File::open("/home/me/cat.png")?;
//! let mut loan = writer.loan_image("/home/me/cat.png", file.metadata()?.len() as usize)?;
//! loan.fill_from(&file)?;
//! loan.publish()?;
//! # Ok(()) }
//! ```
//!
//! # Errors
//!
//! One error enum per operation, carrying data: the [`SegmentLocation`], sizes, kinds,
//! channel names and types are fields, and each error's `Display` is one sentence saying what
//! happened. A writer's creation fails with [`CreateError`] (another writer holds the segment,
//! no space, a capacity out of range...), which wraps the [`OpenError`] it shares with readers
//! (missing, damaged, someone else's, a channel of another type). What to do about it is the
//! caller's to say, in its own terms: `shm` adds `--name`, `--capacity` and `shm remove`
//! advice, the windows theirs, in their language.
//!
//! # Segments
//!
//! A segment is either named OS shared memory (on Linux the file `/dev/shm/NAME`, opened
//! directly; elsewhere `shm_open`) or any file, mapped into memory through `memmap2`; see
//! [`SegmentLocation`]. Both are created readable and writable by their owner only (mode 0600).
//! [`CreationMode`] mirrors the original's `CreateNew`, `CreateOrOpen` and `OpenExisting`.
//! A segment has 1 to 15 channels, fixed when it is created; a writer that needs a channel an
//! existing segment lacks re-creates it with the channel added (see [Growing](#growing)).
//!
//! # Layout
//!
//! ```text
//! offset 0     control page (4 KiB, atomics only)
//!                header: magic "SHMXCHG1", layout version 5, header size, total size,
//!                        instance id, directory length, channel count
//!                writer: pid, generation, replaced, persist (own cache line; the lock
//!                        itself is the kernel's, on the file)
//!                notify: change counter, waiters, waker's CPU  (own cache line)
//!                15 slots, one per channel: descriptors of buffers 0 and 1
//!                (each descriptor: sequence, length, checksum, start time, kind, the
//!                physical buffer holding the record, bytes written so far, publish time
//!                and, in buffer 0's, the slot's lease on one line, then an inline line that
//!                holds the buffer itself for a channel whose records fit in 64 bytes)
//! offset 4096  channel directory: each channel's name, record kind, capacity and, for a
//!              struct channel, its type description (written once, before the magic)
//! next page    three buffers per channel whose records exceed 64 bytes, in channel order
//!              (two for the records being written and read, one for a reader to hold a
//!              record in place while the writer goes on: see below)
//! ```
//!
//! Channels have separate slots, so sending to one never disturbs another. A record of up to
//! 64 bytes (a struct) travels between cores as the two lines of its descriptor and nothing
//! else. Opening a segment checks the magic, the layout version, the directory and the sizes
//! against the mapping ([`LayoutError`]); afterwards every length read from the segment is
//! checked against the channel's capacity before anything is allocated or copied.
//!
//! # Publish and read, step by step
//!
//! Each slot is a double-buffered seqlock. Record `n` (counting from 1) goes to buffer `n % 2`,
//! whose sequence word reads `2n - 1` while it is written and `2n` once it is complete; so the
//! higher of a slot's two words names the newest record, and no separate counter has to cross
//! between cores. To publish record `n`, the single writer
//!
//! 1. takes `n` from the higher word (after `2m`, `m + 1`; after `2m - 1`, left by a writer that
//!    died mid-write, `m` again) and picks buffer `n % 2`, the one *not* holding the newest
//!    record;
//! 2. stores `2n - 1` in its sequence word, then a release fence (no data store may become
//!    visible before the word says "being written");
//! 3. copies the payload in with relaxed atomic stores, computing the checksum on the way (a
//!    struct is encoded, checksummed and timestamped on the stack first and then stored in one
//!    burst, so a reader spinning on the line does not take it back between the stores);
//! 4. stores length, checksum, both times (see below) and kind, then `2n` in the sequence word
//!    (release);
//! 5. increments the segment's change counter and, if a reader sleeps, wakes it (futex).
//!
//! To read, a reader
//!
//! 1. loads both sequence words (acquire). Both 0 means nothing was sent yet. The higher one,
//!    if `2n`, names record `n`; if `2m - 1`, record `m` is being written and the other word
//!    must be `2(m - 1)`. Words that break these rules were loaded while the writer moved on:
//!    if a second look finds them unchanged, the segment is corrupt
//!    ([`ReadError::Inconsistent`]), otherwise it starts again;
//! 2. checks the length against the capacity, then copies exactly that many bytes out with
//!    relaxed atomic loads into its own memory, computing the checksum;
//! 3. issues an acquire fence and reloads the record's sequence word: if it is still `2n`, no
//!    byte of the copy can come from a later write, so the copy is whole; otherwise it starts
//!    again;
//! 4. compares the checksum with the stored one ([`ReadError::ChecksumMismatch`]).
//!
//! The writer only ever rewrites the buffer that does not hold the newest record, so a reader
//! is only disturbed if a whole record is published *and* the next one begins during its copy:
//! a continuously rewriting writer cannot starve readers. A reader that keeps failing for a
//! second (possible only with a corrupt or hostile segment) gets [`ReadError::Unstable`].
//!
//! # Following a write
//!
//! Copied in and then out, a 10 MiB picture arrives two copies after the writer started.
//! [`Reader::read_next_into`] instead follows a picture while it is written: the writer stores
//! the length before the bytes and, every 64 KiB, how many bytes it has written (release); the
//! reader copies only bytes below that count (acquire), right behind the writer on the other
//! core, and keeps the copy only if the record completes without being overwritten, checksum
//! and all. A 10 MiB picture then arrives about one copy after the writer started. The steps
//! are in `src/protocol/follow.rs`; a writer that stops making progress for a second is given up on.
//! [`Reader::wait_for_next`] wakes a reader when such a write starts.
//!
//! Two checks cover the interleavings: loom runs the real `publish`, `read` and following
//! read under the C11 memory model, every schedule with up to three preemptions (two for a
//! following reader lapped by three writes), for a struct-sized slot and a streamed one
//! (`RUSTFLAGS="--cfg loom" cargo test -p shm-common --lib --release loom`, run by
//! `scripts/check.sh`; removing the acquire fence or the sequence re-check, storing the data
//! before the odd word, or loading the checksum after the re-check makes it fail), and
//! `tests/protocol_model.rs` explores every sequentially consistent interleaving of a model of
//! the protocol, including a writer that dies at any step.
//!
//! Copies use atomic accesses because the memory is shared with another process: a plain
//! `memcpy` of bytes that another thread may be writing is a data race in Rust's memory model,
//! even though the sequence check throws such copies away. One 8-byte atomic per instruction
//! made a copy of cached data instruction-bound (2.4 times a `memcpy`); on x86-64 with AVX2 the
//! bulk of a record therefore moves 32 bytes per instruction, in inline assembly specified as
//! relaxed atomic accesses of each aligned 8-byte word (the idea of C++'s P1478, byte-wise
//! atomic `memcpy`; see `src/sys/wide.rs`), with the checksum's four lanes added in vector
//! registers on the way. Elsewhere, and under loom, the copies go word by word.
//!
//! # Reading in place
//!
//! [`Reader::lease`] and [`Reader::lease_next`] hold a record where the writer put it and
//! return a [`Lease`] through which it is read with no copy at all: decode a picture
//! ([`Lease::image`]), upload a frame ([`Lease::frame`]), hash [`Lease::bytes`]. The bytes are
//! checked against the record's checksum first (`lease_next` checks them while it follows the
//! write, so a 10 MiB picture is held a few microseconds after the writer's last byte) and
//! cannot change while the lease lives:
//!
//! * a channel whose records exceed one line has three physical buffers behind its two
//!   logical ones; while a reader holds one, the writer writes the next records into the other
//!   two. **The writer never waits for a reader**, and a reader holding a record never stops
//!   the writer: it just keeps one of the three buffers;
//! * each channel has one lease. Who may use it is a byte-range lock on the segment's file
//!   (an OFD lock, past the writer's range), which the kernel drops when its holder dies: a
//!   reader killed while holding a record costs the writer nothing, and the next reader takes
//!   the lease over. **While another reader holds the lease, `lease` copies the record
//!   instead** ([`Lease::is_in_place`] says which), as it does for a record of one line and
//!   elsewhere than Linux;
//! * a reader that copies the record out anyway (into memory another language owns, say)
//!   holds it with [`Reader::hold`] and copies and checks it in one pass
//!   ([`HeldRecord::copy_into`]) rather than checking it in place and then copying it;
//! * the steps, and why the writer never writes a held buffer, are in `src/protocol/lease.rs`:
//!   a store-then-load handshake through two sequentially consistent fences, checked by loom
//!   under every schedule (removing either fence, or the writer's move to the free buffer,
//!   makes it find a held record overwritten).
//!
//! ```no_run
//! # use shm_common::{Reader, SegmentLocation, PICTURE_CHANNEL};
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let mut reader = Reader::open(&SegmentLocation::default())?;
//! if let Some(lease) = reader.lease(PICTURE_CHANNEL)? {
//!     let picture = lease.image()?; // borrowed from shared memory, checked
//!     std::fs::write("/tmp/copy.png", picture.bytes)?;
//! } // dropped: the writer may use the buffer again
//! # Ok(()) }
//! ```
//!
//! # What the times mean
//!
//! Every record carries two readings of the machine-wide monotonic clock (`CLOCK_MONOTONIC`,
//! the same in every process), taken by the writer ([`RecordMeta`]):
//!
//! * `started_ns`: before its first byte was stored (for a struct, whose one line is stored
//!   in a burst of nanoseconds, the one reading serves as both);
//! * `published_ns`: once its last byte was stored, just before the even sequence word.
//!
//! From them and two readings of its own, a reader works out a [`Delivery`]
//! ([`RecordMeta::delivery`]): the *transfer time*, from the writer's first byte to the reader
//! holding the whole record, checked, less the time the complete record lay in the segment
//! before the reader asked for it (its *wait*). A reader that was waiting for the record (or
//! followed its write) gets the full latency; one that reads an old record on demand gets the
//! writer's copy plus its own, not the seconds the record lay there. How long ago a record
//! was sent is [`RecordMeta::since_published`]; how long the writer took,
//! [`RecordMeta::write_time`].
//!
//! # Growing
//!
//! A record larger than its channel is refused ([`SendError::TooLarge`]) and leaves the
//! segment as it was. [`Writer::plan_growth`] works out the larger segment it needs (the
//! channel's capacity the next power of two, at least 1 MiB, so a growing stream does not
//! re-create the segment each time) and checks that the file system holding it (`/dev/shm` for
//! a named segment) has the room; [`Writer::grow`] then creates it beside the old one under a
//! name of its own, publishes the latest record of every channel into it, and renames it into
//! the old one's place in one step: a reader never finds the name missing. Adding channels
//! ([`Writer::create_with`] on a segment that lacks some) moves to a new segment the same way. The old segment is marked
//! replaced ([`WriterStatus::Replaced`]) and its readers woken; [`Reader::reopen_if_replaced`]
//! moves them to the new one, where the records carried over count as already read. Named
//! segments can grow on Linux only (POSIX has no rename for shared memory objects elsewhere;
//! there, use a file-backed segment). A writer that dies mid-growth leaves the half-built
//! segment under its temporary name (`NAME.growing-PID`).
//!
//! # Waiting for a change
//!
//! [`Reader::wait_for_change`] spins for up to 50 us, then sleeps on the change counter with a
//! shared futex (`FUTEX_WAIT` without `FUTEX_PRIVATE_FLAG`, so a writer in another process
//! wakes it). The writer bumps the counter when a record completes, and also when a picture
//! starts (for readers following writes); it makes the wake-up syscall only when the waiter
//! count is non-zero.
//! While a publish is visibly under way (the next buffer's sequence word is odd: a large
//! picture takes about a millisecond to copy in) the reader keeps spinning, up to 10 ms, so it
//! does not pay a futex wake-up at the end; a write that never finishes (its writer died) is
//! spun on once and then ignored. An idle reader therefore costs nothing measurable (0.2 % of a
//! core in `shm bench`, waking every 50 ms), a busy one reacts within a cache-line transfer.
//! The scheduler often puts a woken thread on its waker's CPU (always where the other CPUs
//! look busy, as a virtual CPU the host descheduled while idle does), and a writer waiting for
//! an answer would then spin on the CPU its reader needs: round trips of 100 µs for tens of
//! milliseconds on two CPUs. So the writer notes its CPU when it wakes readers, and a woken
//! reader that finds itself there moves to another CPU its affinity allows (two
//! `sched_setaffinity` calls: away, then back to the set it had).
//! Elsewhere than Linux the reader polls with 1 ms sleeps.
//!
//! # One writer at a time, held by the kernel
//!
//! A segment is a file: one the user named, or a POSIX shared memory object, which on Linux
//! is the file `/dev/shm/NAME` (exactly what `shm_open` opens). [`Writer::create`] takes a
//! lock on it that the kernel holds for the writer's open file description and drops when the
//! writer closes it or dies, however it dies (an OFD lock on Linux, `flock` elsewhere). A
//! second writer, in this process or another, in this PID namespace or another, is refused
//! with [`CreateError::WriterActive`] while the first lives, and takes over at once when it is
//! gone; a reused pid changes nothing. The header keeps the writer's pid only to name it in
//! messages. [`Reader::writer_status`] asks the kernel whether the lock is held without
//! taking it: held is [`WriterStatus::Active`]; free with a pid left in the header is
//! [`WriterStatus::Crashed`]; free and cleared is [`WriterStatus::Closed`].
//!
//! Every step of a segment's life happens under that lock:
//!
//! * a writer creates the file owner-only (mode 0600, never through a symbolic link for a
//!   named segment), takes the lock, reserves the segment's space ([`CreateError::NoSpace`] if
//!   the file system cannot hold it, instead of a `SIGBUS` at the first large send), maps it
//!   with every page faulted in, and writes the header, the magic last: no reader ever sees a
//!   magic whose creator does not hold the lock. Of writers racing to create one segment,
//!   exactly one gets the lock and initialises it; the others are refused;
//! * an existing segment is opened only if it belongs to this user and is closed to everyone
//!   else ([`OpenError::ForeignOwner`], [`OpenError::OpenToOthers`]): another user could read
//!   or alter every record;
//! * replacing a segment (growing it) is done by the writer holding its lock;
//! * a writer removes the name only if it still names its own segment (same device and
//!   inode), and before it lets go of the lock.
//!
//! Tools find every segment ([`find_segments`]: `shm ls`) and remove those whose writer
//! crashed and that were not kept on purpose ([`remove_stale`]: `shm remove --stale`),
//! checked again under the lock.
//!
//! # Lifetime: who removes a segment, and when
//!
//! * A named segment lives while its writer lives. When a [`Writer`] is dropped it removes the
//!   segment's name if it created the segment or published to it, unless
//!   [`Writer::set_persist`] was called (`--persist` on the command line), in which case the
//!   segment and its records stay for later readers; then the lock goes.
//! * A writer that fails before publishing anything leaves a segment it did not create exactly
//!   as it found it: a failed command loses no data.
//! * Readers never remove a segment. One that has it mapped keeps its last records readable
//!   after the writer removed the name; [`Reader::writer_status`] tells it the writer is gone
//!   and [`Reader::reopen_if_replaced`] moves it to a re-created segment.
//! * A writer that crashes (or is killed) leaves the segment with its last complete records.
//!   The next writer on that name takes it over (the kernel dropped the lock) and with it the
//!   duty to remove it. A named segment whose creator died before finishing its header is set
//!   up afresh by the next writer. An existing segment smaller than an explicitly requested
//!   [`Capacity::AtLeast`] is re-created that large with its latest records carried over.
//! * File-backed segments are files the user named: closing never deletes them. [`remove`]
//!   (`shm remove`) deletes a named segment, or a file that is empty or one of ours.
//! * If someone truncates a segment's file, reads, sends, waits, [`Reader::info`] and a
//!   writer's close report it or do without the missing pages: a file segment's length is
//!   checked before every access; a named segment's before every copy into the data buffers,
//!   before a reader sleeps, and every 65 536th access to the control page alone (a struct
//!   round trip takes less than one `fstat`, and only the segment's owner can truncate it). [`Reader::writer_status`] reads
//!   the header through the file. A truncation racing with an access already under way can
//!   still raise `SIGBUS`, which no check before the access can exclude.
//!
//! # One access width
//!
//! Shared memory is read and written only as whole, aligned 8-byte words (the wide copies
//! access several such words per instruction): a writer stages the bytes that do not fill a
//! word yet and stores the last partial word padded with zeros; a reader loads the word holding
//! the bytes it wants. Mixing byte and word accesses to the same memory from two threads is
//! undefined in Rust's memory model even when both are atomic.

// Under `--cfg loom` only the slot protocol is built, so much of the crate goes unused.
#![cfg_attr(loom, allow(dead_code, unused_imports))]
// The derive names `::shm_common`, which inside this crate is the crate itself.
extern crate self as shm_common;

#[cfg(all(feature = "clap", not(loom)))]
mod args;
#[cfg(not(loom))]
mod channel;
pub mod checksum;
pub mod directory;
mod error;
#[cfg(not(loom))]
mod follower;
#[cfg(not(loom))]
mod inventory;
pub mod layout;
#[cfg(not(loom))]
mod lease;
#[cfg(not(loom))]
mod line;
mod location;
mod message;
pub mod protocol;
pub mod schema;
#[cfg(not(loom))]
mod segment;
mod size;
mod sync;
#[cfg_attr(loom, path = "sys_loom.rs")]
mod sys;
#[cfg(not(loom))]
mod typed;
mod untrusted;

#[cfg(all(feature = "clap", not(loom)))]
pub use args::{CapacityArgs, SegmentArgs};
pub use bytemuck;
#[cfg(not(loom))]
pub use channel::{
    Capacity, ChannelInfo, Growth, ImageLoan, Reader, SegmentInfo, WaitMode, Writer, WriterStatus,
    capacity_for,
};
pub use directory::{
    ChannelName, ChannelSpec, FRAME_CHANNEL, MAX_CHANNELS, PICTURE_CHANNEL, STRUCT_CHANNEL,
};
pub use error::{
    ChannelError, CreateError, DirectoryError, FrameError, GrowError, LayoutError, LoanError,
    NameError, OpenError, ReadError, RemoveError, SendError, SizeError,
};
#[cfg(not(loom))]
pub use follower::{Follower, SETUP_GRACE, SegmentEvent, WRITER_CHECK};
#[cfg(not(loom))]
pub use inventory::{
    FoundSegment, NAMED_SEGMENTS_DIR, StaleOutcome, Undescribed, file_system_space, find_segments,
    remove_stale,
};
pub use layout::{Capacities, DEFAULT_CAPACITY, MAX_CAPACITY, MIN_CAPACITY};
#[cfg(not(loom))]
pub use lease::{HeldRecord, Lease};
#[cfg(not(loom))]
pub use line::{SharedBytes, SharedLine};
pub use location::{CreationMode, DEFAULT_SEGMENT_NAME, SegmentLocation, SegmentName};
pub use message::{
    FrameHeader, FrameMessage, FrameView, ImageMessage, ImageView, Message, PixelFormat,
    RecordKind, Sink, Source, TestData,
};
pub use protocol::{Delivery, RecordMeta, monotonic_ns};
pub use schema::{
    ByteOrder, DescriptorError, Difference, Field, Number, Primitive, Schema, SchemaField,
    SchemaMismatch, Shape, TypeDescriptor,
};
#[cfg(not(loom))]
pub use segment::remove;
pub use shm_derive::Schema;
pub use size::{ByteSize, Elapsed, parse_size};
#[cfg(not(loom))]
pub use sys::FileSystemSpace;
#[cfg(not(loom))]
pub use typed::{BytesChannel, Channel};
