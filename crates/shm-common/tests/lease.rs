//! Records read in place (`Reader::lease`, `Reader::lease_next`): held bytes never change
//! while the writer goes on, a channel's one lease makes other readers copy, a followed write
//! is held once complete, a damaged record is refused.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::os::unix::fs::FileExt;
use std::time::{Duration, Instant};

use shm_common::{
    Capacity, ChannelSpec, CreationMode, FRAME_CHANNEL, FrameHeader, ImageMessage, PICTURE_CHANNEL,
    PixelFormat, ReadError, Reader, STRUCT_CHANNEL, TestData, Writer,
};
use shm_testkit::TestSegment;

/// Bytes that differ at every position and from one `seed` to the next.
fn picture(len: usize, seed: u8) -> Vec<u8> {
    (0..len)
        .map(|i| (i * 7 + i / 251) as u8 ^ seed.wrapping_mul(37))
        .collect()
}

fn writer(segment: &TestSegment) -> Writer {
    Writer::create(
        &segment.location,
        CreationMode::CreateNew,
        Capacity::AtLeast(1 << 20),
    )
    .unwrap()
}

#[test]
fn a_held_picture_stays_as_it_was_while_the_writer_goes_on() {
    let segment = TestSegment::new("lease-hold");
    let mut writer = writer(&segment);
    let mut holder = Reader::open(&segment.location).unwrap();
    let mut other = Reader::open(&segment.location).unwrap();
    let first = picture(700_001, 1);
    writer.send_image("/first.png", &first).unwrap();

    let lease = holder.lease(PICTURE_CHANNEL).unwrap().unwrap();
    assert!(lease.is_in_place());
    assert_eq!(lease.meta().sequence, 1);
    // The writer never waits for the lease: five more records go into the other buffers.
    for seed in 2..=6 {
        writer
            .send_image("/next.png", &picture(600_000 + usize::from(seed), seed))
            .unwrap();
        let image = lease.image().unwrap();
        assert_eq!(image.path, "/first.png");
        assert!(image.bytes == first, "the held picture changed");
        // The channel's one lease is taken: another reader gets a copy of the newest.
        let copy = other.lease(PICTURE_CHANNEL).unwrap().unwrap();
        assert!(!copy.is_in_place());
        assert_eq!(copy.meta().sequence, u64::from(seed));
        assert!(copy.image().unwrap().bytes == picture(600_000 + usize::from(seed), seed));
    }
    drop(lease);
    let lease = other.lease(PICTURE_CHANNEL).unwrap().unwrap();
    assert!(
        lease.is_in_place(),
        "a given-back lease is free for the next reader"
    );
    assert_eq!(lease.meta().sequence, 6);
    assert_eq!(lease.image().unwrap().to_message().path, "/next.png");
}

#[test]
fn a_lease_follows_a_write_and_holds_the_record_once_complete() {
    let segment = TestSegment::new("lease-follow");
    let mut writer = writer(&segment);
    let mut reader = Reader::open(&segment.location).unwrap();
    let bytes = picture(900_017, 9);
    let expected = bytes.clone();
    let sender = std::thread::spawn(move || {
        // Written in pieces with pauses, so the reader meets it half-written.
        let mut loan = writer.loan_image("/slow.png", bytes.len()).unwrap();
        for piece in bytes.chunks(100_000) {
            loan.write(piece).unwrap();
            std::thread::sleep(Duration::from_millis(5));
        }
        loan.publish().unwrap();
        writer
    });
    let deadline = Instant::now() + Duration::from_secs(20);
    let (sequence, in_place, intact) = loop {
        assert!(Instant::now() < deadline, "the picture never arrived");
        reader.wait_for_next(Duration::from_millis(50));
        if let Some(lease) = reader.lease_next(PICTURE_CHANNEL).unwrap() {
            let image = lease.image().unwrap();
            let intact = image.path == "/slow.png" && image.bytes == expected;
            break (lease.meta().sequence, lease.is_in_place(), intact);
        }
    };
    assert_eq!((sequence, in_place, intact), (1, true, true));
    // Nothing newer: nothing to lease next.
    let _writer = sender.join().unwrap();
    assert!(reader.lease_next(PICTURE_CHANNEL).unwrap().is_none());
}

