//! One follower through a segment's whole life: no segment yet, a writer, its exit, a new
//! writer's segment, growth, an unusable segment.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};

use shm_common::{
    Capacity, CreationMode, Follower, LayoutError, MIN_CAPACITY, OpenError, RecordKind,
    SETUP_GRACE, SegmentEvent, SegmentLocation, Writer, WriterStatus,
};
use shm_testkit::TestSegment;

/// Checks at once until something happens (within 5 s), and returns what.
fn next_events(follower: &mut Follower) -> Vec<SegmentEvent> {
    next_events_within(follower, Duration::from_secs(5))
}

fn next_events_within(follower: &mut Follower, limit: Duration) -> Vec<SegmentEvent> {
    let deadline = Instant::now() + limit;
    loop {
        let events = follower.check(true);
        if !events.is_empty() {
            return events;
        }
        assert!(Instant::now() < deadline, "nothing happened");
        follower.wait(Duration::from_millis(20), false);
    }
}

fn writer(location: &SegmentLocation) -> Writer {
    Writer::create(
        location,
        CreationMode::CreateOrOpen,
        Capacity::AtLeast(MIN_CAPACITY),
    )
    .unwrap()
}

#[test]
fn a_follower_waits_attaches_and_follows_new_and_grown_segments() {
    let segment = TestSegment::new("follower");
    let mut follower = Follower::new(segment.location.clone());
    assert!(matches!(follower.check(true)[..], [SegmentEvent::Waiting]));
    assert!(follower.check(true).is_empty(), "waiting is said once");
    assert!(!follower.wait(Duration::from_millis(1), true));

    let mut first = writer(&segment.location);
    let pid = std::process::id();
    assert!(matches!(
        next_events(&mut follower)[..],
        [SegmentEvent::Opened { writer: WriterStatus::Active { pid: p }, reopened: false }] if p == pid
    ));
    first.send_image("/a.png", b"one").unwrap();
    assert!(follower.wait(Duration::from_secs(5), false));
    let reader = follower.reader_mut().unwrap();
    assert_eq!(reader.latest_image().unwrap().unwrap().0.path, "/a.png");

    first.set_persist(true);
    drop(first);
    assert!(matches!(
        next_events(&mut follower)[..],
        [SegmentEvent::Writer(WriterStatus::Closed)]
    ));

    // A new writer creates a segment of its own under the name: followed, records from 1.
    shm_common::remove(&segment.location).unwrap();
    let mut second = writer(&segment.location);
    assert!(matches!(
        next_events(&mut follower)[..],
        [SegmentEvent::Opened {
            writer: WriterStatus::Active { .. },
            reopened: true
        }]
    ));
    second.send_image("/b.png", b"two").unwrap();
    let reader = follower.reader_mut().unwrap();
    let (image, meta) = reader.latest_image().unwrap().unwrap();
    assert_eq!((image.path.as_str(), meta.sequence), ("/b.png", 1));

    // It grows: followed, what was read stays read.
    let growth = second
        .plan_growth(RecordKind::Image, 2 * MIN_CAPACITY)
        .unwrap();
    second.grow(&growth).unwrap();
    assert!(matches!(
        next_events(&mut follower)[..],
        [SegmentEvent::Grown]
    ));
    let reader = follower.reader_mut().unwrap();
    assert!(!reader.has_new(RecordKind::Image));
    assert_eq!(reader.capacity(), growth.capacities.picture);
}

#[test]
fn an_unusable_segment_is_reported_once() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("not-a-segment");
    std::fs::write(&path, vec![7u8; 8192]).unwrap();
    std::fs::set_permissions(&path, std::os::unix::fs::PermissionsExt::from_mode(0o600)).unwrap();
    let mut follower = Follower::new(SegmentLocation::File(path));
    let events = follower.check(true);
    assert!(
        matches!(
            events[..],
            [SegmentEvent::Unusable(OpenError::Invalid { .. })]
        ),
        "{events:?}"
    );
    assert!(
        follower.check(true).is_empty(),
        "the same error is said once"
    );
    assert!(follower.reader().is_none());
}

#[test]
fn a_segment_being_set_up_is_waited_for_and_one_never_finished_reported() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("being-created");
    // What a reader finds between its creator's open and its first store: an empty file.
    std::fs::write(&path, b"").unwrap();
    std::fs::set_permissions(&path, std::os::unix::fs::PermissionsExt::from_mode(0o600)).unwrap();
    let mut follower = Follower::new(SegmentLocation::File(path));
    let started = Instant::now();
    let events = follower.check(true);
    assert!(matches!(events[..], [SegmentEvent::Waiting]), "{events:?}");
    let events = next_events_within(&mut follower, SETUP_GRACE + Duration::from_secs(5));
    assert!(started.elapsed() >= SETUP_GRACE, "reported too soon");
    assert!(
        matches!(
            events[..],
            [SegmentEvent::Unusable(OpenError::Invalid {
                reason: LayoutError::Uninitialised,
                ..
            })]
        ),
        "{events:?}"
    );
}
