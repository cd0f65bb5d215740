//! Channels of the user's own types and bytes: published and read through real segments,
//! types checked against the description stored beside the data.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use bytemuck::{Pod, Zeroable};
use shm_common::{
    ChannelSpec, CreateError, CreationMode, OpenError, ReadError, Reader, Schema, Writer,
    WriterStatus,
};
use shm_testkit::TestSegment;

#[derive(Clone, Copy, Debug, PartialEq, Pod, Zeroable, Schema)]
#[repr(C)]
struct Pose {
    position: [f64; 3],
    heading: f32,
    id: u32,
}

/// Same size and layout as `Pose`, another type.
#[derive(Clone, Copy, Debug, PartialEq, Pod, Zeroable, Schema)]
#[repr(C)]
struct Velocity {
    linear: [f64; 3],
    angular: f32,
    id: u32,
}

/// `Pose` as a later version of the program has it.
#[derive(Clone, Copy, Debug, PartialEq, Pod, Zeroable, Schema)]
#[repr(C)]
#[schema(name = "Pose")]
struct PoseV2 {
    position: [f64; 3],
    heading: f32,
    id: u32,
    speed: f64,
}

/// Larger than a cache line: its records go through the data buffers, not the inline line.
#[derive(Clone, Copy, Debug, PartialEq, Pod, Zeroable, Schema)]
#[repr(C)]
struct Scan {
    ranges: [[f32; 8]; 16],
    count: u64,
}

fn pose(i: u32) -> Pose {
    Pose {
        position: [f64::from(i), -f64::from(i), 0.5],
        heading: i as f32 / 10.0,
        id: i,
    }
}

/// A writer that publishes `value` on channel `pose` of a new segment and exits, keeping it.
fn leave_a_pose(segment: &TestSegment, value: Pose) {
    let mut writer = Writer::create_with(
        &segment.location,
        CreationMode::CreateNew,
        vec![ChannelSpec::of::<Pose>("pose").unwrap()],
    )
    .unwrap();
    writer.set_persist(true);
    let out = writer.channel::<Pose>("pose").unwrap();
    writer.publish(&out, &value).unwrap();
}

#[test]
fn several_typed_and_bytes_channels_share_one_segment() {
    let segment = TestSegment::new("typed-several");
    let mut writer = Writer::create_with(
        &segment.location,
        CreationMode::CreateNew,
        vec![
            ChannelSpec::of::<Pose>("pose").unwrap(),
            ChannelSpec::of::<Scan>("scan").unwrap(),
            ChannelSpec::bytes("log", 1000).unwrap(),
        ],
    )
    .unwrap();
    let pose_out = writer.channel::<Pose>("pose").unwrap();
    let scan_out = writer.channel::<Scan>("scan").unwrap();
    let log_out = writer.bytes_channel("log").unwrap();

    let mut reader = Reader::open(&segment.location).unwrap();
    let pose_in = reader.channel::<Pose>("pose").unwrap();
    let scan_in = reader.channel::<Scan>("scan").unwrap();
    let log_in = reader.bytes_channel("log").unwrap();
    assert_eq!(reader.latest_value(&pose_in).unwrap(), None);

    writer.publish(&pose_out, &pose(7)).unwrap();
    let mut scan = Scan::zeroed();
    scan.ranges[15][7] = 2.5;
    scan.count = 128;
    writer.publish(&scan_out, &scan).unwrap();
    writer.publish_bytes(&log_out, b"started").unwrap();
    writer.publish(&pose_out, &pose(8)).unwrap();

    let (value, meta) = reader.latest_value(&pose_in).unwrap().unwrap();
    assert_eq!((value, meta.sequence), (pose(8), 2));
    assert_eq!(reader.latest_value(&scan_in).unwrap().unwrap().0, scan);
    let mut log = Vec::new();
    reader.read_bytes_into(&log_in, &mut log).unwrap().unwrap();
    assert_eq!(log, b"started");

    let too_long = writer.publish_bytes(&log_out, &[0; 1001]).unwrap_err();
    assert_eq!(
        too_long.to_string(),
        format!(
            "the message is 1001 bytes but {} holds at most 1000 bytes",
            segment.location
        )
    );
    reader.read_bytes_into(&log_in, &mut log).unwrap().unwrap();
    assert_eq!(log, b"started", "a refused message leaves the last one");
}

