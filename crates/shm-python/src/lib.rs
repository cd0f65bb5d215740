//! `shm_exchange._shm_exchange`: the native half of the `shm_exchange` Python module.
//!
//! The classes here wrap `shm_common`'s [`Writer`](shm_common::Writer) and
//! [`Reader`](shm_common::Reader); `python/shm_exchange/__init__.py` adds what is easier in
//! Python (numpy frames) on top. Every library error becomes an exception of its own class,
//! under `ShmError`, carrying the library's sentence (`errors.rs`). Waiting releases the GIL;
//! copies keep it, as they read or fill Python objects that Python code could otherwise change.

mod buffer;
mod errors;
mod structs;

use std::path::PathBuf;
use std::time::Duration;

use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::PyBytes;
use shm_common as lib;
use shm_common::{
    Capacity, CreationMode, FRAME_CHANNEL, FrameHeader, PICTURE_CHANNEL, PixelFormat, RecordKind,
    SegmentLocation,
};

use errors::{Raise, ReadError, ShmError};
use structs::{PyStructType, PyTestData, channel_specs, encode_struct, nested};

/// Where a segment is: `name` (shared memory, `/dev/shm/NAME` on Linux) or `file`, or the
/// demo's default segment `shm-exchange`.
fn location(name: Option<&str>, file: Option<PathBuf>) -> PyResult<SegmentLocation> {
    match (name, file) {
        (Some(_), Some(_)) => Err(PyValueError::new_err(
            "give a segment name or a file, not both",
        )),
        (Some(name), None) => Ok(SegmentLocation::Named(
            lib::SegmentName::new(name).map_err(Raise::raise)?,
        )),
        (None, Some(file)) => Ok(SegmentLocation::File(file)),
        (None, None) => Ok(SegmentLocation::default()),
    }
}

/// Publishes pictures, the struct and frames into a segment; the only writer while it lives.
///
/// A record that does not fit makes the segment grow (as the Writer app does) unless created
/// with `grow=False`, when it raises `SendError`. Use it as a context manager, or call
/// `close()`: the segment is removed when the writer closes unless `persist=True`.
#[pyclass(name = "Writer", module = "shm_exchange", subclass)]
struct PyWriter {
    writer: Option<lib::Writer>,
    grow: bool,
    frames_sent: u64,
}

impl PyWriter {
    fn open(&mut self) -> PyResult<&mut lib::Writer> {
        self.writer
            .as_mut()
            .ok_or_else(|| ShmError::new_err("the writer is closed"))
    }

    /// `send_frame_bytes` once the pixels are at hand.
    fn send_frame_pixels(
        &mut self,
        width: u32,
        height: u32,
        channels: u32,
        pixels: &[u8],
        number: Option<u64>,
    ) -> PyResult<u64> {
        let format = match channels {
            4 => PixelFormat::Rgba8,
            3 => PixelFormat::Rgb8,
            1 => PixelFormat::Gray8,
            other => {
                return Err(PyValueError::new_err(format!(
                    "a frame has 1, 3 or 4 bytes per pixel, not {other}"
                )));
            }
        };
        let number = number.unwrap_or(self.frames_sent);
        let header = FrameHeader {
            width,
            height,
            format,
            stride: width.saturating_mul(channels),
            number,
        };
        header.check(pixels.len()).map_err(|err| {
            PyValueError::new_err(format!("the pixels do not make the frame: {err}"))
        })?;
        self.make_room(
            RecordKind::Frame,
            lib::FrameMessage::framed_len(pixels.len()),
        )?;
        self.open()?
            .send_frame(&header, pixels)
            .map_err(Raise::raise)?;
        self.frames_sent = number + 1;
        Ok(number)
    }

    /// Grows the segment, if allowed, when a `kind` record of `len` bytes does not fit.
    fn make_room(&mut self, kind: RecordKind, len: usize) -> PyResult<()> {
        let grow = self.grow;
        let writer = self.open()?;
        if grow && !writer.fits(kind, len) {
            let growth = writer.plan_growth(kind, len).map_err(Raise::raise)?;
            writer.grow(&growth).map_err(Raise::raise)?;
        }
        Ok(())
    }
}

