//! An exhaustive check of the slot protocol: every interleaving of a writer publishing five
//! records (and possibly dying at any step) with a reader reading once.
//!
//! The model follows `src/slot.rs` step by step, one shared-memory access per step, under
//! sequential consistency; the memory orderings that make real hardware behave this way are
//! argued in the comments of `slot.rs`. Payloads are two words that must both equal the record
//! number, so a torn copy is visible. The checks, over every reachable state:
//! * the reader never accepts a torn or mixed record;
//! * what it accepts was published during its read, never older than what was published when
//!   it began (it returns the latest complete record, also when the writer died mid-write);
//! * it never reports the segment inconsistent (the fail-fast rule of `Slot::read` is sound);
//! * it never gives up: a busy writer cannot starve it.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashSet;

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
    s1: u64,
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
        3 => state.shared.seq[buffer] = 2 * n,
        _ => state.shared.published = n,
    }
    state.writer_step += 1;
    if state.writer_step == 5 {
        state.writer_step = 0;
        state.writer_record += 1;
    }
    true
}

/// One step of the reader: `Slot::read`.
fn reader_step(state: &mut State) -> Outcome {
    let buffer = (state.n & 1) as usize;
    match state.reader_step {
        0 => {
            state.n = state.shared.published;
            if state.attempt == 0 {
                state.started_at = state.n;
            }
            if state.n == 0 {
                return Outcome::Nothing;
            }
        }
        1 => {
            state.s1 = state.shared.seq[buffer];
            if state.s1 != 2 * state.n {
                return retry(state);
            }
        }
        step @ 2..=3 => {
            state.copy[usize::from(step - 2)] = state.shared.data[buffer][usize::from(step - 2)]
        }
        _ => {
            if state.shared.seq[buffer] == state.s1 {
                return Outcome::Accepted;
            }
            return retry(state);
        }
    }
    state.reader_step += 1;
    Outcome::Running
}

/// A failed attempt: fail fast if `published` did not move, else start again.
fn retry(state: &mut State) -> Outcome {
    if state.shared.published == state.n {
        return Outcome::Inconsistent;
    }
    state.attempt += 1;
    if state.attempt >= MAX_ATTEMPTS {
        return Outcome::GaveUp;
    }
    state.reader_step = 0;
    Outcome::Running
}

#[test]
fn every_interleaving_of_a_writer_and_a_reader_is_safe() {
    let mut seen = HashSet::new();
    let mut stack = vec![State {
        writer_record: 1,
        ..State::default()
    }];
    let (mut accepted, mut explored) = (0u64, 0u64);
    while let Some(state) = stack.pop() {
        if !seen.insert(state) {
            continue;
        }
        explored += 1;
        // The writer moves (or has died here: the reader alone moves on from this state too).
        let mut after_writer = state;
        if writer_step(&mut after_writer) {
            stack.push(after_writer);
        }
        let mut after_reader = state;
        match reader_step(&mut after_reader) {
            Outcome::Running => stack.push(after_reader),
            Outcome::Nothing => assert_eq!(state.shared.published, 0),
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
    println!("{explored} states explored, {accepted} accepting reads, all safe");
    assert!(accepted > 10 && explored > 100);
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
        if after_reader.reader_step == 4 {
            torn |= after_reader.copy != [after_reader.n; WORDS];
            continue;
        }
        if reader_step(&mut after_reader) == Outcome::Running {
            stack.push(after_reader);
        }
    }
    assert!(torn, "without the re-check a torn read must be possible");
}
