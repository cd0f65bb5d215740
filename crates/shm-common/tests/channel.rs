//! In-process tests of the channel over real segments (named ones in /dev/shm and files).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::os::unix::fs::{FileExt, PermissionsExt};
use std::path::Path;
use std::time::Duration;

use std::mem::offset_of;

use proptest::prelude::*;
use shm_common::layout::{self, BufferMeta, ControlBlock, Header, WriterLock};
use shm_common::{
    Capacity, CreateError, CreationMode, DEFAULT_CAPACITY, FrameError, LayoutError, MIN_CAPACITY,
    Message, OpenError, ReadError, Reader, RecordKind, SegmentLocation, SendError, TestData,
    WaitMode, Writer, WriterStatus,
};
use shm_testkit::{TestSegment, offsets};

fn writer(segment: &SegmentLocation, capacity: usize) -> Writer {
    Writer::create(
        segment,
        CreationMode::CreateOrOpen,
        Capacity::AtLeast(capacity),
    )
    .unwrap()
}

fn picture(len: usize, seed: u8) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed))
        .collect()
}

#[test]
fn picture_and_struct_travel_in_separate_slots() {
    let segment = TestSegment::new("slots");
    let mut writer = writer(&segment.location, DEFAULT_CAPACITY);
    let bytes = picture(1_000_003, 7);
    writer.send_image("/图片/猫.png", &bytes).unwrap();
    let data = TestData {
        id: 7,
        age: 42,
        scores: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10],
    };
    writer.send_struct(&data).unwrap();

    let mut reader = Reader::open(&segment.location).unwrap();
    let (image, meta) = reader.latest_image().unwrap().unwrap();
    assert_eq!(image.path, "/图片/猫.png");
    assert_eq!(image.bytes, bytes);
    assert_eq!(meta.kind, RecordKind::Image);
    assert_eq!(meta.len, image.encoded_len());
    let (read_data, _) = reader.latest_struct().unwrap().unwrap();
    assert_eq!(read_data, data);

    // Sending a struct again does not disturb the picture, and vice versa.
    writer.send_struct(&TestData::default()).unwrap();
    assert_eq!(reader.latest_image().unwrap().unwrap().0.bytes, bytes);
    writer.send_image("small", b"xyz").unwrap();
    assert_eq!(
        reader.latest_struct().unwrap().unwrap().0.to_string(),
        "Id=100,Age=20,Scores=60,61,62,63,64,65,66,67,68,69"
    );
}

#[test]
fn reading_an_empty_slot_gives_none() {
    let segment = TestSegment::new("empty");
    let _writer = writer(&segment.location, MIN_CAPACITY);
    let mut reader = Reader::open(&segment.location).unwrap();
    assert!(reader.latest_image().unwrap().is_none());
    assert!(reader.latest_struct().unwrap().is_none());
    assert!(!reader.has_new(RecordKind::Image));
}

#[test]
fn oversize_picture_is_refused_with_both_sizes_and_the_previous_one_stays() {
    let segment = TestSegment::new("oversize");
    let mut writer = writer(&segment.location, MIN_CAPACITY);
    writer.send_image("ok.png", &picture(3000, 1)).unwrap();
    let err = writer.send_image("big.png", &picture(5000, 2)).unwrap_err();
    assert!(matches!(
        err,
        SendError::TooLarge {
            size: 5015,
            capacity: 4096,
            ..
        }
    ));
    let message = err.to_string();
    assert_eq!(
        message,
        format!(
            "the picture is 4.9 KiB but segment '{}' holds at most 4 KiB",
            segment.name
        )
    );
    let mut reader = Reader::open(&segment.location).unwrap();
    let (image, meta) = reader.latest_image().unwrap().unwrap();
    assert_eq!(image.path, "ok.png");
    assert_eq!(image.bytes, picture(3000, 1));
    assert_eq!(meta.sequence, 1);
}

#[test]
fn reader_before_writer_gets_a_clear_error() {
    let segment = TestSegment::new("nowriter");
    let err = Reader::open(&segment.location).err().unwrap();
    assert!(matches!(err, OpenError::NotFound { .. }));
    assert_eq!(
        err.to_string(),
        format!(
            "segment '{}' does not exist yet: no writer has created it",
            segment.name
        )
    );
}

#[test]
fn second_writer_is_refused_with_the_first_ones_pid() {
    let segment = TestSegment::new("rival");
    let first = writer(&segment.location, MIN_CAPACITY);
    let err = Writer::create(
        &segment.location,
        CreationMode::CreateOrOpen,
        Capacity::AtLeast(MIN_CAPACITY),
    )
    .err()
    .unwrap();
    let pid = std::process::id();
    assert!(matches!(err, CreateError::WriterActive { pid: p, .. } if p == pid));
    assert!(
        err.to_string()
            .contains(&format!("another writer (pid {pid})"))
    );
    drop(first);
    // Once the first is gone, a writer can attach.
    let _second = writer(&segment.location, MIN_CAPACITY);
}

#[test]
fn create_new_refuses_an_existing_segment() {
    let segment = TestSegment::new("createnew");
    let _writer = writer(&segment.location, MIN_CAPACITY);
    let err = Writer::create(
        &segment.location,
        CreationMode::CreateNew,
        Capacity::AtLeast(MIN_CAPACITY),
    )
    .err()
    .unwrap();
    assert!(matches!(err, CreateError::AlreadyExists { .. }));
}

