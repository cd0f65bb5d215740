"""Pictures, the demo's struct and numpy frames between programs on one machine, through the
shared memory of the shm-exchange project (the Writer and Reader apps, the ``shm`` command and
any program using the Rust library read and write the same segments).

>>> from shm_exchange import Writer, Reader
>>> with Writer("demo") as writer:
...     writer.send_image("/tmp/cat.png", open("/tmp/cat.png", "rb").read())
...     reader = Reader("demo")
...     path, data = reader.latest_image()

Every error of the library is raised as an exception of its own class under ``ShmError``
(``OpenError``, ``CreateError``, ``SendError``, ``GrowError``, ``ReadError``,
``SegmentNameError``), its ``str()`` the library's sentence.
"""

from ._shm_exchange import (
    CreateError,
    GrowError,
    OpenError,
    ReadError,
    SegmentNameError,
    SendError,
    ShmError,
    StructType,
    TestData,
)
from ._shm_exchange import Reader as _NativeReader
from ._shm_exchange import Writer as _NativeWriter

__all__ = [
    "CreateError",
    "GrowError",
    "OpenError",
    "ReadError",
    "Reader",
    "SegmentNameError",
    "SendError",
    "ShmError",
    "StructType",
    "TestData",
    "Writer",
]


# Bytes of a frame record before its pixels.
_FRAME_HEADER_LEN = 24


class Writer(_NativeWriter):
    __doc__ = _NativeWriter.__doc__

    def send_frame(self, array, number=None):
        """Sends a numpy ``uint8`` array of shape (height, width, 4) (RGBA), (height, width, 3)
        (RGB) or (height, width) (grey) as the next frame of a stream; returns its number (one
        more than the last unless ``number`` is given). The pixels are copied once, into shared
        memory (a non-contiguous array is made contiguous first; an ``abi3`` build on Python
        before 3.11 copies them into a ``bytes`` first too)."""
        import numpy

        array = numpy.asarray(array)
        if array.dtype != numpy.uint8:
            raise ValueError(f"a frame's pixels are uint8, not {array.dtype}")
        if array.ndim == 2:
            height, width = array.shape
            channels = 1
        elif array.ndim == 3 and array.shape[2] in (3, 4):
            height, width, channels = array.shape
        else:
            raise ValueError(
                f"a frame is (height, width, 4), (height, width, 3) or (height, width), not {array.shape}"
            )
        return self.send_frame_bytes(width, height, channels, numpy.ascontiguousarray(array), number)


class Reader(_NativeReader):
    __doc__ = _NativeReader.__doc__

    def latest_frame(self):
        """The latest frame as a read-only numpy ``uint8`` array of shape (height, width, 4),
        (height, width, 3) or (height, width), or ``None`` if no frame was sent. Copied once
        out of shared memory, checked on the way. Its number is ``latest_frame_number()``'s."""
        frame = self.latest_frame_bytes()
        if frame is None:
            return None
        import numpy

        width, height, channels, stride, number, record = frame
        self._frame_number = number
        rows = numpy.frombuffer(record, dtype=numpy.uint8, offset=_FRAME_HEADER_LEN).reshape(height, stride)
        array = rows[:, : width * channels]
        return array.reshape(height, width) if channels == 1 else array.reshape(height, width, channels)

    def latest_frame_number(self):
        """The number of the frame ``latest_frame()`` returned last, or ``None``."""
        return getattr(self, "_frame_number", None)
