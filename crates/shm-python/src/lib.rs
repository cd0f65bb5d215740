//! `shm_exchange._shm_exchange`: the native half of the `shm_exchange` Python module.
//!
//! The classes here wrap `shm_common`'s [`Writer`](shm_common::Writer) and
//! [`Reader`](shm_common::Reader); `python/shm_exchange/__init__.py` adds what is easier in
//! Python (numpy frames) on top. Every library error becomes an exception of its own class,
//! under `ShmError`, carrying the library's sentence. Waiting and large copies release the GIL.

mod buffer;

use std::path::PathBuf;
use std::time::Duration;

use pyo3::create_exception;
use pyo3::exceptions::{PyException, PyValueError};
use pyo3::prelude::*;
use pyo3::types::PyBytes;
use shm_common as lib;
use shm_common::{
    Capacity, CreationMode, FRAME_CHANNEL, FrameHeader, PICTURE_CHANNEL, PixelFormat, RecordKind,
    SegmentLocation,
};

create_exception!(
    shm_exchange,
    ShmError,
    PyException,
    "Base class of every error of shm_exchange; str() is the library's sentence."
);
create_exception!(
    shm_exchange,
    SegmentNameError,
    ShmError,
    "A segment name that cannot be used."
);
create_exception!(
    shm_exchange,
    OpenError,
    ShmError,
    "A segment that cannot be opened: missing, damaged, someone else's..."
);
create_exception!(
    shm_exchange,
    CreateError,
    ShmError,
    "A writer that cannot take a segment: another writer holds it, no space..."
);
create_exception!(
    shm_exchange,
    SendError,
    ShmError,
    "A record that cannot be sent: too large for the segment, malformed..."
);
create_exception!(
    shm_exchange,
    GrowError,
    ShmError,
    "A segment that cannot grow to hold a record."
);
create_exception!(
    shm_exchange,
    ReadError,
    ShmError,
    "A record that cannot be read: a damaged segment, a checksum mismatch..."
);

/// Each library error as its exception.
trait Raise {
    fn raise(self) -> PyErr;
}

macro_rules! raises {
    ($($error:ty => $exception:ty),* $(,)?) => {
        $(impl Raise for $error {
            fn raise(self) -> PyErr {
                <$exception>::new_err(self.to_string())
            }
        })*
    };
}

raises! {
    lib::NameError => SegmentNameError,
    lib::OpenError => OpenError,
    lib::CreateError => CreateError,
    lib::SendError => SendError,
    lib::GrowError => GrowError,
    lib::ReadError => ReadError,
}

/// The channels a Python program asks for: name to `StructType` or to a bytes capacity.
fn channel_specs(channels: &Bound<'_, pyo3::types::PyDict>) -> PyResult<Vec<lib::ChannelSpec>> {
    let mut specs = Vec::new();
    for (name, kind) in channels.iter() {
        let name: String = name.extract()?;
        let channel = lib::ChannelName::new(name.as_str()).map_err(|err| {
            PyValueError::new_err(format!("channel `{name}` cannot be made: {err}"))
        })?;
        let spec = if let Ok(struct_type) = kind.extract::<PyStructType>() {
            let descriptor = struct_type.descriptor;
            lib::ChannelSpec {
                name: channel,
                kind: RecordKind::Struct,
                capacity: descriptor.size,
                descriptor: Some(descriptor),
            }
        } else if let Ok(capacity) = kind.extract::<usize>() {
            lib::ChannelSpec::bytes(&name, capacity).map_err(|err| {
                PyValueError::new_err(format!("channel `{name}` cannot be made: {err}"))
            })?
        } else {
            return Err(PyValueError::new_err(format!(
                "channel `{name}` is a StructType or a capacity in bytes, not {kind}"
            )));
        };
        specs.push(spec);
    }
    Ok(specs)
}

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

