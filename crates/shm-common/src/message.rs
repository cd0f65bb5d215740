//! Typed messages and their byte formats, exactly as the original demo wrote them.
//!
//! * [`ImageMessage`]: `[i32 path_len][path: UTF-8][i32 image_len][image bytes]`, little-endian.
//! * [`TestData`]: `#[repr(C)]` `{ i32 Id, i32 Age, i32 Scores[10] }`, 48 bytes, little-endian.
//!
//! And one of our own, for live streams (the original had none):
//!
//! * [`FrameMessage`]: `[u32 width][u32 height][u32 pixel format][u32 stride][u64 frame
//!   number][stride * height pixel bytes]`, little-endian: raw pixels a reader can upload
//!   without decoding.
//!
//! Messages encode into a [`Sink`] and decode from a [`Source`]; the channel implements both
//! directly over shared memory, so a picture is never assembled in a temporary buffer.

use std::fmt;

use bytemuck::{Pod, Zeroable};

use crate::error::FrameError;

/// What a record holds; each kind has its own slot in a segment.
// `u32`, not the default byte: a one-byte field left seven bytes of padding in `RecordMeta`,
// which the compiler copied in overlapping pieces that stalled store forwarding on every read.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u32)]
pub enum RecordKind {
    /// A picture: [`ImageMessage`].
    Image,
    /// The fixed-layout struct: [`TestData`].
    Struct,
    /// A raw frame of a live stream: [`FrameMessage`].
    Frame,
    /// Bytes in a format of the user's own.
    Bytes,
}

impl RecordKind {
    /// Every kind.
    pub const ALL: [RecordKind; 4] = [
        RecordKind::Image,
        RecordKind::Struct,
        RecordKind::Frame,
        RecordKind::Bytes,
    ];

    /// Its position in [`RecordKind::ALL`], for tables indexed by kind.
    pub fn index(self) -> usize {
        match self {
            RecordKind::Image => 0,
            RecordKind::Struct => 1,
            RecordKind::Frame => 2,
            RecordKind::Bytes => 3,
        }
    }

    /// The code stored in a record's metadata.
    pub fn code(self) -> u32 {
        match self {
            RecordKind::Image => 1,
            RecordKind::Struct => 2,
            RecordKind::Frame => 3,
            RecordKind::Bytes => 4,
        }
    }

    /// The kind stored under `code`, if any.
    pub fn from_code(code: u32) -> Option<RecordKind> {
        RecordKind::ALL.into_iter().find(|kind| kind.code() == code)
    }

    /// A lower-case name for messages and JSON: `image`, `struct`, `frame` or `bytes`.
    pub fn name(self) -> &'static str {
        match self {
            RecordKind::Image => "image",
            RecordKind::Struct => "struct",
            RecordKind::Frame => "frame",
            RecordKind::Bytes => "bytes",
        }
    }
}

impl RecordKind {
    /// What one record is called in a sentence: `picture`, `struct`, `frame`, `message`.
    pub fn noun(self) -> &'static str {
        match self {
            RecordKind::Image => "picture",
            RecordKind::Struct => "struct",
            RecordKind::Frame => "frame",
            RecordKind::Bytes => "message",
        }
    }
}

impl fmt::Display for RecordKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Where encoded bytes go.
pub trait Sink {
    /// Appends bytes.
    fn put(&mut self, bytes: &[u8]);
}

impl<S: Sink + ?Sized> Sink for &mut S {
    fn put(&mut self, bytes: &[u8]) {
        (**self).put(bytes);
    }
}

/// A checksum is fed what a record's bytes would be.
impl Sink for crate::checksum::Checksum {
    fn put(&mut self, bytes: &[u8]) {
        self.update(bytes);
    }
}

impl Sink for Vec<u8> {
    fn put(&mut self, bytes: &[u8]) {
        self.extend_from_slice(bytes);
    }
}

