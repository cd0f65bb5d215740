#!/usr/bin/env bash
# The Python module: its Rust formatted and linted, then built with maturin into fresh virtual
# environments (as `pip install ./crates/shm-python` builds it for a user) and tested with
# pytest against the real `shm` command: built for `python3`, and as the `abi3` module (one for
# every Python from 3.9 on) for Python 3.9 where that is installed.
set -euo pipefail
cd "$(dirname "$0")/.."

manifest=crates/shm-python/Cargo.toml
echo "== shm-python: cargo fmt --check, clippy -D warnings"
cargo fmt --manifest-path "$manifest" -- --check
cargo clippy --manifest-path "$manifest" --all-targets --locked -- -D warnings
cargo clippy --manifest-path "$manifest" --all-targets --locked --features abi3 -- -D warnings

cargo build --quiet --locked -p shm-cli
cargo build --quiet --locked -p shm-common --example custom_struct
scratch="$(mktemp -d)"
trap 'rm -rf "$scratch"' EXIT

# Installs the module with `python` into a fresh virtual environment, built with the cargo
# features `features`, and runs the tests there.
suite() {
    local python=$1 features=$2 venv module
    venv="$scratch/venv-$("$python" -c 'import sys; print("%d.%d" % sys.version_info[:2])')"
    echo "== shm-python: pip install (features: ${features:-none}) and pytest with $("$python" --version)"
    "$python" -m venv "$venv"
    "$venv/bin/pip" install --quiet --disable-pip-version-check pytest numpy
    MATURIN_PEP517_ARGS="${features:+--features $features}" \
        "$venv/bin/pip" install --quiet --disable-pip-version-check ./crates/shm-python
    module=$(cd "$scratch" && "$venv/bin/python" -c 'import shm_exchange._shm_exchange as m; print(m.__file__)')
    echo "built: $(basename "$module")"
    if [ "$features" = abi3 ] && [[ "$module" != *.abi3.so ]]; then
        echo "the abi3 build made $module" >&2
        exit 1
    fi
    # Run from elsewhere: the checkout's own sources must not shadow the installed package.
    (cd "$scratch" && SHM_BIN="$OLDPWD/target/debug/shm" \
        SHM_CUSTOM_STRUCT="$OLDPWD/target/debug/examples/custom_struct" \
        timeout --kill-after=30 600 "$venv/bin/python" -m pytest -q -p no:cacheprovider \
        "$OLDPWD/crates/shm-python/tests")
}

suite python3 ""
oldest=""
for candidate in python3.9 "${PYENV_ROOT:-$HOME/.pyenv}"/versions/3.9*/bin/python3.9; do
    if "$candidate" -c 'import sys; assert sys.version_info[:2] == (3, 9)' 2>/dev/null; then
        oldest=$candidate
        break
    fi
done
if [ -n "$oldest" ]; then
    suite "$oldest" abi3
else
    echo "NOT RUN: no Python 3.9 here, the oldest the module supports"
fi
