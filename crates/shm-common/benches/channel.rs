//! Criterion benchmarks of the channel in one process: publish and read of 48 B and 10 MiB,
//! and the picture framing. `cargo bench -p shm-common`; `shm bench` measures across processes.
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use shm_common::checksum::Checksum;
use shm_common::{
    Capacity, CreationMode, ImageMessage, Reader, SegmentLocation, SegmentName, TestData, Writer,
};

const LARGE: usize = 10 * 1024 * 1024;

fn location(tag: &str) -> SegmentLocation {
    let name = format!("shm-criterion-{}-{tag}", std::process::id());
    SegmentLocation::Named(SegmentName::new(name).unwrap())
}

fn channel(c: &mut Criterion) {
    let small = location("small");
    let mut writer =
        Writer::create(&small, CreationMode::CreateOrOpen, Capacity::AtLeast(4096)).unwrap();
    let mut reader = Reader::open(&small).unwrap();
    let data = TestData::default();
    let mut group = c.benchmark_group("48 B struct");
    group.throughput(Throughput::Bytes(48));
    group.bench_function("publish", |b| {
        b.iter(|| writer.send_struct(black_box(&data)).unwrap())
    });
    let mut out = TestData::default();
    group.bench_function("read", |b| {
        b.iter(|| reader.read_into(black_box(&mut out)).unwrap())
    });
    group.finish();

    let large = location("large");
    let mut writer = Writer::create(
        &large,
        CreationMode::CreateOrOpen,
        Capacity::AtLeast(LARGE + 4096),
    )
    .unwrap();
    let mut reader = Reader::open(&large).unwrap();
    let bytes = vec![0x5au8; LARGE];
    let mut group = c.benchmark_group("10 MiB picture");
    group.throughput(Throughput::Bytes(LARGE as u64));
    group.sample_size(30);
    group.bench_function("publish", |b| {
        b.iter(|| writer.send_image("/p.png", black_box(&bytes)).unwrap())
    });
    let mut message = ImageMessage::default();
    group.bench_function("read", |b| {
        b.iter(|| reader.read_into(black_box(&mut message)).unwrap())
    });
    let mut target = vec![0u8; LARGE];
    group.bench_function("memcpy (floor)", |b| {
        b.iter(|| target.copy_from_slice(black_box(&bytes)))
    });
    group.bench_function("checksum alone", |b| {
        b.iter(|| Checksum::of(black_box(&bytes)))
    });
    // A picture file (in the page cache) sent the usual way and loaned.
    let mut file = tempfile::tempfile().unwrap();
    std::io::Write::write_all(&mut file, &bytes).unwrap();
    group.bench_function("file: read, then publish", |b| {
        b.iter(|| {
            let mut read = Vec::new();
            std::io::Seek::rewind(&mut file).unwrap();
            std::io::Read::read_to_end(&mut file, &mut read).unwrap();
            writer.send_image("/p.png", &read).unwrap()
        })
    });
    group.bench_function("file: read(2) into a loan", |b| {
        b.iter(|| {
            std::io::Seek::rewind(&mut file).unwrap();
            let mut loan = writer.loan_image("/p.png", LARGE).unwrap();
            loan.fill_from(&file).unwrap();
            loan.publish().unwrap()
        })
    });
    group.finish();

    let picture = ImageMessage {
        path: "/home/用户/图片/猫.png".to_owned(),
        bytes: vec![7u8; 1 << 20],
    };
    let encoded = picture.to_bytes();
    let mut group = c.benchmark_group("framing 1 MiB");
    group.throughput(Throughput::Bytes(encoded.len() as u64));
    group.bench_function("encode", |b| b.iter(|| black_box(&picture).to_bytes()));
    group.bench_function("decode", |b| {
        b.iter(|| ImageMessage::decode(black_box(&encoded)).unwrap())
    });
    group.finish();
    drop((writer, reader));
    let _ = shm_common::remove(&small);
    let _ = shm_common::remove(&large);
}

criterion_group!(benches, channel);
criterion_main!(benches);