/// An empty, unlocked file at `segment`'s name, made `age` ago: what a reader finds between a
/// creator's creating the file and its taking the writer lock (or after a creator died there).
fn empty_unlocked_segment(segment: &TestSegment, age: Duration) {
    let file = std::fs::File::create_new(segment.dev_shm_path()).unwrap();
    file.set_permissions(std::fs::Permissions::from_mode(0o600))
        .unwrap();
    file.set_modified(std::time::SystemTime::now() - age)
        .unwrap();
}

#[test]
fn a_reader_waits_for_a_creator_that_has_not_yet_locked_its_new_segment() {
    let segment = TestSegment::new("unlocked-new");
    empty_unlocked_segment(&segment, Duration::ZERO);
    let location = segment.location.clone();
    let creator = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(100));
        let mut writer = writer(&location, MIN_CAPACITY);
        writer.send_struct(&TestData::default()).unwrap();
        writer
    });
    let mut reader = Reader::open(&segment.location).expect("waited for its creator");
    let _writer = creator.join().unwrap();
    assert!(matches!(
        reader.writer_status(),
        WriterStatus::Active { .. }
    ));
    assert_eq!(
        reader.latest_struct().unwrap().unwrap().0,
        TestData::default()
    );
}

#[test]
fn an_old_empty_unlocked_segment_is_reported_uninitialised() {
    let segment = TestSegment::new("unlocked-old");
    empty_unlocked_segment(&segment, Duration::from_secs(60));
    let err = Reader::open(&segment.location).err().unwrap();
    assert!(
        matches!(
            err,
            OpenError::Invalid {
                reason: LayoutError::Uninitialised,
                ..
            }
        ),
        "{err:?}"
    );
    assert!(segment.dev_shm_path().exists(), "a reader removes nothing");
}

#[test]
fn named_segments_are_owner_only_and_removed_by_their_writer() {
    let segment = TestSegment::new("lifetime");
    let mut writer = writer(&segment.location, MIN_CAPACITY);
    let mode = std::fs::metadata(segment.dev_shm_path())
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);
    writer.send_image("a", b"b").unwrap();
    let mut reader = Reader::open(&segment.location).unwrap();
    assert!(matches!(
        reader.writer_status(),
        WriterStatus::Active { .. }
    ));
    drop(writer);
    assert!(
        !segment.dev_shm_path().exists(),
        "the writer removes its segment"
    );
    // The reader keeps its mapping, and its last records, and sees that the writer is gone.
    assert_eq!(reader.writer_status(), WriterStatus::Closed);
    assert_eq!(reader.latest_image().unwrap().unwrap().0.bytes, b"b");
}

#[test]
fn persisted_segments_outlive_their_writer() {
    let segment = TestSegment::new("persist");
    let mut writer = writer(&segment.location, MIN_CAPACITY);
    writer.set_persist(true);
    writer.send_struct(&TestData::default()).unwrap();
    drop(writer);
    assert!(segment.dev_shm_path().exists());
    let mut reader = Reader::open(&segment.location).unwrap();
    assert_eq!(
        reader.latest_struct().unwrap().unwrap().0,
        TestData::default()
    );
    assert_eq!(reader.writer_status(), WriterStatus::Closed);
}

#[test]
fn a_writer_numbers_its_structs_after_those_of_the_writer_before_it() {
    let segment = TestSegment::new("numbering");
    let send = |writer: &mut Writer, id| {
        writer
            .send_struct(&TestData {
                id,
                ..TestData::default()
            })
            .unwrap()
    };
    let mut first = writer(&segment.location, MIN_CAPACITY);
    for id in 1..=3 {
        assert_eq!(send(&mut first, id).sequence, id as u64);
    }
    first.abandon();
    let mut reader = Reader::open(&segment.location).unwrap();
    let mut next = writer(&segment.location, MIN_CAPACITY);
    for id in 4..=6 {
        let meta = send(&mut next, id);
        assert_eq!(meta.sequence, id as u64, "the taking-over writer's numbers");
        let (data, read) = reader.latest_struct().unwrap().unwrap();
        assert_eq!((data.id, read.sequence), (id, id as u64));
    }
}

#[test]
fn an_abandoned_segment_looks_crashed_keeps_its_records_and_is_taken_over() {
    let segment = TestSegment::new("abandon");
    let mut writer = writer(&segment.location, MIN_CAPACITY);
    writer.send_struct(&TestData::default()).unwrap();
    let mut reader = Reader::open(&segment.location).unwrap();
    reader.latest_struct().unwrap();
    let waiting = std::thread::spawn(move || {
        let woke = reader.wait_for_change(Duration::from_secs(20));
        (woke, reader)
    });
    std::thread::sleep(Duration::from_millis(100));
    writer.abandon();
    let (woke, mut reader) = waiting.join().unwrap();
    assert!(woke, "readers waiting were not woken");
    assert_eq!(
        reader.writer_status(),
        WriterStatus::Crashed {
            pid: std::process::id()
        }
    );
    assert!(segment.dev_shm_path().exists());
    assert_eq!(
        reader.latest_struct().unwrap().unwrap().0,
        TestData::default()
    );

    let mut next = Writer::create(
        &segment.location,
        CreationMode::OpenExisting,
        Capacity::Default,
    )
    .unwrap();
    assert_eq!(
        reader.writer_status(),
        WriterStatus::Active {
            pid: std::process::id()
        }
    );
    next.send_struct(&TestData {
        id: 7,
        ..TestData::default()
    })
    .unwrap();
    assert_eq!(reader.latest_struct().unwrap().unwrap().0.id, 7);
}

