//! Waking readers: the writer bumps the segment's change counter after every publish (and when
//! a large record starts) and makes the futex syscall only if a reader sleeps; a reader spins
//! a while ([`Reader::wait_for_change`](crate::Reader::wait_for_change)), then sleeps on the
//! counter.

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use crate::layout::{ControlBlock, Notify};
use crate::sys;

/// Wakes readers: bump the change counter, and make the syscall only if someone sleeps.
pub(crate) fn notify_change(control: &ControlBlock) {
    // SeqCst on both: with the reader's SeqCst increment of `waiters` and load of `counter`,
    // either the reader sees the new counter or this load sees the reader's waiter count.
    control.notify.counter.fetch_add(1, Ordering::SeqCst);
    if control.notify.waiters.load(Ordering::SeqCst) != 0 {
        sys::futex_wake_all(&control.notify.counter);
    }
}

/// Sleeps on the change counter until `ready` holds after a change (true) or `timeout` passed
/// since `start` (false). `seen` is the last counter value the caller acted on.
pub(crate) fn sleep_until(
    notify: &Notify,
    seen: &mut u32,
    start: Instant,
    timeout: Duration,
    mut ready: impl FnMut() -> bool,
) -> bool {
    // SeqCst: pairs with the writer's SeqCst counter increment and waiter load in
    // `notify_change`, so a publish cannot slip between our check and our sleep.
    notify.waiters.fetch_add(1, Ordering::SeqCst);
    let changed = loop {
        let counter = notify.counter.load(Ordering::SeqCst);
        if counter != *seen {
            *seen = counter;
            if ready() {
                break true;
            }
        }
        let elapsed = start.elapsed();
        if elapsed >= timeout {
            break false;
        }
        sys::futex_wait(&notify.counter, counter, timeout - elapsed);
    };
    // SeqCst: keeps the waiter count exact for the writer's check.
    notify.waiters.fetch_sub(1, Ordering::SeqCst);
    changed
}