#[pymethods]
impl PyWriter {
    /// Creates the segment `name` (or the file `file`; the default segment `shm-exchange` if
    /// neither), or takes over one whose writer is gone. `capacity`: the largest picture in
    /// bytes (10 MiB if not given).
    ///
    /// `channels`: a segment of your own channels instead of the demo's, a dict of channel
    /// name to `StructType` (a struct channel) or to a capacity in bytes (a bytes channel);
    /// send to them with `send_channel`.
    #[new]
    #[pyo3(signature = (name = None, file = None, capacity = None, grow = true, persist = false, channels = None))]
    fn new(
        name: Option<&str>,
        file: Option<PathBuf>,
        capacity: Option<usize>,
        grow: bool,
        persist: bool,
        channels: Option<Bound<'_, pyo3::types::PyDict>>,
    ) -> PyResult<Self> {
        let location = location(name, file)?;
        let mut writer = match channels {
            None => {
                let capacity = capacity.map_or(Capacity::Default, Capacity::AtLeast);
                lib::Writer::create(&location, CreationMode::CreateOrOpen, capacity)
            }
            Some(channels) => {
                let specs = channel_specs(&channels)?;
                lib::Writer::create_with(&location, CreationMode::CreateOrOpen, specs)
            }
        }
        .map_err(Raise::raise)?;
        writer.set_persist(persist);
        Ok(PyWriter {
            writer: Some(writer),
            grow,
            frames_sent: 0,
        })
    }

    /// `segment 'name'` or `segment file '/path'`.
    #[getter]
    fn location(&self) -> PyResult<String> {
        let writer = self.writer.as_ref();
        writer
            .map(|writer| writer.location().to_string())
            .ok_or_else(|| ShmError::new_err("the writer is closed"))
    }

    /// Sends a picture file's bytes (`bytes`, or any contiguous buffer of bytes) under its
    /// path; returns the record's number. The bytes are copied once, into shared memory (twice
    /// in an `abi3` build running on Python before 3.11, which has no buffer protocol).
    fn send_image(&mut self, path: &str, data: &Bound<'_, PyAny>) -> PyResult<u64> {
        buffer::with_bytes(data, |data| {
            self.make_room(
                RecordKind::Image,
                lib::ImageMessage::framed_len(path, data.len()),
            )?;
            let sent = self.open()?.send_image(path, data);
            Ok(sent.map_err(Raise::raise)?.sequence)
        })?
    }

    /// Sends the struct; returns the record's number.
    #[pyo3(signature = (id = 100, age = 20, scores = None))]
    fn send_struct(&mut self, id: i32, age: i32, scores: Option<Vec<i32>>) -> PyResult<u64> {
        let data = PyTestData::new(id, age, scores)?.data;
        let writer = self.open()?;
        Ok(writer.send_struct(&data).map_err(Raise::raise)?.sequence)
    }

    /// Sends a frame of `height` rows of `width` pixels of `channels` bytes each (4: RGBA,
    /// 3: RGB, 1: grey), tightly packed in `pixels` (any contiguous buffer of bytes); numbered
    /// `number`, or one more than the last if `None`. Returns the frame's number. The pixels
    /// are copied once, into shared memory (twice in an `abi3` build on Python before 3.11).
    /// (`send_frame` takes a numpy array.)
    #[pyo3(signature = (width, height, channels, pixels, number = None))]
    fn send_frame_bytes(
        &mut self,
        width: u32,
        height: u32,
        channels: u32,
        pixels: &Bound<'_, PyAny>,
        number: Option<u64>,
    ) -> PyResult<u64> {
        buffer::with_bytes(pixels, |pixels| {
            self.send_frame_pixels(width, height, channels, pixels, number)
        })?
    }

    /// Sends `value` to the channel `name` of a segment made with `channels`: a dict of the
    /// fields of its `StructType` (arrays as sequences), or bytes for a bytes channel. Returns
    /// the record's number.
    fn send_channel(&mut self, name: &str, value: &Bound<'_, PyAny>) -> PyResult<u64> {
        let writer = self.open()?;
        let descriptor = writer
            .channels()
            .into_iter()
            .find(|channel| channel.name.as_str() == name)
            .and_then(|channel| channel.descriptor);
        let sent = match (descriptor, value.cast::<pyo3::types::PyDict>()) {
            (Some(descriptor), Ok(fields)) => {
                let bytes = encode_struct(&descriptor, fields)?;
                writer.publish_raw(name, &bytes)
            }
            _ => buffer::with_bytes(value, |bytes| writer.publish_raw(name, bytes))?,
        };
        Ok(sent.map_err(Raise::raise)?.sequence)
    }

