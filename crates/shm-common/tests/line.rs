//! The bare shared memory `shm bench` measures its floors with.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::atomic::Ordering;

use shm_common::{OpenError, SharedBytes, SharedLine};
use shm_testkit::TestSegment;

#[test]
fn a_shared_line_carries_a_word_between_two_mappings_and_goes_with_its_creator() {
    let segment = TestSegment::new("line");
    assert!(matches!(
        SharedLine::open(&segment.location),
        Err(OpenError::NotFound { .. })
    ));
    let created = SharedLine::create(&segment.location).unwrap();
    let opened = SharedLine::open(&segment.location).unwrap();
    assert_eq!(
        opened.word().load(Ordering::Acquire),
        0,
        "a new line is zeroed"
    );
    created.word().store(41, Ordering::Release);
    assert_eq!(opened.word().load(Ordering::Acquire), 41);
    let answer = std::thread::scope(|scope| {
        scope.spawn(|| {
            while opened.word().load(Ordering::Acquire) != 42 {
                std::hint::spin_loop();
            }
            opened.word().store(43, Ordering::Release);
        });
        created.word().store(42, Ordering::Release);
        while created.word().load(Ordering::Acquire) != 43 {
            std::hint::spin_loop();
        }
        created.word().load(Ordering::Acquire)
    });
    assert_eq!(answer, 43);
    assert!(segment.dev_shm_path().exists());
    drop(created);
    assert!(!segment.dev_shm_path().exists(), "its creator removes it");
}

#[test]
fn every_line_of_a_shared_page_is_shared_and_none_past_it() {
    let segment = TestSegment::new("lines");
    let created = SharedLine::create(&segment.location).unwrap();
    let opened = SharedLine::open(&segment.location).unwrap();
    assert_eq!(SharedLine::LINES, 64);
    for index in 0..SharedLine::LINES {
        let line = created.line(index).unwrap();
        assert_eq!(line.len(), 8);
        line[7].store(index as u64 + 1, Ordering::Release);
    }
    for index in 0..SharedLine::LINES {
        let line = opened.line(index).unwrap();
        assert_eq!(line[7].load(Ordering::Acquire), index as u64 + 1);
    }
    assert!(opened.line(SharedLine::LINES).is_none());
    assert!(opened.line(usize::MAX).is_none());
    assert_eq!(
        opened.line(0).unwrap()[0].load(Ordering::Acquire),
        opened.word().load(Ordering::Acquire),
        "the handed word is line 0's first"
    );
}

#[test]
fn shared_bytes_carry_whole_words_between_two_mappings_and_refuse_anything_else() {
    let segment = TestSegment::new("bytes");
    let created = SharedBytes::create(&segment.location, 1000).unwrap();
    assert!(matches!(
        SharedBytes::create(&segment.location, 1000),
        Err(OpenError::Os { source, .. }) if source.kind() == std::io::ErrorKind::AlreadyExists
    ));
    let opened = SharedBytes::open(&segment.location).unwrap();
    assert_eq!(created.len(), 1024, "rounded up to a cache line");
    assert_eq!(opened.len(), 1024);
    let mut back = vec![1u8; 1024];
    assert!(opened.read(0, &mut back));
    assert!(back.iter().all(|&byte| byte == 0), "new bytes are zeroed");

    // 104 bytes: three 32-byte blocks and a word, at an offset that is a word, not a block.
    let bytes: Vec<u8> = (0..104u8).map(|i| i.wrapping_mul(37) ^ 0x5a).collect();
    assert!(created.write(8, &bytes));
    let mut back = vec![0u8; 104];
    assert!(opened.read(8, &mut back));
    assert_eq!(back, bytes);

    // Refused without copying anything: a misaligned offset, a partial word, past the end.
    assert!(!created.write(3, &[7; 8]));
    assert!(!created.write(0, &[7; 5]));
    assert!(!created.write(1016, &[7; 16]));
    assert!(!created.write(usize::MAX - 7, &[7; 8]));
    let mut tail = [9u8; 16];
    assert!(!opened.read(1016, &mut tail));
    assert_eq!(tail, [9; 16], "a refused read leaves the buffer as it was");
    let mut whole = vec![0u8; 1024];
    assert!(opened.read(0, &mut whole));
    assert_eq!(&whole[8..112], &bytes[..]);
    assert!(
        whole[..8]
            .iter()
            .chain(&whole[112..])
            .all(|&byte| byte == 0)
    );

    // The words: each its own, published with the bytes before them.
    assert!(created.word(SharedBytes::WORDS).is_none());
    let done = std::thread::scope(|scope| {
        let reader = scope.spawn(|| {
            while opened.word(3).unwrap().load(Ordering::Acquire) != 1 {
                std::hint::spin_loop();
            }
            let mut back = vec![0u8; 1024];
            assert!(opened.read(0, &mut back));
            back
        });
        assert!(created.write(0, &[0xab; 1024]));
        created.word(3).unwrap().store(1, Ordering::Release);
        reader.join().unwrap()
    });
    assert!(done.iter().all(|&byte| byte == 0xab));
    assert_eq!(opened.word(2).unwrap().load(Ordering::Relaxed), 0);
    drop(opened);
    assert!(segment.dev_shm_path().exists());
    drop(created);
    assert!(!segment.dev_shm_path().exists(), "its creator removes it");
}

#[test]
fn shared_bytes_someone_else_made_shorter_than_their_page_are_refused_in_words() {
    use std::os::unix::fs::OpenOptionsExt;
    let segment = TestSegment::new("short-bytes");
    let file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(segment.dev_shm_path())
        .unwrap();
    file.set_len(4040).unwrap();
    let Err(err) = SharedBytes::open(&segment.location) else {
        panic!("a file shorter than the page of words was opened");
    };
    assert!(err.to_string().contains("4040 bytes"), "{err}");
    assert!(
        segment.dev_shm_path().exists(),
        "not the opener's to remove"
    );
    std::fs::remove_file(segment.dev_shm_path()).unwrap();
}
