#!/usr/bin/env bash
# The Python module: its Rust formatted and linted, then built with maturin into fresh virtual
# environments (as `pip install ./crates/shm-python` builds it for a user), for `python3` and
# for the oldest Python it supports (3.9) where that is installed, and tested with pytest
# against the real `shm` command.
set -euo pipefail
cd "$(dirname "$0")/.."

manifest=crates/shm-python/Cargo.toml
echo "== shm-python: cargo fmt --check, clippy -D warnings"
cargo fmt --manifest-path "$manifest" -- --check
cargo clippy --manifest-path "$manifest" --all-targets --locked -- -D warnings

cargo build --quiet --locked -p shm-cli
cargo build --quiet --locked -p shm-common --example custom_struct
scratch="$(mktemp -d)"
trap 'rm -rf "$scratch"' EXIT

# Installs the module with `python` into a fresh virtual environment and runs the tests there.
suite() {
    local python=$1 venv
    venv="$scratch/venv-$("$python" -c 'import sys; print("%d.%d" % sys.version_info[:2])')"
    echo "== shm-python: pip install and pytest with $("$python" --version)"
    "$python" -m venv "$venv"
    "$venv/bin/pip" install --quiet --disable-pip-version-check pytest numpy
    "$venv/bin/pip" install --quiet --disable-pip-version-check ./crates/shm-python
    # Run from elsewhere: the checkout's own sources must not shadow the installed package.
    (cd "$scratch" && SHM_BIN="$OLDPWD/target/debug/shm" \
        SHM_CUSTOM_STRUCT="$OLDPWD/target/debug/examples/custom_struct" \
        timeout --kill-after=30 600 "$venv/bin/python" -m pytest -q -p no:cacheprovider \
        "$OLDPWD/crates/shm-python/tests")
}

suite python3
oldest=""
for candidate in python3.9 "${PYENV_ROOT:-$HOME/.pyenv}"/versions/3.9*/bin/python3.9; do
    if "$candidate" -c 'import sys; assert sys.version_info[:2] == (3, 9)' 2>/dev/null; then
        oldest=$candidate
        break
    fi
done
if [ -n "$oldest" ]; then
    suite "$oldest"
else
    echo "NOT RUN: no Python 3.9 here, the oldest the module supports"
fi
