//! One error enum per operation; every message is a sentence a user can act on.

use std::io;

use crate::location::SegmentLocation;
use crate::message::RecordKind;
use crate::size::ByteSize;

/// What is wrong with a segment's header (see [`Layout::validate`](crate::layout::Layout::validate)).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LayoutError {
    /// The magic is still zero.
    #[error("it is not initialised: its creator is still setting it up or crashed while doing so")]
    Uninitialised,
    /// The magic is some other program's.
    #[error("it is not a segment of ours (magic number {found:#018x})")]
    BadMagic {
        /// The magic found.
        found: u64,
    },
    /// Made by another version of this program.
    #[error("it has layout version {found}, expected {expected}")]
    Version {
        /// Version in the segment.
        found: u32,
        /// Version this program understands.
        expected: u32,
    },
    /// The header size field is wrong.
    #[error("its header claims {found} bytes of control area, expected 4096")]
    HeaderSize {
        /// Header size in the segment.
        found: u32,
    },
    /// The capacity is outside what a segment may have.
    #[error("its capacity of {capacity} bytes is outside the supported range of 4 KiB to 1 GiB")]
    CapacityOutOfRange {
        /// The capacity asked for or found.
        capacity: usize,
    },
    /// The total size does not match the capacity.
    #[error("its header claims {claimed} bytes in all, but its capacity implies {expected}")]
    TotalSize {
        /// Total size in the header.
        claimed: u64,
        /// Total size implied by the capacity.
        expected: usize,
    },
    /// The channel directory cannot be read.
    #[error("its channel directory is broken: {0}")]
    Directory(DirectoryError),
    /// The directory's length is out of range.
    #[error("its header claims a channel directory of {len} bytes, more than the 4 MiB allowed")]
    DirectoryLength {
        /// The length claimed.
        len: u64,
    },
    /// The mapping is shorter than the header says.
    #[error("it is {mapped} bytes long but its header needs {needed}: it was truncated")]
    Truncated {
        /// Bytes actually mapped.
        mapped: usize,
        /// Bytes the header implies.
        needed: usize,
    },
}

/// A segment's channel directory breaks its rules (see [`crate::directory`]).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DirectoryError {
    /// It ends in the middle of a channel.
    #[error("it ends after {len} bytes, in the middle of a channel")]
    Truncated {
        /// Its length.
        len: usize,
    },
    /// A channel's record kind is unknown.
    #[error("channel `{channel}` has the unknown record kind {code}")]
    Kind {
        /// The channel.
        channel: String,
        /// The code found.
        code: u32,
    },
    /// Something other than zeros follows the last channel.
    #[error("bytes follow its last channel")]
    TrailingBytes,
    /// A channel breaks the rules.
    #[error("{0}")]
    Channel(ChannelError),
}

/// A channel, or a set of channels, that a segment cannot have.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChannelError {
    /// The name is empty, too long or has other characters than `[A-Za-z0-9._-]`.
    #[error("`{name}` cannot name a channel: use 1 to 63 letters, digits, '.', '_' or '-'")]
    Name {
        /// The name (its first 80 characters).
        name: String,
    },
    /// The capacity is out of range.
    #[error("channel `{channel}` cannot hold records of {}: the most is 1 GiB (pictures need at least 4 KiB)", ByteSize(*capacity))]
    Capacity {
        /// The channel.
        channel: String,
        /// The capacity.
        capacity: usize,
    },
    /// The type description is unusable.
    #[error("channel `{channel}` has an unusable type description: {source}")]
    Descriptor {
        /// The channel.
        channel: String,
        /// What is wrong with it.
        source: crate::schema::DescriptorError,
    },
    /// A struct channel's capacity is not its type's size.
    #[error("struct channel `{channel}` holds {capacity} bytes, but its type is {size} bytes")]
    StructSize {
        /// The channel.
        channel: String,
        /// Its capacity.
        capacity: usize,
        /// Its type's size.
        size: usize,
    },
    /// A struct channel without a type, or another channel with one.
    #[error("{kind} channel `{channel}` {}", if *has_type { "has a type description; only struct channels have one" } else { "has no type description" })]
    TypeForKind {
        /// The channel.
        channel: String,
        /// Its kind.
        kind: RecordKind,
        /// Whether it has a type description.
        has_type: bool,
    },
    /// No channels, or more than fit.
    #[error("a segment has 1 to 15 channels, not {count}")]
    Count {
        /// How many were asked for or found.
        count: usize,
    },
    /// The channels' descriptions do not fit the directory.
    #[error(
        "the channels' type descriptions take {len} bytes; a segment's directory holds at most 4 MiB"
    )]
    DirectoryTooLarge {
        /// Bytes they take.
        len: usize,
    },
    /// Two channels have one name.
    #[error("two channels are named `{channel}`")]
    Duplicate {
        /// The name.
        channel: String,
    },
}

