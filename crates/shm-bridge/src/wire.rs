//! What crosses the network: a record with its metadata, and a segment's channel directory.
//!
//! Everything here is read from the network, so it is untrusted: every length is checked
//! against the message and a limit before anything is allocated, every code against the known
//! ones, and a record's bytes against its checksum.
//!
//! ```text
//! record (key  shm-exchange/<segment>/record/<channel>)
//!   0  magic "SHMBRDG1"     8  version (u32)      12  record kind code (u32)
//!  16  source instance id  24  sequence           32  checksum
//!  40  length              48  writer's start     56  writer's publish time
//!  64  the record's bytes                              (times: ns since the Unix epoch)
//! resync   (key  shm-exchange/<segment>/resync): empty; the sender sends every channel's
//!          latest record again
//! channels (key  shm-exchange/<segment>/channels)
//!   0  magic "SHMBRDC1"     8  version (u32)      12  its writer (u32: 0 none, 1 active)
//!  16  source instance id  24  the sending bridge's run (a new number each time it starts)
//!  32  the segment's channel directory, as stored in segments
//! ```
//! Integers are little-endian.

use shm_common::checksum::Checksum;
use shm_common::directory;
use shm_common::{ChannelSpec, RecordKind};

const RECORD_MAGIC: &[u8; 8] = b"SHMBRDG1";
const CHANNELS_MAGIC: &[u8; 8] = b"SHMBRDC1";
const VERSION: u32 = 1;
/// Bytes before a record's own.
pub const RECORD_HEADER: usize = 64;
const CHANNELS_HEADER: usize = 32;
/// The key of a segment's records, its channel list and its resync requests, under
/// `shm-exchange/<segment>/`.
pub fn record_key(segment: &str, channel: &str) -> String {
    format!("{KEY_PREFIX}/{segment}/record/{channel}")
}

/// See [`record_key`].
pub fn channels_key(segment: &str) -> String {
    format!("{KEY_PREFIX}/{segment}/channels")
}

/// See [`record_key`]: an empty message asks for every channel's latest record again.
pub fn resync_key(segment: &str) -> String {
    format!("{KEY_PREFIX}/{segment}/resync")
}

/// Every key of a segment, for a subscriber.
pub fn segment_keys(segment: &str) -> String {
    format!("{KEY_PREFIX}/{segment}/**")
}

/// What a key of [`segment_keys`] carries.
#[derive(Debug, PartialEq, Eq)]
pub enum Topic<'k> {
    /// A record of this channel.
    Record(&'k str),
    /// The channel list.
    Channels,
    /// A resync request.
    Resync,
}

impl Topic<'_> {
    /// The topic of `key`, a key of `segment`; `None` for another.
    pub fn of<'k>(key: &'k str, segment: &str) -> Option<Topic<'k>> {
        let rest = key
            .strip_prefix(KEY_PREFIX)?
            .strip_prefix('/')?
            .strip_prefix(segment)?
            .strip_prefix('/')?;
        match rest {
            "channels" => Some(Topic::Channels),
            "resync" => Some(Topic::Resync),
            _ => rest.strip_prefix("record/").map(Topic::Record),
        }
    }
}

/// The prefix of every key expression.
const KEY_PREFIX: &str = "shm-exchange";

/// What a record message says of its record.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Header {
    /// What it holds.
    pub kind: RecordKind,
    /// The source segment's instance: a re-created segment numbers its records afresh.
    pub instance: u64,
    /// Its number in its channel of the source segment.
    pub sequence: u64,
    /// The writer's checksum of the record's bytes.
    pub checksum: u64,
    /// The source writer's start and publish times, in ns since the Unix epoch.
    pub started_unix_ns: u64,
    /// See `started_unix_ns`.
    pub published_unix_ns: u64,
}

/// A record as it arrived: its header and bytes, borrowed from the message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Record<'m> {
    /// Its metadata.
    pub header: Header,
    /// The record.
    pub bytes: &'m [u8],
}

/// Why a message from the network was refused.
#[derive(Debug, PartialEq, Eq)]
pub enum WireError {
    /// Not one of ours, or of another version.
    Unknown,
    /// Shorter than its header or than the length it claims.
    Truncated {
        /// Bytes the message has.
        len: usize,
    },
    /// It claims more bytes than this bridge accepts.
    TooLarge {
        /// Bytes claimed.
        len: u64,
        /// The limit.
        limit: usize,
    },
    /// A record kind code no version of the library gives.
    Kind {
        /// The code.
        code: u32,
    },
    /// The bytes do not give the checksum the writer computed.
    Checksum {
        /// Stored.
        stored: u64,
        /// Computed here.
        computed: u64,
    },
    /// A channel directory that does not decode.
    Channels(String),
    /// A writer state code no version of the bridge gives.
    WriterState {
        /// The code.
        code: u32,
    },
}

