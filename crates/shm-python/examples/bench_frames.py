"""Frames per second one Python process receives from another, three ways, in one run:
shm_exchange, multiprocessing.shared_memory with a pickled header through a queue, and numpy
arrays pickled through a multiprocessing.Queue. Each sender sends 1920x1080 RGBA frames (8 MiB)
as fast as it can; each receiver turns every frame it gets into a numpy array it owns.

    python crates/shm-python/examples/bench_frames.py [--seconds 3] [--size 1920x1080] [--json]
"""

import argparse
import json
import multiprocessing
import os
import pickle
import time
from multiprocessing import shared_memory

import numpy


def frame_for(number, shape):
    frame = numpy.empty(shape, numpy.uint8)
    frame.fill(number % 251)
    return frame


# shm_exchange: the writer publishes; the reader takes the newest frame each time it wakes.


def shm_sender(name, shape, seconds, ready):
    import shm_exchange

    frames = [frame_for(number, shape) for number in range(2)]
    with shm_exchange.Writer(name) as writer:
        writer.send_frame(frames[0])
        ready.set()
        until = time.monotonic() + seconds + 1
        number = 1
        while time.monotonic() < until:
            writer.send_frame(frames[number % 2])
            number += 1


def shm_receive(shape, seconds):
    import shm_exchange

    name = f"shm-bench-py-{os.getpid()}"
    ready = multiprocessing.Event()
    sender = multiprocessing.Process(target=shm_sender, args=(name, shape, seconds, ready))
    sender.start()
    ready.wait()
    reader = shm_exchange.Reader(name)
    received, last = 0, None
    started = time.monotonic()
    while time.monotonic() - started < seconds:
        reader.wait(0.1)
        frame = reader.latest_frame()
        number = reader.latest_frame_number()
        if frame is not None and number != last:
            assert frame.shape == shape
            last = number
            received += 1
    elapsed = time.monotonic() - started
    sender.join()
    return received / elapsed


# multiprocessing.shared_memory: pixels in one of three slots, a pickled header through a queue
# of two (so a slot is never rewritten while it is read).


def shared_memory_sender(block, shape, seconds, headers):
    memory = shared_memory.SharedMemory(name=block)
    frames = [frame_for(number, shape) for number in range(2)]
    size = frames[0].nbytes
    until = time.monotonic() + seconds + 1
    number = 0
    while time.monotonic() < until:
        slot = number % 3
        memory.buf[slot * size : (slot + 1) * size] = frames[number % 2].reshape(-1)
        headers.put(pickle.dumps({"number": number, "slot": slot, "shape": shape, "dtype": "uint8"}))
        number += 1
    headers.put(None)
    memory.close()


def shared_memory_receive(shape, seconds):
    size = int(numpy.prod(shape))
    memory = shared_memory.SharedMemory(create=True, size=3 * size)
    headers = multiprocessing.Queue(maxsize=2)
    sender = multiprocessing.Process(target=shared_memory_sender, args=(memory.name, shape, seconds, headers))
    sender.start()
    received = 0
    started = time.monotonic()
    while True:
        header = headers.get()
        if header is None:
            break
        header = pickle.loads(header)
        slot = header["slot"]
        frame = numpy.frombuffer(memory.buf[slot * size : (slot + 1) * size], numpy.uint8).reshape(header["shape"]).copy()
        if time.monotonic() - started < seconds:
            received += 1
            elapsed = time.monotonic() - started
    sender.join()
    del frame
    memory.close()
    memory.unlink()
    return received / elapsed


# multiprocessing.Queue: each frame pickled whole.


def queue_sender(shape, seconds, frames_queue):
    frames = [frame_for(number, shape) for number in range(2)]
    until = time.monotonic() + seconds + 1
    number = 0
    while time.monotonic() < until:
        frames_queue.put(frames[number % 2])
        number += 1
    frames_queue.put(None)


def queue_receive(shape, seconds):
    frames_queue = multiprocessing.Queue(maxsize=2)
    sender = multiprocessing.Process(target=queue_sender, args=(shape, seconds, frames_queue))
    sender.start()
    received = 0
    started = time.monotonic()
    while True:
        frame = frames_queue.get()
        if frame is None:
            break
        if time.monotonic() - started < seconds:
            assert frame.shape == shape
            received += 1
            elapsed = time.monotonic() - started
    sender.join()
    return received / elapsed


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=3)
    parser.add_argument("--size", default="1920x1080", help="WIDTHxHEIGHT of the RGBA frames")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args()
    width, height = (int(side) for side in args.size.split("x"))
    shape = (height, width, 4)
    results = {
        "shm_exchange_fps": shm_receive(shape, args.seconds),
        "shared_memory_pickled_header_fps": shared_memory_receive(shape, args.seconds),
        "queue_fps": queue_receive(shape, args.seconds),
    }
    if args.json:
        print(json.dumps(results))
        return
    print(f"{width}x{height} RGBA frames, {args.seconds} s each, received by another Python process")
    ours = results["shm_exchange_fps"]
    for key, label in [
        ("shm_exchange_fps", "shm_exchange"),
        ("shared_memory_pickled_header_fps", "shared_memory + pickled header"),
        ("queue_fps", "multiprocessing.Queue"),
    ]:
        fps = results[key]
        print(f"  {label:<32} {fps:>8.1f} frames/s   (shm_exchange {ours / fps:.1f} x)")


if __name__ == "__main__":
    main()