    /// Closes the writer: removes the segment unless it was created with `persist=True`.
    fn close(&mut self) {
        self.writer = None;
    }

    fn __enter__(slf: Py<Self>) -> Py<Self> {
        slf
    }

    #[pyo3(signature = (*_exception))]
    fn __exit__(&mut self, _exception: &Bound<'_, pyo3::types::PyTuple>) -> bool {
        self.close();
        false
    }
}

/// Reads the latest records of a segment and waits for new ones; follows the writer to the
/// segment it re-creates (grown, or after it exited and came back).
#[pyclass(name = "Reader", module = "shm_exchange", subclass)]
struct PyReader {
    reader: lib::Reader,
}

impl PyReader {
    /// Moves to the segment that now has this reader's name, if the writer re-created it
    /// (grown for a larger record or a first frame, or after it exited): as the Reader app
    /// does, so a Python reader never sits on a segment nobody writes any more.
    fn follow_writer(&mut self) -> PyResult<()> {
        if matches!(
            self.reader.writer_status(),
            lib::WriterStatus::Active { .. }
        ) {
            return Ok(());
        }
        match self.reader.reopen_if_replaced() {
            Ok(_) | Err(lib::OpenError::NotFound { .. }) => Ok(()),
            Err(err) => Err(err.raise()),
        }
    }
}

#[pymethods]
impl PyReader {
    /// Opens the segment `name` (or the file `file`; the default segment `shm-exchange` if
    /// neither). Raises `OpenError` if no writer created it yet.
    #[new]
    #[pyo3(signature = (name = None, file = None))]
    fn new(name: Option<&str>, file: Option<PathBuf>) -> PyResult<Self> {
        let reader = lib::Reader::open(&location(name, file)?).map_err(Raise::raise)?;
        Ok(PyReader { reader })
    }

