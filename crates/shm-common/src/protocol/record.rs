//! What a reader learns about a record besides its bytes: its number, length, checksum and the
//! writer's two clock readings, and from them how it was delivered.

use std::time::Duration;

use crate::message::RecordKind;
use crate::sys;

/// Metadata of a record that was read or published.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RecordMeta {
    /// What the record holds.
    pub kind: RecordKind,
    /// Its number in its slot: 1 for the first record published to the slot, then 2, ...
    pub sequence: u64,
    /// Payload length in bytes.
    pub len: usize,
    /// Payload checksum.
    pub checksum: u64,
    /// Writer's monotonic clock, in nanoseconds, before it stored the record's first byte.
    pub started_ns: u64,
    /// Writer's monotonic clock, in nanoseconds, once it had stored the record's last byte.
    pub published_ns: u64,
}

impl RecordMeta {
    /// How long the writer took to store the record, first byte to last.
    pub fn write_time(&self) -> Duration {
        Duration::from_nanos(self.published_ns.saturating_sub(self.started_ns))
    }

    /// Time since the record was complete (both on the machine's monotonic clock).
    pub fn since_published(&self) -> Duration {
        Duration::from_nanos(monotonic_ns().saturating_sub(self.published_ns))
    }

    /// How the record reached a reader that asked for it at `asked_ns` (began waiting for it,
    /// or reading it) and held all of it, checked, at `received_ns`; see [`Delivery`].
    pub fn delivery(&self, asked_ns: u64, received_ns: u64) -> Delivery {
        let waited = asked_ns.saturating_sub(self.published_ns);
        let transfer = received_ns
            .saturating_sub(self.started_ns)
            .saturating_sub(waited);
        Delivery {
            transfer: Duration::from_nanos(transfer),
            waited: Duration::from_nanos(waited),
        }
    }
}

/// How one record reached one reader, on the machine-wide monotonic clock that writer and
/// reader share.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Delivery {
    /// From the writer's first byte to the reader holding the whole record, less the time
    /// the complete record lay in the segment before the reader asked for it: for a reader
    /// that was waiting (or followed the write), the full latency; for one that read an old
    /// record on demand, the writer's copy plus the reader's.
    pub transfer: Duration,
    /// How long the complete record lay in the segment before the reader asked for it.
    pub waited: Duration,
}

/// Nanoseconds on the machine-wide monotonic clock that record timestamps use.
pub fn monotonic_ns() -> u64 {
    sys::monotonic_ns()
}