#[test]
fn a_writer_that_publishes_nothing_leaves_an_existing_segment_alone() {
    let segment = TestSegment::new("failedsend");
    let mut first = writer(&segment.location, MIN_CAPACITY);
    first.set_persist(true);
    first.send_image("keep.png", b"keep").unwrap();
    drop(first);
    let mut second = writer(&segment.location, MIN_CAPACITY);
    assert!(second.send_image("huge", &picture(10_000, 0)).is_err());
    drop(second);
    let mut reader = Reader::open(&segment.location).unwrap();
    assert_eq!(reader.latest_image().unwrap().unwrap().0.path, "keep.png");
}

#[test]
fn an_explicit_larger_capacity_recreates_an_abandoned_segment_keeping_its_records() {
    let segment = TestSegment::new("grow");
    let mut first = writer(&segment.location, MIN_CAPACITY);
    first.set_persist(true);
    first.send_image("small.png", b"small").unwrap();
    first.send_struct(&TestData::default()).unwrap();
    drop(first);

    // The default capacity uses the existing segment as it is.
    let mut default = Writer::create(
        &segment.location,
        CreationMode::CreateOrOpen,
        Capacity::Default,
    )
    .unwrap();
    assert_eq!(default.capacity(), MIN_CAPACITY);
    default.set_persist(true);
    drop(default);

    let mut second = writer(&segment.location, 1 << 20);
    assert_eq!(second.capacity(), 1 << 20);
    let mut reader = Reader::open(&segment.location).unwrap();
    assert_eq!(reader.latest_image().unwrap().unwrap().0.bytes, b"small");
    assert_eq!(
        reader.latest_struct().unwrap().unwrap().0,
        TestData::default()
    );
    second.send_image("big", &picture(500_000, 3)).unwrap();
    // A smaller request reuses the larger segment as it is.
    second.set_persist(true);
    drop(second);
    let third = writer(&segment.location, MIN_CAPACITY);
    assert_eq!(third.capacity(), 1 << 20);
}

#[test]
fn wait_for_change_wakes_on_publish_and_times_out_when_idle() {
    waits_wake_on_publish_and_time_out(WaitMode::SpinThenSleep);
}

#[test]
fn a_busy_polling_reader_wakes_on_publish_and_times_out_when_idle() {
    waits_wake_on_publish_and_time_out(WaitMode::BusyPoll);
}

fn waits_wake_on_publish_and_time_out(mode: WaitMode) {
    let segment = TestSegment::new("wait");
    let mut writer = writer(&segment.location, MIN_CAPACITY);
    let mut reader = Reader::open(&segment.location).unwrap();
    reader.set_wait_mode(mode);
    // The writer's attach is a change; consume it.
    reader.wait_for_change(Duration::from_millis(10));
    assert!(!reader.wait_for_change(Duration::from_millis(30)));

    let sender = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(100));
        writer.send_struct(&TestData::default()).unwrap();
        writer
    });
    assert!(reader.wait_for_change(Duration::from_secs(20)));
    assert!(reader.has_new(RecordKind::Struct));
    assert!(reader.latest_struct().unwrap().is_some());
    assert!(!reader.has_new(RecordKind::Struct));
    let writer = sender.join().unwrap();
    drop(writer);
    // The writer's exit is a change too.
    assert!(reader.wait_for_change(Duration::from_secs(20)));
    assert_eq!(reader.writer_status(), WriterStatus::Closed);
}

#[test]
fn reader_moves_to_a_recreated_segment() {
    let segment = TestSegment::new("reopen");
    let mut first = writer(&segment.location, MIN_CAPACITY);
    first.send_image("one", b"1").unwrap();
    let mut reader = Reader::open(&segment.location).unwrap();
    assert!(!reader.reopen_if_replaced().unwrap());
    drop(first);
    let mut second = writer(&segment.location, MIN_CAPACITY);
    second.send_image("two", b"2").unwrap();
    assert!(reader.reopen_if_replaced().unwrap());
    assert_eq!(reader.latest_image().unwrap().unwrap().0.path, "two");
}

// ---- File-backed segments: also let the tests damage the bytes on purpose. ----

/// Offsets in the control page (see `shm_common::layout`).
const MAGIC_AT: u64 = offset_of!(Header, magic) as u64;
const VERSION_AT: u64 = offset_of!(Header, layout_version) as u64;
const LOCK_PID_AT: u64 = (offset_of!(ControlBlock, writer) + offset_of!(WriterLock, pid)) as u64;
/// Picture buffer 0 of the demo's segment: after the control page and the directory's page.
const DATA_AT: u64 = 2 * layout::CONTROL_SIZE as u64;

fn file_segment(dir: &tempfile::TempDir) -> SegmentLocation {
    SegmentLocation::File(dir.path().join("segment"))
}

fn file_path(location: &SegmentLocation) -> &Path {
    match location {
        SegmentLocation::File(path) => path,
        SegmentLocation::Named(_) => unreachable!(),
    }
}

fn poke(location: &SegmentLocation, offset: u64, bytes: &[u8]) {
    let file = std::fs::OpenOptions::new()
        .write(true)
        .open(file_path(location))
        .unwrap();
    file.write_all_at(bytes, offset).unwrap();
}

#[test]
fn file_backed_segments_round_trip_and_stay_on_disk() {
    let dir = tempfile::tempdir().unwrap();
    let location = file_segment(&dir);
    let mut writer = writer(&location, MIN_CAPACITY);
    let mode = std::fs::metadata(file_path(&location))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);
    writer.send_image("f.png", b"file-backed").unwrap();
    drop(writer);
    assert!(file_path(&location).exists(), "files are the user's: kept");
    let mut reader = Reader::open(&location).unwrap();
    assert_eq!(
        reader.latest_image().unwrap().unwrap().0.bytes,
        b"file-backed"
    );
}