#[test]
fn frames_are_held_in_place_and_structs_copied() {
    let segment = TestSegment::new("lease-frame");
    let mut writer = Writer::create_with(
        &segment.location,
        CreationMode::CreateNew,
        ChannelSpec::demo(1 << 20, 1 << 20),
    )
    .unwrap();
    let header = FrameHeader {
        width: 64,
        height: 48,
        format: PixelFormat::Rgba8,
        stride: 256,
        number: 41,
    };
    let pixels = picture(256 * 48, 4);
    writer.send_frame(&header, &pixels).unwrap();
    writer.send_struct(&TestData::default()).unwrap();
    let mut reader = Reader::open(&segment.location).unwrap();
    {
        let lease = reader.lease(FRAME_CHANNEL).unwrap().unwrap();
        assert!(lease.is_in_place());
        let frame = lease.frame().unwrap();
        assert_eq!((frame.header, frame.pixels), (header, &pixels[..]));
    }
    // A struct's one line is copied (holding it would cost more than the copy).
    let lease = reader.lease(STRUCT_CHANNEL).unwrap().unwrap();
    assert!(!lease.is_in_place());
    assert_eq!(lease.bytes(), TestData::default().to_le_bytes());
    drop(lease);
    assert!(matches!(
        reader.lease("nothing"),
        Err(ReadError::NoChannel { .. })
    ));
}

#[test]
fn a_record_damaged_in_place_is_refused_by_its_checksum() {
    let segment = TestSegment::new("lease-damage");
    let mut writer = writer(&segment);
    let bytes = picture(100_000, 3);
    writer.send_image("/damaged.png", &bytes).unwrap();
    let mut reader = Reader::open(&segment.location).unwrap();
    assert_eq!(
        reader
            .lease(PICTURE_CHANNEL)
            .unwrap()
            .unwrap()
            .meta()
            .checksum,
        ImageMessage::checksum_of("/damaged.png", &bytes)
    );
    // Another program flips a byte of the picture in every one of the channel's buffers.
    let file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(segment.dev_shm_path())
        .unwrap();
    let stride = reader.capacity().next_multiple_of(64) as u64;
    for region in 0..3 {
        let at = 2 * 4096 + region * stride + 5_000;
        let mut byte = [0u8];
        file.read_exact_at(&mut byte, at).unwrap();
        file.write_all_at(&[!byte[0]], at).unwrap();
    }
    assert!(matches!(
        reader.lease(PICTURE_CHANNEL),
        Err(ReadError::ChecksumMismatch { .. })
    ));
    // Held and copied out, the damage is found in the same pass.
    let held = reader.hold(PICTURE_CHANNEL).unwrap().unwrap();
    let mut out = vec![0; held.len()];
    assert!(matches!(
        held.copy_into(&mut out),
        Err(ReadError::ChecksumMismatch { .. })
    ));
}

#[test]
fn a_held_record_is_copied_out_and_checked_in_one_pass() {
    let segment = TestSegment::new("lease-copy");
    let mut writer = writer(&segment);
    let bytes = picture(300_007, 5);
    writer.send_image("/copied.png", &bytes).unwrap();
    let mut reader = Reader::open(&segment.location).unwrap();
    let held = reader.hold(PICTURE_CHANNEL).unwrap().unwrap();
    let len = held.len();
    assert_eq!(len, ImageMessage::framed_len("/copied.png", bytes.len()));
    let mut out = vec![0; len + 3];
    let meta = held.copy_into(&mut out).unwrap();
    assert_eq!(meta.sequence, 1);
    let image = ImageMessage::decode(&out[..len]).unwrap();
    assert!(image.bytes == bytes);
    // Too short a buffer is refused in words, not a panic.
    let held = reader.hold(PICTURE_CHANNEL).unwrap().unwrap();
    let mut short = vec![0; 10];
    assert!(matches!(
        held.copy_into(&mut short),
        Err(ReadError::Malformed { .. })
    ));
    // Checked in place, the same record is a lease.
    let held = reader.hold(PICTURE_CHANNEL).unwrap().unwrap();
    assert!(held.check().unwrap().image().unwrap().bytes == bytes);
}
