//! Decompression bombs are refused by the decoder's limits before their declared size is
//! allocated: the peak memory of this process (alone in its test binary) barely moves.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use shm_testkit::Corpus;

/// Peak resident memory of this process so far, in KiB (`VmHWM` in /proc/self/status).
fn peak_rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .unwrap()
        .lines()
        .find_map(|line| line.strip_prefix("VmHWM:"))
        .and_then(|value| value.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap()
}

#[test]
fn bombs_are_refused_without_allocating_their_declared_size() {
    let corpus = Corpus::best("bombs_are_refused_without_allocating_their_declared_size");
    let bombs: Vec<_> = corpus
        .entries
        .iter()
        .filter(|entry| {
            entry.relative.contains("bomb")
                || entry.relative.contains("Bad_width")
                || entry.relative.contains("Bad_height")
        })
        .collect();
    assert!(!bombs.is_empty());
    let before = peak_rss_kib();
    for bomb in &bombs {
        let bytes = std::fs::read(&bomb.path).unwrap();
        let err = shm_picture::decode(&bytes, 4096).unwrap_err();
        println!("{}: {err}", bomb.relative);
    }
    let grown = peak_rss_kib().saturating_sub(before);
    // The PNG bomb alone declares 40 GB; the limit is 512 MiB; nothing near either is touched.
    assert!(
        grown < 64 * 1024,
        "peak memory grew by {grown} KiB while refusing bombs"
    );
    println!(
        "{} bombs refused; peak memory grew by {grown} KiB",
        bombs.len()
    );
}