/// A struct type described at run time, laid out as a `#[repr(C)]` Rust struct (and C's) with
/// the same fields in the same order is: a Rust reader of that type accepts its channel.
///
/// `fields`: `(name, type)` or `(name, type, length)` or `(name, type, (outer, inner...))` for
/// arrays; types `u8`...`u128`, `i8`...`i128`, `f32`, `f64`.
#[pyclass(name = "StructType", module = "shm_exchange", frozen, from_py_object)]
#[derive(Clone)]
struct PyStructType {
    descriptor: lib::TypeDescriptor,
}

#[pymethods]
impl PyStructType {
    #[new]
    fn new(name: &str, fields: Vec<Bound<'_, PyAny>>) -> PyResult<Self> {
        let mut described = Vec::new();
        let (mut end, mut align) = (0usize, 1usize);
        for field in fields {
            let (field_name, type_name, dimensions) = field_parts(&field)?;
            let primitive = lib::Primitive::ALL
                .into_iter()
                .find(|primitive| primitive.name() == type_name)
                .ok_or_else(|| {
                    PyValueError::new_err(format!(
                        "field `{field_name}` has type `{type_name}`; a field's type is one of u8, u16, u32, u64, u128, i8, i16, i32, i64, i128, f32, f64"
                    ))
                })?;
            let count = dimensions
                .iter()
                .try_fold(1usize, |count, &len| count.checked_mul(len));
            let offset = end.next_multiple_of(primitive.size());
            end = count
                .and_then(|count| count.checked_mul(primitive.size()))
                .and_then(|size| offset.checked_add(size))
                .ok_or_else(|| {
                    PyValueError::new_err(format!("field `{field_name}` is too large"))
                })?;
            align = align.max(primitive.size());
            described.push(lib::Field {
                name: field_name,
                offset,
                primitive,
                dimensions,
            });
        }
        Ok(PyStructType {
            descriptor: lib::TypeDescriptor {
                name: name.to_owned(),
                size: end.next_multiple_of(align),
                align,
                byte_order: lib::ByteOrder::NATIVE,
                fields: described,
            },
        })
    }

    /// The type's name.
    #[getter]
    fn name(&self) -> &str {
        &self.descriptor.name
    }

    /// Its size in bytes, padding included.
    #[getter]
    fn size(&self) -> usize {
        self.descriptor.size
    }

    /// Its fields as `(name, type, offset, dimensions)`.
    #[getter]
    fn fields(&self) -> Vec<(String, &'static str, usize, Vec<usize>)> {
        self.descriptor
            .fields
            .iter()
            .map(|field| {
                let dimensions = field.dimensions.clone();
                (
                    field.name.clone(),
                    field.primitive.name(),
                    field.offset,
                    dimensions,
                )
            })
            .collect()
    }

    fn __repr__(&self) -> String {
        format!(
            "StructType({:?}, {} bytes)",
            self.descriptor.name, self.descriptor.size
        )
    }
}

/// A field given as `(name, type)`, `(name, type, length)` or `(name, type, (lengths...))`.
fn field_parts(field: &Bound<'_, PyAny>) -> PyResult<(String, String, Vec<usize>)> {
    let shape_error = || {
        PyValueError::new_err(format!(
            "a field is (name, type) or (name, type, length or lengths), not {field}"
        ))
    };
    let parts: Vec<Bound<'_, PyAny>> = field.extract().map_err(|_| shape_error())?;
    let (name, type_name, dimensions) = match parts.as_slice() {
        [name, type_name] => (name, type_name, Vec::new()),
        [name, type_name, lengths] => {
            let dimensions = match lengths.extract::<usize>() {
                Ok(len) => vec![len],
                Err(_) => lengths.extract::<Vec<usize>>().map_err(|_| shape_error())?,
            };
            (name, type_name, dimensions)
        }
        _ => return Err(shape_error()),
    };
    Ok((
        name.extract().map_err(|_| shape_error())?,
        type_name.extract().map_err(|_| shape_error())?,
        dimensions,
    ))
}

