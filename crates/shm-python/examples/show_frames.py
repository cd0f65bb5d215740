"""Shows each frame a Writer streams (the Writer app's 实时流 / Live stream, or `shm stream`):
in an OpenCV window if OpenCV is installed, else in a matplotlib window if matplotlib is, else
as one line per frame.

    pip install ./crates/shm-python            # once
    cargo run --release -p shm-cli -- stream   # or stream from the Writer app
    python crates/shm-python/examples/show_frames.py [--name shm-exchange] [--seconds 0] [--text]
"""

import argparse
import time

import shm_exchange


def open_reader(name):
    """Waits for a writer to create the segment."""
    while True:
        try:
            return shm_exchange.Reader(name)
        except shm_exchange.OpenError as waiting:
            print(f"waiting: {waiting}", end="\r", flush=True)
            time.sleep(0.5)


def viewer(text):
    """A function that shows one RGB(A) or grey frame, and whether the window is still open."""

    def line(frame):
        print(f"frame {frame.shape}, mean {frame.mean():.1f}")
        return True

    if text:
        return line
    try:
        import cv2

        def show(frame):
            if frame.ndim == 3:
                frame = cv2.cvtColor(frame, cv2.COLOR_RGBA2BGR if frame.shape[2] == 4 else cv2.COLOR_RGB2BGR)
            cv2.imshow("shm_exchange frames", frame)
            return cv2.waitKey(1) != 27  # Esc closes

        return show
    except ImportError:
        pass
    try:
        import matplotlib.pyplot as plt

        plt.ion()
        image = None

        def show(frame):
            nonlocal image
            if image is None or image.get_array().shape != frame.shape:
                plt.clf()
                image = plt.imshow(frame, cmap="gray" if frame.ndim == 2 else None)
            else:
                image.set_data(frame)
            plt.pause(0.001)
            return plt.fignum_exists(image.figure.number)

        return show
    except ImportError:
        pass
    return line


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--name", default="shm-exchange", help="the segment (default: the apps')")
    parser.add_argument("--seconds", type=float, default=0, help="stop after this long (0: never)")
    parser.add_argument("--text", action="store_true", help="print a line per frame, show no window")
    args = parser.parse_args()
    reader = open_reader(args.name)
    show = viewer(args.text)
    started = time.monotonic()
    shown, last = 0, None
    while not args.seconds or time.monotonic() - started < args.seconds:
        reader.wait(0.25)
        frame = reader.latest_frame()
        number = reader.latest_frame_number()
        if frame is None or number == last:
            continue
        last = number
        shown += 1
        if not show(frame):
            break
    elapsed = time.monotonic() - started
    print(f"{shown} frames shown in {elapsed:.1f} s ({shown / elapsed:.1f} per second)")


if __name__ == "__main__":
    main()
