"""shm_exchange against the real `shm` command: Rust writes and Python reads, Python writes and
Rust reads, errors as exceptions, a killed Python writer taken over. Every test uses segments of
its own and removes them."""

import hashlib
import json
import os
import signal
import struct
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy
import pytest

import shm_exchange
from shm_exchange import Reader, Writer

REPO = Path(__file__).resolve().parents[3]
PICTURES = REPO / "testdata" / "images" / "valid"


@pytest.fixture(scope="session")
def shm_bin():
    """The `shm` command: $SHM_BIN, or built here with cargo."""
    given = os.environ.get("SHM_BIN")
    if given:
        return given
    subprocess.run(["cargo", "build", "--quiet", "-p", "shm-cli"], cwd=REPO, check=True)
    return str(REPO / "target" / "debug" / "shm")


@pytest.fixture(scope="session")
def custom_struct_example():
    """The Rust example that publishes its own `Telemetry` struct: $SHM_CUSTOM_STRUCT, or built
    here with cargo."""
    given = os.environ.get("SHM_CUSTOM_STRUCT")
    if given:
        return given
    subprocess.run(
        ["cargo", "build", "--quiet", "-p", "shm-common", "--example", "custom_struct"],
        cwd=REPO,
        check=True,
    )
    return str(REPO / "target" / "debug" / "examples" / "custom_struct")


@pytest.fixture
def name(request):
    """A segment name of this test's own, removed afterwards."""
    segment = f"shm-pytest-{os.getpid()}-{request.node.name}"[:200]
    yield segment
    path = Path("/dev/shm") / segment
    if path.exists():
        path.unlink()