#[test]
fn a_reader_of_another_type_is_refused_in_words_naming_both() {
    let segment = TestSegment::new("typed-mismatch");
    let writer = Writer::create_with(
        &segment.location,
        CreationMode::CreateNew,
        vec![ChannelSpec::of::<Pose>("pose").unwrap()],
    )
    .unwrap();
    let reader = Reader::open(&segment.location).unwrap();

    let err = reader.channel::<Velocity>("pose").unwrap_err();
    assert!(matches!(err, OpenError::TypeMismatch { .. }), "{err:?}");
    assert_eq!(
        err.to_string(),
        format!(
            "channel `pose` of {}: the channel carries Pose (32 bytes), but this reader expects \
             Velocity (32 bytes): the names differ; it has no field `linear: [f64; 3] at 0`; it \
             has no field `angular: f32 at 24`; it has a field `position: [f64; 3] at 0` not \
             expected; it has a field `heading: f32 at 24` not expected",
            segment.location
        )
    );
    let newer = reader.channel::<PoseV2>("pose").unwrap_err().to_string();
    assert!(
        newer.ends_with(
            "this reader expects Pose (40 bytes): it is 32 bytes, not 40; it has no field \
             `speed: f64 at 32`"
        ),
        "{newer}"
    );
    let missing = reader.channel::<Pose>("posture").unwrap_err();
    assert_eq!(
        missing.to_string(),
        format!("{} has no channel `posture`", segment.location)
    );
    let kind = reader.bytes_channel("pose").unwrap_err();
    assert_eq!(
        kind.to_string(),
        format!(
            "channel `pose` of {} carries struct records, not bytes",
            segment.location
        )
    );
    drop(writer);
}

#[test]
fn a_writer_of_another_type_leaves_the_segment_as_it_was() {
    let segment = TestSegment::new("typed-writer-mismatch");
    leave_a_pose(&segment, pose(3));

    let err = Writer::create_with(
        &segment.location,
        CreationMode::CreateOrOpen,
        vec![ChannelSpec::of::<PoseV2>("pose").unwrap()],
    )
    .err()
    .unwrap();
    assert!(
        matches!(err, CreateError::Open(OpenError::TypeMismatch { .. })),
        "{err}"
    );

    let mut reader = Reader::open(&segment.location).unwrap();
    let input = reader.channel::<Pose>("pose").unwrap();
    assert_eq!(reader.latest_value(&input).unwrap().unwrap().0, pose(3));
    assert_eq!(reader.writer_status(), WriterStatus::Closed);
}

#[test]
fn a_writer_adding_a_channel_moves_readers_to_the_larger_segment_with_the_records() {
    let segment = TestSegment::new("typed-add");
    leave_a_pose(&segment, pose(1));

    let mut reader = Reader::open(&segment.location).unwrap();
    let pose_in = reader.channel::<Pose>("pose").unwrap();
    assert_eq!(reader.latest_value(&pose_in).unwrap().unwrap().0, pose(1));

    let mut second = Writer::create_with(
        &segment.location,
        CreationMode::CreateOrOpen,
        vec![ChannelSpec::bytes("log", 64).unwrap()],
    )
    .unwrap();
    let names: Vec<String> = second
        .channels()
        .iter()
        .map(|c| c.name.to_string())
        .collect();
    assert_eq!(names, ["pose", "log"], "old channels first, kept in order");
    assert_eq!(reader.writer_status(), WriterStatus::Replaced);
    assert!(reader.reopen_if_replaced().unwrap());
    // The handle was made for the old segment: looked up and checked again.
    assert_eq!(reader.latest_value(&pose_in).unwrap().unwrap().0, pose(1));
    assert!(
        !reader.channel_has_new("pose"),
        "the carried record counts as read"
    );

    let log_out = second.bytes_channel("log").unwrap();
    second.publish_bytes(&log_out, b"hello").unwrap();
    let pose_out = second.channel::<Pose>("pose").unwrap();
    second.publish(&pose_out, &pose(2)).unwrap();
    assert!(reader.wait_for_change(Duration::from_secs(5)));
    assert_eq!(reader.latest_value(&pose_in).unwrap().unwrap().0, pose(2));
    let mut bytes = Vec::new();
    reader
        .read_channel_into("log", &mut bytes)
        .unwrap()
        .unwrap();
    assert_eq!(bytes, b"hello");
}