impl std::fmt::Display for WireError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            WireError::Unknown => write!(f, "not a message of this bridge's version"),
            WireError::Truncated { len } => write!(f, "cut short at {len} bytes"),
            WireError::TooLarge { len, limit } => {
                write!(f, "claims {len} bytes, more than the {limit} accepted")
            }
            WireError::Kind { code } => write!(f, "names record kind {code}, which is unknown"),
            WireError::Checksum { stored, computed } => write!(
                f,
                "fails its checksum (sent {stored:#018x}, computed {computed:#018x}): damaged on the way"
            ),
            WireError::Channels(why) => write!(f, "has a channel directory that {why}"),
            WireError::WriterState { code } => {
                write!(f, "names writer state {code}, which is unknown")
            }
        }
    }
}

fn word(bytes: &[u8], at: usize) -> u64 {
    let mut word = [0u8; 8];
    word.copy_from_slice(&bytes[at..at + 8]);
    u64::from_le_bytes(word)
}

fn half(bytes: &[u8], at: usize) -> u32 {
    let mut half = [0u8; 4];
    half.copy_from_slice(&bytes[at..at + 4]);
    u32::from_le_bytes(half)
}

impl Header {
    /// The message for a record of `len` bytes with this header, its bytes written by `fill`
    /// straight into the message.
    pub fn message<E>(
        &self,
        len: usize,
        fill: impl FnOnce(&mut [u8]) -> Result<(), E>,
    ) -> Result<Vec<u8>, E> {
        let mut out = Vec::with_capacity(RECORD_HEADER + len);
        out.extend_from_slice(RECORD_MAGIC);
        out.extend_from_slice(&VERSION.to_le_bytes());
        out.extend_from_slice(&self.kind.code().to_le_bytes());
        for value in [
            self.instance,
            self.sequence,
            self.checksum,
            len as u64,
            self.started_unix_ns,
            self.published_unix_ns,
        ] {
            out.extend_from_slice(&value.to_le_bytes());
        }
        out.resize(RECORD_HEADER + len, 0);
        fill(&mut out[RECORD_HEADER..])?;
        Ok(out)
    }
}

impl<'m> Record<'m> {
    /// Whether the bytes give the checksum their first writer computed, for a channel of
    /// `capacity` bytes (whose records fit in one line or not: the checksums differ).
    pub fn check(&self, capacity: usize) -> Result<(), WireError> {
        let computed = Checksum::of_record(self.bytes, capacity);
        if computed != self.header.checksum {
            return Err(WireError::Checksum {
                stored: self.header.checksum,
                computed,
            });
        }
        Ok(())
    }

    /// Reads a record message of at most `limit` record bytes, checking its framing (its
    /// bytes are checked against the checksum by [`Record::check`], once the channel is known).
    pub fn decode(message: &'m [u8], limit: usize) -> Result<Record<'m>, WireError> {
        if message.len() < RECORD_HEADER {
            return Err(if message.starts_with(RECORD_MAGIC) {
                WireError::Truncated { len: message.len() }
            } else {
                WireError::Unknown
            });
        }
        if &message[..8] != RECORD_MAGIC || half(message, 8) != VERSION {
            return Err(WireError::Unknown);
        }
        let code = half(message, 12);
        let kind = RecordKind::from_code(code).ok_or(WireError::Kind { code })?;
        let claimed = word(message, 40);
        let len = usize::try_from(claimed)
            .ok()
            .filter(|&len| len <= limit)
            .ok_or(WireError::TooLarge {
                len: claimed,
                limit,
            })?;
        let bytes = &message[RECORD_HEADER..];
        if bytes.len() != len {
            return Err(WireError::Truncated { len: message.len() });
        }
        Ok(Record {
            header: Header {
                kind,
                instance: word(message, 16),
                sequence: word(message, 24),
                checksum: word(message, 32),
                started_unix_ns: word(message, 48),
                published_unix_ns: word(message, 56),
            },
            bytes,
        })
    }
}

/// A segment's channels, as a sending bridge announces them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Announcement {
    /// The source segment's instance.
    pub instance: u64,
    /// The sending bridge's run: a receiver that sees another asks for every channel's latest
    /// record again (what the new bridge sent before the link was up is lost).
    pub run: u64,
    /// The source segment's writer: while none is active, the receiving bridge lets go of its
    /// local segment the same way (closing it, or abandoning it as a crashed writer would), so
    /// readers there see what became of the writer.
    pub writer: SourceWriter,
    /// The segment's channels.
    pub channels: Vec<ChannelSpec>,
}

/// What became of a source segment's writer, as its bridge sees it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SourceWriter {
    /// None holds the segment: it closed (or none ever attached).
    Closed = 0,
    /// A live process writes it.
    Active = 1,
    /// Its writer died without closing.
    Crashed = 2,
}

