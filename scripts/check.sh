#!/usr/bin/env bash
# The checks every change must pass: formatting, lints, tests, docs.
set -euo pipefail
cd "$(dirname "$0")/.."

# A test that hangs fails its step after this long (a whole run takes about 20 minutes), so a
# run ends with the name of what hung instead of running into CI's limit.
bounded() {
    timeout --kill-after=30 2400 "$@"
}

echo "== cargo fmt --check"
cargo fmt --all -- --check
echo "== cargo clippy -D warnings"
cargo clippy --workspace --all-targets --locked -- -D warnings
echo "== cargo test --workspace"
bounded cargo test --workspace --locked
echo "== tests that need root: PID and mount namespaces, small tmpfs mounts, other users"
if [ "$(id -u)" = 0 ]; then
    bounded cargo test -p shm-cli --locked -- --ignored --skip shared_corpus --skip through_bridges
else
    echo "NOT RUN: they need root to mount a tmpfs; run this script as root to include them"
fi
echo "== tests that need the shared image corpus"
if [ -f "${SHM_TESTDATA:-../shared/testdata/images}/manifest.csv" ]; then
    bounded cargo test --workspace --locked -- --ignored shared_corpus
else
    echo "NOT RUN: the shared image corpus is not at ${SHM_TESTDATA:-../shared/testdata/images} (CI puts it beside the repository)"
fi
echo "== loom: the slot protocol and the following reader, every schedule up to 3 preemptions (2 for the longest), every memory-model outcome"
RUSTFLAGS="--cfg loom" CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-target}/loom" \
    bounded cargo test -p shm-common --lib --release --locked loom
echo "== cargo doc --no-deps"
RUSTDOCFLAGS="-D warnings" cargo doc --workspace --no-deps --locked