/// A record's bytes do not follow its message format.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FrameError {
    /// The record ends inside a field.
    #[error("the record ends early: {needed} more bytes needed, {remaining} left")]
    Truncated {
        /// Bytes the next field needs.
        needed: usize,
        /// Bytes left in the record.
        remaining: usize,
    },
    /// A length prefix is negative.
    #[error("the {field} is negative ({value})")]
    NegativeLength {
        /// Which length.
        field: &'static str,
        /// Its value.
        value: i32,
    },
    /// A length prefix claims more bytes than the record holds.
    #[error("the {field} claims {len} bytes but only {remaining} remain in the record")]
    LengthTooLarge {
        /// Which length.
        field: &'static str,
        /// Its value.
        len: usize,
        /// Bytes left in the record.
        remaining: usize,
    },
    /// The path is not UTF-8.
    #[error("the picture's path is not valid UTF-8 (bad byte at offset {valid_up_to})")]
    PathNotUtf8 {
        /// Length of the valid prefix.
        valid_up_to: usize,
    },
    /// Bytes follow the last field.
    #[error("{extra} unexpected bytes follow the picture")]
    TrailingBytes {
        /// How many.
        extra: usize,
    },
    /// The struct record is not 48 bytes.
    #[error("the struct record is {len} bytes, expected 48")]
    StructSize {
        /// Its length.
        len: usize,
    },
    /// A frame names a pixel format this program does not know.
    #[error("the frame's pixel format code {code} is not one this program knows")]
    PixelFormat {
        /// The code found.
        code: u32,
    },
    /// A frame's size fields do not match its pixel bytes.
    #[error(
        "the frame claims {width}x{height} pixels with rows {stride} bytes apart, which does not match its {bytes} bytes of pixels"
    )]
    FrameGeometry {
        /// Width claimed.
        width: u32,
        /// Height claimed.
        height: u32,
        /// Stride claimed.
        stride: u32,
        /// Pixel bytes present.
        bytes: usize,
    },
}

/// A segment name that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NameError {
    /// Empty name.
    #[error("the segment name is empty; give a name such as 'shm-exchange'")]
    Empty,
    /// Too long for the OS.
    #[error("the segment name is {len} bytes long; use at most 200")]
    TooLong {
        /// Its length.
        len: usize,
    },
    /// A character outside `[A-Za-z0-9._-]`, or a leading dot.
    #[error(
        "the segment name '{name}' may only contain letters, digits, '.', '_' and '-', and may not start with '.'"
    )]
    BadCharacter {
        /// The name.
        name: String,
    },
}

