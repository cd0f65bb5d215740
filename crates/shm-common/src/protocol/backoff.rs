//! One way to wait for another core: spin a while (the other side usually answers within
//! microseconds), then yield the core, and measure how long the wait has lasted.

use crate::sync::{hint, thread};
use std::time::{Duration, Instant};

/// A wait in steps: [`Backoff::snooze`] spins for the first `spins` steps, then yields.
/// [`Backoff::waited`] is the time since the first step (or the last [`Backoff::restart`]).
pub(crate) struct Backoff {
    steps: u32,
    spins: u32,
    since: Option<Instant>,
}

impl Backoff {
    /// Spins for the first `spins` steps, then yields.
    pub(crate) fn new(spins: u32) -> Backoff {
        Backoff {
            steps: 0,
            spins,
            since: None,
        }
    }

    /// One step of waiting.
    pub(crate) fn snooze(&mut self) {
        self.since.get_or_insert_with(Instant::now);
        self.steps = self.steps.saturating_add(1);
        if self.steps <= self.spins {
            hint::spin_loop();
        } else {
            thread::yield_now();
        }
    }

    /// How many steps were taken.
    pub(crate) fn steps(&self) -> u32 {
        self.steps
    }

    /// Time since the first step or the last restart.
    pub(crate) fn waited(&mut self) -> Duration {
        self.since.get_or_insert_with(Instant::now).elapsed()
    }

    /// Counts the time from now again (the other side made progress), keeping the step count.
    pub(crate) fn restart(&mut self) {
        self.since = Some(Instant::now());
    }
}