def shm(shm_bin, name, *args):
    """Runs `shm --name NAME ARGS...`; its standard output, or the test fails with its error."""
    done = subprocess.run([shm_bin, "--name", name, *args], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    return done.stdout


def a_picture():
    pictures = sorted(p for p in PICTURES.rglob("*.png"))
    assert pictures, f"no bundled pictures under {PICTURES}"
    return pictures[0]


def test_a_picture_sent_by_rust_arrives_byte_identical(shm_bin, name):
    picture = a_picture()
    shm(shm_bin, name, "send-image", str(picture), "--persist")
    path, data = Reader(name).latest_image()
    assert data == picture.read_bytes()
    assert path == str(picture.resolve())


def test_the_struct_sent_by_rust_reads_as_the_original_printed_it(shm_bin, name):
    shm(shm_bin, name, "send-struct", "--id", "7", "--persist")
    data = Reader(name).latest_struct()
    assert str(data) == "Id=7,Age=20,Scores=60,61,62,63,64,65,66,67,68,69"
    assert (data.id, data.age, data.scores) == (7, 20, list(range(60, 70)))
    assert data == shm_exchange.TestData(id=7)


def test_frames_streamed_by_rust_arrive_as_numpy_arrays(shm_bin, name):
    stream = subprocess.Popen(
        [shm_bin, "--name", name, "stream", "--size", "64x48", "--fps", "60", "--seconds", "20"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 20
        reader = None
        while reader is None:
            try:
                reader = Reader(name)
            except shm_exchange.OpenError:
                assert time.monotonic() < deadline, "the stream never created its segment"
                time.sleep(0.01)
        numbers = set()
        while len(numbers) < 5:
            assert time.monotonic() < deadline, f"only frames {numbers} arrived"
            reader.wait(0.5)
            frame = reader.latest_frame()
            if frame is not None:
                assert frame.shape == (48, 64, 4) and frame.dtype == numpy.uint8
                assert not frame.flags.writeable, "a frame read is read-only"
                numbers.add(reader.latest_frame_number())
    finally:
        stream.send_signal(signal.SIGINT)
        stream.wait(timeout=20)


def test_a_struct_of_a_rust_programs_own_type_reads_as_its_fields(custom_struct_example, name):
    writer = subprocess.Popen(
        [custom_struct_example, "write", name, "--count", "100"],
        stdout=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                reader = Reader(name)
                value = reader.read_channel("telemetry")
                if value is not None:
                    break
            except shm_exchange.OpenError:
                pass
            assert time.monotonic() < deadline, "the example never published"
            time.sleep(0.02)
        assert reader.channels == [("telemetry", "struct", "Telemetry")]
        assert set(value) == {"tick", "position", "speed", "battery_mv"}
        tick = value["tick"]
        assert value["battery_mv"] == 12_600 - tick % 1000
        assert len(value["position"]) == 3 and all(isinstance(x, float) for x in value["position"])
        assert value["speed"] == pytest.approx(0.5 + (tick % 10) / 10)
        with pytest.raises(shm_exchange.ReadError, match="no channel `nothing`"):
            reader.read_channel("nothing")
    finally:
        writer.kill()
        writer.wait()


TELEMETRY = [("tick", "u64"), ("position", "f64", 3), ("speed", "f32"), ("battery_mv", "u32")]


def test_a_struct_type_declared_in_python_is_the_rust_programs_own(custom_struct_example, name):
    telemetry = shm_exchange.StructType("Telemetry", TELEMETRY)
    # As rustc lays out the example's #[repr(C)] struct: 8 + 24 + 4 + 4 bytes.
    assert [(field, offset) for field, _, offset, _ in telemetry.fields] == [
        ("tick", 0),
        ("position", 8),
        ("speed", 32),
        ("battery_mv", 36),
    ]
    assert telemetry.size == 40
    value = {"tick": 5, "position": [1.0, 2.0, 3.0], "speed": 0.5, "battery_mv": 12_000}
    with Writer(name, persist=True, channels={"telemetry": telemetry, "note": 64}) as writer:
        assert writer.send_channel("telemetry", value) == 1
        writer.send_channel("note", b"hello")
        with pytest.raises(ValueError, match="field `speed` is missing"):
            writer.send_channel("telemetry", {"tick": 1, "position": [0, 0, 0], "battery_mv": 1})
        with pytest.raises(ValueError, match="holds u32 numbers; -1 is not one"):
            writer.send_channel("telemetry", dict(value, battery_mv=-1))
        with pytest.raises(shm_exchange.SendError, match="holds values of 40 bytes, not 3"):
            writer.send_channel("telemetry", b"abc")
    # The Rust program, compiled with its own Telemetry, accepts the channel and reads the value.
    read = subprocess.run(
        [custom_struct_example, "read", name, "--count", "1"], capture_output=True, text=True, timeout=60
    )
    assert read.returncode == 0, read.stderr
    assert "Telemetry { tick: 5, position: [1.0, 2.0, 3.0], speed: 0.5, battery_mv: 12000 }" in read.stdout
    reader = Reader(name)
    assert reader.read_channel("telemetry") == value
    assert reader.read_channel("note") == b"hello"


def test_a_picture_sent_from_python_is_read_by_rust(shm_bin, name):
    picture = a_picture()
    with Writer(name, persist=True) as writer:
        assert writer.send_image(str(picture), picture.read_bytes()) == 1
    read = json.loads(shm(shm_bin, name, "read-image", "--json"))
    assert read["path"] == str(picture)
    assert read["sha256"] == hashlib.sha256(picture.read_bytes()).hexdigest()
    assert read["in_place"] is True


def test_a_struct_sent_from_python_is_read_by_rust(shm_bin, name):
    with Writer(name, persist=True) as writer:
        writer.send_struct(id=5, age=30, scores=range(10))
    assert shm(shm_bin, name, "read-struct").strip() == "Id=5,Age=30,Scores=0,1,2,3,4,5,6,7,8,9"


def test_frames_sent_from_python_are_read_by_rust(shm_bin, name):
    pixels = numpy.arange(48 * 64 * 3, dtype=numpy.uint8).reshape(48, 64, 3)
    with Writer(name, persist=True) as writer:
        assert writer.send_frame(pixels) == 0
        assert writer.send_frame(pixels[::-1]) == 1, "numbered one after the other"
        assert writer.send_frame(numpy.zeros((2, 3), numpy.uint8), number=9) == 9
        assert writer.send_frame(pixels) == 10
    read = json.loads(shm(shm_bin, name, "read", "--channel", "frames", "--json"))
    rgb8 = 2
    header = struct.pack("<IIIIQ", 64, 48, rgb8, 64 * 3, 10)
    assert read["sha256"] == hashlib.sha256(header + pixels.tobytes()).hexdigest()
    frame = Reader(name).latest_frame()
    assert (frame == pixels).all()


def test_errors_are_exceptions_with_the_librarys_sentence(name, tmp_path):
    with pytest.raises(shm_exchange.OpenError, match="does not exist yet"):
        Reader(name)
    with pytest.raises(shm_exchange.SegmentNameError):
        Reader("a/b")
    with Writer(name, capacity=64 * 1024, grow=False) as writer:
        with pytest.raises(shm_exchange.SendError, match="holds at most 64 KiB") as raised:
            writer.send_image("/big.bin", bytes(200_000))
        assert isinstance(raised.value, shm_exchange.ShmError)
        with pytest.raises(shm_exchange.CreateError, match=str(os.getpid())):
            Writer(name)
    not_ours = tmp_path / "not-a-segment"
    not_ours.write_bytes(b"x" * 8192)
    with pytest.raises(shm_exchange.OpenError, match="other users could read or change"):
        Reader(file=not_ours)
    not_ours.chmod(0o600)
    with pytest.raises(shm_exchange.OpenError, match="it is not a segment of ours"):
        Reader(file=not_ours)
    with pytest.raises(ValueError, match="exactly 10"):
        shm_exchange.TestData(scores=[1, 2])


def test_a_writer_grows_the_segment_for_a_larger_picture(shm_bin, name):
    with Writer(name, capacity=64 * 1024, persist=True) as writer:
        writer.send_struct(id=3)
        writer.send_image("/big.bin", bytes(range(256)) * 1000)
    path, data = Reader(name).latest_image()
    assert (path, data) == ("/big.bin", bytes(range(256)) * 1000)
    assert str(Reader(name).latest_struct()).startswith("Id=3,")


def test_a_killed_python_writer_is_taken_over(name):
    child = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time, shm_exchange\n"
            f"w = shm_exchange.Writer({name!r})\n"
            "w.send_image('/before.png', b'before')\n"
            "print('READY', flush=True)\n"
            "time.sleep(60)\n",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert child.stdout.readline().strip() == "READY"
        reader = Reader(name)
        assert (reader.writer_status, reader.writer_pid) == ("active", child.pid)
    finally:
        child.kill()
        child.wait()
    assert (reader.writer_status, reader.writer_pid) == ("crashed", child.pid)
    assert reader.latest_image() == ("/before.png", b"before"), "the last record survives"
    with Writer(name) as writer:
        assert reader.writer_status == "active"
        writer.send_image("/after.png", b"after")
        assert reader.latest_image() == ("/after.png", b"after")


def test_wait_lets_other_threads_run_and_wakes_on_a_record(name):
    with Writer(name) as writer:
        reader = Reader(name)
        counted = []

        def count():
            # Runs only if the waiting thread let go of the GIL.
            for _ in range(50):
                counted.append(1)
                time.sleep(0.001)
            writer.send_struct(id=1)

        started = time.monotonic()
        helper = threading.Thread(target=count)
        helper.start()
        assert reader.wait(10.0), "the record woke the reader"
        helper.join()
        assert time.monotonic() - started < 5
        assert len(counted) == 50
        assert reader.latest_struct().id == 1
        assert reader.wait(0.05) is False, "nothing new: the wait times out"


EXAMPLES = REPO / "crates" / "shm-python" / "examples"


def test_the_example_shows_the_frames_a_stream_sends(shm_bin, name):
    stream = subprocess.Popen(
        [shm_bin, "--name", name, "stream", "--size", "32x24", "--fps", "60", "--seconds", "20"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        shown = subprocess.run(
            [sys.executable, str(EXAMPLES / "show_frames.py"), "--name", name, "--seconds", "2", "--text"],
            capture_output=True,
            text=True,
            timeout=60,
        )
    finally:
        stream.send_signal(signal.SIGINT)
        stream.wait(timeout=20)
    assert shown.returncode == 0, shown.stderr
    assert "frame (24, 32, 4)" in shown.stdout
    frames = int(shown.stdout.strip().splitlines()[-1].split()[0])
    assert frames > 5, shown.stdout


def test_the_benchmark_measures_all_three_ways():
    done = subprocess.run(
        [sys.executable, str(EXAMPLES / "bench_frames.py"), "--seconds", "0.5", "--size", "320x240", "--json"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    figures = json.loads(done.stdout)
    assert set(figures) == {"shm_exchange_fps", "shared_memory_pickled_header_fps", "queue_fps"}
    assert all(fps > 0 for fps in figures.values()), figures


def test_the_type_stubs_describe_every_public_name():
    import ast
    import inspect

    stub = Path(shm_exchange.__file__).with_name("__init__.pyi")
    tree = ast.parse(stub.read_text())
    described = {node.name for node in tree.body if isinstance(node, ast.ClassDef)}
    assert described == set(shm_exchange.__all__)
    for node in tree.body:
        if not isinstance(node, ast.ClassDef):
            continue
        cls = getattr(shm_exchange, node.name)
        for item in node.body:
            if isinstance(item, ast.FunctionDef) and not item.name.startswith("__"):
                assert hasattr(cls, item.name), f"{node.name}.{item.name} is in the stub only"
        public = {name for name, _ in inspect.getmembers(cls) if not name.startswith("_")}
        stubbed = {item.name for item in node.body if isinstance(item, ast.FunctionDef)}
        if not issubclass(cls, Exception):
            assert public <= stubbed, f"{node.name} lacks stubs for {public - stubbed}"
        assert cls.__doc__, f"{node.name} has no docstring"