/// Opening a segment, or a channel of it, failed ([`Reader::open`](crate::Reader::open),
/// [`Reader::channel`](crate::Reader::channel)); also the part of a writer's failures it shares
/// with readers ([`CreateError::Open`]).
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    /// No such segment.
    #[error("{segment} does not exist yet: no writer has created it")]
    NotFound {
        /// The segment.
        segment: SegmentLocation,
    },
    /// The segment exists but cannot be used.
    #[error("{segment} cannot be used: {reason}")]
    Invalid {
        /// The segment.
        segment: SegmentLocation,
        /// What is wrong.
        reason: LayoutError,
    },
    /// The OS refused access.
    #[error("permission denied for {segment}: it belongs to another user")]
    PermissionDenied {
        /// The segment.
        segment: SegmentLocation,
    },
    /// The segment belongs to another user.
    #[error(
        "{segment} belongs to user {owner}, not to you (user {you}): it was not opened, since its owner could read or change every record"
    )]
    ForeignOwner {
        /// The segment.
        segment: SegmentLocation,
        /// The owner's uid.
        owner: u32,
        /// This process's effective uid.
        you: u32,
    },
    /// Others may read or write the segment.
    #[error(
        "{segment} has mode {mode:04o}: other users could read or change its records, so it was not opened"
    )]
    OpenToOthers {
        /// The segment.
        segment: SegmentLocation,
        /// Its permission bits.
        mode: u32,
    },
    /// The segment has no channel of that name.
    #[error("{segment} has no channel `{channel}`")]
    NoChannel {
        /// The segment.
        segment: SegmentLocation,
        /// The channel asked for.
        channel: String,
    },
    /// The channel carries another kind of record.
    #[error("channel `{channel}` of {segment} carries {found} records, not {expected}")]
    ChannelKind {
        /// The segment.
        segment: SegmentLocation,
        /// The channel.
        channel: String,
        /// What it carries.
        found: RecordKind,
        /// What was asked for.
        expected: RecordKind,
    },
    /// The channel carries another type.
    #[error("channel `{channel}` of {segment}: {mismatch}")]
    TypeMismatch {
        /// The segment.
        segment: SegmentLocation,
        /// The channel.
        channel: String,
        /// How the types differ.
        mismatch: Box<crate::schema::SchemaMismatch>,
    },
    /// Any other OS failure.
    #[error("could not {action} {segment}: {source}")]
    Os {
        /// What was being done.
        action: &'static str,
        /// The segment.
        segment: SegmentLocation,
        /// The OS error.
        source: io::Error,
    },
}

/// Creating a segment, or opening one as its writer, failed
/// ([`Writer::create`](crate::Writer::create), [`Writer::create_with`](crate::Writer::create_with)).
/// Nothing that was there is changed.
#[derive(Debug, thiserror::Error)]
pub enum CreateError {
    /// What readers can run into too: the segment is missing (with
    /// [`CreationMode::OpenExisting`](crate::CreationMode)), damaged, someone else's, or has a
    /// channel of the same name with another kind or type.
    #[error(transparent)]
    Open(#[from] OpenError),
    /// `CreateNew` found one.
    #[error("{segment} already exists")]
    AlreadyExists {
        /// The segment.
        segment: SegmentLocation,
    },
    /// Another writer holds the lock.
    #[error("another writer (pid {pid}) is already writing to {segment}")]
    WriterActive {
        /// The segment.
        segment: SegmentLocation,
        /// The live writer's pid (0 if the header could not be read).
        pid: u32,
    },
    /// The capacity asked for is out of range.
    #[error("a capacity of {} is not possible: it must be between 4 KiB and 1 GiB", ByteSize(*capacity))]
    Capacity {
        /// The capacity asked for.
        capacity: usize,
    },
    /// The channels asked for cannot be.
    #[error("{segment} cannot have these channels: {source}")]
    Channels {
        /// The segment.
        segment: SegmentLocation,
        /// What is wrong.
        source: ChannelError,
    },
    /// The segment had to be re-created (larger, or with more channels) and could not be.
    #[error(transparent)]
    Replace(Box<GrowError>),
    /// The file system cannot back the segment.
    #[error(
        "{segment} needs {} but {} has only {} free",
        ByteSize(usize::try_from(*needed).unwrap_or(usize::MAX)),
        directory.display(),
        ByteSize(usize::try_from(*available).unwrap_or(usize::MAX))
    )]
    NoSpace {
        /// Whether it is a named segment, in the machine's shared memory (`/dev/shm`).
        shared_memory: bool,
        /// The segment.
        segment: SegmentLocation,
        /// Bytes it needs.
        needed: u64,
        /// Bytes free there.
        available: u64,
        /// Where its memory comes from (`/dev/shm` for a named segment).
        directory: std::path::PathBuf,
    },
}