/// Where encoded bytes come from. Every length a decoder reads is checked against
/// [`Source::remaining`] before anything is allocated or copied.
pub trait Source {
    /// Bytes left to read.
    fn remaining(&self) -> usize;
    /// Fills `dst` with the next `dst.len()` bytes, or fails if fewer remain.
    fn read_exact(&mut self, dst: &mut [u8]) -> Result<(), FrameError>;
}

impl<S: Source + ?Sized> Source for &mut S {
    fn remaining(&self) -> usize {
        (**self).remaining()
    }

    fn read_exact(&mut self, dst: &mut [u8]) -> Result<(), FrameError> {
        (**self).read_exact(dst)
    }
}

impl Source for &[u8] {
    fn remaining(&self) -> usize {
        self.len()
    }

    fn read_exact(&mut self, dst: &mut [u8]) -> Result<(), FrameError> {
        if dst.len() > self.len() {
            return Err(FrameError::Truncated {
                needed: dst.len(),
                remaining: self.len(),
            });
        }
        let (head, tail) = self.split_at(dst.len());
        dst.copy_from_slice(head);
        *self = tail;
        Ok(())
    }
}

/// A message with a fixed record kind and byte format.
pub trait Message {
    /// What its records hold.
    const KIND: RecordKind;
    /// The channel it travels in, in the demo's segment.
    const CHANNEL: &'static str;
    /// Exact number of bytes [`Message::encode`] produces.
    fn encoded_len(&self) -> usize;
    /// Writes the message's bytes.
    fn encode(&self, sink: &mut impl Sink);
    /// Replaces `self` with the message read from `source`, reusing its allocations.
    /// Must consume the source exactly; trailing bytes are an error.
    fn decode_into(&mut self, source: &mut impl Source) -> Result<(), FrameError>;
}

/// A picture: its path on the sender's machine and the file's original bytes.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ImageMessage {
    /// Full path of the picture file, as the sender saw it.
    pub path: String,
    /// The file's bytes, unchanged (PNG stays PNG, JPEG stays JPEG).
    pub bytes: Vec<u8>,
}

impl ImageMessage {
    /// Bytes the framing adds to the path and the picture.
    pub const FRAMING_OVERHEAD: usize = 8;

    /// Encoded size of a picture message with this path and picture size.
    pub fn framed_len(path: &str, image_len: usize) -> usize {
        Self::FRAMING_OVERHEAD
            .saturating_add(path.len())
            .saturating_add(image_len)
    }

    /// Encodes a picture from borrowed parts, in the seed's framing.
    ///
    /// The caller guarantees both lengths fit in an `i32` (a segment's capacity does); larger
    /// lengths are clamped, which a decoder then rejects as a framing error.
    pub fn encode_parts(path: &str, bytes: &[u8], sink: &mut impl Sink) {
        Self::encode_header(path, bytes.len(), sink);
        sink.put(bytes);
    }

    /// The checksum a picture record of `path` and `bytes` carries ([`RecordMeta::checksum`](
    /// crate::RecordMeta::checksum)), computed without building the record.
    pub fn checksum_of(path: &str, bytes: &[u8]) -> u64 {
        let mut checksum = crate::checksum::Checksum::new();
        Self::encode_parts(path, bytes, &mut checksum);
        checksum.finish()
    }

    /// Encodes what comes before a picture's `image_len` bytes: the path and the lengths.
    pub(crate) fn encode_header(path: &str, image_len: usize, sink: &mut impl Sink) {
        sink.put(&len_prefix(path.len()));
        sink.put(path.as_bytes());
        sink.put(&len_prefix(image_len));
    }

    /// Decodes a picture message from a byte slice.
    pub fn decode(mut bytes: &[u8]) -> Result<ImageMessage, FrameError> {
        let mut message = ImageMessage::default();
        message.decode_into(&mut bytes)?;
        Ok(message)
    }

    /// Encodes into a new vector.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.encoded_len());
        self.encode(&mut out);
        out
    }
}

fn len_prefix(len: usize) -> [u8; 4] {
    i32::try_from(len).unwrap_or(i32::MAX).to_le_bytes()
}

