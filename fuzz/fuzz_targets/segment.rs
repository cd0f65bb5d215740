//! Arbitrary bytes as a whole segment file: opening and reading it must report, never crash,
//! hang or allocate beyond the capacity.
#![no_main]

use libfuzzer_sys::fuzz_target;
use shm_common::{ImageMessage, Reader, SegmentLocation, TestData};

/// A valid segment's size at the smallest capacity, so inputs can reach past the header.
const SEGMENT_SIZE: usize = 16384;

fuzz_target!(|data: &[u8]| {
    let Ok(dir) = tempfile::tempdir() else {
        return;
    };
    let path = dir.path().join("segment");
    let mut bytes = data.to_vec();
    if bytes.len() < SEGMENT_SIZE {
        bytes.resize(SEGMENT_SIZE, 0);
    }
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
        let _ = reader.info();
        let _ = reader.writer_status();
    }
});
