//! A segment's channels: their names, what their records hold and how large they may be,
//! written once by the segment's creator into the directory after the control page.
//!
//! ```text
//! u32 channel count
//! per channel: u16 name length | name | u32 record kind code | u64 capacity
//!              | u32 type description length | type description (struct channels only)
//! ```
//!
//! Little-endian, zero-padded to whole words. The directory never changes while the segment
//! lives: a writer that needs other channels moves to a new segment (see
//! [`Writer::create_with`](crate::Writer::create_with)). Read from an existing segment it is
//! untrusted: every length is checked before use, and a channel that breaks the rules below
//! makes the whole segment invalid ([`LayoutError::Directory`](crate::LayoutError)).

use std::fmt;

use crate::error::{ChannelError, DirectoryError};
use crate::layout::{MAX_CAPACITY, MIN_CAPACITY};
use crate::message::RecordKind;
use crate::schema::{Schema, TypeDescriptor};
use crate::untrusted::Input;

/// The most channels a segment may have: one slot each in the control page.
pub const MAX_CHANNELS: usize = 15;
/// The longest channel name, in bytes.
pub const MAX_CHANNEL_NAME_LEN: usize = 63;
/// The largest directory a segment may have, in bytes.
pub const MAX_DIRECTORY_LEN: usize = 4 << 20;

/// The channel the demo's pictures travel in.
pub const PICTURE_CHANNEL: &str = "picture";
/// The channel the demo's struct ([`TestData`](crate::TestData)) travels in.
pub const STRUCT_CHANNEL: &str = "struct";
/// The channel the demo's frames travel in.
pub const FRAME_CHANNEL: &str = "frames";

/// The demo's channel for `kind` records: `picture`, `struct` or `frames`.
pub fn demo_channel(kind: RecordKind) -> Option<&'static str> {
    match kind {
        RecordKind::Image => Some(PICTURE_CHANNEL),
        RecordKind::Struct => Some(STRUCT_CHANNEL),
        RecordKind::Frame => Some(FRAME_CHANNEL),
        RecordKind::Bytes => None,
    }
}

/// A validated channel name: 1 to 63 of `[A-Za-z0-9._-]`.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ChannelName(String);

impl ChannelName {
    /// Checks `name`.
    pub fn new(name: impl Into<String>) -> Result<ChannelName, ChannelError> {
        let name = name.into();
        let allowed = |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-');
        if name.is_empty() || name.len() > MAX_CHANNEL_NAME_LEN || !name.chars().all(allowed) {
            return Err(ChannelError::Name {
                name: name.chars().take(80).collect(),
            });
        }
        Ok(ChannelName(name))
    }

    /// The name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ChannelName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::str::FromStr for ChannelName {
    type Err = ChannelError;

    fn from_str(name: &str) -> Result<ChannelName, ChannelError> {
        ChannelName::new(name)
    }
}

/// One channel of a segment: its name, what its records hold and the largest record.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChannelSpec {
    /// Its name, unique in the segment.
    pub name: ChannelName,
    /// What its records hold.
    pub kind: RecordKind,
    /// The largest record in bytes; a struct channel's is its type's size. A picture, frame
    /// or bytes channel may start at 0 (no buffers) and grow with its first record.
    pub capacity: usize,
    /// A struct channel's type; `None` for the others.
    pub descriptor: Option<TypeDescriptor>,
}

impl ChannelSpec {
    /// A channel named `name` for values of `T`.
    pub fn of<T: Schema>(name: &str) -> Result<ChannelSpec, ChannelError> {
        let spec = ChannelSpec {
            name: ChannelName::new(name)?,
            kind: RecordKind::Struct,
            capacity: size_of::<T>(),
            descriptor: Some(T::descriptor()),
        };
        spec.check()?;
        Ok(spec)
    }

    /// A channel named `name` for byte messages of up to `capacity` bytes.
    pub fn bytes(name: &str, capacity: usize) -> Result<ChannelSpec, ChannelError> {
        let spec = ChannelSpec {
            name: ChannelName::new(name)?,
            kind: RecordKind::Bytes,
            capacity,
            descriptor: None,
        };
        spec.check()?;
        Ok(spec)
    }