fn read_len(source: &mut impl Source, field: &'static str) -> Result<usize, FrameError> {
    let mut raw = [0u8; 4];
    source.read_exact(&mut raw)?;
    let value = i32::from_le_bytes(raw);
    let len = usize::try_from(value).map_err(|_| FrameError::NegativeLength { field, value })?;
    if len > source.remaining() {
        return Err(FrameError::LengthTooLarge {
            field,
            len,
            remaining: source.remaining(),
        });
    }
    Ok(len)
}

fn no_trailing_bytes(source: &impl Source) -> Result<(), FrameError> {
    match source.remaining() {
        0 => Ok(()),
        extra => Err(FrameError::TrailingBytes { extra }),
    }
}

/// Takes the next `len` bytes (checked by `read_len`) of a record held in memory.
fn take<'a>(record: &mut &'a [u8], len: usize) -> &'a [u8] {
    let (taken, rest) = record.split_at(len.min(record.len()));
    *record = rest;
    taken
}

/// A picture record read where it lies (see [`Lease::image`](crate::Lease::image)): its path
/// and the file's bytes, borrowed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ImageView<'a> {
    /// Full path of the picture file, as the sender saw it.
    pub path: &'a str,
    /// The file's bytes.
    pub bytes: &'a [u8],
}

impl<'a> ImageView<'a> {
    /// Reads a picture record's framing, checking it as [`ImageMessage::decode`] does.
    pub fn parse(mut record: &'a [u8]) -> Result<ImageView<'a>, FrameError> {
        let path_len = read_len(&mut record, "path length")?;
        let path = std::str::from_utf8(take(&mut record, path_len)).map_err(|err| {
            FrameError::PathNotUtf8 {
                valid_up_to: err.valid_up_to(),
            }
        })?;
        let image_len = read_len(&mut record, "picture length")?;
        let bytes = take(&mut record, image_len);
        no_trailing_bytes(&record)?;
        Ok(ImageView { path, bytes })
    }

    /// An owned copy.
    pub fn to_message(&self) -> ImageMessage {
        ImageMessage {
            path: self.path.to_owned(),
            bytes: self.bytes.to_vec(),
        }
    }
}

/// A frame record read where it lies (see [`Lease::frame`](crate::Lease::frame)): its header
/// and pixels, borrowed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FrameView<'a> {
    /// Width, height, pixel format, stride and number.
    pub header: FrameHeader,
    /// `stride * height` bytes of pixels.
    pub pixels: &'a [u8],
}

impl<'a> FrameView<'a> {
    /// Reads a frame record's header, checking it as [`FrameMessage`]'s decoder does.
    pub fn parse(mut record: &'a [u8]) -> Result<FrameView<'a>, FrameError> {
        let header = FrameHeader::decode(&mut record)?;
        Ok(FrameView {
            header,
            pixels: record,
        })
    }
}

fn read_vec(source: &mut impl Source, len: usize, out: &mut Vec<u8>) -> Result<(), FrameError> {
    // Shrinking keeps the allocation; growing allocates at most `len`, already checked against
    // what the source holds.
    out.resize(len, 0);
    source.read_exact(out)
}

impl Message for ImageMessage {
    const KIND: RecordKind = RecordKind::Image;
    const CHANNEL: &'static str = crate::directory::PICTURE_CHANNEL;

    fn encoded_len(&self) -> usize {
        Self::framed_len(&self.path, self.bytes.len())
    }

    fn encode(&self, sink: &mut impl Sink) {
        Self::encode_parts(&self.path, &self.bytes, sink);
    }