#[test]
fn foreign_and_old_segments_are_named_as_such() {
    let dir = tempfile::tempdir().unwrap();
    let location = file_segment(&dir);
    drop(writer(&location, MIN_CAPACITY));

    poke(&location, VERSION_AT, &99u32.to_le_bytes());
    let err = Reader::open(&location).err().unwrap();
    assert!(
        err.to_string().contains(&format!(
            "layout version 99, expected {}",
            layout::LAYOUT_VERSION
        )),
        "{err}"
    );

    poke(&location, MAGIC_AT, b"NOTOURS!");
    let err = Reader::open(&location).err().unwrap();
    assert!(err.to_string().contains("not a segment of ours"), "{err}");
    // A writer does not clobber a foreign file either.
    assert!(
        Writer::create(
            &location,
            CreationMode::CreateOrOpen,
            Capacity::AtLeast(MIN_CAPACITY)
        )
        .is_err()
    );
    // Nor does `remove`.
    assert!(shm_common::remove(&location).is_err());
    assert!(file_path(&location).exists());

    std::fs::write(file_path(&location), b"short").unwrap();
    let err = Reader::open(&location).err().unwrap();
    assert!(matches!(err, OpenError::Invalid { .. }), "{err}");
}

#[test]
fn corrupt_lengths_and_checksums_are_reported() {
    let dir = tempfile::tempdir().unwrap();
    let location = file_segment(&dir);
    let mut writer = writer(&location, MIN_CAPACITY);
    writer.send_image("c.png", &picture(1000, 9)).unwrap();
    let mut reader = Reader::open(&location).unwrap();
    assert!(reader.latest_image().unwrap().is_some());

    // A writer bypassing the protocol changes a payload byte: the checksum catches it.
    poke(&location, DATA_AT + 4096 + 64 + 20, &[0xAA]);
    let err = reader.latest_image().unwrap_err();
    assert!(matches!(err, ReadError::ChecksumMismatch { .. }), "{err}");

    // A hostile length field: refused before anything is allocated.
    // Record 1 lives in buffer 1.
    poke(
        &location,
        offsets::length_field(RecordKind::Image, 1),
        &u64::MAX.to_le_bytes(),
    );
    let err = reader.latest_image().unwrap_err();
    assert!(err.to_string().contains("exceeds the capacity"), "{err}");
}

#[test]
fn a_corrupt_struct_record_or_contradictory_sequence_words_are_reported() {
    let dir = tempfile::tempdir().unwrap();
    let location = file_segment(&dir);
    let mut writer = writer(&location, MIN_CAPACITY);
    writer.send_struct(&TestData::default()).unwrap();
    let mut reader = Reader::open(&location).unwrap();
    assert!(reader.latest_struct().unwrap().is_some());
    // The struct lives in the inline line after its descriptor, in the control page.
    poke(
        &location,
        offsets::inline_line(RecordKind::Struct, 1) + 5,
        &[0xAA],
    );
    let err = reader.latest_struct().unwrap_err();
    assert!(matches!(err, ReadError::ChecksumMismatch { .. }), "{err}");

    poke(
        &location,
        offsets::length_field(RecordKind::Struct, 1),
        &65u64.to_le_bytes(),
    );
    let err = reader.latest_struct().unwrap_err();
    assert!(err.to_string().contains("exceeds the capacity"), "{err}");

    // Buffer 0 claiming record 3 while buffer 1 holds record 1: no publish order gives that.
    poke(
        &location,
        offsets::descriptor(RecordKind::Struct, 0),
        &5u64.to_le_bytes(),
    );
    let err = reader.latest_struct().unwrap_err();
    assert!(matches!(err, ReadError::Inconsistent { .. }), "{err}");

    // The writer's next publish to the scribbled buffer repairs the slot, numbered as the
    // writer's own second record (a one-line channel's writer counts its records itself).
    writer.send_struct(&TestData::default()).unwrap();
    let (_, meta) = reader.latest_struct().unwrap().unwrap();
    assert_eq!(meta.sequence, 2);

    // Scribbled on the buffer the writer does not write next, the slot is repaired by the
    // publish after: within two.
    poke(
        &location,
        offsets::descriptor(RecordKind::Struct, 0),
        &1001u64.to_le_bytes(),
    );
    writer.send_struct(&TestData::default()).unwrap();
    let err = reader.latest_struct().unwrap_err();
    assert!(matches!(err, ReadError::Inconsistent { .. }), "{err}");
    writer.send_struct(&TestData::default()).unwrap();
    let (_, meta) = reader.latest_struct().unwrap().unwrap();
    assert_eq!(meta.sequence, 4);
}

/// Cuts the file at `path` to `len` bytes, as someone else might.
fn truncate(path: &Path, len: u64) {
    std::fs::OpenOptions::new()
        .write(true)
        .open(path)
        .unwrap()
        .set_len(len)
        .unwrap();
}