#[test]
fn a_typed_handle_rechecks_its_type_when_the_segment_is_recreated_with_another() {
    let segment = TestSegment::new("typed-recreated");
    let first = Writer::create_with(
        &segment.location,
        CreationMode::CreateNew,
        vec![ChannelSpec::of::<Pose>("pose").unwrap()],
    )
    .unwrap();
    let mut reader = Reader::open(&segment.location).unwrap();
    let pose_in = reader.channel::<Pose>("pose").unwrap();
    drop(first);
    let _second = Writer::create_with(
        &segment.location,
        CreationMode::CreateNew,
        vec![ChannelSpec::of::<Velocity>("pose").unwrap()],
    )
    .unwrap();
    assert!(reader.reopen_if_replaced().unwrap());
    let err = reader.latest_value(&pose_in).unwrap_err();
    assert!(matches!(err, ReadError::ChannelChanged(_)), "{err:?}");
    assert!(
        err.to_string()
            .starts_with("the segment was re-created: channel `pose` of"),
        "{err}"
    );
}

#[test]
fn channel_sets_a_segment_cannot_have_are_refused_before_anything_is_created() {
    let segment = TestSegment::new("typed-refused");
    let twice = Writer::create_with(
        &segment.location,
        CreationMode::CreateNew,
        vec![
            ChannelSpec::bytes("a", 10).unwrap(),
            ChannelSpec::bytes("a", 20).unwrap(),
        ],
    )
    .err()
    .unwrap();
    assert_eq!(
        twice.to_string(),
        format!(
            "{} cannot have these channels: two channels are named `a`",
            segment.location
        )
    );
    let many: Vec<ChannelSpec> = (0..16)
        .map(|i| ChannelSpec::bytes(&format!("c{i}"), 8).unwrap())
        .collect();
    let err = Writer::create_with(&segment.location, CreationMode::CreateNew, many)
        .err()
        .unwrap();
    assert!(
        err.to_string()
            .ends_with("a segment has 1 to 15 channels, not 16"),
        "{err}"
    );
    assert!(!segment.dev_shm_path().exists());
    assert!(ChannelSpec::bytes("with space", 8).is_err());
}

#[test]
fn records_encoded_elsewhere_are_published_raw_and_struct_sizes_checked() {
    let segment = TestSegment::new("typed-raw");
    let channels = vec![
        ChannelSpec::of::<Pose>("pose").unwrap(),
        ChannelSpec::bytes("note", 16).unwrap(),
    ];
    let mut writer =
        Writer::create_with(&segment.location, CreationMode::CreateNew, channels).unwrap();
    let pose = Pose {
        position: [1.0, 2.0, 3.0],
        heading: 0.25,
        id: 9,
    };
    // Another language's binding encodes the value from the stored description.
    let sent = writer
        .publish_raw("pose", bytemuck::bytes_of(&pose))
        .unwrap();
    let checksum = shm_common::checksum::Checksum::of_record;
    assert_eq!(sent.checksum, checksum(bytemuck::bytes_of(&pose), 32));
    let sent = writer.publish_raw("note", b"hello").unwrap();
    assert_eq!(sent.checksum, checksum(b"hello", 16));
    assert_ne!(
        sent.checksum,
        checksum(b"hello", 100),
        "one line or not: another sum"
    );
    assert!(matches!(
        writer.publish_raw("pose", &[0; 12]),
        Err(shm_common::SendError::StructSize {
            len: 12,
            size: 32,
            ..
        })
    ));
    assert!(matches!(
        writer.publish_raw("nothing", b""),
        Err(shm_common::SendError::NoChannel { .. })
    ));
    let mut reader = Reader::open(&segment.location).unwrap();
    let channel = reader.channel::<Pose>("pose").unwrap();
    assert_eq!(reader.latest_value(&channel).unwrap().unwrap().0, pose);
    let mut note = Vec::new();
    reader.read_channel_into("note", &mut note).unwrap();
    assert_eq!(note, b"hello");

    // A record that began elsewhere a second ago keeps that start: its transfer time says so.
    let began = shm_common::monotonic_ns() - 1_000_000_000;
    for name in ["pose", "note"] {
        let bytes = if name == "pose" {
            bytemuck::bytes_of(&pose)
        } else {
            &b"later"[..]
        };
        let sent = writer
            .publish_raw_started(name, bytes, Some(began))
            .unwrap();
        assert_eq!(sent.started_ns, began);
        let read = reader.read_channel_into(name, &mut note).unwrap().unwrap();
        assert_eq!(read.started_ns, began);
        let now = shm_common::monotonic_ns();
        assert!(read.delivery(now, now).transfer >= Duration::from_secs(1));
    }
}
