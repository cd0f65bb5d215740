#!/usr/bin/env bash
# The Python module: its Rust formatted and linted, then built with maturin into a fresh virtual
# environment (as `pip install ./crates/shm-python` builds it for a user) and tested with pytest
# against the real `shm` command.
set -euo pipefail
cd "$(dirname "$0")/.."

manifest=crates/shm-python/Cargo.toml
echo "== shm-python: cargo fmt --check, clippy -D warnings"
cargo fmt --manifest-path "$manifest" -- --check
cargo clippy --manifest-path "$manifest" --all-targets --locked -- -D warnings

echo "== shm-python: pip install into a fresh virtual environment"
venv="$(mktemp -d)/venv"
trap 'rm -rf "$(dirname "$venv")"' EXIT
python3 -m venv "$venv"
"$venv/bin/pip" install --quiet --disable-pip-version-check pytest numpy
"$venv/bin/pip" install --quiet --disable-pip-version-check ./crates/shm-python

echo "== shm-python: pytest"
cargo build --quiet --locked -p shm-cli
cargo build --quiet --locked -p shm-common --example custom_struct
# The checkout's own modules must not shadow the installed package.
(cd "$(dirname "$venv")" && SHM_BIN="$OLDPWD/target/debug/shm" \
    SHM_CUSTOM_STRUCT="$OLDPWD/target/debug/examples/custom_struct" \
    timeout --kill-after=30 600 "$venv/bin/python" -m pytest -q -p no:cacheprovider "$OLDPWD/crates/shm-python/tests")