#[test]
fn a_truncated_named_segment_is_found_before_a_reader_sleeps_and_then_always_reported() {
    let segment = TestSegment::new("truncated");
    let mut writer = writer(&segment.location, MIN_CAPACITY);
    writer.send_struct(&TestData::default()).unwrap();
    let mut reader = Reader::open(&segment.location).unwrap();
    reader.latest_struct().unwrap().unwrap();
    // Taken in: the writer's arrival, the only change so far.
    reader.wait_for_change(Duration::from_millis(1));
    assert!(!reader.wait_for_change(Duration::from_millis(1)));
    // The control page stays; the data buffers go. Struct traffic alone touches only the
    // control page and looks at the file's length rarely; a reader about to sleep looks.
    truncate(&segment.dev_shm_path(), 8192);
    let started = std::time::Instant::now();
    assert!(reader.wait_for_change(Duration::from_secs(10)));
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "the wait ended on the truncation, not its timeout"
    );
    for _ in 0..3 {
        let err = reader.latest_struct().unwrap_err();
        assert!(
            matches!(err, ReadError::FileTruncated { len: 8192, .. }),
            "{err}"
        );
    }
    // The writer finds it before its next picture, and from then on for structs too.
    let err = writer.send_image("t.png", b"t").unwrap_err();
    assert!(
        matches!(err, SendError::FileTruncated { len: 8192, .. }),
        "{err}"
    );
    let err = writer.send_struct(&TestData::default()).unwrap_err();
    assert!(
        matches!(err, SendError::FileTruncated { len: 8192, .. }),
        "{err}"
    );
}

#[test]
fn a_truncated_file_is_reported_not_a_crash() {
    let dir = tempfile::tempdir().unwrap();
    let location = file_segment(&dir);
    let mut writer = writer(&location, MIN_CAPACITY);
    writer.send_image("t.png", b"t").unwrap();
    let mut reader = Reader::open(&location).unwrap();
    truncate(file_path(&location), 100);
    let err = reader.latest_image().unwrap_err();
    assert!(
        matches!(err, ReadError::FileTruncated { len: 100, .. }),
        "{err}"
    );
    let err = writer.send_image("u.png", b"u").unwrap_err();
    assert!(
        matches!(err, SendError::FileTruncated { len: 100, .. }),
        "{err}"
    );
    // Truncated to nothing, not even the control page is there: every entry point reports it
    // or does without it, none faults.
    truncate(file_path(&location), 0);
    assert!(matches!(
        reader.info(),
        Err(ReadError::FileTruncated { len: 0, .. })
    ));
    assert!(matches!(
        reader.writer_status(),
        WriterStatus::Closed | WriterStatus::Active { .. }
    ));
    for _ in 0..100 {
        assert!(
            reader.wait_for_change(Duration::from_millis(1)),
            "the next read says what"
        );
        assert!(matches!(
            reader.latest_struct(),
            Err(ReadError::FileTruncated { len: 0, .. })
        ));
    }
    assert!(matches!(
        writer.send_struct(&TestData::default()),
        Err(SendError::FileTruncated { len: 0, .. })
    ));
    drop(writer);
}

#[test]
fn the_lock_of_a_dead_writer_is_taken_over() {
    let dir = tempfile::tempdir().unwrap();
    let location = file_segment(&dir);
    let mut first = writer(&location, MIN_CAPACITY);
    first.send_image("before.png", b"before").unwrap();
    drop(first);
    // A process that has exited: its pid is free.
    let mut child = std::process::Command::new("true").spawn().unwrap();
    let dead_pid = child.id();
    child.wait().unwrap();
    poke(&location, LOCK_PID_AT, &dead_pid.to_le_bytes());
    let reader = Reader::open(&location).unwrap();
    assert_eq!(
        reader.writer_status(),
        WriterStatus::Crashed { pid: dead_pid }
    );

    let mut second = writer(&location, MIN_CAPACITY);
    assert_eq!(
        reader.writer_status(),
        WriterStatus::Active {
            pid: std::process::id()
        }
    );
    second.send_image("after.png", b"after").unwrap();
}

/// A segment holding picture 1, `a`, whose writer died writing picture 2 (the odd word 3 in
/// buffer 0, nothing written yet), and a reader that has read picture 1.
fn segment_with_a_dead_write() -> (tempfile::TempDir, Reader) {
    let dir = tempfile::tempdir().unwrap();
    let location = file_segment(&dir);
    let mut writer = writer(&location, MIN_CAPACITY);
    writer.send_image("a.png", b"a").unwrap();
    drop(writer);
    let mut reader = Reader::open(&location).unwrap();
    reader.latest_image().unwrap();
    reader.wait_for_change(Duration::from_millis(10));
    poke(
        &location,
        offsets::descriptor(RecordKind::Image, 0),
        &3u64.to_le_bytes(),
    );
    (dir, reader)
}