    /// The demo's channels: pictures of up to `picture` bytes, the struct, and frames of up to
    /// `frame` bytes (0: none until the first frame grows the segment).
    pub fn demo(picture: usize, frame: usize) -> Vec<ChannelSpec> {
        let spec = |name: &str, kind, capacity, descriptor| ChannelSpec {
            name: ChannelName(name.to_owned()),
            kind,
            capacity,
            descriptor,
        };
        vec![
            spec(PICTURE_CHANNEL, RecordKind::Image, picture, None),
            spec(
                STRUCT_CHANNEL,
                RecordKind::Struct,
                size_of::<crate::TestData>(),
                Some(crate::TestData::descriptor()),
            ),
            spec(FRAME_CHANNEL, RecordKind::Frame, frame, None),
        ]
    }

    /// Checks the rules a channel must follow (see the module docs).
    pub fn check(&self) -> Result<(), ChannelError> {
        let name = || self.name.to_string();
        if self.capacity > MAX_CAPACITY {
            return Err(ChannelError::Capacity {
                channel: name(),
                capacity: self.capacity,
            });
        }
        match (&self.descriptor, self.kind) {
            (Some(descriptor), RecordKind::Struct) => {
                descriptor
                    .check()
                    .map_err(|source| ChannelError::Descriptor {
                        channel: name(),
                        source,
                    })?;
                if descriptor.size != self.capacity || descriptor.size == 0 {
                    return Err(ChannelError::StructSize {
                        channel: name(),
                        capacity: self.capacity,
                        size: descriptor.size,
                    });
                }
            }
            (None, RecordKind::Image) if self.capacity < MIN_CAPACITY => {
                return Err(ChannelError::Capacity {
                    channel: name(),
                    capacity: self.capacity,
                });
            }
            (None, RecordKind::Image | RecordKind::Frame | RecordKind::Bytes) => {}
            (descriptor, kind) => {
                return Err(ChannelError::TypeForKind {
                    channel: name(),
                    kind,
                    has_type: descriptor.is_some(),
                });
            }
        }
        Ok(())
    }

    /// Whether this is one of the demo's channels (`picture`, `struct`, `frames`, each with
    /// its own kind).
    pub fn is_demo(&self) -> bool {
        demo_channel(self.kind) == Some(self.name.as_str())
    }

    /// The same channel grown to hold records of `capacity` bytes.
    pub(crate) fn with_capacity(&self, capacity: usize) -> ChannelSpec {
        ChannelSpec {
            capacity,
            ..self.clone()
        }
    }
}

/// Checks a whole set of channels: 1 to [`MAX_CHANNELS`], each valid, names unique.
pub(crate) fn check_channels(channels: &[ChannelSpec]) -> Result<(), ChannelError> {
    if channels.is_empty() || channels.len() > MAX_CHANNELS {
        return Err(ChannelError::Count {
            count: channels.len(),
        });
    }
    for (index, channel) in channels.iter().enumerate() {
        channel.check()?;
        if channels[..index].iter().any(|c| c.name == channel.name) {
            return Err(ChannelError::Duplicate {
                channel: channel.name.to_string(),
            });
        }
    }
    Ok(())
}

/// The directory's bytes, zero-padded to whole words: as a segment stores it after its
/// control page (and a bridge sends it).
pub fn encode(channels: &[ChannelSpec]) -> Vec<u8> {
    let mut out = Vec::new();
    out.extend_from_slice(&(channels.len() as u32).to_le_bytes());
    for channel in channels {
        let name = channel.name.as_str().as_bytes();
        out.extend_from_slice(&(name.len() as u16).to_le_bytes());
        out.extend_from_slice(name);
        out.extend_from_slice(&channel.kind.code().to_le_bytes());
        out.extend_from_slice(&(channel.capacity as u64).to_le_bytes());
        let descriptor = channel
            .descriptor
            .as_ref()
            .map(TypeDescriptor::encode)
            .unwrap_or_default();
        out.extend_from_slice(&(descriptor.len() as u32).to_le_bytes());
        out.extend_from_slice(&descriptor);
    }
    out.resize(out.len().next_multiple_of(8), 0);
    out
}