    /// The latest picture as `(path, data)`, or `None` if none was sent. Read in place (a
    /// lease) and copied once, into the `bytes` returned.
    fn latest_image<'py>(
        &mut self,
        py: Python<'py>,
    ) -> PyResult<Option<(String, Bound<'py, PyBytes>)>> {
        self.follow_writer()?;
        let Some(lease) = self.reader.lease(PICTURE_CHANNEL).map_err(Raise::raise)? else {
            return Ok(None);
        };
        let image = lease.image().map_err(Raise::raise)?;
        Ok(Some((image.path.to_owned(), PyBytes::new(py, image.bytes))))
    }

    /// The latest struct, or `None` if none was sent.
    fn latest_struct(&mut self) -> PyResult<Option<PyTestData>> {
        self.follow_writer()?;
        let latest = self.reader.latest_struct().map_err(Raise::raise)?;
        Ok(latest.map(|(data, _)| PyTestData { data }))
    }

    /// The latest frame as `(width, height, channels, stride, number, record)`, or `None`:
    /// `record` is the frame's record, its pixels from byte 24 on (`latest_frame` gives a
    /// numpy array over them). Held in place and copied once, checked in the same pass.
    #[allow(clippy::type_complexity)]
    fn latest_frame_bytes<'py>(
        &mut self,
        py: Python<'py>,
    ) -> PyResult<Option<(u32, u32, usize, u32, u64, Bound<'py, PyBytes>)>> {
        self.follow_writer()?;
        if !self.reader.has_channel(FRAME_CHANNEL) {
            return Ok(None);
        }
        let Some(held) = self.reader.hold(FRAME_CHANNEL).map_err(Raise::raise)? else {
            return Ok(None);
        };
        let kind = held.meta().kind;
        let record = PyBytes::new_with(py, held.len(), |out| {
            held.copy_into(out).map(drop).map_err(Raise::raise)
        })?;
        let header = lib::FrameView::parse(record.as_bytes())
            .map_err(|source| lib::ReadError::Malformed { kind, source }.raise())?
            .header;
        Ok(Some((
            header.width,
            header.height,
            header.format.bytes_per_pixel(),
            header.stride,
            header.number,
            record,
        )))
    }

    /// The segment's channels as `(name, kind, type)`: kind `"picture"`, `"struct"`,
    /// `"frame"` or `"bytes"`; type the struct's type name, `None` for the others.
    #[getter]
    fn channels(&self) -> Vec<(String, &'static str, Option<String>)> {
        self.reader
            .channels()
            .into_iter()
            .map(|channel| {
                let type_name = channel.descriptor.map(|descriptor| descriptor.name);
                (
                    channel.name.as_str().to_owned(),
                    channel.kind.name(),
                    type_name,
                )
            })
            .collect()
    }

    /// The latest record of the channel `name`, or `None` if none was sent: for a struct
    /// channel (of any program's type: the segment describes it) a dict of its fields, arrays
    /// as lists; otherwise the record's bytes.
    fn read_channel<'py>(
        &mut self,
        py: Python<'py>,
        name: &str,
    ) -> PyResult<Option<Bound<'py, PyAny>>> {
        self.follow_writer()?;
        let descriptor = self
            .reader
            .channels()
            .into_iter()
            .find(|channel| channel.name.as_str() == name)
            .and_then(|channel| channel.descriptor);
        let mut bytes = Vec::new();
        let read = self.reader.read_channel_into(name, &mut bytes);
        if read.map_err(Raise::raise)?.is_none() {
            return Ok(None);
        }
        let Some(descriptor) = descriptor else {
            return Ok(Some(PyBytes::new(py, &bytes).into_any()));
        };
        let fields = pyo3::types::PyDict::new(py);
        for field in &descriptor.fields {
            let numbers = field.values(&bytes, descriptor.byte_order).ok_or_else(|| {
                ReadError::new_err(format!(
                    "the record of channel `{name}` is shorter than its field `{}`",
                    field.name
                ))
            })?;
            fields.set_item(&field.name, nested(py, &field.dimensions, &numbers)?)?;
        }
        Ok(Some(fields.into_any()))
    }

    /// Waits until a record this reader has not read arrives (or a writer attaches or
    /// leaves), at most `timeout` seconds; returns whether something changed. Other Python
    /// threads run meanwhile.
    fn wait(&mut self, py: Python<'_>, timeout: f64) -> PyResult<bool> {
        let timeout = Duration::try_from_secs_f64(timeout)
            .map_err(|_| PyValueError::new_err("timeout must be a number of seconds, 0 or more"))?;
        self.follow_writer()?;
        let reader = &mut self.reader;
        Ok(py.detach(|| reader.wait_for_change(timeout)))
    }

    /// The writer's state: `"active"`, `"crashed"`, `"closed"` or `"replaced"` (by a larger
    /// segment: open a new Reader).
    #[getter]
    fn writer_status(&self) -> &'static str {
        match self.reader.writer_status() {
            lib::WriterStatus::Active { .. } => "active",
            lib::WriterStatus::Crashed { .. } => "crashed",
            lib::WriterStatus::Closed => "closed",
            lib::WriterStatus::Replaced => "replaced",
        }
    }

    /// The pid of the active writer, or of the one that crashed; `None` otherwise.
    #[getter]
    fn writer_pid(&self) -> Option<u32> {
        match self.reader.writer_status() {
            lib::WriterStatus::Active { pid } | lib::WriterStatus::Crashed { pid } => Some(pid),
            lib::WriterStatus::Closed | lib::WriterStatus::Replaced => None,
        }
    }

    /// `segment 'name'` or `segment file '/path'`.
    #[getter]
    fn location(&self) -> String {
        self.reader.location().to_string()
    }
}

/// The native module; `shm_exchange` re-exports it.
#[pymodule]
fn _shm_exchange(module: &Bound<'_, PyModule>) -> PyResult<()> {
    module.add_class::<PyTestData>()?;
    module.add_class::<PyStructType>()?;
    module.add_class::<PyWriter>()?;
    module.add_class::<PyReader>()?;
    errors::add_to(module)
}
