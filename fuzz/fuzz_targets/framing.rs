//! Arbitrary bytes as a picture record and as a frame record: decoding reports, never panics
//! or over-allocates.
#![no_main]

use libfuzzer_sys::fuzz_target;
use shm_common::{FrameMessage, ImageMessage, Message};

fuzz_target!(|data: &[u8]| {
    if let Ok(message) = ImageMessage::decode(data) {
        assert!(message.path.len() + message.bytes.len() + 8 == data.len());
        assert_eq!(message.to_bytes(), data);
    }
    let mut frame = FrameMessage::default();
    if frame.decode_into(&mut &data[..]).is_ok() {
        assert_eq!(frame.pixels.len() + FrameMessage::HEADER_LEN, data.len());
        assert_eq!(frame.to_vec(), data);
    }
});
