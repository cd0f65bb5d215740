//! Structs between Python and shared memory: the demo's `TestData`, and `StructType`, a struct
//! type described at run time, its values encoded from and decoded into dicts.

use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList};
use shm_common as lib;
use shm_common::RecordKind;

/// The channels a Python program asks for: name to `StructType` or to a bytes capacity.
pub(crate) fn channel_specs(channels: &Bound<'_, PyDict>) -> PyResult<Vec<lib::ChannelSpec>> {
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

/// A struct type described at run time, laid out as a `#[repr(C)]` Rust struct (and C's) with
/// the same fields in the same order is: a Rust reader of that type accepts its channel.
///
/// `fields`: `(name, type)` or `(name, type, length)` or `(name, type, (outer, inner...))` for
/// arrays; types `u8`...`u128`, `i8`...`i128`, `f32`, `f64`.
#[pyclass(name = "StructType", module = "shm_exchange", frozen, from_py_object)]
#[derive(Clone)]
pub(crate) struct PyStructType {
    pub(crate) descriptor: lib::TypeDescriptor,
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
pub(crate) fn encode_struct(
    descriptor: &lib::TypeDescriptor,
    value: &Bound<'_, PyDict>,
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

/// `numbers` as a number (no `dimensions`) or nested lists, outermost dimension first.
pub(crate) fn nested<'py>(
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
    Ok(PyList::new(py, items)?.into_any())
}

/// The original demo's struct: `id`, `age` and ten `scores`.
#[pyclass(name = "TestData", module = "shm_exchange", frozen, eq, from_py_object)]
#[derive(Clone, PartialEq)]
pub(crate) struct PyTestData {
    pub(crate) data: lib::TestData,
}

#[pymethods]
impl PyTestData {
    /// A struct with these fields (the demo's defaults: id 100, age 20, scores 60 to 69).
    #[new]
    #[pyo3(signature = (id = 100, age = 20, scores = None))]
    pub(crate) fn new(id: i32, age: i32, scores: Option<Vec<i32>>) -> PyResult<Self> {
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
