//! The bare shared cache line `shm bench` measures its floor with.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::atomic::Ordering;

use shm_common::{OpenError, SharedLine};
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
