//! An exhaustive check of the slot protocol: every interleaving of a writer publishing five
//! records (and possibly dying at any step) with a reader reading once.
//!
//! The model follows `src/protocol/slot.rs` step by step, one shared-memory access per step, under
//! sequential consistency; the memory orderings that make real hardware behave this way are
//! argued in the comments of `slot.rs`; the reader judges the sequence words with the crate's
//! own `Newest::of`. Payloads are two words that must both equal the record
//! number, so a torn copy is visible. The checks, over every reachable state:
//! * the reader never accepts a torn or mixed record;
//! * what it accepts was complete during its read, never older than what was complete when it
//!   began (it returns the latest complete record, also when the writer died mid-write);
//! * it never reports the segment inconsistent (the fail-fast rule of `Slot::read` is sound);
//! * it never gives up: a busy writer cannot starve it.
//!
//! `published` is not in shared memory: it is the model's record of the newest complete record,
//! which the real reader derives from the two sequence words.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashSet;

// The real newest-record rule, not a copy of it.
use shm_common::protocol::Newest;

const RECORDS: u64 = 5;
const WORDS: usize = 2;
const MAX_ATTEMPTS: u8 = 6;

#[derive(Clone, Copy, Debug, Hash, PartialEq, Eq, Default)]
struct Shared {
    published: u64,
    seq: [u64; 2],
    data: [[u64; WORDS]; 2],
}

/// Where each side is: the writer's record and step, the reader's step and registers.
#[derive(Clone, Copy, Debug, Hash, PartialEq, Eq, Default)]
struct State {
    shared: Shared,
    writer_record: u64,
    writer_step: u8,
    reader_step: u8,
    attempt: u8,
    started_at: u64,
    n: u64,
    words: [u64; 2],
    copy: [u64; WORDS],
}

#[derive(Debug, PartialEq, Eq)]
enum Outcome {
    Running,
    Accepted,
    Nothing,
    Inconsistent,
    GaveUp,
}

/// One step of the writer publishing record `writer_record` (1-based): `Slot::publish`.
fn writer_step(state: &mut State) -> bool {
    if state.writer_record > RECORDS {
        return false;
    }
    let n = state.writer_record;
    let buffer = (n & 1) as usize;
    match state.writer_step {
        0 => state.shared.seq[buffer] = 2 * n - 1,
        step @ 1..=2 => state.shared.data[buffer][usize::from(step - 1)] = n,
        _ => {
            state.shared.seq[buffer] = 2 * n;
            state.shared.published = n;
        }
    }
    state.writer_step += 1;
    if state.writer_step == 4 {
        state.writer_step = 0;
        state.writer_record += 1;
    }
    true
}

/// Reader steps: load both sequence words, copy, re-check; after a contradiction, load both
/// words again and compare.
const LOAD_FIRST: u8 = 0;
const LOAD_SECOND: u8 = 1;
const COPY_FIRST: u8 = 2;
const RECHECK: u8 = 4;
const RELOAD_FIRST: u8 = 5;
const RELOAD_SECOND: u8 = 6;

/// One step of the reader: `Slot::read`.
fn reader_step(state: &mut State) -> Outcome {
    let buffer = (state.n & 1) as usize;
    match state.reader_step {
        LOAD_FIRST => {
            if state.attempt == 0 {
                state.started_at = state.shared.published;
            }
            state.words[0] = state.shared.seq[0];
        }
        LOAD_SECOND => {
            state.words[1] = state.shared.seq[1];
            match Newest::of(state.words) {
                Newest::Nothing => return Outcome::Nothing,
                Newest::Record(n) => state.n = n.0,
                Newest::Contradiction => {
                    state.reader_step = RELOAD_FIRST;
                    return Outcome::Running;
                }
            }
        }
        step @ COPY_FIRST..RECHECK => {
            let word = usize::from(step - COPY_FIRST);
            state.copy[word] = state.shared.data[buffer][word];
        }
        RECHECK => {
            if state.shared.seq[buffer] == state.words[buffer] {
                return Outcome::Accepted;
            }
            return retry(state);
        }
        RELOAD_FIRST => {
            if state.shared.seq[0] != state.words[0] {
                return retry(state);
            }
        }
        RELOAD_SECOND => {
            if state.shared.seq[1] == state.words[1] {
                return Outcome::Inconsistent;
            }
            return retry(state);
        }
        step => unreachable!("no reader step {step}"),
    }
    state.reader_step += 1;
    Outcome::Running
}

/// A failed attempt: start again.
fn retry(state: &mut State) -> Outcome {
    state.attempt += 1;
    if state.attempt >= MAX_ATTEMPTS {
        return Outcome::GaveUp;
    }
    state.reader_step = LOAD_FIRST;
    Outcome::Running
}

#[test]
fn every_interleaving_of_a_writer_and_a_reader_is_safe() {
    let mut seen = HashSet::new();
    let mut stack = vec![State {
        writer_record: 1,
        ..State::default()
    }];
    let (mut accepted, mut explored, mut contradictions) = (0u64, 0u64, 0u64);
    while let Some(state) = stack.pop() {
        if !seen.insert(state) {
            continue;
        }
        explored += 1;
        if state.reader_step == RELOAD_FIRST {
            contradictions += 1;
        }
        // The writer moves (or has died here: the reader alone moves on from this state too).
        let mut after_writer = state;
        if writer_step(&mut after_writer) {
            stack.push(after_writer);
        }
        let mut after_reader = state;
        match reader_step(&mut after_reader) {
            Outcome::Running => stack.push(after_reader),
            Outcome::Nothing => assert_eq!(state.started_at, 0),
            Outcome::Accepted => {
                accepted += 1;
                let n = after_reader.n;
                assert_eq!(
                    after_reader.copy, [n; WORDS],
                    "a torn record was accepted: {after_reader:?}"
                );
                assert!(
                    n >= after_reader.started_at,
                    "an older record than the latest: {after_reader:?}"
                );
                assert!(
                    n <= after_reader.shared.published,
                    "a record never published: {after_reader:?}"
                );
            }
            Outcome::Inconsistent => {
                panic!("a legitimate interleaving was called inconsistent: {state:?}")
            }
            Outcome::GaveUp => panic!("the reader was starved: {state:?}"),
        }
    }
    println!(
        "{explored} states explored, {accepted} accepting reads, {contradictions} contradictory \
         snapshots resolved by a second look, all safe"
    );
    assert!(accepted > 10 && explored > 100);
    // Legitimate interleavings do load contradictory words: failing on the first look would be
    // wrong, and the second look is exercised.
    assert!(contradictions > 0);
}

#[test]
fn the_model_catches_a_reader_that_skips_the_recheck() {
    // The same exploration with the final sequence check removed must find a torn read:
    // otherwise the model could not fail.
    let mut seen = HashSet::new();
    let mut stack = vec![State {
        writer_record: 1,
        ..State::default()
    }];
    let mut torn = false;
    while let Some(state) = stack.pop() {
        if !seen.insert(state) || torn {
            continue;
        }
        let mut after_writer = state;
        if writer_step(&mut after_writer) {
            stack.push(after_writer);
        }
        let mut after_reader = state;
        if after_reader.reader_step == RECHECK {
            torn |= after_reader.copy != [after_reader.n; WORDS];
            continue;
        }
        if reader_step(&mut after_reader) == Outcome::Running {
            stack.push(after_reader);
        }
    }
    assert!(torn, "without the re-check a torn read must be possible");
}