#[test]
fn a_write_that_never_finishes_does_not_hold_a_waiting_reader() {
    let (_dir, mut reader) = segment_with_a_dead_write();
    for _ in 0..3 {
        let started = std::time::Instant::now();
        assert!(!reader.wait_for_change(Duration::from_millis(30)));
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "the wait overran its timeout"
        );
    }
    assert_eq!(reader.latest_image().unwrap().unwrap().0.bytes, b"a");
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// Arbitrary bytes anywhere in the control page or the first data bytes: opening and
    /// reading report errors, never panic, hang or over-allocate.
    #[test]
    fn hostile_control_pages_never_panic(
        writes in proptest::collection::vec((0u64..4200, any::<[u8; 8]>()), 1..12),
    ) {
        let dir = tempfile::tempdir().unwrap();
        let location = file_segment(&dir);
        let mut writer = writer(&location, MIN_CAPACITY);
        writer.send_image("p.png", &picture(700, 5)).unwrap();
        writer.send_struct(&TestData::default()).unwrap();
        drop(writer);
        for (offset, bytes) in &writes {
            poke(&location, *offset, bytes);
        }
        if let Ok(mut reader) = Reader::open(&location) {
            if let Ok(Some((image, _))) = reader.latest_image() {
                prop_assert!(image.bytes.len() <= MIN_CAPACITY);
            }
            let _ = reader.latest_struct();
            let _ = reader.info();
            let _ = reader.writer_status();
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    /// A "write in progress" with arbitrary length, kind, progress count and bytes, as a dead
    /// or hostile writer could leave it: following it reports an error or gives up, never
    /// panics, hangs or reads out of bounds.
    #[test]
    fn hostile_writes_in_progress_are_followed_safely(
        len in prop_oneof![0u64..5000, any::<u64>()],
        kind in prop_oneof![Just(1u32), any::<u32>()],
        written in prop_oneof![0u64..5000, any::<u64>()],
        complete: bool,
        bytes in any::<[u8; 8]>(),
    ) {
        let dir = tempfile::tempdir().unwrap();
        let location = file_segment(&dir);
        let mut writer = writer(&location, MIN_CAPACITY);
        writer.send_image("p.png", &picture(700, 5)).unwrap();
        drop(writer);
        let mut reader = Reader::open(&location).unwrap();
        reader.latest_image().unwrap();
        reader.set_stall_timeout(Duration::from_millis(5));
        // Record 2 goes to buffer 0: odd word 3 while "written", 4 once "complete".
        let descriptor = offsets::descriptor(RecordKind::Image, 0);
        poke(&location, offsets::length_field(RecordKind::Image, 0), &len.to_le_bytes());
        poke(&location, descriptor + offset_of!(BufferMeta, kind) as u64, &kind.to_le_bytes());
        poke(
            &location,
            descriptor + offset_of!(BufferMeta, written) as u64,
            &written.to_le_bytes(),
        );
        poke(&location, DATA_AT, &bytes);
        poke(&location, descriptor, &(3 + u64::from(complete)).to_le_bytes());
        let mut image = shm_common::ImageMessage::default();
        if let Ok(Some(_)) = reader.read_next_into(&mut image) {
            prop_assert!(image.bytes.len() <= MIN_CAPACITY);
        }
        let _ = reader.wait_for_next(Duration::from_millis(1));
        let _ = reader.read_next_into(&mut image);
    }
}

/// A picture-slot message whose writer stops halfway until its reader has the first half: it
/// can only be sent if the reader follows the write.
struct Gated {
    half: usize,
    gate: Option<std::sync::mpsc::Receiver<()>>,
    opened: Option<std::sync::mpsc::Sender<()>>,
    received: Vec<u8>,
}

impl Message for Gated {
    const KIND: RecordKind = RecordKind::Image;
    const CHANNEL: &'static str = shm_common::PICTURE_CHANNEL;

    fn encoded_len(&self) -> usize {
        2 * self.half
    }

    fn encode(&self, sink: &mut impl shm_common::Sink) {
        sink.put(&picture(self.half, 1));
        if let Some(gate) = &self.gate {
            gate.recv_timeout(Duration::from_secs(20))
                .expect("the reader never had the first half while it was being written");
        }
        sink.put(&picture(self.half, 2));
    }

    fn decode_into(&mut self, source: &mut impl shm_common::Source) -> Result<(), FrameError> {
        self.received = vec![0; source.remaining()];
        let (first, second) = self
            .received
            .split_at_mut(self.half.min(source.remaining()));
        source.read_exact(first)?;
        if let Some(opened) = &self.opened {
            let _ = opened.send(());
        }
        source.read_exact(second)
    }
}

#[test]
fn a_reader_follows_a_picture_while_it_is_written() {
    let segment = TestSegment::new("follow");
    let mut writer = writer(&segment.location, DEFAULT_CAPACITY);
    writer.send_image("/first.png", b"first").unwrap();
    let mut reader = Reader::open(&segment.location).unwrap();
    assert!(reader.latest_image().unwrap().is_some());

    let half = 3 << 20;
    let (open, gate) = std::sync::mpsc::channel();
    let sender = std::thread::spawn(move || {
        let message = Gated {
            half,
            gate: Some(gate),
            opened: None,
            received: Vec::new(),
        };
        writer.send(&message).unwrap().sequence
    });
    let mut message = Gated {
        half,
        gate: None,
        opened: Some(open),
        received: Vec::new(),
    };
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    let meta = loop {
        assert!(
            std::time::Instant::now() < deadline,
            "the reader never received the picture"
        );
        assert!(
            reader.wait_for_next(Duration::from_secs(20)),
            "the write never started"
        );
        if let Some(meta) = reader.read_next_into(&mut message).unwrap() {
            break meta;
        }
    };
    assert_eq!(meta.sequence, sender.join().unwrap());
    let mut expected = picture(half, 1);
    expected.extend(picture(half, 2));
    assert!(message.received == expected, "the followed picture differs");
    assert_eq!(meta.len, 2 * half);
}

#[test]
fn a_write_that_stalls_is_given_up_once_not_followed_forever() {
    let (_dir, mut reader) = segment_with_a_dead_write();
    let mut image = shm_common::ImageMessage::default();
    assert_eq!(reader.read_next_into(&mut image).unwrap(), None);
    // Given up: neither followed nor waited for again.
    assert!(!reader.wait_for_next(Duration::from_millis(30)));
    assert_eq!(reader.read_next_into(&mut image).unwrap(), None);
    assert_eq!(reader.latest_image().unwrap().unwrap().0.bytes, b"a");
}

#[test]
fn growing_carries_the_latest_records_over_and_readers_follow() {
    let segment = TestSegment::new("grow");
    let mut writer = writer(&segment.location, MIN_CAPACITY);
    writer.send_image("/small.png", &picture(3000, 1)).unwrap();
    writer.send_struct(&TestData::default()).unwrap();
    let mut reader = Reader::open(&segment.location).unwrap();
    assert_eq!(reader.latest_image().unwrap().unwrap().0.path, "/small.png");
    reader.latest_struct().unwrap();
    let old_id = reader.instance_id();

    let big = picture(1_500_000, 9);
    let len = shm_common::ImageMessage::framed_len("/big.png", big.len());
    assert!(!writer.fits(RecordKind::Image, len));
    let growth = writer.plan_growth(RecordKind::Image, len).unwrap();
    assert_eq!(growth.capacities.picture, 2 << 20, "next power of two");
    assert!(growth.total_size > growth.previous_total_size);
    writer.grow(&growth).unwrap();
    assert_eq!(writer.capacity(), 2 << 20);
    assert!(segment.dev_shm_path().exists());

    // The reader is told, and the records it had read count as read in the new segment.
    assert_eq!(reader.writer_status(), WriterStatus::Replaced);
    assert!(reader.reopen_if_replaced().unwrap());
    assert_ne!(reader.instance_id(), old_id);
    assert!(!reader.has_new(RecordKind::Image));
    assert!(!reader.has_new(RecordKind::Struct));
    assert_eq!(reader.latest_image().unwrap().unwrap().0.path, "/small.png");
    assert_eq!(
        reader.latest_struct().unwrap().unwrap().0,
        TestData::default()
    );

    writer.send_image("/big.png", &big).unwrap();
    assert!(reader.has_new(RecordKind::Image));
    let mut image = shm_common::ImageMessage::default();
    reader.read_next_into(&mut image).unwrap().unwrap();
    assert_eq!(image.bytes, big);

    // Only the live segment is left: no temporary name in /dev/shm.
    let leftovers: Vec<_> = std::fs::read_dir("/dev/shm")
        .unwrap()
        .filter_map(|entry| entry.ok())
        .filter(|entry| {
            let name = entry.file_name().to_string_lossy().into_owned();
            name.starts_with(&segment.name) && name != segment.name
        })
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
    drop(writer);
    assert!(
        !segment.dev_shm_path().exists(),
        "the grown segment is removed on close"
    );
}

#[test]
fn a_file_segment_grows_in_place_of_its_file() {
    let dir = tempfile::tempdir().unwrap();
    let location = file_segment(&dir);
    let mut writer = writer(&location, MIN_CAPACITY);
    writer.send_image("/a.png", b"first").unwrap();
    let growth = writer.plan_growth(RecordKind::Image, 100_000).unwrap();
    writer.grow(&growth).unwrap();
    writer.send_image("/b.png", &picture(100_000, 3)).unwrap();
    drop(writer);
    let names: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|entry| entry.unwrap().file_name())
        .collect();
    assert_eq!(names.len(), 1, "no temporary file left: {names:?}");
    let mut reader = Reader::open(&location).unwrap();
    assert_eq!(reader.capacity(), 1 << 20);
    assert_eq!(reader.latest_image().unwrap().unwrap().0.path, "/b.png");
}