/// Filling or publishing a loaned picture failed ([`ImageLoan`](crate::ImageLoan)). Nothing
/// was published: dropping the loan gives the write up, and the picture sent before stays the
/// latest.
#[derive(Debug, thiserror::Error)]
pub enum LoanError {
    /// More bytes were given than the picture has room for left; none of them were stored.
    #[error(
        "{given} bytes do not fit: the picture was announced with {len} bytes and {filled} are filled; nothing was sent"
    )]
    TooMany {
        /// Bytes given.
        given: usize,
        /// Bytes filled before.
        filled: usize,
        /// The picture's announced length.
        len: usize,
    },
    /// The source ended before the picture was full (a file that shrank while it was read).
    #[error(
        "the source ended after {filled} of the picture's {len} bytes (did the file change while it was read?); nothing was sent"
    )]
    SourceEnded {
        /// Bytes filled.
        filled: usize,
        /// The picture's announced length.
        len: usize,
    },
    /// Publishing was asked for before every byte was filled.
    #[error("only {filled} of the picture's {len} bytes are filled; nothing was sent")]
    Unfilled {
        /// Bytes filled.
        filled: usize,
        /// The picture's announced length.
        len: usize,
    },
    /// Reading the source failed.
    #[error(
        "reading the picture failed after {filled} of its {len} bytes: {source}; nothing was sent"
    )]
    Read {
        /// Bytes filled before the failure.
        filled: usize,
        /// The picture's announced length.
        len: usize,
        /// What the OS said.
        source: std::io::Error,
    },
}

/// Publishing a message failed ([`Writer::send`](crate::Writer::send)); nothing was written.
#[derive(Debug, thiserror::Error)]
pub enum SendError {
    /// The message does not fit the slot ([`Writer::grow`](crate::Writer::grow) makes room).
    #[error(
        "the {} is {} but {segment} holds at most {}",
        kind.noun(), ByteSize(*size), ByteSize(*capacity)
    )]
    TooLarge {
        /// The kind of record.
        kind: RecordKind,
        /// Encoded size of the message.
        size: usize,
        /// The slot's capacity.
        capacity: usize,
        /// The segment.
        segment: SegmentLocation,
    },
    /// The message contradicts itself (a frame whose size fields do not match its pixels).
    #[error("the {} cannot be sent: {source}", kind.noun())]
    Malformed {
        /// The kind of record.
        kind: RecordKind,
        /// What is wrong.
        source: FrameError,
    },
    /// The segment's file was truncated by someone else.
    #[error("{segment} was truncated to {len} bytes by another program")]
    FileTruncated {
        /// The segment.
        segment: SegmentLocation,
        /// The file's length now.
        len: u64,
    },
    /// The segment has no channel for these records.
    #[error("{segment} has no channel `{channel}`")]
    NoChannel {
        /// The segment.
        segment: SegmentLocation,
        /// The channel looked for.
        channel: String,
    },
    /// A struct channel's record given as bytes is not its type's size.
    #[error("struct channel `{channel}` holds values of {size} bytes, not {len}")]
    StructSize {
        /// The channel.
        channel: String,
        /// Bytes given.
        len: usize,
        /// Its type's size.
        size: usize,
    },
}

/// Moving to a larger segment failed ([`Writer::grow`](crate::Writer::grow)); the writer
/// keeps its segment as it was.
#[derive(Debug, thiserror::Error)]
pub enum GrowError {
    /// No segment can hold the record.
    #[error(
        "a {} of {} cannot be sent: a segment holds at most {} per {}",
        kind.noun(), ByteSize(*size), ByteSize(*max), kind.noun()
    )]
    TooLarge {
        /// The kind of record.
        kind: RecordKind,
        /// Its encoded size.
        size: usize,
        /// The most a slot of that kind holds.
        max: usize,
    },
    /// The file system holding the segment lacks the space.
    #[error(
        "{segment} cannot grow to {}: only {} is free in {}",
        ByteSize(*needed), ByteSize(usize::try_from(*available).unwrap_or(usize::MAX)), directory.display()
    )]
    NoSpace {
        /// The segment.
        segment: SegmentLocation,
        /// Bytes the larger segment needs.
        needed: usize,
        /// Bytes free there.
        available: u64,
        /// Where the segment's memory comes from (`/dev/shm` for a named segment).
        directory: std::path::PathBuf,
    },
    /// The larger segment could not be created.
    #[error("{segment} could not grow: {source}")]
    Create {
        /// The segment.
        segment: SegmentLocation,
        /// Why.
        source: Box<CreateError>,
    },
    /// The larger segment could not take the old one's name.
    #[error("{segment} could not grow: the larger segment could not take its name: {source}")]
    Rename {
        /// The segment.
        segment: SegmentLocation,
        /// The OS error.
        source: io::Error,
    },
}