    fn decode_into(&mut self, source: &mut impl Source) -> Result<(), FrameError> {
        let path_len = read_len(source, "path length")?;
        let mut path = std::mem::take(&mut self.path).into_bytes();
        read_vec(source, path_len, &mut path)?;
        self.path = String::from_utf8(path).map_err(|err| FrameError::PathNotUtf8 {
            valid_up_to: err.utf8_error().valid_up_to(),
        })?;
        let image_len = read_len(source, "picture length")?;
        read_vec(source, image_len, &mut self.bytes)?;
        no_trailing_bytes(source)
    }
}

/// How a frame's pixels are laid out in memory.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub enum PixelFormat {
    /// Red, green, blue, alpha: one byte each, alpha not premultiplied.
    #[default]
    Rgba8,
    /// Red, green, blue: one byte each.
    Rgb8,
    /// One byte of grey.
    Gray8,
}

impl PixelFormat {
    /// Every format, in code order.
    pub const ALL: [PixelFormat; 3] = [PixelFormat::Rgba8, PixelFormat::Rgb8, PixelFormat::Gray8];

    /// The code stored in a frame.
    pub fn code(self) -> u32 {
        match self {
            PixelFormat::Rgba8 => 1,
            PixelFormat::Rgb8 => 2,
            PixelFormat::Gray8 => 3,
        }
    }

    /// The format stored under `code`, if any.
    pub fn from_code(code: u32) -> Option<PixelFormat> {
        PixelFormat::ALL
            .into_iter()
            .find(|format| format.code() == code)
    }

    /// Bytes per pixel.
    pub fn bytes_per_pixel(self) -> usize {
        match self {
            PixelFormat::Rgba8 => 4,
            PixelFormat::Rgb8 => 3,
            PixelFormat::Gray8 => 1,
        }
    }

    /// Its name in messages and JSON: `RGBA8`, `RGB8`, `Gray8`.
    pub fn name(self) -> &'static str {
        match self {
            PixelFormat::Rgba8 => "RGBA8",
            PixelFormat::Rgb8 => "RGB8",
            PixelFormat::Gray8 => "Gray8",
        }
    }
}

impl fmt::Display for PixelFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// One frame of a live stream: raw pixels and what a reader needs to show them without
/// decoding. Rows are `stride` bytes apart (at least `width` pixels' worth); the record holds
/// exactly `stride * height` pixel bytes.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FrameMessage {
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
    /// How each pixel is stored.
    pub format: PixelFormat,
    /// Bytes from the start of one row to the start of the next.
    pub stride: u32,
    /// The frame's number in its stream, counting from 0: gaps are frames a reader skipped.
    pub number: u64,
    /// `stride * height` bytes of pixels.
    pub pixels: Vec<u8>,
}

impl FrameMessage {
    /// Bytes before the pixels.
    pub const HEADER_LEN: usize = 24;

    /// Encoded size of a frame with `pixel_len` bytes of pixels.
    pub fn framed_len(pixel_len: usize) -> usize {
        Self::HEADER_LEN.saturating_add(pixel_len)
    }

    /// A frame of tightly packed rows (`stride = width * bytes per pixel`), pixels zeroed.
    pub fn blank(width: u32, height: u32, format: PixelFormat, number: u64) -> FrameMessage {
        let stride = width.saturating_mul(format.bytes_per_pixel() as u32);
        FrameMessage {
            width,
            height,
            format,
            stride,
            number,
            pixels: vec![0; stride as usize * height as usize],
        }
    }

    /// Bytes of one row's pixels (without the padding up to `stride`).
    pub fn row_len(&self) -> usize {
        self.width as usize * self.format.bytes_per_pixel()
    }

    /// Encodes a frame from borrowed parts.
    pub fn encode_parts(header: &FrameHeader, pixels: &[u8], sink: &mut impl Sink) {
        Self::encode_header(header, sink);
        sink.put(pixels);
    }

    /// Encodes the fields before the pixels.
    pub fn encode_header(header: &FrameHeader, sink: &mut impl Sink) {
        let mut bytes = [0u8; Self::HEADER_LEN];
        bytes[0..4].copy_from_slice(&header.width.to_le_bytes());
        bytes[4..8].copy_from_slice(&header.height.to_le_bytes());
        bytes[8..12].copy_from_slice(&header.format.code().to_le_bytes());
        bytes[12..16].copy_from_slice(&header.stride.to_le_bytes());
        bytes[16..24].copy_from_slice(&header.number.to_le_bytes());
        sink.put(&bytes);
    }

