//! The atomics, hints and yields the protocol uses: std's, or loom's when the slot protocol is
//! model-checked (`RUSTFLAGS="--cfg loom"`, see `scripts/check.sh`).

#[cfg(loom)]
pub(crate) use loom::{hint, sync::atomic, thread};
#[cfg(not(loom))]
pub(crate) use std::{hint, sync::atomic, thread};
