//! Pictures written straight into shared memory (`Writer::loan_image`): read in by the kernel
//! from a file or a pipe, copied in piece by piece, given up, followed while they land.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{Seek, SeekFrom, Write};
use std::time::Duration;

use shm_common::{Capacity, CreationMode, ImageMessage, LoanError, Reader, Writer};
use shm_testkit::TestSegment;

/// Bytes that differ at every position (a shifted or joined copy shows).
fn picture(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 7 + i / 251) as u8).collect()
}

fn writer(segment: &TestSegment) -> Writer {
    Writer::create(
        &segment.location,
        CreationMode::CreateNew,
        Capacity::AtLeast(4 << 20),
    )
    .unwrap()
}

fn file_with(bytes: &[u8]) -> std::fs::File {
    let mut file = tempfile::tempfile().unwrap();
    file.write_all(bytes).unwrap();
    file.seek(SeekFrom::Start(0)).unwrap();
    file
}

fn latest(reader: &mut Reader) -> (ImageMessage, u64) {
    let (message, meta) = reader.latest_image().unwrap().unwrap();
    (message, meta.sequence)
}

#[test]
fn a_picture_read_from_a_file_into_shared_memory_arrives_whole() {
    let segment = TestSegment::new("loan-file");
    let mut writer = writer(&segment);
    let mut reader = Reader::open(&segment.location).unwrap();
    // Paths of every length modulo 8 put the picture's first byte at every alignment; odd
    // lengths leave a partial last word.
    for (round, len) in [3_000_001usize, 65_536, 7, 0, 131_075]
        .into_iter()
        .enumerate()
    {
        let bytes = picture(len);
        let path = "/p".repeat(round + 1);
        let mut loan = writer.loan_image(&path, len).unwrap();
        assert_eq!((loan.picture_len(), loan.filled()), (len, 0));
        loan.fill_from(file_with(&bytes)).unwrap();
        assert_eq!(loan.filled(), len);
        let expected = ImageMessage::checksum_of(&path, &bytes);
        assert_eq!(loan.checksum(), expected);
        let meta = loan.publish().unwrap();
        assert_eq!(meta.len, ImageMessage::framed_len(&path, len));
        assert_eq!(meta.checksum, expected);
        let (message, sequence) = latest(&mut reader);
        assert_eq!((message.path, sequence), (path, round as u64 + 1));
        assert!(message.bytes == bytes, "{len} bytes changed on the way");
    }
}

#[test]
fn pieces_copied_in_and_short_reads_from_a_pipe_join_up() {
    let segment = TestSegment::new("loan-pipe");
    let mut writer = writer(&segment);
    let mut reader = Reader::open(&segment.location).unwrap();
    let bytes = picture(1_000_003);
    let (pipe_reader, mut pipe_writer) = std::io::pipe().unwrap();
    let rest = bytes[13..].to_vec();
    // Writes of odd sizes with pauses: the reads come back short and unaligned.
    let feeder = std::thread::spawn(move || {
        for piece in rest.chunks(40_009) {
            pipe_writer.write_all(piece).unwrap();
            std::thread::sleep(Duration::from_millis(1));
        }
    });
    let mut loan = writer.loan_image("/pipe.png", bytes.len()).unwrap();
    loan.write(&bytes[..5]).unwrap();
    loan.write(&bytes[5..13]).unwrap();
    loan.fill_from(&pipe_reader).unwrap();
    loan.publish().unwrap();
    feeder.join().unwrap();
    let (message, _) = latest(&mut reader);
    assert!(message.bytes == bytes, "the pieces did not join up");
}

#[test]
fn a_loan_given_up_leaves_the_picture_before_it_the_latest() {
    let segment = TestSegment::new("loan-abandon");
    let mut writer = writer(&segment);
    let mut reader = Reader::open(&segment.location).unwrap();
    writer.send_image("/before.png", &picture(1000)).unwrap();

    // The source ends early: refused in words, nothing published.
    let mut loan = writer.loan_image("/short.png", 2000).unwrap();
    let err = loan.fill_from(file_with(&picture(1500))).unwrap_err();
    assert!(
        matches!(
            err,
            LoanError::SourceEnded {
                filled: 1500,
                len: 2000
            }
        ),
        "{err:?}"
    );
    assert!(err.to_string().contains("nothing was sent"), "{err}");
    let err = loan.publish().unwrap_err();
    assert!(matches!(err, LoanError::Unfilled { .. }), "{err:?}");
    assert_eq!(latest(&mut reader).0.path, "/before.png");

    // Too many bytes are refused whole.
    let mut loan = writer.loan_image("/exact.png", 10).unwrap();
    loan.write(&[1; 4]).unwrap();
    let err = loan.write(&[2; 7]).unwrap_err();
    assert!(
        matches!(
            err,
            LoanError::TooMany {
                given: 7,
                filled: 4,
                len: 10
            }
        ),
        "{err:?}"
    );
    assert_eq!(loan.filled(), 4);
    drop(loan);
    let (message, sequence) = latest(&mut reader);
    assert_eq!((message.path.as_str(), sequence), ("/before.png", 1));

    // The next picture takes the number the given-up ones did not use.
    writer.send_image("/after.png", &picture(3000)).unwrap();
    let (message, sequence) = latest(&mut reader);
    assert_eq!((message.path.as_str(), sequence), ("/after.png", 2));
    assert!(message.bytes == picture(3000));
}

#[test]
fn a_reader_following_a_loan_that_is_given_up_stops_at_once() {
    let segment = TestSegment::new("loan-follow");
    let mut writer = writer(&segment);
    let mut reader = Reader::open(&segment.location).unwrap();
    // Were the given-up write taken for a stalled writer, this is how long the reader waits.
    reader.set_stall_timeout(Duration::from_secs(60));
    let (events_tx, events_rx) = std::sync::mpsc::channel();
    let follower = std::thread::spawn(move || {
        let mut message = ImageMessage::default();
        while !reader.wait_for_next(Duration::from_millis(100)) {}
        events_tx.send("writing").unwrap();
        // Follows the loan's bytes until it is given up.
        let given_up = reader.read_next_into(&mut message).unwrap();
        assert_eq!(given_up, None, "a given-up write was read");
        events_tx.send("stopped").unwrap();
        loop {
            reader.wait_for_next(Duration::from_millis(100));
            if let Some(meta) = reader.read_next_into(&mut message).unwrap() {
                return (meta.sequence, message);
            }
        }
    });
    let mut loan = writer.loan_image("/given-up.png", 3 << 20).unwrap();
    loan.write(&picture(1 << 20)).unwrap();
    assert_eq!(
        events_rx.recv_timeout(Duration::from_secs(20)).unwrap(),
        "writing"
    );
    // Time for the follower to copy what is there and wait for more.
    std::thread::sleep(Duration::from_millis(100));
    drop(loan);
    assert_eq!(
        events_rx.recv_timeout(Duration::from_secs(20)).unwrap(),
        "stopped",
        "the follower waited for the given-up write as for a stalled writer"
    );
    writer.send_image("/kept.png", &picture(2 << 20)).unwrap();
    let (sequence, message) = follower.join().unwrap();
    // The next picture takes the given-up one's number, and arrives whole.
    assert_eq!((sequence, message.path.as_str()), (1, "/kept.png"));
    assert!(message.bytes == picture(2 << 20));
}
