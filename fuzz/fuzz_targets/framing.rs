//! Arbitrary bytes as a picture record: decoding reports, never panics or over-allocates.
#![no_main]

use libfuzzer_sys::fuzz_target;
use shm_common::ImageMessage;

fuzz_target!(|data: &[u8]| {
    if let Ok(message) = ImageMessage::decode(data) {
        assert!(message.path.len() + message.bytes.len() + 8 == data.len());
        assert_eq!(message.to_bytes(), data);
    }
});
