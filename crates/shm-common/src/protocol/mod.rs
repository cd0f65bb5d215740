//! The publish/read protocol, in one place: which record a slot's sequence words name
//! (`sequence.rs`: [`Newest`], [`RecordNumber`], [`SequenceWord`]), publishing and reading a
//! record (`slot.rs`), moving its bytes (`copy.rs`), following a record while it is written
//! (`follow.rs`), holding a record in place (`lease.rs`), waking readers (`notify.rs`) and the one way of waiting for another core
//! (`backoff.rs`). The crate docs explain it step by step; loom checks `slot.rs`,
//! `follow.rs` and `lease.rs` under every schedule, and `tests/protocol_model.rs` explores a model of it built
//! on the real [`Newest::of`].

pub(crate) mod backoff;
pub(crate) mod copy;
pub(crate) mod follow;
pub(crate) mod lease;
#[cfg(not(loom))]
pub(crate) mod notify;
mod record;
pub(crate) mod sequence;
pub(crate) mod slot;

pub use record::{Delivery, RecordMeta, monotonic_ns};
pub use sequence::{Newest, RecordNumber, SequenceWord};