    /// The frame's header fields.
    pub fn header(&self) -> FrameHeader {
        FrameHeader {
            width: self.width,
            height: self.height,
            format: self.format,
            stride: self.stride,
            number: self.number,
        }
    }
}

/// A frame's fields without its pixels, for [`FrameMessage::encode_parts`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct FrameHeader {
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
    /// How each pixel is stored.
    pub format: PixelFormat,
    /// Bytes from one row to the next.
    pub stride: u32,
    /// The frame's number in its stream.
    pub number: u64,
}

impl FrameMessage {
    /// Encodes into a new vector.
    pub fn to_vec(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.encoded_len());
        self.encode(&mut out);
        out
    }
}

impl FrameHeader {
    /// Reads a frame's header from `source` and checks it against the pixel bytes that remain.
    fn decode(source: &mut impl Source) -> Result<FrameHeader, FrameError> {
        let mut header = [0u8; FrameMessage::HEADER_LEN];
        source.read_exact(&mut header)?;
        let word = |at: usize| {
            u32::from_le_bytes([header[at], header[at + 1], header[at + 2], header[at + 3]])
        };
        let (width, height, code, stride) = (word(0), word(4), word(8), word(12));
        let mut number = [0u8; 8];
        number.copy_from_slice(&header[16..24]);
        let format = PixelFormat::from_code(code).ok_or(FrameError::PixelFormat { code })?;
        let header = FrameHeader {
            width,
            height,
            format,
            stride,
            number: u64::from_le_bytes(number),
        };
        header.check(source.remaining())?;
        Ok(header)
    }

    /// Checks that `pixel_len` bytes are exactly the `stride * height` this header describes,
    /// with rows at least `width` pixels long: what a reader will check.
    pub fn check(&self, pixel_len: usize) -> Result<(), FrameError> {
        let row = u64::from(self.width) * self.format.bytes_per_pixel() as u64;
        let needed = u64::from(self.stride) * u64::from(self.height);
        if u64::from(self.stride) < row || needed != pixel_len as u64 {
            return Err(FrameError::FrameGeometry {
                width: self.width,
                height: self.height,
                stride: self.stride,
                bytes: pixel_len,
            });
        }
        Ok(())
    }
}

impl Message for FrameMessage {
    const KIND: RecordKind = RecordKind::Frame;
    const CHANNEL: &'static str = crate::directory::FRAME_CHANNEL;

    fn encoded_len(&self) -> usize {
        Self::framed_len(self.pixels.len())
    }

    fn encode(&self, sink: &mut impl Sink) {
        Self::encode_parts(&self.header(), &self.pixels, sink);
    }

    fn decode_into(&mut self, source: &mut impl Source) -> Result<(), FrameError> {
        let header = FrameHeader::decode(source)?;
        // Exactly what the source holds, as `decode` checked.
        let len = source.remaining();
        read_vec(source, len, &mut self.pixels)?;
        self.width = header.width;
        self.height = header.height;
        self.format = header.format;
        self.stride = header.stride;
        self.number = header.number;
        Ok(())
    }
}

/// The original demo's fixed-layout struct: `Id`, `Age` and ten `Scores`, 48 bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Pod, Zeroable, crate::Schema)]
#[repr(C)]
pub struct TestData {
    /// `Id`, offset 0.
    pub id: i32,
    /// `Age`, offset 4.
    pub age: i32,
    /// `Scores[10]`, offset 8.
    pub scores: [i32; 10],
}

const _: () = {
    assert!(std::mem::size_of::<TestData>() == 48);
    assert!(std::mem::offset_of!(TestData, id) == 0);
    assert!(std::mem::offset_of!(TestData, age) == 4);
    assert!(std::mem::offset_of!(TestData, scores) == 8);
};

