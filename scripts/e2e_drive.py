#!/usr/bin/python3
"""Drive the real Writer and Reader windows the way a person (with a screen reader) would.

Widgets are found by role and name on the accessibility bus (AT-SPI, which egui joins through
AccessKit); clicks and keystrokes are real X events sent with xdotool at the widget's place on
the screen. Screenshots are read as PPM and checked for colours, without any imaging library.

Commands (APP is the executable name, e.g. shm-writer, or pid:N for the window of process N:
the launcher's two windows are one executable):
  click APP ROLE NAME             click the widget's centre
  click-last APP ROLE NAME        the same, for the last such widget (a dialog's, drawn on top)
  click-text APP TEXT             click the first widget whose name contains TEXT
  type APP NAME TEXT              click the text box labelled NAME, replace its text, press Enter
  wait-text APP TEXT SECONDS      until a widget whose name contains TEXT exists (exit 1 if not)
  extents APP ROLE NAME           print "x y width height" of the widget on the screen
  extents-text APP ROLE TEXT      the same, for the first widget whose name contains TEXT
  checked APP NAME                exit 0 if the check box NAME is ticked, 1 if not
  colour PPM X Y W H              print the mean "r g b" of that rectangle of a screenshot
  dump APP                        print the accessibility tree (for diagnosis)
"""
import subprocess
import sys
import time

import pyatspi


WINDOW_TITLES = {"shm-writer": "Writer", "shm-reader": "Reader"}


def find_app(app_name, timeout=20.0):
    deadline = time.time() + timeout
    while True:
        desktop = pyatspi.Registry.getDesktop(0)
        for app in desktop:
            if app is not None and matches_app(app, app_name):
                return app
        if time.time() > deadline:
            sys.exit(f"e2e_drive: no application {app_name} on the accessibility bus")
        time.sleep(0.2)


def matches_app(app, app_name):
    if app_name.startswith("pid:"):
        try:
            return app.get_process_id() == int(app_name[4:])
        except Exception:
            return False
    return app.name == app_name


def window_id(app_name):
    """The X window of APP, to give it the keyboard focus."""
    if app_name.startswith("pid:"):
        query = ["--pid", app_name[4:]]
    else:
        query = ["--name", f"^{WINDOW_TITLES[app_name]}$"]
    return subprocess.run(
        ["xdotool", "search", "--onlyvisible", *query],
        check=True, capture_output=True, text=True,
    ).stdout.split()[0]


def walk(node, depth=0):
    yield node, depth
    for index in range(node.childCount):
        child = node.getChildAtIndex(index)
        if child is not None:
            yield from walk(child, depth + 1)


def find(app_name, role, name, timeout=20.0, last=False, contains=False):
    deadline = time.time() + timeout
    while True:
        app = find_app(app_name, timeout)
        matches = [
            node for node, _ in walk(app)
            if (role is None or node.getRoleName() == role)
            and (name in (node.name or "") if contains else node.name == name)
        ]
        if matches:
            return matches[-1] if last else matches[0]
        if time.time() > deadline:
            sys.exit(f"e2e_drive: no {role or 'widget'} named {name!r} in {app_name}")
        time.sleep(0.2)


def extents(node):
    box = node.queryComponent().getExtents(pyatspi.DESKTOP_COORDS)
    return box.x, box.y, box.width, box.height


def xdotool(*args):
    subprocess.run(["xdotool", *args], check=True)


def click(node):
    x, y, width, height = extents(node)
    xdotool("mousemove", "--sync", str(x + width // 2), str(y + height // 2))
    time.sleep(0.05)
    xdotool("click", "1")


def main(argv):
    command, args = argv[1], argv[2:]
    if command == "click":
        click(find(*args))
    elif command == "click-last":
        click(find(*args, last=True))
    elif command == "click-text":
        app, text = args
        click(find(app, None, text, contains=True))
    elif command == "type":
        app, label, text = args
        box = find(app, "entry", label)
        # Without a window manager, keyboard focus does not follow clicks: give it first.
        window = window_id(app)
        xdotool("windowfocus", "--sync", window)
        click(box)
        time.sleep(0.1)
        xdotool("key", "--clearmodifiers", "ctrl+a")
        xdotool("type", "--delay", "20", text)
        xdotool("key", "Return")
    elif command == "wait-text":
        app_name, text, seconds = args
        deadline = time.time() + float(seconds)
        find_app(app_name, float(seconds))
        while time.time() < deadline:
            # Every application of that name: the launcher's two windows share one.
            apps = [
                app for app in pyatspi.Registry.getDesktop(0)
                if app is not None and matches_app(app, app_name)
            ]
            if any(text in (node.name or "") for app in apps for node, _ in walk(app)):
                return
            time.sleep(0.2)
        sys.exit(f"e2e_drive: {app_name} never showed {text!r}")
    elif command == "checked":
        app, name = args
        box = find(app, "check box", name)
        sys.exit(0 if box.getState().contains(pyatspi.STATE_CHECKED) else 1)
    elif command == "extents":
        print(*extents(find(*args)))
    elif command == "extents-text":
        app, role, text = args
        print(*extents(find(app, role, text, contains=True)))
    elif command == "colour":
        path, x, y, width, height = args[0], *map(int, args[1:])
        print(*mean_colour(path, x, y, width, height))
    elif command == "dump":
        for node, depth in walk(find_app(args[0])):
            print("  " * depth + f"{node.getRoleName()}: {node.name!r}")
    else:
        sys.exit(f"e2e_drive: unknown command {command}")


def read_ppm(path):
    with open(path, "rb") as file:
        data = file.read()
    fields, position = [], 0
    while len(fields) < 4:
        while data[position:position + 1].isspace():
            position += 1
        if data[position:position + 1] == b"#":
            position = data.index(b"\n", position)
            continue
        end = position
        while not data[end:end + 1].isspace():
            end += 1
        fields.append(data[position:end])
        position = end
    if fields[0] != b"P6" or fields[3] != b"255":
        sys.exit(f"e2e_drive: {path} is not an 8-bit binary PPM")
    return int(fields[1]), int(fields[2]), data[position + 1:]


def mean_colour(path, x, y, width, height):
    image_width, image_height, pixels = read_ppm(path)
    totals, count = [0, 0, 0], 0
    for row in range(max(y, 0), min(y + height, image_height)):
        for column in range(max(x, 0), min(x + width, image_width)):
            offset = (row * image_width + column) * 3
            for channel in range(3):
                totals[channel] += pixels[offset + channel]
            count += 1
    if count == 0:
        sys.exit("e2e_drive: the rectangle lies outside the screenshot")
    return [round(total / count) for total in totals]


if __name__ == "__main__":
    main(sys.argv)