#[test]
fn a_segment_grows_to_the_next_power_of_two_of_at_least_one_mib() {
    use shm_common::{MAX_CAPACITY, capacity_for};
    assert_eq!(capacity_for(13_002_342), Some(16 << 20));
    assert_eq!(capacity_for(10), Some(1 << 20));
    assert_eq!(capacity_for(17 << 20), Some(32 << 20));
    assert_eq!(capacity_for(1920 * 1080 * 4 + 24), Some(8 << 20));
    assert_eq!(capacity_for(MAX_CAPACITY), Some(MAX_CAPACITY));
    assert_eq!(capacity_for(MAX_CAPACITY + 1), None);
}

#[test]
fn growth_is_refused_in_words_when_nothing_can_hold_it() {
    let segment = TestSegment::new("grow-limit");
    let writer = writer(&segment.location, MIN_CAPACITY);
    let err = writer
        .plan_growth(RecordKind::Image, shm_common::MAX_CAPACITY + 1)
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "a picture of 1 GiB cannot be sent: a segment holds at most 1 GiB per picture"
    );
    assert!(writer.plan_growth(RecordKind::Struct, 100).is_err());
}

#[test]
fn frames_travel_in_their_own_slot_once_it_exists() {
    use shm_common::{FrameMessage, PixelFormat};
    let segment = TestSegment::new("frames");
    let mut writer = writer(&segment.location, MIN_CAPACITY);
    writer.send_image("/p.png", b"picture").unwrap();
    let mut frame = FrameMessage::blank(64, 48, PixelFormat::Rgba8, 7);
    frame.pixels = picture(frame.pixels.len(), 5);
    assert!(matches!(
        writer.send(&frame),
        Err(SendError::TooLarge {
            kind: RecordKind::Frame,
            capacity: 0,
            ..
        })
    ));
    let growth = writer
        .plan_growth(RecordKind::Frame, frame.encoded_len())
        .unwrap();
    assert_eq!(
        growth.capacities.picture, MIN_CAPACITY,
        "pictures unchanged"
    );
    writer.grow(&growth).unwrap();
    let meta = writer.send(&frame).unwrap();
    assert_eq!(meta.kind, RecordKind::Frame);

    let mut reader = Reader::open(&segment.location).unwrap();
    let (read, _) = reader.latest_frame().unwrap().unwrap();
    assert_eq!(read, frame);
    assert_eq!(reader.latest_image().unwrap().unwrap().0.path, "/p.png");
}

