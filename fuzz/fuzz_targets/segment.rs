//! A valid segment (a picture, a struct and a frame in it) patched by the fuzzer's bytes anywhere in its
//! header, slots and data: opening and reading it must report, never crash, hang or allocate
//! beyond the capacity.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use shm_common::{
    Capacity, CreationMode, FrameMessage, ImageMessage, Message, PixelFormat, Reader, RecordKind,
    SegmentLocation, TestData, Writer,
};

/// The bytes of a valid segment at the smallest capacity.
fn template() -> &'static Vec<u8> {
    static TEMPLATE: OnceLock<Vec<u8>> = OnceLock::new();
    TEMPLATE.get_or_init(|| {
        let dir = tempfile::tempdir().expect("a temporary folder");
        let location = SegmentLocation::File(dir.path().join("template"));
        let mut writer = Writer::create(&location, CreationMode::CreateNew, Capacity::AtLeast(4096))
            .expect("a segment");
        writer.send_image("/图.png", &[0x89, b'P', b'N', b'G', 1, 2, 3]).expect("a picture");
        writer.send_struct(&TestData::default()).expect("a struct");
        let frame = FrameMessage::blank(4, 2, PixelFormat::Rgb8, 7);
        let growth = writer
            .plan_growth(RecordKind::Frame, frame.encoded_len())
            .expect("room for frames");
        writer.grow(&growth).expect("a frame slot");
        writer.send(&frame).expect("a frame");
        drop(writer);
        std::fs::read(dir.path().join("template")).expect("the segment's bytes")
    })
}

fuzz_target!(|data: &[u8]| {
    let mut bytes = template().clone();
    // The input is a list of patches: 2 bytes of offset, 1 of length, then that many bytes.
    let mut rest = data;
    while rest.len() >= 3 {
        let offset = usize::from(u16::from_le_bytes([rest[0], rest[1]])) % bytes.len();
        let len = usize::from(rest[2]).min(rest.len() - 3);
        let end = (offset + len).min(bytes.len());
        bytes[offset..end].copy_from_slice(&rest[3..3 + end - offset]);
        rest = &rest[3 + len..];
    }
    if rest.first() == Some(&0xff) {
        bytes.truncate(usize::from(rest.get(1).copied().unwrap_or(0)) * 64);
    }
    let Ok(dir) = tempfile::tempdir() else {
        return;
    };
    let path = dir.path().join("segment");
    if std::fs::write(&path, &bytes).is_err() {
        return;
    }
    if let Ok(mut reader) = Reader::open(&SegmentLocation::File(path)) {
        let mut image = ImageMessage::default();
        if let Ok(Some(meta)) = reader.read_into(&mut image) {
            assert!(meta.len <= reader.capacity());
        }
        let mut data = TestData::default();
        let _ = reader.read_into(&mut data);
        // Following a patched "write in progress": gives up quickly on a writer that is gone.
        reader.set_stall_timeout(std::time::Duration::from_millis(1));
        let mut followed = ImageMessage::default();
        if let Ok(Some(meta)) = reader.read_next_into(&mut followed) {
            assert!(meta.len <= reader.capacity());
        }
        let mut frame = FrameMessage::default();
        if let Ok(Some(meta)) = reader.read_into(&mut frame) {
            assert!(meta.len <= reader.capacities().frame);
        }
        let _ = reader.read_next_into(&mut frame);
        let _ = reader.info();
        let _ = reader.writer_status();
    }
});