/// The bytes of `value`, a dict of the fields of `descriptor`'s type (arrays as sequences).
fn encode_struct(
    descriptor: &lib::TypeDescriptor,
    value: &Bound<'_, pyo3::types::PyDict>,
) -> PyResult<Vec<u8>> {
    let mut bytes = vec![0u8; descriptor.size];
    for key in value.keys() {
        let key: String = key.extract()?;
        if !descriptor.fields.iter().any(|field| field.name == key) {
            return Err(PyValueError::new_err(format!(
                "{} has no field `{key}`",
                descriptor.name
            )));
        }
    }
    for field in &descriptor.fields {
        let given = value
            .get_item(&field.name)?
            .ok_or_else(|| PyValueError::new_err(format!("field `{}` is missing", field.name)))?;
        let mut numbers = Vec::new();
        flatten(&given, field.dimensions.len(), &mut numbers)?;
        if numbers.len() != field.count() {
            return Err(PyValueError::new_err(format!(
                "field `{}` holds {} numbers, not {}",
                field.name,
                field.count(),
                numbers.len()
            )));
        }
        let size = field.primitive.size();
        for (index, number) in numbers.iter().enumerate() {
            let at = field.offset + index * size;
            let Some(out) = bytes.get_mut(at..at + size) else {
                return Err(PyValueError::new_err(format!(
                    "field `{}` lies past the type's end",
                    field.name
                )));
            };
            encode_number(field, number, out)?;
        }
    }
    Ok(bytes)
}

/// The numbers of a value nested `depth` sequences deep, in order.
fn flatten<'py>(
    value: &Bound<'py, PyAny>,
    depth: usize,
    out: &mut Vec<Bound<'py, PyAny>>,
) -> PyResult<()> {
    if depth == 0 {
        out.push(value.clone());
        return Ok(());
    }
    for item in value.try_iter()? {
        flatten(&item?, depth - 1, out)?;
    }
    Ok(())
}

/// Stores `number` as `field`'s primitive, in native byte order, into `out` (its size).
fn encode_number(field: &lib::Field, number: &Bound<'_, PyAny>, out: &mut [u8]) -> PyResult<()> {
    use lib::Primitive as P;
    let primitive = field.primitive;
    let out_of_range = || {
        PyValueError::new_err(format!(
            "field `{}` holds {} numbers; {number} is not one",
            field.name,
            primitive.name()
        ))
    };
    let bytes: Vec<u8> = match primitive {
        P::F32 => (number.extract::<f64>()? as f32).to_ne_bytes().to_vec(),
        P::F64 => number.extract::<f64>()?.to_ne_bytes().to_vec(),
        P::U128 => number
            .extract::<u128>()
            .map_err(|_| out_of_range())?
            .to_ne_bytes()
            .to_vec(),
        P::I128 => number
            .extract::<i128>()
            .map_err(|_| out_of_range())?
            .to_ne_bytes()
            .to_vec(),
        P::U8 | P::U16 | P::U32 | P::U64 => {
            let value = number.extract::<u64>().map_err(|_| out_of_range())?;
            let bits = 8 * primitive.size() as u32;
            if bits < 64 && value >> bits != 0 {
                return Err(out_of_range());
            }
            value.to_ne_bytes().to_vec()
        }
        P::I8 | P::I16 | P::I32 | P::I64 => {
            let value = number.extract::<i64>().map_err(|_| out_of_range())?;
            let bits = 8 * primitive.size() as u32;
            if bits < 64 && (value >> (bits - 1) != 0 && value >> (bits - 1) != -1) {
                return Err(out_of_range());
            }
            value.to_ne_bytes().to_vec()
        }
    };
    // Native little-endian: the low bytes of a widened integer are the value's bytes.
    let size = out.len();
    let low = if cfg!(target_endian = "little") {
        &bytes[..size]
    } else {
        &bytes[bytes.len() - size..]
    };
    out.copy_from_slice(low);
    Ok(())
}