#[test]
fn records_carry_when_their_write_started_and_ended() {
    let segment = TestSegment::new("times");
    let mut writer = writer(&segment.location, DEFAULT_CAPACITY);
    let before = shm_common::monotonic_ns();
    let meta = writer.send_image("/t.png", &picture(4_000_000, 1)).unwrap();
    let after = shm_common::monotonic_ns();
    assert!(before <= meta.started_ns && meta.started_ns < meta.published_ns);
    assert!(meta.published_ns <= after);
    let mut reader = Reader::open(&segment.location).unwrap();
    std::thread::sleep(Duration::from_millis(30));
    let asked = shm_common::monotonic_ns();
    let (_, read) = reader.latest_image().unwrap().unwrap();
    let received = shm_common::monotonic_ns();
    assert_eq!(
        (read.started_ns, read.published_ns),
        (meta.started_ns, meta.published_ns)
    );
    // Read on demand 30 ms later: the transfer is the two copies, not the 30 ms it lay there.
    let delivery = read.delivery(asked, received);
    assert!(delivery.waited >= Duration::from_millis(30));
    assert_eq!(
        delivery.transfer,
        read.write_time() + Duration::from_nanos(received - asked)
    );
    // A reader that was waiting before the write began gets the whole latency.
    let waiting = read.delivery(before, received);
    assert_eq!(waiting.waited, Duration::ZERO);
    assert_eq!(
        waiting.transfer,
        Duration::from_nanos(received - read.started_ns)
    );
}

/// A picture-slot record written and read in pieces of any size: the copies in and out
/// stage partial words, and must still carry every byte, at every offset.
#[derive(Clone, Debug, Default, PartialEq)]
struct Pieces {
    bytes: Vec<u8>,
    /// How the writer hands the bytes over, and how the reader asks for them.
    cuts: Vec<usize>,
}

impl Pieces {
    fn split(&self) -> Vec<std::ops::Range<usize>> {
        let mut ranges = Vec::new();
        let mut start = 0;
        for &cut in self.cuts.iter().cycle().take(self.bytes.len() + 1) {
            if start >= self.bytes.len() {
                break;
            }
            let end = (start + cut.max(1)).min(self.bytes.len());
            ranges.push(start..end);
            start = end;
        }
        ranges
    }
}

impl Message for Pieces {
    const KIND: RecordKind = RecordKind::Image;
    const CHANNEL: &'static str = shm_common::PICTURE_CHANNEL;

    fn encoded_len(&self) -> usize {
        self.bytes.len()
    }

    fn encode(&self, sink: &mut impl shm_common::Sink) {
        for range in self.split() {
            sink.put(&self.bytes[range]);
        }
    }

    fn decode_into(&mut self, source: &mut impl shm_common::Source) -> Result<(), FrameError> {
        let len = source.remaining();
        self.bytes = vec![0; len];
        for range in self.split() {
            source.read_exact(&mut self.bytes[range])?;
        }
        Ok(())
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(96))]

    #[test]
    fn records_written_and_read_in_pieces_of_any_size_arrive_whole(
        bytes in proptest::collection::vec(any::<u8>(), 0..3000),
        write_cuts in proptest::collection::vec(1usize..40, 1..8),
        read_cuts in proptest::collection::vec(1usize..40, 1..8),
    ) {
        let segment = TestSegment::new("pieces");
        let mut writer = writer(&segment.location, MIN_CAPACITY);
        let sent = Pieces { bytes: bytes.clone(), cuts: write_cuts };
        writer.send(&sent).unwrap();
        let mut reader = Reader::open(&segment.location).unwrap();
        let mut read = Pieces { bytes: Vec::new(), cuts: read_cuts };
        reader.read_into(&mut read).unwrap();
        prop_assert_eq!(read.bytes, bytes);
    }
}

#[test]
fn a_follower_across_a_takeover_starts_again_rather_than_joining_two_writers_bytes() {
    let dir = tempfile::tempdir().unwrap();
    let location = file_segment(&dir);
    let mut first = writer(&location, 1 << 20);
    first.send_image("/one.png", b"one").unwrap();
    drop(first);
    // The first writer "died" 64 KiB into record 2 (buffer 0): odd word, length, kind, count,
    // and its bytes so far.
    let len = 300_000u64;
    let descriptor = offsets::descriptor(RecordKind::Image, 0);
    poke(&location, descriptor, &3u64.to_le_bytes());
    poke(
        &location,
        descriptor + offset_of!(BufferMeta, len) as u64,
        &len.to_le_bytes(),
    );
    poke(
        &location,
        descriptor + offset_of!(BufferMeta, kind) as u64,
        &RecordKind::Image.code().to_le_bytes(),
    );
    poke(
        &location,
        descriptor + offset_of!(BufferMeta, written) as u64,
        &65_536u64.to_le_bytes(),
    );
    poke(&location, DATA_AT, &vec![0xaa; 65_536]);

    let mut reader = Reader::open(&location).unwrap();
    reader.latest_image().unwrap();
    // Patient enough to still be following when the new writer takes over.
    reader.set_stall_timeout(Duration::from_secs(30));
    let follower = std::thread::spawn(move || {
        let mut image = shm_common::ImageMessage::default();
        let read = reader.read_next_into(&mut image);
        (read.map(|meta| meta.map(|meta| meta.sequence)), image)
    });
    std::thread::sleep(Duration::from_millis(200));
    let mut second = writer(&location, 1 << 20);
    let bytes = vec![0xbb; 300_000 - 8 - "/two.png".len()];
    second.send_image("/two.png", &bytes).unwrap();
    let (read, image) = follower.join().unwrap();
    // Never the joined record reported as corrupt: either nothing yet or the new record whole.
    match read {
        Ok(Some(2)) => assert_eq!(image.bytes, bytes),
        Ok(None) => {}
        other => panic!("the follower got {other:?}"),
    }
}
