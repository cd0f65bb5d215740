#!/usr/bin/env bash
# The Zenoh bridge, in a workspace of its own so that Zenoh stays out of the project's build:
# formatted, linted, and tested with two real bridges on loopback.
set -euo pipefail
cd "$(dirname "$0")/.."

manifest=crates/shm-bridge/Cargo.toml
echo "== shm-bridge: cargo fmt --check, clippy -D warnings"
cargo fmt --manifest-path "$manifest" -- --check
cargo clippy --manifest-path "$manifest" --all-targets --locked -- -D warnings
echo "== shm-bridge: cargo test (two bridges on loopback)"
timeout --kill-after=30 1200 cargo test --manifest-path "$manifest" --locked
echo "== shm-bridge: two hosts in network namespaces, the link between them cut and healed"
if [ "$(id -u)" = 0 ]; then
    if ! command -v ip >/dev/null; then
        echo "installing iproute2"
        export DEBIAN_FRONTEND=noninteractive
        apt-get update -qq && apt-get install -y -qq --no-install-recommends iproute2 >/dev/null
    fi
    timeout --kill-after=30 600 cargo test --manifest-path "$manifest" --locked -- --ignored
else
    echo "NOT RUN: making network namespaces needs root; run this script as root to include it"
fi
echo "== shm bench --bridge: figures through two bridges, and bridges that end with the bench"
SHM_BRIDGE="$PWD/crates/shm-bridge/target/debug/shm-bridge" \
    timeout --kill-after=30 1200 cargo test -p shm-cli --test cli --locked -- --ignored through_bridges
