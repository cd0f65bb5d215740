//! What arrived from the network and is not yet written: the newest message of each key, in
//! the order the keys last arrived.
//!
//! Only a record's newest version matters, so a newer message of a key replaces the waiting
//! one instead of queueing behind it, and a flood on one key (a frame stream) can never push
//! another key's only message (the struct just sent) out, as a ring of the last N messages
//! would. At most `capacity` keys wait at once (a segment has at most 15 channels, plus its
//! announcements): a message of yet another key is turned away, so what waits stays bounded
//! whatever the network sends.

use std::collections::{HashMap, VecDeque};
use std::sync::{Condvar, Mutex, PoisonError};
use std::time::Duration;

/// The newest waiting message of each key.
pub struct Inbox<T> {
    waiting: Mutex<Waiting<T>>,
    arrived: Condvar,
    capacity: usize,
}

struct Waiting<T> {
    /// Keys with a message waiting, the one that arrived longest ago first.
    order: VecDeque<String>,
    messages: HashMap<String, T>,
}

/// What [`Inbox::put`] did with a message.
#[derive(Debug, PartialEq, Eq)]
pub enum Put {
    /// It waits to be taken.
    Waiting,
    /// It took the place of an older message of its key, which is gone.
    Replaced,
    /// `capacity` other keys wait already: it was turned away.
    Full,
}

impl<T> Inbox<T> {
    /// An empty inbox for messages of at most `capacity` keys at once.
    pub fn new(capacity: usize) -> Inbox<T> {
        Inbox {
            waiting: Mutex::new(Waiting {
                order: VecDeque::new(),
                messages: HashMap::new(),
            }),
            arrived: Condvar::new(),
            capacity,
        }
    }

    /// Keeps `message` as the newest of `key`: the key moves to the back of the line.
    pub fn put(&self, key: String, message: T) -> Put {
        let mut waiting = self.lock();
        let put = if waiting.messages.contains_key(&key) {
            waiting.order.retain(|waiting| *waiting != key);
            Put::Replaced
        } else if waiting.messages.len() >= self.capacity {
            return Put::Full;
        } else {
            Put::Waiting
        };
        waiting.order.push_back(key.clone());
        waiting.messages.insert(key, message);
        drop(waiting);
        self.arrived.notify_one();
        put
    }

    /// The message whose key arrived longest ago, waiting up to `timeout` for one.
    pub fn take(&self, timeout: Duration) -> Option<(String, T)> {
        let waiting = self.lock();
        let (mut waiting, _) = self
            .arrived
            .wait_timeout_while(waiting, timeout, |waiting| waiting.order.is_empty())
            .unwrap_or_else(PoisonError::into_inner);
        let key = waiting.order.pop_front()?;
        let message = waiting.messages.remove(&key)?;
        Some((key, message))
    }

    /// The waiting messages. A thread that panicked holding the lock left them consistent:
    /// every change above is complete before anything that could panic.
    fn lock(&self) -> std::sync::MutexGuard<'_, Waiting<T>> {
        self.waiting.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    const NOW: Duration = Duration::ZERO;

    #[test]
    fn a_flood_on_one_key_keeps_only_its_newest_and_never_pushes_another_key_out() {
        let inbox = Inbox::new(3);
        assert_eq!(inbox.put("struct".to_owned(), 1), Put::Waiting);
        assert_eq!(inbox.put("frames".to_owned(), 0), Put::Waiting);
        for frame in 1..1000 {
            assert_eq!(inbox.put("frames".to_owned(), frame), Put::Replaced);
        }
        assert_eq!(inbox.take(NOW), Some(("struct".to_owned(), 1)));
        assert_eq!(inbox.take(NOW), Some(("frames".to_owned(), 999)));
        assert_eq!(inbox.take(NOW), None);
    }

    #[test]
    fn keys_come_out_in_the_order_they_last_arrived() {
        let inbox = Inbox::new(3);
        inbox.put("a".to_owned(), 1);
        inbox.put("b".to_owned(), 2);
        inbox.put("a".to_owned(), 3);
        assert_eq!(inbox.take(NOW), Some(("b".to_owned(), 2)));
        assert_eq!(inbox.take(NOW), Some(("a".to_owned(), 3)));
    }

    #[test]
    fn more_keys_than_it_holds_are_turned_away_until_one_is_taken() {
        let inbox = Inbox::new(2);
        inbox.put("a".to_owned(), 1);
        inbox.put("b".to_owned(), 2);
        assert_eq!(inbox.put("c".to_owned(), 3), Put::Full);
        assert_eq!(inbox.put("b".to_owned(), 4), Put::Replaced);
        assert_eq!(inbox.take(NOW), Some(("a".to_owned(), 1)));
        assert_eq!(inbox.put("c".to_owned(), 5), Put::Waiting);
    }

    #[test]
    fn take_waits_for_a_message_from_another_thread() {
        let inbox = std::sync::Arc::new(Inbox::new(1));
        let sender = std::sync::Arc::clone(&inbox);
        let thread = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(50));
            sender.put("late".to_owned(), 7);
        });
        assert_eq!(
            inbox.take(Duration::from_secs(30)),
            Some(("late".to_owned(), 7))
        );
        thread.join().unwrap();
    }
}