impl Default for TestData {
    /// The original's values: `Id=100, Age=20, Scores=60..69`.
    fn default() -> TestData {
        TestData {
            id: 100,
            age: 20,
            scores: std::array::from_fn(|i| 60 + i as i32),
        }
    }
}

impl TestData {
    /// Size of the encoded struct.
    pub const SIZE: usize = 48;

    /// The little-endian bytes, as the original laid them out.
    pub fn to_le_bytes(&self) -> [u8; Self::SIZE] {
        let little = TestData {
            id: self.id.to_le(),
            age: self.age.to_le(),
            scores: self.scores.map(i32::to_le),
        };
        bytemuck::cast(little)
    }

    /// The struct from its little-endian bytes.
    pub fn from_le_bytes(bytes: [u8; Self::SIZE]) -> TestData {
        let raw: TestData = bytemuck::cast(bytes);
        TestData {
            id: i32::from_le(raw.id),
            age: i32::from_le(raw.age),
            scores: raw.scores.map(i32::from_le),
        }
    }
}

impl fmt::Display for TestData {
    /// `Id=100,Age=20,Scores=60,61,62,63,64,65,66,67,68,69`, as the original's message box.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Id={},Age={},Scores=", self.id, self.age)?;
        for (i, score) in self.scores.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            write!(f, "{score}")?;
        }
        Ok(())
    }
}

impl Message for TestData {
    const KIND: RecordKind = RecordKind::Struct;
    const CHANNEL: &'static str = crate::directory::STRUCT_CHANNEL;

    fn encoded_len(&self) -> usize {
        Self::SIZE
    }

    fn encode(&self, sink: &mut impl Sink) {
        sink.put(&self.to_le_bytes());
    }

