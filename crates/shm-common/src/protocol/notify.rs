//! Waking readers: the writer bumps the segment's change counter after every publish (and when
//! a large record starts) and makes the futex syscall only if a reader sleeps; a reader spins
//! a while ([`Reader::wait_for_change`](crate::Reader::wait_for_change)), then sleeps on the
//! counter.
//!
//! A woken thread is often put on its waker's CPU: always when the other CPUs look busy, as
//! an idle virtual CPU that the host descheduled does. A writer that then waits for an answer
//! spins on the CPU its reader needs to answer: on two CPUs, round trips of 100 µs (two spins
//! before a sleep) for tens of milliseconds, until the scheduler balances them out. So the
//! writer notes its CPU with each wake-up, and a woken reader that finds itself on it moves
//! to another CPU its affinity allows.

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
        let cpu = sys::current_cpu().map_or(0, |cpu| cpu.saturating_add(1));
        // Relaxed: a hint for the readers this wakes (see `leave_the_wakers_cpu`).
        control.notify.waker_cpu.store(cpu, Ordering::Relaxed);
        sys::futex_wake_all(&control.notify.counter);
    }
}

/// Moves a reader that a wake-up put on its waker's CPU elsewhere (see the module docs);
/// whether it moved.
fn leave_the_wakers_cpu(notify: &Notify) -> bool {
    // Relaxed: a hint; a stale one at worst moves a thread once for nothing, or not at all.
    let waker = notify.waker_cpu.load(Ordering::Relaxed);
    sys::current_cpu().is_some_and(|cpu| waker == cpu.saturating_add(1) && sys::move_off_cpu(cpu))
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
    let mut slept = false;
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
        slept = true;
    };
    // SeqCst: keeps the waiter count exact for the writer's check.
    notify.waiters.fetch_sub(1, Ordering::SeqCst);
    if changed && slept {
        leave_the_wakers_cpu(notify);
    }
    changed
}

#[cfg(test)]
#[cfg(target_os = "linux")]
mod tests {
    use super::*;

    /// Two CPUs this test's thread may run on.
    fn two_cpus() -> [u32; 2] {
        let cpus = sys::allowed_cpus();
        assert!(cpus.len() >= 2, "needs two CPUs, has {cpus:?}");
        [cpus[0], cpus[1]]
    }

    /// Runs `test` on a thread of its own, whose affinity it may change.
    fn on_own_thread(test: impl FnOnce() + Send + 'static) {
        std::thread::spawn(test).join().unwrap();
    }

    #[test]
    fn a_wake_up_notes_the_writers_cpu_and_a_publish_nobody_sleeps_through_does_not() {
        on_own_thread(|| {
            let [_, cpu] = two_cpus();
            sys::allow_cpus(&[cpu]);
            let control = Box::<ControlBlock>::default();
            notify_change(&control);
            assert_eq!(control.notify.waker_cpu.load(Ordering::Relaxed), 0);
            control.notify.waiters.store(1, Ordering::Relaxed);
            notify_change(&control);
            assert_eq!(control.notify.waker_cpu.load(Ordering::Relaxed), cpu + 1);
        });
    }

    #[test]
    fn a_reader_woken_on_its_writers_cpu_moves_off_it_and_keeps_its_affinity() {
        on_own_thread(|| {
            let [first, second] = two_cpus();
            let all = sys::allowed_cpus();
            let notify = Notify::default();
            // Woken elsewhere, or with the CPU not known: it stays.
            let here = sys::current_cpu().unwrap();
            let there = if here == first { second } else { first };
            notify.waker_cpu.store(there + 1, Ordering::Relaxed);
            assert!(!leave_the_wakers_cpu(&notify));
            notify.waker_cpu.store(0, Ordering::Relaxed);
            assert!(!leave_the_wakers_cpu(&notify));
            // Woken on the writer's CPU: it moves, and may run anywhere it could before.
            let here = sys::current_cpu().unwrap();
            notify.waker_cpu.store(here + 1, Ordering::Relaxed);
            assert!(leave_the_wakers_cpu(&notify));
            assert_ne!(sys::current_cpu(), Some(here));
            assert_eq!(sys::allowed_cpus(), all);
            // Allowed that CPU alone: it cannot move.
            sys::allow_cpus(&[first]);
            notify.waker_cpu.store(first + 1, Ordering::Relaxed);
            assert!(!leave_the_wakers_cpu(&notify));
            assert_eq!(sys::current_cpu(), Some(first));
        });
    }
}