/// The original demo's struct: `id`, `age` and ten `scores`.
#[pyclass(name = "TestData", module = "shm_exchange", frozen, eq, from_py_object)]
#[derive(Clone, PartialEq)]
struct PyTestData {
    data: lib::TestData,
}

#[pymethods]
impl PyTestData {
    /// A struct with these fields (the demo's defaults: id 100, age 20, scores 60 to 69).
    #[new]
    #[pyo3(signature = (id = 100, age = 20, scores = None))]
    fn new(id: i32, age: i32, scores: Option<Vec<i32>>) -> PyResult<Self> {
        let defaults = lib::TestData::default().scores;
        let scores = match scores {
            None => defaults,
            Some(scores) => scores.try_into().map_err(|scores: Vec<i32>| {
                PyValueError::new_err(format!(
                    "scores must be exactly 10 numbers, not {}",
                    scores.len()
                ))
            })?,
        };
        Ok(PyTestData {
            data: lib::TestData { id, age, scores },
        })
    }

    /// The id.
    #[getter]
    fn id(&self) -> i32 {
        self.data.id
    }

    /// The age.
    #[getter]
    fn age(&self) -> i32 {
        self.data.age
    }

    /// The ten scores.
    #[getter]
    fn scores(&self) -> Vec<i32> {
        self.data.scores.to_vec()
    }

    /// `Id=100,Age=20,Scores=60,61,62,63,64,65,66,67,68,69`, as the original printed it.
    fn __str__(&self) -> String {
        self.data.to_string()
    }

    fn __repr__(&self) -> String {
        format!(
            "TestData(id={}, age={}, scores={:?})",
            self.data.id, self.data.age, self.data.scores
        )
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
    /// path; returns the record's number. The bytes are copied once, into shared memory.
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
    /// are copied once, into shared memory. (`send_frame` takes a numpy array.)
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

/// `numbers` as a number (no `dimensions`) or nested lists, outermost dimension first.
fn nested<'py>(
    py: Python<'py>,
    dimensions: &[usize],
    numbers: &[lib::Number],
) -> PyResult<Bound<'py, PyAny>> {
    let Some((&outer, inner)) = dimensions.split_first() else {
        return Ok(match numbers.first() {
            Some(lib::Number::Unsigned(value)) => value.into_pyobject(py)?.into_any(),
            Some(lib::Number::Signed(value)) => value.into_pyobject(py)?.into_any(),
            Some(lib::Number::Float32(value)) => value.into_pyobject(py)?.into_any(),
            Some(lib::Number::Float(value)) => value.into_pyobject(py)?.into_any(),
            None => py.None().into_bound(py),
        });
    };
    let step = numbers.len() / outer.max(1);
    let items = (0..outer)
        .map(|index| {
            let part = numbers.get(index * step..(index + 1) * step).unwrap_or(&[]);
            nested(py, inner, part)
        })
        .collect::<PyResult<Vec<_>>>()?;
    Ok(pyo3::types::PyList::new(py, items)?.into_any())
}

/// The native module; `shm_exchange` re-exports it.
#[pymodule]
fn _shm_exchange(module: &Bound<'_, PyModule>) -> PyResult<()> {
    let py = module.py();
    module.add_class::<PyTestData>()?;
    module.add_class::<PyStructType>()?;
    module.add_class::<PyWriter>()?;
    module.add_class::<PyReader>()?;
    module.add("ShmError", py.get_type::<ShmError>())?;
    module.add("SegmentNameError", py.get_type::<SegmentNameError>())?;
    module.add("OpenError", py.get_type::<OpenError>())?;
    module.add("CreateError", py.get_type::<CreateError>())?;
    module.add("SendError", py.get_type::<SendError>())?;
    module.add("GrowError", py.get_type::<GrowError>())?;
    module.add("ReadError", py.get_type::<ReadError>())?;
    Ok(())
}