    fn decode_into(&mut self, source: &mut impl Source) -> Result<(), FrameError> {
        if source.remaining() != Self::SIZE {
            return Err(FrameError::StructSize {
                len: source.remaining(),
            });
        }
        let mut bytes = [0u8; Self::SIZE];
        source.read_exact(&mut bytes)?;
        *self = TestData::from_le_bytes(bytes);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// The original's struct, byte for byte (sequential layout, packing 1, little-endian).
    const SEED_STRUCT: [u8; 48] = [
        100, 0, 0, 0, 20, 0, 0, 0, 60, 0, 0, 0, 61, 0, 0, 0, 62, 0, 0, 0, 63, 0, 0, 0, 64, 0, 0, 0,
        65, 0, 0, 0, 66, 0, 0, 0, 67, 0, 0, 0, 68, 0, 0, 0, 69, 0, 0, 0,
    ];

    #[test]
    fn struct_matches_the_seed_test_vector() {
        assert_eq!(TestData::default().to_le_bytes(), SEED_STRUCT);
        assert_eq!(TestData::from_le_bytes(SEED_STRUCT), TestData::default());
        assert_eq!(
            TestData::default().to_string(),
            "Id=100,Age=20,Scores=60,61,62,63,64,65,66,67,68,69"
        );
    }

    #[test]
    fn negative_fields_display_like_the_original() {
        let data = TestData {
            id: -1,
            age: 0,
            scores: [-5; 10],
        };
        assert_eq!(
            data.to_string(),
            "Id=-1,Age=0,Scores=-5,-5,-5,-5,-5,-5,-5,-5,-5,-5"
        );
    }

    #[test]
    fn image_matches_the_seed_test_vector() {
        let message = ImageMessage {
            path: "C:\\图.png".to_owned(),
            bytes: vec![0x89, b'P', b'N', b'G'],
        };
        let mut expected = vec![10, 0, 0, 0];
        expected.extend_from_slice("C:\\图.png".as_bytes());
        expected.extend_from_slice(&[4, 0, 0, 0, 0x89, b'P', b'N', b'G']);
        assert_eq!(message.to_bytes(), expected);
        assert_eq!(message.encoded_len(), expected.len());
        assert_eq!(ImageMessage::decode(&expected).unwrap(), message);
    }

    #[test]
    fn hostile_framing_is_rejected_without_allocating_its_claims() {
        let huge_path = [0xff, 0xff, 0xff, 0x7f, b'a'];
        assert!(matches!(
            ImageMessage::decode(&huge_path),
            Err(FrameError::LengthTooLarge {
                len: 0x7fff_ffff,
                ..
            })
        ));
        let negative = [0, 0, 0, 0x80];
        assert!(matches!(
            ImageMessage::decode(&negative),
            Err(FrameError::NegativeLength { .. })
        ));
        let bad_utf8 = [2, 0, 0, 0, 0xc3, 0x28, 0, 0, 0, 0];
        assert!(matches!(
            ImageMessage::decode(&bad_utf8),
            Err(FrameError::PathNotUtf8 { valid_up_to: 0 })
        ));
        let trailing = [0, 0, 0, 0, 0, 0, 0, 0, 9];
        assert!(matches!(
            ImageMessage::decode(&trailing),
            Err(FrameError::TrailingBytes { extra: 1 })
        ));
        assert!(matches!(
            ImageMessage::decode(&[1, 0]),
            Err(FrameError::Truncated { .. })
        ));
        let mut data = TestData::default();
        assert!(matches!(
            data.decode_into(&mut &[0u8; 47][..]),
            Err(FrameError::StructSize { len: 47 })
        ));
    }

    #[test]
    fn frames_with_lying_geometry_are_refused_without_allocating_their_claims() {
        let frame = FrameMessage::blank(3, 2, PixelFormat::Rgb8, 9);
        let bytes = frame.to_vec();
        assert_eq!(bytes.len(), FrameMessage::HEADER_LEN + 18);
        let mut decoded = FrameMessage::default();
        decoded.decode_into(&mut &bytes[..]).unwrap();
        assert_eq!(decoded, frame);

        let mut huge = bytes.clone();
        huge[0..4].copy_from_slice(&u32::MAX.to_le_bytes());
        huge[12..16].copy_from_slice(&u32::MAX.to_le_bytes());
        assert!(matches!(
            decoded.decode_into(&mut &huge[..]),
            Err(FrameError::FrameGeometry { .. })
        ));
        let mut narrow = bytes.clone();
        narrow[12..16].copy_from_slice(&2u32.to_le_bytes());
        assert!(matches!(
            decoded.decode_into(&mut &narrow[..]),
            Err(FrameError::FrameGeometry { stride: 2, .. })
        ));
        let mut unknown = bytes;
        unknown[8..12].copy_from_slice(&77u32.to_le_bytes());
        assert!(matches!(
            decoded.decode_into(&mut &unknown[..]),
            Err(FrameError::PixelFormat { code: 77 })
        ));
    }

    proptest! {
        #[test]
        fn frame_decoding_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..256)) {
            let _ = FrameMessage::default().decode_into(&mut &bytes[..]);
        }

        #[test]
        fn image_framing_round_trips(path in ".{0,300}", bytes in proptest::collection::vec(any::<u8>(), 0..4096)) {
            let message = ImageMessage { path, bytes };
            let encoded = message.to_bytes();
            prop_assert_eq!(encoded.len(), message.encoded_len());
            prop_assert_eq!(ImageMessage::decode(&encoded).unwrap(), message);
        }

        #[test]
        fn long_paths_round_trip(path in "[a-z/é漢]{1000,5000}") {
            let message = ImageMessage { path, bytes: vec![1, 2, 3] };
            prop_assert_eq!(ImageMessage::decode(&message.to_bytes()).unwrap(), message);
        }

        #[test]
        fn decoding_arbitrary_bytes_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
            let _ = ImageMessage::decode(&bytes);
        }

        #[test]
        fn struct_round_trips(id in any::<i32>(), age in any::<i32>(), scores in any::<[i32; 10]>()) {
            let data = TestData { id, age, scores };
            let mut decoded = TestData::default();
            decoded.decode_into(&mut &data.to_le_bytes()[..]).unwrap();
            prop_assert_eq!(decoded, data);
        }
    }
}