/// Reading a record failed ([`Reader::read_into`](crate::Reader::read_into)).
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    /// The record's length field exceeds the slot.
    #[error(
        "the {kind} record's length of {len} bytes exceeds the capacity of {capacity} bytes: the segment is corrupt"
    )]
    LengthExceedsCapacity {
        /// Which slot.
        kind: RecordKind,
        /// The untrusted length.
        len: u64,
        /// The slot's capacity.
        capacity: usize,
    },
    /// The record is marked as another kind.
    #[error("the {expected} slot holds a record marked as kind {found}: the segment is corrupt")]
    WrongKind {
        /// The slot's kind.
        expected: RecordKind,
        /// The code found.
        found: u32,
    },
    /// The payload's checksum does not match its metadata.
    #[error(
        "the {kind} record fails its checksum (stored {stored:#018x}, computed {computed:#018x}): a program wrote to the segment without the publish protocol"
    )]
    ChecksumMismatch {
        /// Which slot.
        kind: RecordKind,
        /// The checksum in the metadata.
        stored: u64,
        /// The checksum of the bytes read.
        computed: u64,
    },
    /// The payload does not follow its format.
    #[error("the {kind} record is malformed: {source}")]
    Malformed {
        /// Which slot.
        kind: RecordKind,
        /// What is wrong.
        source: FrameError,
    },
    /// The slot's two sequence words contradict each other, and did not change on a second look.
    #[error(
        "the {kind} slot's sequence words are inconsistent: the segment is corrupt or was written without the publish protocol"
    )]
    Inconsistent {
        /// Which slot.
        kind: RecordKind,
    },
    /// A descriptor names a physical buffer the slot does not have.
    #[error(
        "the {kind} slot names buffer {region}, but it has {regions}: the segment is corrupt or was written without the publish protocol"
    )]
    BufferMapping {
        /// Which slot.
        kind: RecordKind,
        /// The buffer named.
        region: u32,
        /// How many the slot has.
        regions: usize,
    },
    /// The sequence words never settled.
    #[error(
        "the {kind} record kept changing while being read for {waited_ms} ms: the segment's sequence words are inconsistent"
    )]
    Unstable {
        /// Which slot.
        kind: RecordKind,
        /// How long the reader tried.
        waited_ms: u64,
    },
    /// The segment's file was truncated by someone else.
    #[error("{segment} was truncated to {len} bytes by another program")]
    FileTruncated {
        /// The segment.
        segment: SegmentLocation,
        /// The file's length now.
        len: u64,
    },
    /// The segment has no channel for these records.
    #[error("{segment} has no channel `{channel}`")]
    NoChannel {
        /// The segment.
        segment: SegmentLocation,
        /// The channel looked for.
        channel: String,
    },
    /// The segment was re-created, and its channel no longer fits the handle.
    #[error("the segment was re-created: {0}")]
    ChannelChanged(Box<OpenError>),
}

/// Removing a segment failed ([`remove`](crate::remove)).
#[derive(Debug, thiserror::Error)]
pub enum RemoveError {
    /// Nothing to remove.
    #[error("{segment} does not exist, so there is nothing to remove")]
    NotFound {
        /// The segment.
        segment: SegmentLocation,
    },
    /// The segment could not be opened to check it.
    #[error("{segment} could not be checked, so it was left alone: {source}")]
    CannotCheck {
        /// The segment.
        segment: SegmentLocation,
        /// Why it could not be opened.
        source: Box<OpenError>,
    },
    /// A file that is not a segment.
    #[error("{segment} is not a segment of ours, so it was left alone")]
    NotOurs {
        /// The segment.
        segment: SegmentLocation,
    },
    /// The OS refused.
    #[error("could not remove {segment}: {source}")]
    Os {
        /// The segment.
        segment: SegmentLocation,
        /// The OS error.
        source: io::Error,
    },
}

/// A size such as `16MiB` could not be parsed ([`parse_size`](crate::parse_size)).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "'{input}' is not a size; write a number of bytes, or a number with KiB, MiB or GiB, e.g. 16MiB"
)]
pub struct SizeError {
    /// The text given.
    pub input: String,
}