/// Decodes and checks a directory read from a segment (or a network); `bytes` may carry
/// padding after it.
pub fn decode(bytes: &[u8]) -> Result<Vec<ChannelSpec>, DirectoryError> {
    let mut input = Input::new(bytes, |_, len| DirectoryError::Truncated { len });
    let count = input.u32()? as usize;
    if count == 0 || count > MAX_CHANNELS {
        return Err(DirectoryError::Channel(ChannelError::Count { count }));
    }
    let mut channels = Vec::with_capacity(count);
    for _ in 0..count {
        let name_len = usize::from(input.u16()?);
        let name = String::from_utf8_lossy(input.take(name_len)?).into_owned();
        let name = ChannelName::new(name).map_err(DirectoryError::Channel)?;
        let code = input.u32()?;
        let kind = RecordKind::from_code(code).ok_or(DirectoryError::Kind {
            channel: name.to_string(),
            code,
        })?;
        let capacity = usize::try_from(input.u64()?).unwrap_or(usize::MAX);
        let descriptor_len = input.u32()? as usize;
        let descriptor = match descriptor_len {
            0 => None,
            len => Some(TypeDescriptor::decode(input.take(len)?).map_err(|source| {
                DirectoryError::Channel(ChannelError::Descriptor {
                    channel: name.to_string(),
                    source,
                })
            })?),
        };
        channels.push(ChannelSpec {
            name,
            kind,
            capacity,
            descriptor,
        });
    }
    if input.rest().iter().any(|&byte| byte != 0) {
        return Err(DirectoryError::TrailingBytes);
    }
    check_channels(&channels).map_err(DirectoryError::Channel)?;
    Ok(channels)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn channels() -> Vec<ChannelSpec> {
        let mut channels = ChannelSpec::demo(MIN_CAPACITY, 0);
        channels.push(ChannelSpec::bytes("log", 100).unwrap());
        channels
    }

    #[test]
    fn a_directory_round_trips_through_its_encoding() {
        let encoded = encode(&channels());
        assert!(encoded.len().is_multiple_of(8));
        assert_eq!(decode(&encoded), Ok(channels()));
    }

    #[test]
    fn broken_directories_are_refused() {
        let encoded = encode(&channels());
        let unpadded = encoded.len() - encoded.iter().rev().take_while(|&&b| b == 0).count();
        for len in 0..unpadded.saturating_sub(8) {
            assert!(decode(&encoded[..len]).is_err(), "cut at {len}");
        }
        let mut twice = channels();
        twice.push(ChannelSpec::bytes("log", 5).unwrap());
        assert_eq!(
            decode(&encode(&twice)),
            Err(DirectoryError::Channel(ChannelError::Duplicate {
                channel: "log".into()
            }))
        );
        let mut wrong_size = channels();
        wrong_size[1].capacity = 47;
        assert!(matches!(
            decode(&encode(&wrong_size)),
            Err(DirectoryError::Channel(ChannelError::StructSize { .. }))
        ));
        assert!(ChannelName::new("no/slash").is_err());
        assert!(ChannelName::new("x".repeat(64)).is_err());
    }

    proptest! {
        #[test]
        fn any_bytes_decode_without_panicking(bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
            let _ = decode(&bytes);
        }

        #[test]
        fn patched_directories_decode_to_valid_channels_or_errors(
            patches in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..6),
        ) {
            let mut bytes = encode(&channels());
            for (index, value) in patches {
                let at = index.index(bytes.len());
                bytes[at] = value;
            }
            if let Ok(decoded) = decode(&bytes) {
                prop_assert_eq!(check_channels(&decoded), Ok(()));
            }
        }
    }
}