impl Announcement {
    /// The message.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::new();
        out.extend_from_slice(CHANNELS_MAGIC);
        out.extend_from_slice(&VERSION.to_le_bytes());
        out.extend_from_slice(&(self.writer as u32).to_le_bytes());
        out.extend_from_slice(&self.instance.to_le_bytes());
        out.extend_from_slice(&self.run.to_le_bytes());
        out.extend_from_slice(&directory::encode(&self.channels));
        out
    }

    /// Reads and checks an announcement.
    pub fn decode(message: &[u8]) -> Result<Announcement, WireError> {
        if message.len() < CHANNELS_HEADER
            || &message[..8] != CHANNELS_MAGIC
            || half(message, 8) != VERSION
        {
            return Err(WireError::Unknown);
        }
        let writer = match half(message, 12) {
            0 => SourceWriter::Closed,
            1 => SourceWriter::Active,
            2 => SourceWriter::Crashed,
            code => return Err(WireError::WriterState { code }),
        };
        let channels = directory::decode(&message[CHANNELS_HEADER..])
            .map_err(|err| WireError::Channels(err.to_string()))?;
        Ok(Announcement {
            instance: word(message, 16),
            run: word(message, 24),
            writer,
            channels,
        })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    const BYTES: &[u8] = b"a picture's bytes";

    fn record() -> Record<'static> {
        Record {
            header: Header {
                kind: RecordKind::Image,
                instance: 7,
                sequence: 3,
                checksum: Checksum::of_record(BYTES, 1 << 20),
                started_unix_ns: 11,
                published_unix_ns: 12,
            },
            bytes: BYTES,
        }
    }

    #[test]
    fn a_record_survives_the_trip_and_every_damage_is_refused() {
        let message = record()
            .header
            .message(BYTES.len(), |out| {
                out.copy_from_slice(BYTES);
                Ok::<(), ()>(())
            })
            .unwrap();
        assert_eq!(Record::decode(&message, 1 << 20), Ok(record()));
        assert_eq!(record().check(1 << 20), Ok(()));
        let mut damaged = message.clone();
        *damaged.last_mut().unwrap() ^= 1;
        let damaged = Record::decode(&damaged, 1 << 20).unwrap();
        assert!(matches!(
            damaged.check(1 << 20),
            Err(WireError::Checksum { .. })
        ));
        // A one-line channel's records carry the line checksum.
        assert!(matches!(
            record().check(64),
            Err(WireError::Checksum { .. })
        ));
        assert_eq!(
            Record::decode(&message[..message.len() - 1], 1 << 20),
            Err(WireError::Truncated {
                len: message.len() - 1
            })
        );
        assert_eq!(
            Record::decode(&message, 4),
            Err(WireError::TooLarge { len: 17, limit: 4 })
        );
        let mut huge = message.clone();
        huge[40..48].copy_from_slice(&u64::MAX.to_le_bytes());
        assert!(matches!(
            Record::decode(&huge, usize::MAX),
            Err(WireError::Truncated { .. })
        ));
        let mut kind = message.clone();
        kind[12..16].copy_from_slice(&99u32.to_le_bytes());
        assert_eq!(
            Record::decode(&kind, 1 << 20),
            Err(WireError::Kind { code: 99 })
        );
        assert_eq!(Record::decode(b"hello", 1 << 20), Err(WireError::Unknown));
        let mut version = message;
        version[8] = 2;
        assert_eq!(Record::decode(&version, 1 << 20), Err(WireError::Unknown));
    }

    #[test]
    fn keys_name_their_topic() {
        assert_eq!(
            Topic::of(&record_key("cam", "picture"), "cam"),
            Some(Topic::Record("picture"))
        );
        assert_eq!(
            Topic::of(&channels_key("cam"), "cam"),
            Some(Topic::Channels)
        );
        assert_eq!(Topic::of(&resync_key("cam"), "cam"), Some(Topic::Resync));
        assert_eq!(Topic::of(&channels_key("cam2"), "cam"), None);
        assert_eq!(Topic::of("shm-exchange/cam/other", "cam"), None);
    }

    #[test]
    fn channels_survive_the_trip_and_garbage_is_refused() {
        let announcement = Announcement {
            instance: 9,
            run: 4,
            writer: SourceWriter::Crashed,
            channels: ChannelSpec::demo(1 << 20, 0),
        };
        let message = announcement.encode();
        assert_eq!(Announcement::decode(&message), Ok(announcement));
        let mut damaged = message.clone();
        damaged.truncate(CHANNELS_HEADER + 10);
        assert!(matches!(
            Announcement::decode(&damaged),
            Err(WireError::Channels(_))
        ));
        assert_eq!(Announcement::decode(b"SHMBRDC1"), Err(WireError::Unknown));
        let mut unknown_state = message.clone();
        unknown_state[12] = 9;
        assert_eq!(
            Announcement::decode(&unknown_state),
            Err(WireError::WriterState { code: 9 })
        );
    }
}
