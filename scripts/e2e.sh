#!/usr/bin/env bash
# End to end, as a person would: the real Writer and Reader windows under Xvfb, driven with real
# X clicks and keystrokes (xdotool) at widgets found by name on the accessibility bus, checked
# through two independent channels: the apps' --events logs and screenshots.
#
#   bash scripts/e2e.sh                      run it (installs what it needs when missing)
#   E2E_SCREENSHOTS=1 bash scripts/e2e.sh    also refresh docs/screenshots/*.png for the README
#   E2E_KEEP=1 bash scripts/e2e.sh           keep e2e-artifacts/ even when every step passes
#
# Prints "e2e: N passed, M failed" last; exits non-zero on any failure and keeps the
# screenshots and logs of a failed run in e2e-artifacts/.
set -uo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
ARTIFACTS="$ROOT/e2e-artifacts"
DRIVE="timeout 60 /usr/bin/python3 $ROOT/scripts/e2e_drive.py"

install_missing() {
    local missing=()
    command -v Xvfb >/dev/null || missing+=(xvfb xauth)
    command -v xdotool >/dev/null || missing+=(xdotool)
    command -v import >/dev/null || missing+=(imagemagick)
    command -v dbus-run-session >/dev/null || missing+=(dbus dbus-x11)
    [ -x /usr/libexec/at-spi-bus-launcher ] || missing+=(at-spi2-core)
    /usr/bin/python3 -c 'import pyatspi' 2>/dev/null || missing+=(python3-pyatspi gir1.2-atspi-2.0 python3-gi)
    command -v zenity >/dev/null || missing+=(zenity)
    [ -e /usr/lib/x86_64-linux-gnu/libxkbcommon-x11.so.0 ] || missing+=(libxkbcommon-x11-0)
    [ -e /usr/lib/x86_64-linux-gnu/libEGL_mesa.so.0 ] || missing+=(libegl1 libegl-mesa0 libgl1-mesa-dri)
    [ -e /usr/lib/x86_64-linux-gnu/libXcursor.so.1 ] || missing+=(libxcursor1 libxi6 libxrandr2 libx11-xcb1 libfontconfig1)
    if [ ${#missing[@]} -gt 0 ]; then
        echo "e2e: installing ${missing[*]}"
        export DEBIAN_FRONTEND=noninteractive
        apt-get update -qq && apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
    fi
}

if [ "${1:-}" != "--inside-session" ]; then
    install_missing || { echo "e2e: could not install the packages it needs"; echo "e2e: 0 passed, 1 failed"; exit 1; }
    echo "e2e: building the release binaries"
    (cd "$ROOT" && cargo build --release --locked -p shm-exchange -p shm-writer -p shm-reader) || {
        echo "e2e: 0 passed, 1 failed"; exit 1; }
    rm -rf "$ARTIFACTS" && mkdir -p "$ARTIFACTS"
    # A private session bus for the accessibility bus; it ends with the script.
    exec dbus-run-session -- bash "$0" --inside-session
fi

BIN="${CARGO_TARGET_DIR:-$ROOT/target}/release"
WORK=$(mktemp -d)
export XDG_RUNTIME_DIR="$WORK/runtime" HOME="$WORK/home" GSETTINGS_BACKEND=memory NO_AT_BRIDGE=0
mkdir -p "$XDG_RUNTIME_DIR" "$HOME" && chmod 700 "$XDG_RUNTIME_DIR"
PASSED=0
FAILED=0
STARTED_PIDS=()
STEP=0
started=$(date +%s)

pass() { PASSED=$((PASSED + 1)); echo "  ok   $1"; }
fail() { FAILED=$((FAILED + 1)); echo "  FAIL $1"; }
# check "what" command...: one assertion.
check() { local what=$1; shift; if "$@" >>"$ARTIFACTS/checks.log" 2>&1; then pass "$what"; else fail "$what"; fi; }

start() { # start NAME command...: runs in the background, remembered for cleanup
    local name=$1; shift
    "$@" >"$ARTIFACTS/$name.log" 2>&1 &
    local pid=$!
    STARTED_PIDS+=("$pid")
    eval "${name}_PID=$pid"
}

stop() { # stop PID: closes the window the way its close button would (SIGTERM -> Close)
    local pid=$1
    kill -TERM "$pid" 2>/dev/null || return 0
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || return 0; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
}

cleanup() {
    for pid in "${STARTED_PIDS[@]}"; do stop "$pid"; done
    [ -n "${ATSPI_PID:-}" ] && kill "$ATSPI_PID" 2>/dev/null
    [ -n "${XVFB_PID:-}" ] && kill "$XVFB_PID" 2>/dev/null
    for name in e2e-main e2e-early e2e-small e2e-stream; do rm -f "/dev/shm/$name-$$"; done
    # A desktop portal, where one is installed, may have mounted its document store here.
    fusermount -uz "$XDG_RUNTIME_DIR/doc" 2>/dev/null
    rm -rf "$WORK" 2>/dev/null
}
trap cleanup EXIT

shot() { # shot NAME: a screenshot of the whole screen as PPM (and PNG for people)
    STEP=$((STEP + 1))
    local file="$ARTIFACTS/$(printf '%02d' $STEP)-$1"
    import -window root -depth 8 "$file.ppm" && import -window root "$file.png" 2>/dev/null
    LAST_SHOT="$file.ppm"
}

# event LOG NAME KEY VALUE: the log has an event NAME whose KEY is VALUE.
event() {
    /usr/bin/python3 - "$@" <<'PY'
import json, sys
log, name, key, value = sys.argv[1:5]
for line in open(log, encoding="utf-8"):
    record = json.loads(line)
    if record.get("event") == name and str(record.get(key)) == value:
        sys.exit(0)
sys.exit(f"no {name} event with {key}={value} in {log}")
PY
}

# wait_event LOG NAME KEY VALUE [SECONDS]
wait_event() {
    local deadline=$(( $(date +%s) + ${5:-20} ))
    while [ "$(date +%s)" -le $deadline ]; do
        event "$1" "$2" "$3" "$4" 2>/dev/null && return 0
        sleep 0.2
    done
    event "$1" "$2" "$3" "$4"
}

# tick APP NAME / untick APP NAME: the check box ends up ticked / not ticked, whatever it was
# (the apps remember it between runs).
tick() { $DRIVE checked "$1" "$2" || $DRIVE click "$1" "check box" "$2"; }
untick() { ! $DRIVE checked "$1" "$2" || $DRIVE click "$1" "check box" "$2"; }

count_events() { grep -c "\"event\":\"$2\"" "$1" 2>/dev/null || true; }

# colour_near APP ROLE NAME R G B: the widget's area in the last screenshot is about that colour.
colour_near() {
    local box colour
    box=$($DRIVE extents "$1" "$2" "$3") || return 1
    read -r x y w h <<<"$box"
    colour=$($DRIVE colour "$LAST_SHOT" $((x + w / 4)) $((y + h / 4)) $((w / 2)) $((h / 2))) || return 1
    echo "$3: mean colour $colour, expected about $4 $5 $6"
    read -r r g b <<<"$colour"
    [ $(( (r - $4) ** 2 + (g - $5) ** 2 + (b - $6) ** 2 )) -lt 1200 ]
}

# bright_area APP ROLE TEXT: the widget whose name contains TEXT is, on average, bright in the
# last screenshot (the test pattern's colour bars; the empty view is nearly black).
bright_area() {
    local box colour
    box=$($DRIVE extents-text "$1" "$2" "$3") || return 1
    read -r x y w h <<<"$box"
    colour=$($DRIVE colour "$LAST_SHOT" $((x + w / 4)) $((y + h / 4)) $((w / 2)) $((h / 2))) || return 1
    echo "$3: mean colour $colour"
    read -r r g b <<<"$colour"
    [ $(( r + g + b )) -gt 240 ]
}

# picture FILE R G B [W H NOISE]: a PNG of one flat colour (NOISE=1 makes it incompressible).
picture() {
    /usr/bin/python3 - "$@" <<'PY'
import os, struct, sys, zlib
path, r, g, b = sys.argv[1], *map(int, sys.argv[2:5])
width, height = (int(sys.argv[5]), int(sys.argv[6])) if len(sys.argv) > 6 else (640, 400)
noise = len(sys.argv) > 7 and sys.argv[7] == "1"
rows = b"".join(b"\0" + (os.urandom(width * 3) if noise else bytes([r, g, b]) * width) for _ in range(height))
def chunk(kind, data):
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
png = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
png += chunk(b"IDAT", zlib.compress(rows, 9)) + chunk(b"IEND", b"")
open(path, "wb").write(png)
PY
}

echo "e2e: starting Xvfb and the accessibility bus"
for display in $(seq 90 120); do [ -e "/tmp/.X11-unix/X$display" ] || break; done
export DISPLAY=":$display"
Xvfb "$DISPLAY" -screen 0 1920x1080x24 -nolisten tcp >"$ARTIFACTS/xvfb.log" 2>&1 &
XVFB_PID=$!
for _ in $(seq 50); do xdotool getdisplaygeometry >/dev/null 2>&1 && break; sleep 0.1; done
# Services the session bus starts (a desktop portal, if installed) must find the display.
dbus-update-activation-environment DISPLAY XDG_RUNTIME_DIR HOME GSETTINGS_BACKEND 2>/dev/null
/usr/libexec/at-spi-bus-launcher --launch-immediately >"$ARTIFACTS/atspi.log" 2>&1 &
ATSPI_PID=$!
sleep 0.5
dbus-send --session --print-reply --dest=org.a11y.Bus /org/a11y/bus \
    org.freedesktop.DBus.Properties.Set string:org.a11y.Status string:IsEnabled variant:boolean:true >/dev/null

PICTURES="$WORK/pictures"
mkdir -p "$PICTURES"
picture "$PICTURES/red.png" 220 40 40
picture "$PICTURES/green.png" 40 180 60
picture "$PICTURES/blue.png" 40 60 220
picture "$PICTURES/noise.png" 0 0 0 400 300 1
picture "$PICTURES/huge.png" 0 0 0 2000 1900 1
SEGMENT="e2e-main-$$"
W_LOG="$ARTIFACTS/writer-events.jsonl"
R_LOG="$ARTIFACTS/reader-events.jsonl"

echo "e2e: 1. a picture goes Writer -> Reader by clicks"
start writer "$BIN/shm-writer" --name "$SEGMENT" --events "$W_LOG" --position 0,0
start reader "$BIN/shm-reader" --name "$SEGMENT" --events "$R_LOG" --position 900,0
check "the Writer window appears" timeout 30 xdotool search --sync --onlyvisible --name '^Writer$'
check "the Reader window appears" timeout 30 xdotool search --sync --onlyvisible --name '^Reader$'
check "the Reader connects" wait_event "$R_LOG" connected segment "segment '$SEGMENT'"
$DRIVE type shm-writer 图片路径 "$PICTURES/red.png"
check "the Writer opens the typed path" wait_event "$W_LOG" loaded path "$PICTURES/red.png"
$DRIVE click shm-writer "push button" 咻一下
check "the Writer sends it" wait_event "$W_LOG" sent path "$PICTURES/red.png"
$DRIVE click shm-reader "push button" 咻一下
check "the Reader shows it (event log)" wait_event "$R_LOG" shown path "$PICTURES/red.png"
sleep 0.5; shot red
check "the Reader shows red (screenshot)" colour_near shm-reader image "$PICTURES/red.png" 220 40 40

echo "e2e: 2. Struct in the Writer, Struct in the Reader: the original's popup"
$DRIVE click shm-writer "push button" Struct
check "the Writer sends the struct" wait_event "$W_LOG" sent kind struct
$DRIVE click shm-reader "push button" Struct
TEXT="Id=100,Age=20,Scores=60,61,62,63,64,65,66,67,68,69"
check "the popup has the exact text (event log)" wait_event "$R_LOG" popup text "$TEXT"
check "the popup has the exact text (on screen)" $DRIVE wait-text shm-reader "$TEXT" 10
sleep 0.5; shot popup
check "the popup dims the picture behind it (screenshot)" colour_near shm-reader image "$PICTURES/red.png" 135 25 25
$DRIVE click shm-reader "push button" 确定

echo "e2e: 3. Live: a new picture appears in the Reader without a click"
tick shm-reader 实时
sleep 0.3
$DRIVE type shm-writer 图片路径 "$PICTURES/green.png"
wait_event "$W_LOG" loaded path "$PICTURES/green.png" >/dev/null 2>&1
$DRIVE click shm-writer "push button" 咻一下
check "the Reader shows the new picture by itself (event log)" wait_event "$R_LOG" shown path "$PICTURES/green.png"
sleep 0.5; shot live
check "the Reader shows green (screenshot)" colour_near shm-reader image "$PICTURES/green.png" 40 180 60
if [ "${E2E_SCREENSHOTS:-}" = 1 ]; then
    # For the README: a real photograph of the test corpus (the shared one where it is beside
    # the repository), live, with the struct beside it.
    PHOTO="$ROOT/../shared/testdata/images/valid/jpeg/harvesters.jpeg"
    [ -f "$PHOTO" ] || PHOTO="$ROOT/testdata/images/valid/jpeg/hopper.jpg"
    PHOTO=$(realpath "$PHOTO")
    $DRIVE type shm-writer 图片路径 "$PHOTO"
    wait_event "$W_LOG" loaded path "$PHOTO" >/dev/null 2>&1
    $DRIVE click shm-writer "push button" 咻一下
    wait_event "$R_LOG" shown path "$PHOTO" >/dev/null 2>&1
    $DRIVE click shm-writer "push button" Struct
    sleep 1
    mkdir -p "$ROOT/docs/screenshots"
    import -window "$(xdotool search --onlyvisible --name '^Writer$')" "$ROOT/docs/screenshots/writer.png"
    import -window "$(xdotool search --onlyvisible --name '^Reader$')" "$ROOT/docs/screenshots/reader.png"
fi
stop "$writer_PID"; stop "$reader_PID"
check "closing both leaves no segment behind" test ! -e "/dev/shm/$SEGMENT"

echo "e2e: 4. the Reader started first waits, then connects"
SEGMENT="e2e-early-$$"
R_LOG="$ARTIFACTS/reader-early-events.jsonl"; W_LOG="$ARTIFACTS/writer-early-events.jsonl"
start reader "$BIN/shm-reader" --name "$SEGMENT" --events "$R_LOG" --position 900,0
check "the Reader says it waits" wait_event "$R_LOG" waiting segment "segment '$SEGMENT'"
check "the Reader shows the waiting line" $DRIVE wait-text shm-reader "正在等待 Writer" 10
start writer "$BIN/shm-writer" --name "$SEGMENT" --events "$W_LOG" --position 0,0
check "the Reader connects when the Writer appears" wait_event "$R_LOG" connected segment "segment '$SEGMENT'"

echo "e2e: 5. kill -9 the Writer: the Reader says so, then follows a new one"
timeout 30 xdotool search --sync --onlyvisible --name '^Writer$' >/dev/null
sleep 0.5
kill -KILL "$writer_PID"; wait "$writer_PID" 2>/dev/null
check "the Reader notices the crash (event log)" wait_event "$R_LOG" writer status "Crashed { pid: $writer_PID }"
check "the Reader says the Writer died (on screen)" $DRIVE wait-text shm-reader "意外终止" 10
start writer "$BIN/shm-writer" --name "$SEGMENT" --events "$W_LOG" --position 0,0
check "the Reader sees the new Writer" wait_event "$R_LOG" writer status "Active { pid: $writer_PID }"
$DRIVE type shm-writer 图片路径 "$PICTURES/blue.png"
wait_event "$W_LOG" loaded path "$PICTURES/blue.png" >/dev/null 2>&1
$DRIVE click shm-writer "push button" 咻一下
$DRIVE click shm-reader "push button" 咻一下
check "the new Writer's picture arrives" wait_event "$R_LOG" shown path "$PICTURES/blue.png"
stop "$writer_PID"; stop "$reader_PID"
check "no segment is left behind" test ! -e "/dev/shm/$SEGMENT"

echo "e2e: 6. larger than --capacity 64KiB: the Writer grows the segment, the Reader follows"
SEGMENT="e2e-small-$$"
R_LOG="$ARTIFACTS/reader-small-events.jsonl"; W_LOG="$ARTIFACTS/writer-small-events.jsonl"
start writer "$BIN/shm-writer" --name "$SEGMENT" --capacity 64KiB --events "$W_LOG" --position 0,0
start reader "$BIN/shm-reader" --name "$SEGMENT" --events "$R_LOG" --position 900,0
wait_event "$R_LOG" connected segment "segment '$SEGMENT'" >/dev/null 2>&1
tick shm-reader 实时
$DRIVE type shm-writer 图片路径 "$PICTURES/red.png"
wait_event "$W_LOG" loaded path "$PICTURES/red.png" >/dev/null 2>&1
$DRIVE click shm-writer "push button" 咻一下
check "the small picture arrives" wait_event "$R_LOG" shown path "$PICTURES/red.png"
$DRIVE type shm-writer 图片路径 "$PICTURES/noise.png"
wait_event "$W_LOG" loaded path "$PICTURES/noise.png" >/dev/null 2>&1
$DRIVE click shm-writer "push button" 咻一下
check "the Writer grows the segment" wait_event "$W_LOG" grown capacity 1048576
check "the Writer says so" $DRIVE wait-text shm-writer "已扩大到" 10
check "the Reader follows and shows the picture (event log)" wait_event "$R_LOG" shown path "$PICTURES/noise.png"
check "the Reader says it followed" $DRIVE wait-text shm-reader "Writer 扩大了" 10

echo "e2e: 7. Browse… opens the dialog titled 请选择图片: zenity here (no desktop portal)"
$DRIVE click shm-writer "push button" 浏览…
DIALOG=""
for _ in $(seq 100); do
    DIALOG=$(xdotool search --onlyvisible --name '^请选择图片$' 2>/dev/null | head -1)
    [ -n "$DIALOG" ] && break
    sleep 0.2
done
if [ -n "$DIALOG" ]; then
    pass "the zenity dialog titled 请选择图片 opens"
    xdotool windowfocus --sync "$DIALOG" 2>/dev/null
    sleep 1; shot dialog
    xdotool key --clearmodifiers ctrl+l
    xdotool type --delay 20 "$PICTURES/green.png"
    sleep 0.5; shot dialog-typed
    xdotool key Return
    check "the chosen picture opens in the Writer" wait_event "$W_LOG" loaded path "$PICTURES/green.png"
else
    fail "the zenity dialog titled 请选择图片 opens"
fi
stop "$writer_PID"; stop "$reader_PID"
check "no segment is left behind" test ! -e "/dev/shm/$SEGMENT"

echo "e2e: 7b. Browse… with neither a portal nor zenity: the dialog inside the window"
W_LOG="$ARTIFACTS/writer-nodialog-events.jsonl"
# An empty PATH: zenity cannot be found, as on a machine without it.
start writer env PATH=/nonexistent "$BIN/shm-writer" --name "$SEGMENT" --events "$W_LOG" --position 0,0
timeout 30 xdotool search --sync --onlyvisible --name '^Writer$' >/dev/null
$DRIVE type shm-writer 图片路径 "$PICTURES/red.png"
wait_event "$W_LOG" loaded path "$PICTURES/red.png" >/dev/null 2>&1
$DRIVE click shm-writer "push button" 浏览…
check "the dialog titled 请选择图片 opens in the window" $DRIVE wait-text shm-writer "请选择图片" 10
check "it lists the pictures' folder" $DRIVE wait-text shm-writer "blue.png" 10
sleep 0.5; shot in-app-dialog
$DRIVE click-text shm-writer "blue.png"
sleep 0.3
$DRIVE click-last shm-writer "push button" 打开
check "the picture chosen in it opens" wait_event "$W_LOG" loaded path "$PICTURES/blue.png"
stop "$writer_PID"
check "no segment is left behind" test ! -e "/dev/shm/$SEGMENT"

echo "e2e: 8. a live stream: the Reader shows its frames as they come (software rendering under Xvfb)"
SEGMENT="e2e-stream-$$"
R_LOG="$ARTIFACTS/reader-stream-events.jsonl"; W_LOG="$ARTIFACTS/writer-stream-events.jsonl"
start writer "$BIN/shm-writer" --name "$SEGMENT" --events "$W_LOG" --position 0,0
start reader "$BIN/shm-reader" --name "$SEGMENT" --events "$R_LOG" --position 900,0
wait_event "$R_LOG" connected segment "segment '$SEGMENT'" >/dev/null 2>&1
tick shm-reader 实时
$DRIVE click-text shm-writer 实时流
untick shm-writer 尽可能快
# stream_for WIDTH LABEL: stream 3 s, stop, print what the Writer sent and the Reader received
# and showed; fails if the Reader showed fewer than 20 frames or any out of order.
stream_for() {
    local box
    # Stop takes Start's place: its position is known before the busy stream makes the
    # accessibility tree slow to walk.
    box=$($DRIVE extents shm-writer "push button" 开始推流) || return 1
    read -r x y w h <<<"$box"
    local stopped
    stopped=$(count_events "$W_LOG" stream_stopped)
    $DRIVE click shm-writer "push button" 开始推流
    wait_event "$W_LOG" stream_started width "$1" || return 1
    sleep 3
    shot "stream-$1"
    if [ "${E2E_SCREENSHOTS:-}" = 1 ] && [ "$1" = 1280 ] && [ ! -e "$ARTIFACTS/stream-screenshot" ]; then
        touch "$ARTIFACTS/stream-screenshot"
        import -window "$(xdotool search --onlyvisible --name '^Reader$')" "$ROOT/docs/screenshots/stream.png"
    fi
    xdotool mousemove --sync $((x + w / 2)) $((y + h / 2)) click 1
    for _ in $(seq 100); do
        [ "$(count_events "$W_LOG" stream_stopped)" -gt "${stopped:-0}" ] && break
        sleep 0.1
    done
    sleep 1.5
    /usr/bin/python3 - "$R_LOG" "$W_LOG" "$2" <<'PY'
import json, sys
reader = [json.loads(line) for line in open(sys.argv[1], encoding="utf-8")]
writer = [json.loads(line) for line in open(sys.argv[2], encoding="utf-8")]
start = [event for event in writer if event["event"] == "stream_started"][-1]
stop = [event for event in writer if event["event"] == "stream_stopped"][-1]
during = [event for event in reader if start["t_ns"] <= event["t_ns"]]
shown = [event for event in during if event["event"] == "frame_shown"]
stats = [event for event in reader if event["event"] == "live_stats"]
before = [event for event in stats if event["t_ns"] < start["t_ns"]]
received = stats[-1]["received"][2] - (before[-1]["received"][2] if before else 0)
numbers = [event["frame"] for event in shown]
assert len(shown) >= 20, f"only {len(shown)} frames shown"
assert numbers == sorted(numbers), "frames shown out of order"
seconds = stop["seconds"]
shown_seconds = (shown[-1]["t_ns"] - shown[0]["t_ns"]) / 1e9
transfer = sorted(event["transfer_us"] for event in shown)
print(f"e2e: stream {sys.argv[3]}: the Writer sent {stop['frames']} frames in {seconds:.1f} s "
      f"({stop['frames'] / seconds:.0f}/s), the Reader received {received} ({received / seconds:.0f}/s) "
      f"and showed {len(shown)} ({len(shown) / max(shown_seconds, 1e-9):.0f}/s); transfer of the frames "
      f"shown: median {transfer[len(transfer) // 2] / 1000:.2f} ms, p99 {transfer[int(len(transfer) * 0.99)] / 1000:.2f} ms")
PY
}
stream_for 1280 "1280x720, 30 frames/s asked" > "$ARTIFACTS/stream-1.txt" 2>&1
check "the Reader shows a 30 fps stream's frames, each named, in order" test -s "$ARTIFACTS/stream-1.txt" -a "$(grep -c '^e2e: stream' "$ARTIFACTS/stream-1.txt")" = 1
cat "$ARTIFACTS/stream-1.txt"
check "the Reader shows the pattern, not the empty background (screenshot)" bright_area shm-reader image "frame "
tick shm-writer 尽可能快
stream_for 1280 "1280x720, as fast as possible" > "$ARTIFACTS/stream-2.txt" 2>&1
check "the same as fast as possible" test "$(grep -c '^e2e: stream' "$ARTIFACTS/stream-2.txt")" = 1
cat "$ARTIFACTS/stream-2.txt"
$DRIVE click shm-writer "toggle button" "1920×1080"
stream_for 1920 "1920x1080, as fast as possible" > "$ARTIFACTS/stream-3.txt" 2>&1
check "the same at 1920x1080" test "$(grep -c '^e2e: stream' "$ARTIFACTS/stream-3.txt")" = 1
cat "$ARTIFACTS/stream-3.txt"
stop "$writer_PID"; stop "$reader_PID"
check "no segment is left behind" test ! -e "/dev/shm/$SEGMENT"

echo "e2e: 9. the README's one command opens both windows; a picture over 10 MiB needs no flag"
start launcher "$BIN/shm-exchange"
check "the Writer window appears" timeout 30 xdotool search --sync --onlyvisible --name '^Writer$'
check "the Reader window appears" timeout 30 xdotool search --sync --onlyvisible --name '^Reader$'
check "they are two processes" test "$(pgrep -c -P "$launcher_PID")" = 2
WRITER_CHILD=$(pgrep -P "$launcher_PID" -f ' writer ')
READER_CHILD=$(pgrep -P "$launcher_PID" -f ' reader ')
check "the Reader connects to the Writer's default segment" $DRIVE wait-text "pid:$READER_CHILD" "已连接共享内存段 'shm-exchange'" 20
check "a second launch says the pair is already open" bash -c "'$BIN/shm-exchange' | grep -q 'already open'"
check "and stacks no second pair" test "$(pgrep -c -P "$launcher_PID")" = 2
$DRIVE type "pid:$WRITER_CHILD" 图片路径 "$PICTURES/huge.png"
check "the Writer opens the 11 MiB picture" $DRIVE wait-text "pid:$WRITER_CHILD" "已打开" 30
$DRIVE click "pid:$WRITER_CHILD" "push button" 咻一下
check "the Writer grows the segment and sends it" $DRIVE wait-text "pid:$WRITER_CHILD" "已扩大到" 30
$DRIVE click "pid:$READER_CHILD" "push button" 咻一下
check "the Reader shows it" $DRIVE wait-text "pid:$READER_CHILD" "2000 × 1900" 30
# child_of_launcher writer|reader: the pid of that window, started by the launcher.
child_of_launcher() { pgrep -P "$launcher_PID" -f " $1 " | head -1; }
kill -TERM "$READER_CHILD"
for _ in $(seq 50); do kill -0 "$READER_CHILD" 2>/dev/null || break; sleep 0.1; done
check "closing the Reader leaves the Writer open" kill -0 "$WRITER_CHILD"
$DRIVE click "pid:$WRITER_CHILD" "push button" "打开 Reader 窗口"
check "the Writer reopens the Reader" bash -c "for _ in \$(seq 100); do pgrep -P $launcher_PID -f ' reader ' >/dev/null && exit 0; sleep 0.1; done; exit 1"
kill -TERM "$WRITER_CHILD"
for _ in $(seq 50); do kill -0 "$WRITER_CHILD" 2>/dev/null || break; sleep 0.1; done
"$BIN/shm-exchange" >/dev/null 2>&1
check "launching again reopens the closed Writer" bash -c "for _ in \$(seq 100); do pgrep -P $launcher_PID -f ' writer ' >/dev/null && exit 0; sleep 0.1; done; exit 1"
check "and only it" test "$(pgrep -c -P "$launcher_PID")" = 2
timeout 30 xdotool search --sync --onlyvisible --name '^Writer$' >/dev/null
kill -TERM "$launcher_PID"
for _ in $(seq 100); do kill -0 "$launcher_PID" 2>/dev/null || break; sleep 0.1; done
check "SIGTERM to the launcher ends it" bash -c "! kill -0 $launcher_PID 2>/dev/null"
check "and both windows" bash -c "! xdotool search --onlyvisible --name '^(Writer|Reader)$' >/dev/null"
check "and leaves no segment behind" test ! -e /dev/shm/shm-exchange

echo "e2e: 10. the language and Live are remembered between runs"
SEGMENT="e2e-main-$$"
for live in on off; do
    start reader "$BIN/shm-reader" --name "$SEGMENT" --position 900,0
    timeout 30 xdotool search --sync --onlyvisible --name '^Reader$' >/dev/null
    $DRIVE click shm-reader "toggle button" English
    $DRIVE wait-text shm-reader "Live" 10 >/dev/null 2>&1
    if [ $live = on ]; then tick shm-reader Live; else untick shm-reader Live; fi
    sleep 0.5
    stop "$reader_PID"
    start reader "$BIN/shm-reader" --name "$SEGMENT" --position 900,0
    timeout 30 xdotool search --sync --onlyvisible --name '^Reader$' >/dev/null
    check "the Reader starts in English" $DRIVE wait-text shm-reader "Whoosh!" 10
    if [ $live = on ]; then
        check "the Reader starts with Live ticked" $DRIVE checked shm-reader Live
    else
        check "the Reader starts with Live not ticked" bash -c "! $DRIVE checked shm-reader Live"
    fi
    stop "$reader_PID"
done
start reader "$BIN/shm-reader" --name "$SEGMENT" --position 300,60
timeout 30 xdotool search --sync --onlyvisible --name '^Reader$' >/dev/null
sleep 0.5
check "--position wins over the remembered position" bash -c "xdotool search --onlyvisible --name '^Reader$' getwindowgeometry | grep -q 'Position: 300,60'"
stop "$reader_PID"

echo "e2e: took $(( $(date +%s) - started )) s"
if [ "$FAILED" -eq 0 ] && [ "${E2E_KEEP:-}" != 1 ]; then
    rm -rf "$ARTIFACTS"
else
    echo "e2e: screenshots and logs kept in $ARTIFACTS"
fi
echo "e2e: $PASSED passed, $FAILED failed"
[ "$FAILED" -eq 0 ]
