//! Descriptions of plain-old-data types that travel with the data: a channel's writer stores
//! its type's [`TypeDescriptor`] in the segment, so a reader of another type is refused in
//! words and a tool that was never compiled with the type can still show it field by field.
//!
//! ```
//! use bytemuck::{Pod, Zeroable};
//! use shm_common::Schema;
//!
//! #[derive(Clone, Copy, Pod, Zeroable, Schema)]
//! #[repr(C)]
//! struct Pose {
//!     position: [f64; 3],
//!     heading: f32,
//!     id: u32,
//! }
//!
//! let descriptor = Pose::descriptor();
//! assert_eq!(descriptor.name, "Pose");
//! assert_eq!(descriptor.size, 32);
//! assert_eq!(descriptor.fields[0].to_string(), "position: [f64; 3] at 0");
//! ```
//!
//! The derive refuses a layout the compiler may change or that is not aligned:
//!
//! ```compile_fail
//! # use bytemuck::{Pod, Zeroable};
//! #[derive(Clone, Copy, Pod, Zeroable, shm_common::Schema)]
//! struct NoRepr { a: u32 } // error: Schema needs #[repr(C)]
//! ```
//!
//! ```compile_fail
//! # use bytemuck::{Pod, Zeroable};
//! #[derive(Clone, Copy, Pod, Zeroable, shm_common::Schema)]
//! #[repr(C, packed)]
//! struct Packed { a: u8, b: u32 } // error: a packed struct's fields are not aligned
//! ```
//!
//! ```compile_fail
//! # use bytemuck::{Pod, Zeroable};
//! #[derive(Clone, Copy, Pod, Zeroable, shm_common::Schema)]
//! #[repr(C)]
//! struct WithUsize { len: usize } // error: `usize` has no fixed size, so it is no SchemaField
//! ```
//!
//! A field is a primitive number or a (nested) array of them. A field that is itself a
//! struct with a descriptor is spelled out as its fields, named `outer.inner`; an array of
//! such structs as `outer[0].inner`, `outer[1].inner`, and so on.
//!
//! # Encoding
//!
//! In the segment a descriptor is stored as little-endian bytes:
//!
//! ```text
//! u16 format version (1) | u8 writer's byte order (1 little-endian, 2 big-endian)
//! u16 name length | name (UTF-8) | u32 size | u32 alignment | u32 field count
//! per field: u16 name length | name | u32 offset | u8 primitive code | u8 dimensions
//!            | u32 length of each dimension, outermost first
//! ```
//!
//! Decoding treats the bytes as untrusted: every length is checked against what is left and
//! against a limit before anything is allocated, and the decoded descriptor is checked to be
//! one a real type could have (every field inside the type and aligned, a power-of-two
//! alignment) before any record is read through it.

use std::fmt;

use bytemuck::Pod;
use thiserror::Error;

use crate::untrusted::Input;

/// The most fields a descriptor may have (after nested structs are spelled out).
pub const MAX_FIELDS: usize = 1024;
/// The longest type or field name, in bytes.
pub const MAX_NAME_LEN: usize = 255;
/// The most array dimensions a field may have.
pub const MAX_DIMENSIONS: usize = 8;
/// The largest type a descriptor may describe, in bytes.
pub const MAX_TYPE_SIZE: usize = 1 << 30;

const FORMAT_VERSION: u16 = 1;
const LITTLE_ENDIAN: u8 = 1;
const BIG_ENDIAN: u8 = 2;

/// A type whose values are plain bytes in a fixed layout, with a description of that layout.
///
/// Derive it with `#[derive(Schema)]` on a `#[repr(C)]` struct that is also
/// [`bytemuck::Pod`]; the derive checks the `repr` and takes each field's offset from the
/// compiler, so the descriptor cannot disagree with the type.
pub trait Schema: Pod + SchemaField {
    /// The type's name, size, alignment and fields.
    fn descriptor() -> TypeDescriptor;
}

/// What can be a field of a [`Schema`] type: the primitive numbers, arrays of fields, and
/// other [`Schema`] types (the derive implements this too).
pub trait SchemaField {
    /// The field's shape.
    fn shape() -> Shape;
}

/// The shape of a field's type.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Shape {
    /// A primitive number.
    Primitive(Primitive),
    /// `len` elements of one shape, one after the other.
    Array {
        /// The elements' shape.
        element: Box<Shape>,
        /// How many there are.
        len: usize,
    },
    /// A struct with a descriptor of its own, spelled out field by field.
    Struct(TypeDescriptor),
}

impl Shape {
    /// Size in bytes of a value of this shape.
    pub fn size(&self) -> usize {
        match self {
            Shape::Primitive(primitive) => primitive.size(),
            Shape::Array { element, len } => element.size().saturating_mul(*len),
            Shape::Struct(descriptor) => descriptor.size,
        }
    }
}

macro_rules! primitives {
    ($($variant:ident = $code:literal, $ty:ty, $name:literal;)*) => {
        /// A primitive number type a field can have.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        pub enum Primitive {
            $(
                #[doc = concat!("`", $name, "`")]
                $variant,
            )*
        }

        impl Primitive {
            /// Every primitive.
            pub const ALL: [Primitive; [$($code),*].len()] = [$(Primitive::$variant),*];

            /// Its size (and alignment) in bytes.
            pub fn size(self) -> usize {
                match self {
                    $(Primitive::$variant => size_of::<$ty>(),)*
                }
            }

            /// Its Rust name: `u8`, `i32`, `f64`...
            pub fn name(self) -> &'static str {
                match self {
                    $(Primitive::$variant => $name,)*
                }
            }

            /// The code stored in an encoded descriptor.
            fn code(self) -> u8 {
                match self {
                    $(Primitive::$variant => $code,)*
                }
            }

            fn from_code(code: u8) -> Option<Primitive> {
                match code {
                    $($code => Some(Primitive::$variant),)*
                    _ => None,
                }
            }
        }

        $(
            impl SchemaField for $ty {
                fn shape() -> Shape {
                    Shape::Primitive(Primitive::$variant)
                }
            }
        )*
    };
}

primitives! {
    U8 = 1, u8, "u8";
    U16 = 2, u16, "u16";
    U32 = 3, u32, "u32";
    U64 = 4, u64, "u64";
    U128 = 5, u128, "u128";
    I8 = 6, i8, "i8";
    I16 = 7, i16, "i16";
    I32 = 8, i32, "i32";
    I64 = 9, i64, "i64";
    I128 = 10, i128, "i128";
    F32 = 11, f32, "f32";
    F64 = 12, f64, "f64";
}

impl fmt::Display for Primitive {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl<T: SchemaField, const N: usize> SchemaField for [T; N] {
    fn shape() -> Shape {
        Shape::Array {
            element: Box::new(T::shape()),
            len: N,
        }
    }
}

/// One field of a [`TypeDescriptor`]: a primitive, or a (nested) array of primitives.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Field {
    /// Its name; `outer.inner` for a field of a nested struct.
    pub name: String,
    /// Its offset from the start of the value, in bytes.
    pub offset: usize,
    /// The type of its elements.
    pub primitive: Primitive,
    /// Array dimensions, outermost first (`[[f32; 3]; 4]` is `[4, 3]`); empty for one number.
    pub dimensions: Vec<usize>,
}

impl Field {
    /// How many numbers the field holds.
    pub fn count(&self) -> usize {
        self.dimensions
            .iter()
            .try_fold(1usize, |count, &len| count.checked_mul(len))
            .unwrap_or(usize::MAX)
    }

    /// Its size in bytes.
    pub fn size(&self) -> usize {
        self.count().saturating_mul(self.primitive.size())
    }

    /// Its type as Rust spells it: `u32`, `[f32; 3]`, `[[u8; 4]; 2]`.
    pub fn type_name(&self) -> String {
        self.dimensions
            .iter()
            .rev()
            .fold(self.primitive.name().to_owned(), |inner, len| {
                format!("[{inner}; {len}]")
            })
    }

    /// The numbers of this field in `value`, a whole value of the described type, in memory
    /// order; `None` if `value` is too short to hold the field.
    pub fn values(&self, value: &[u8], byte_order: ByteOrder) -> Option<Vec<Number>> {
        let end = self.offset.checked_add(self.size())?;
        let bytes = value.get(self.offset..end)?;
        Some(
            bytes
                .chunks_exact(self.primitive.size())
                .map(|chunk| Number::read(self.primitive, chunk, byte_order))
                .collect(),
        )
    }
}

impl fmt::Display for Field {
    /// `name: type at offset`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {} at {}", self.name, self.type_name(), self.offset)
    }
}

/// The byte order numbers are stored in: the writer's own.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ByteOrder {
    /// Least significant byte first (x86, most ARM).
    Little,
    /// Most significant byte first.
    Big,
}

impl ByteOrder {
    /// This machine's byte order.
    pub const NATIVE: ByteOrder = if cfg!(target_endian = "little") {
        ByteOrder::Little
    } else {
        ByteOrder::Big
    };
}

impl fmt::Display for ByteOrder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ByteOrder::Little => "little-endian",
            ByteOrder::Big => "big-endian",
        })
    }
}

/// One number read out of a record through its descriptor.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Number {
    /// An unsigned integer.
    Unsigned(u128),
    /// A signed integer.
    Signed(i128),
    /// A 32-bit floating-point number (shown with the digits an `f32` has).
    Float32(f32),
    /// A 64-bit floating-point number.
    Float(f64),
}

impl Number {
    /// Reads a `primitive` from exactly its size in bytes.
    fn read(primitive: Primitive, bytes: &[u8], order: ByteOrder) -> Number {
        let mut wide = [0u8; 16];
        let size = bytes.len().min(16);
        // Widen to 16 bytes in little-endian order, then read as u128.
        match order {
            ByteOrder::Little => wide[..size].copy_from_slice(&bytes[..size]),
            ByteOrder::Big => {
                for (slot, byte) in wide.iter_mut().zip(bytes[..size].iter().rev()) {
                    *slot = *byte;
                }
            }
        }
        let raw = u128::from_le_bytes(wide);
        let bits = size as u32 * 8;
        // Sign-extends the low `bits` bits.
        let signed = || ((raw << (128 - bits)) as i128) >> (128 - bits);
        match primitive {
            Primitive::U8 | Primitive::U16 | Primitive::U32 | Primitive::U64 | Primitive::U128 => {
                Number::Unsigned(raw)
            }
            Primitive::I8 | Primitive::I16 | Primitive::I32 | Primitive::I64 | Primitive::I128 => {
                Number::Signed(signed())
            }
            Primitive::F32 => Number::Float32(f32::from_bits(raw as u32)),
            Primitive::F64 => Number::Float(f64::from_bits(raw as u64)),
        }
    }
}

impl fmt::Display for Number {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Number::Unsigned(value) => write!(f, "{value}"),
            Number::Signed(value) => write!(f, "{value}"),
            Number::Float32(value) => write!(f, "{value}"),
            Number::Float(value) => write!(f, "{value}"),
        }
    }
}

/// A type's name, size, alignment and fields, as stored beside its data.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TypeDescriptor {
    /// The type's name (its Rust name unless the derive was given `#[schema(name = "...")]`).
    pub name: String,
    /// Its size in bytes.
    pub size: usize,
    /// Its alignment in bytes.
    pub align: usize,
    /// The byte order its numbers are in.
    pub byte_order: ByteOrder,
    /// Its fields in declaration order, nested structs spelled out.
    pub fields: Vec<Field>,
}

impl TypeDescriptor {
    /// A descriptor for `T` named `name`, with no fields yet: add them with
    /// [`TypeDescriptor::field`]. Used by the derive.
    pub fn new<T: Pod>(name: &str) -> TypeDescriptor {
        TypeDescriptor {
            name: name.to_owned(),
            size: size_of::<T>(),
            align: align_of::<T>(),
            byte_order: ByteOrder::NATIVE,
            fields: Vec::new(),
        }
    }

    /// Adds a field named `name` at `offset` whose type is `F`; a struct or an array of
    /// structs is spelled out field by field. Used by the derive.
    pub fn field<F: SchemaField>(mut self, name: &str, offset: usize) -> TypeDescriptor {
        spell_out(&mut self.fields, name, offset, &F::shape());
        self
    }

    /// The descriptor as stored in a segment (see the [module docs](self)).
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::new();
        out.extend_from_slice(&FORMAT_VERSION.to_le_bytes());
        out.push(match self.byte_order {
            ByteOrder::Little => LITTLE_ENDIAN,
            ByteOrder::Big => BIG_ENDIAN,
        });
        put_name(&mut out, &self.name);
        put_u32(&mut out, self.size);
        put_u32(&mut out, self.align);
        put_u32(&mut out, self.fields.len());
        for field in &self.fields {
            put_name(&mut out, &field.name);
            put_u32(&mut out, field.offset);
            out.push(field.primitive.code());
            out.push(field.dimensions.len() as u8);
            for &len in &field.dimensions {
                put_u32(&mut out, len);
            }
        }
        out
    }

    /// Decodes and checks a descriptor read from a segment.
    pub fn decode(bytes: &[u8]) -> Result<TypeDescriptor, DescriptorError> {
        let mut input = Input::new(bytes, |at, len| DescriptorError::Truncated { at, len });
        let version = input.u16()?;
        if version != FORMAT_VERSION {
            return Err(DescriptorError::Version { found: version });
        }
        let byte_order = match input.u8()? {
            LITTLE_ENDIAN => ByteOrder::Little,
            BIG_ENDIAN => ByteOrder::Big,
            found => return Err(DescriptorError::ByteOrder { found }),
        };
        let name = read_name(&mut input)?;
        let size = input.u32()? as usize;
        let align = input.u32()? as usize;
        let count = input.u32()? as usize;
        if count > MAX_FIELDS {
            return Err(DescriptorError::TooManyFields { count });
        }
        let mut fields = Vec::with_capacity(count);
        for _ in 0..count {
            let name = read_name(&mut input)?;
            let offset = input.u32()? as usize;
            let code = input.u8()?;
            let primitive =
                Primitive::from_code(code).ok_or(DescriptorError::Primitive { code })?;
            let rank = usize::from(input.u8()?);
            if rank > MAX_DIMENSIONS {
                return Err(DescriptorError::TooManyDimensions { field: name, rank });
            }
            let dimensions = (0..rank)
                .map(|_| input.u32().map(|len| len as usize))
                .collect::<Result<_, _>>()?;
            fields.push(Field {
                name,
                offset,
                primitive,
                dimensions,
            });
        }
        if !input.rest().is_empty() {
            return Err(DescriptorError::TrailingBytes {
                count: input.rest().len(),
            });
        }
        let descriptor = TypeDescriptor {
            name,
            size,
            align,
            byte_order,
            fields,
        };
        descriptor.check()?;
        Ok(descriptor)
    }

    /// Checks that a real type could have this layout: a power-of-two alignment that divides
    /// the size, names within limits and unique, every field inside the type and aligned.
    pub fn check(&self) -> Result<(), DescriptorError> {
        check_name(&self.name)?;
        if self.size > MAX_TYPE_SIZE {
            return Err(DescriptorError::TypeSize { size: self.size });
        }
        if !self.align.is_power_of_two() || !self.size.is_multiple_of(self.align) {
            return Err(DescriptorError::Alignment {
                size: self.size,
                align: self.align,
            });
        }
        if self.fields.len() > MAX_FIELDS {
            return Err(DescriptorError::TooManyFields {
                count: self.fields.len(),
            });
        }
        let mut names: Vec<&str> = Vec::with_capacity(self.fields.len());
        for field in &self.fields {
            check_name(&field.name)?;
            if field.dimensions.len() > MAX_DIMENSIONS {
                return Err(DescriptorError::TooManyDimensions {
                    field: field.name.clone(),
                    rank: field.dimensions.len(),
                });
            }
            let fits = field
                .dimensions
                .iter()
                .try_fold(field.primitive.size(), |size, &len| size.checked_mul(len))
                .and_then(|size| field.offset.checked_add(size))
                .is_some_and(|end| end <= self.size);
            if !fits || !field.offset.is_multiple_of(field.primitive.size()) {
                return Err(DescriptorError::FieldOutside {
                    field: field.name.clone(),
                    offset: field.offset,
                    size: self.size,
                });
            }
            names.push(&field.name);
        }
        names.sort_unstable();
        if let Some(pair) = names.windows(2).find(|pair| pair[0] == pair[1]) {
            return Err(DescriptorError::DuplicateField {
                field: pair[0].to_owned(),
            });
        }
        Ok(())
    }

    /// Whether values written under `self` can be read as `expected`; if not, what differs.
    ///
    /// The names, sizes, alignments, byte orders and fields (name, offset, type) must all be
    /// equal: two types that merely have the same size are not taken for one another.
    pub fn check_matches(&self, expected: &TypeDescriptor) -> Result<(), SchemaMismatch> {
        let mut differences = Vec::new();
        if self.name != expected.name {
            differences.push(Difference::Name);
        }
        if self.size != expected.size {
            differences.push(Difference::Size {
                found: self.size,
                expected: expected.size,
            });
        }
        if self.align != expected.align {
            differences.push(Difference::Alignment {
                found: self.align,
                expected: expected.align,
            });
        }
        if self.byte_order != expected.byte_order {
            differences.push(Difference::ByteOrder {
                found: self.byte_order,
                expected: expected.byte_order,
            });
        }
        for wanted in &expected.fields {
            match self.fields.iter().find(|field| field.name == wanted.name) {
                None => differences.push(Difference::Missing {
                    field: wanted.to_string(),
                }),
                Some(field) if field != wanted => differences.push(Difference::Changed {
                    found: field.to_string(),
                    expected: wanted.to_string(),
                }),
                Some(_) => {}
            }
        }
        for field in &self.fields {
            if !expected
                .fields
                .iter()
                .any(|wanted| wanted.name == field.name)
            {
                differences.push(Difference::Extra {
                    field: field.to_string(),
                });
            }
        }
        if differences.is_empty() {
            return Ok(());
        }
        Err(SchemaMismatch {
            found: self.summary(),
            expected: expected.summary(),
            differences,
        })
    }

    /// `Pose (32 bytes)`.
    pub fn summary(&self) -> String {
        format!("{} ({} bytes)", self.name, self.size)
    }

    /// `value` (exactly one value of this type) as `name=value` pairs, arrays as
    /// `[1, 2, 3]`: `position=[1, 2, 3],heading=0.5,id=7`. `None` if `value` has the wrong
    /// length.
    pub fn format_value(&self, value: &[u8]) -> Option<String> {
        if value.len() != self.size {
            return None;
        }
        let mut out = String::new();
        for (index, field) in self.fields.iter().enumerate() {
            if index > 0 {
                out.push(',');
            }
            let numbers = field.values(value, self.byte_order)?;
            out.push_str(&field.name);
            out.push('=');
            format_nested(&mut out, &field.dimensions, &numbers);
        }
        Some(out)
    }
}

/// Builds `numbers` (in memory order) nested as `dimensions` say: `leaf` makes one number
/// (`None` for a field too short to hold one), `list` one array of what is inside it. The
/// one place the nesting is worked out, for text and for JSON alike.
pub fn nest<T>(
    dimensions: &[usize],
    numbers: &[Number],
    leaf: &impl Fn(Option<&Number>) -> T,
    list: &impl Fn(Vec<T>) -> T,
) -> T {
    match dimensions.split_first() {
        None => leaf(numbers.first()),
        Some((&len, inner)) => {
            let step = numbers.len().checked_div(len).unwrap_or(0).max(1);
            list(
                numbers
                    .chunks(step)
                    .take(len)
                    .map(|chunk| nest(inner, chunk, leaf, list))
                    .collect(),
            )
        }
    }
}

/// Appends `numbers` (in memory order) nested as `dimensions` say: `[[1, 2], [3, 4]]`.
pub fn format_nested(out: &mut String, dimensions: &[usize], numbers: &[Number]) {
    out.push_str(&nest(
        dimensions,
        numbers,
        &|number| number.map(ToString::to_string).unwrap_or_default(),
        &|items| format!("[{}]", items.join(", ")),
    ));
}

/// Adds the fields of a value of `shape` named `name` at `offset` to `fields`. Stops adding
/// once there are more than [`MAX_FIELDS`] (which [`TypeDescriptor::check`] then refuses), so
/// a huge array of structs costs no more than that.
fn spell_out(fields: &mut Vec<Field>, name: &str, offset: usize, shape: &Shape) {
    if fields.len() > MAX_FIELDS {
        return;
    }
    if let Some((primitive, dimensions)) = numbers_only(shape) {
        fields.push(Field {
            name: name.to_owned(),
            offset,
            primitive,
            dimensions,
        });
        return;
    }
    match shape {
        Shape::Struct(descriptor) => {
            for field in &descriptor.fields {
                fields.push(Field {
                    name: format!("{name}.{}", field.name),
                    offset: offset.saturating_add(field.offset),
                    ..field.clone()
                });
            }
        }
        Shape::Array { element, len } => {
            for index in 0..*len {
                let at = offset.saturating_add(index.saturating_mul(element.size()));
                spell_out(fields, &format!("{name}[{index}]"), at, element);
                if fields.len() > MAX_FIELDS {
                    return;
                }
            }
        }
        Shape::Primitive(_) => {}
    }
}

/// A primitive or a (nested) array of primitives as one field's primitive and dimensions.
fn numbers_only(shape: &Shape) -> Option<(Primitive, Vec<usize>)> {
    match shape {
        Shape::Primitive(primitive) => Some((*primitive, Vec::new())),
        Shape::Array { element, len } => {
            let (primitive, mut dimensions) = numbers_only(element)?;
            dimensions.insert(0, *len);
            Some((primitive, dimensions))
        }
        Shape::Struct(_) => None,
    }
}

fn check_name(name: &str) -> Result<(), DescriptorError> {
    if name.is_empty() || name.len() > MAX_NAME_LEN || name.chars().any(char::is_control) {
        return Err(DescriptorError::Name {
            name: name.chars().take(64).collect(),
        });
    }
    Ok(())
}

fn put_u32(out: &mut Vec<u8>, value: usize) {
    out.extend_from_slice(&u32::try_from(value).unwrap_or(u32::MAX).to_le_bytes());
}

fn put_name(out: &mut Vec<u8>, name: &str) {
    let bytes = &name.as_bytes()[..name.len().min(usize::from(u16::MAX))];
    out.extend_from_slice(&(bytes.len() as u16).to_le_bytes());
    out.extend_from_slice(bytes);
}

/// A name of at most [`MAX_NAME_LEN`] bytes, checked.
fn read_name(input: &mut Input<'_, DescriptorError>) -> Result<String, DescriptorError> {
    let len = usize::from(input.u16()?);
    if len > MAX_NAME_LEN {
        return Err(DescriptorError::NameLength { len });
    }
    let name = String::from_utf8_lossy(input.take(len)?).into_owned();
    check_name(&name)?;
    Ok(name)
}

/// A stored type descriptor that cannot be used.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum DescriptorError {
    /// Written in a format this program does not know.
    #[error("the type description is in format version {found}; this program reads version 1")]
    Version {
        /// The version found.
        found: u16,
    },
    /// The byte-order code is unknown.
    #[error(
        "the type description names byte order {found}, which is neither little- nor big-endian"
    )]
    ByteOrder {
        /// The code found.
        found: u8,
    },
    /// It ends too early.
    #[error("the type description ends after {len} bytes, in the middle of the part at byte {at}")]
    Truncated {
        /// Where the missing part starts.
        at: usize,
        /// How long the description is.
        len: usize,
    },
    /// Bytes follow the last field.
    #[error("the type description has {count} bytes after its last field")]
    TrailingBytes {
        /// How many.
        count: usize,
    },
    /// A name is longer than [`MAX_NAME_LEN`].
    #[error("the type description has a name of {len} bytes; names are at most 255")]
    NameLength {
        /// Its length.
        len: usize,
    },
    /// A name is empty, too long or has control characters.
    #[error("the type description has an unusable name {name:?}")]
    Name {
        /// The name (its first 64 characters).
        name: String,
    },
    /// More fields than [`MAX_FIELDS`].
    #[error("the type has {count} fields; at most 1024 are supported")]
    TooManyFields {
        /// How many.
        count: usize,
    },
    /// An unknown primitive code.
    #[error("the type description has a field of unknown primitive type {code}")]
    Primitive {
        /// The code found.
        code: u8,
    },
    /// An array with more than [`MAX_DIMENSIONS`] dimensions.
    #[error("field `{field}` has {rank} array dimensions; at most 8 are supported")]
    TooManyDimensions {
        /// The field.
        field: String,
        /// Its dimensions.
        rank: usize,
    },
    /// A type larger than [`MAX_TYPE_SIZE`].
    #[error("the type is {size} bytes; at most 1 GiB is supported")]
    TypeSize {
        /// Its size.
        size: usize,
    },
    /// An alignment that is not a power of two, or does not divide the size.
    #[error("a type of {size} bytes cannot have an alignment of {align}")]
    Alignment {
        /// The size.
        size: usize,
        /// The alignment.
        align: usize,
    },
    /// A field reaches past the end of the type, or is misaligned.
    #[error(
        "field `{field}` at offset {offset} does not lie aligned inside the type's {size} bytes"
    )]
    FieldOutside {
        /// The field.
        field: String,
        /// Its offset.
        offset: usize,
        /// The type's size.
        size: usize,
    },
    /// Two fields have one name.
    #[error("the type has two fields named `{field}`")]
    DuplicateField {
        /// The name.
        field: String,
    },
}

/// How a stored type differs from the one a reader expects.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Difference {
    /// The names differ.
    Name,
    /// The sizes differ.
    Size {
        /// The stored type's size.
        found: usize,
        /// The expected type's size.
        expected: usize,
    },
    /// The alignments differ.
    Alignment {
        /// The stored type's alignment.
        found: usize,
        /// The expected type's alignment.
        expected: usize,
    },
    /// The writer's byte order is not the reader's.
    ByteOrder {
        /// The writer's.
        found: ByteOrder,
        /// The reader's.
        expected: ByteOrder,
    },
    /// A field the reader expects is not there.
    Missing {
        /// The expected field (`name: type at offset`).
        field: String,
    },
    /// A field the reader does not expect is there.
    Extra {
        /// The stored field.
        field: String,
    },
    /// A field has another type or offset.
    Changed {
        /// The stored field.
        found: String,
        /// The expected field.
        expected: String,
    },
}

impl fmt::Display for Difference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Difference::Name => f.write_str("the names differ"),
            Difference::Size { found, expected } => {
                write!(f, "it is {found} bytes, not {expected}")
            }
            Difference::Alignment { found, expected } => {
                write!(f, "it is aligned to {found} bytes, not {expected}")
            }
            Difference::ByteOrder { found, expected } => {
                write!(f, "its numbers are {found}, this machine's are {expected}")
            }
            Difference::Missing { field } => write!(f, "it has no field `{field}`"),
            Difference::Extra { field } => write!(f, "it has a field `{field}` not expected"),
            Difference::Changed { found, expected } => {
                write!(f, "it has `{found}` where `{expected}` is expected")
            }
        }
    }
}

/// A reader expected one type and the channel carries another.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
#[error("{}", mismatch_sentence(.found, .expected, .differences))]
pub struct SchemaMismatch {
    /// The stored type: `Pose (32 bytes)`.
    pub found: String,
    /// The expected type.
    pub expected: String,
    /// What differs, at least one thing.
    pub differences: Vec<Difference>,
}

fn mismatch_sentence(found: &str, expected: &str, differences: &[Difference]) -> String {
    let listed: Vec<String> = differences.iter().map(ToString::to_string).collect();
    format!(
        "the channel carries {found}, but this reader expects {expected}: {}",
        listed.join("; ")
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn pose() -> TypeDescriptor {
        TypeDescriptor {
            name: "Pose".into(),
            size: 32,
            align: 8,
            byte_order: ByteOrder::Little,
            fields: vec![
                Field {
                    name: "position".into(),
                    offset: 0,
                    primitive: Primitive::F64,
                    dimensions: vec![3],
                },
                Field {
                    name: "heading".into(),
                    offset: 24,
                    primitive: Primitive::F32,
                    dimensions: vec![],
                },
                Field {
                    name: "id".into(),
                    offset: 28,
                    primitive: Primitive::U32,
                    dimensions: vec![],
                },
            ],
        }
    }

    #[test]
    fn a_descriptor_round_trips_through_its_encoding() {
        let descriptor = pose();
        assert_eq!(TypeDescriptor::decode(&descriptor.encode()), Ok(descriptor));
    }

    #[test]
    fn every_truncation_and_extension_is_refused_in_words() {
        let encoded = pose().encode();
        for len in 0..encoded.len() {
            let err = TypeDescriptor::decode(&encoded[..len]).unwrap_err();
            assert!(matches!(err, DescriptorError::Truncated { .. }), "{err}");
        }
        let mut longer = encoded.clone();
        longer.push(0);
        assert_eq!(
            TypeDescriptor::decode(&longer),
            Err(DescriptorError::TrailingBytes { count: 1 })
        );
    }

    #[test]
    fn impossible_layouts_are_refused() {
        let mut outside = pose();
        outside.fields[2].offset = 30;
        assert!(matches!(
            outside.check(),
            Err(DescriptorError::FieldOutside { .. })
        ));
        let mut odd = pose();
        odd.align = 3;
        assert!(matches!(
            odd.check(),
            Err(DescriptorError::Alignment { .. })
        ));
        let mut twice = pose();
        twice.fields[1].name = "id".into();
        assert_eq!(
            twice.check(),
            Err(DescriptorError::DuplicateField { field: "id".into() })
        );
        let mut huge = pose();
        huge.fields[0].dimensions = vec![usize::MAX, 2];
        assert!(huge.check().is_err());
    }

    #[test]
    fn a_mismatch_names_both_types_and_each_difference() {
        let mut other = pose();
        other.name = "PoseV2".into();
        other.size = 40;
        other.fields[2].primitive = Primitive::I32;
        other.fields.push(Field {
            name: "speed".into(),
            offset: 32,
            primitive: Primitive::F64,
            dimensions: vec![],
        });
        let err = pose().check_matches(&other).unwrap_err();
        assert_eq!(
            err.to_string(),
            "the channel carries Pose (32 bytes), but this reader expects PoseV2 (40 bytes): \
             the names differ; it is 32 bytes, not 40; it has `id: u32 at 28` where \
             `id: i32 at 28` is expected; it has no field `speed: f64 at 32`"
        );
        assert_eq!(pose().check_matches(&pose()), Ok(()));
    }

    #[test]
    fn values_are_read_in_either_byte_order_and_formatted_nested() {
        let field = Field {
            name: "grid".into(),
            offset: 0,
            primitive: Primitive::I16,
            dimensions: vec![2, 2],
        };
        let little: Vec<u8> = [1i16, -2, 3, -4]
            .iter()
            .flat_map(|v| v.to_le_bytes())
            .collect();
        let big: Vec<u8> = [1i16, -2, 3, -4]
            .iter()
            .flat_map(|v| v.to_be_bytes())
            .collect();
        let expected: Vec<Number> = [1, -2, 3, -4].map(Number::Signed).to_vec();
        assert_eq!(
            field.values(&little, ByteOrder::Little),
            Some(expected.clone())
        );
        assert_eq!(field.values(&big, ByteOrder::Big), Some(expected.clone()));
        assert_eq!(field.values(&little[..7], ByteOrder::Little), None);
        let mut out = String::new();
        format_nested(&mut out, &field.dimensions, &expected);
        assert_eq!(out, "[[1, -2], [3, -4]]");
        assert_eq!(field.type_name(), "[[i16; 2]; 2]");
    }

    #[test]
    fn every_primitive_reads_its_extremes() {
        let check = |primitive: Primitive, bytes: &[u8], expected: Number| {
            assert_eq!(
                Number::read(primitive, bytes, ByteOrder::Little),
                expected,
                "{primitive}"
            );
        };
        check(Primitive::U8, &[255], Number::Unsigned(255));
        check(Primitive::I8, &[128], Number::Signed(-128));
        check(
            Primitive::U16,
            &u16::MAX.to_le_bytes(),
            Number::Unsigned(65535),
        );
        check(
            Primitive::I16,
            &i16::MIN.to_le_bytes(),
            Number::Signed(-32768),
        );
        check(
            Primitive::U32,
            &u32::MAX.to_le_bytes(),
            Number::Unsigned(u32::MAX.into()),
        );
        check(
            Primitive::I32,
            &i32::MIN.to_le_bytes(),
            Number::Signed(i32::MIN.into()),
        );
        check(
            Primitive::U64,
            &u64::MAX.to_le_bytes(),
            Number::Unsigned(u64::MAX.into()),
        );
        check(
            Primitive::I64,
            &i64::MIN.to_le_bytes(),
            Number::Signed(i64::MIN.into()),
        );
        check(
            Primitive::U128,
            &u128::MAX.to_le_bytes(),
            Number::Unsigned(u128::MAX),
        );
        check(
            Primitive::I128,
            &i128::MIN.to_le_bytes(),
            Number::Signed(i128::MIN),
        );
        check(
            Primitive::F32,
            &(-1.5f32).to_le_bytes(),
            Number::Float32(-1.5),
        );
        check(
            Primitive::F64,
            &f64::MAX.to_le_bytes(),
            Number::Float(f64::MAX),
        );
        for primitive in Primitive::ALL {
            assert_eq!(Primitive::from_code(primitive.code()), Some(primitive));
        }
    }

    proptest! {
        #[test]
        fn any_bytes_decode_without_panicking(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
            let _ = TypeDescriptor::decode(&bytes);
        }

        #[test]
        fn mutated_descriptors_decode_to_checked_ones_or_errors(
            flips in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..8),
        ) {
            let mut bytes = pose().encode();
            for (index, value) in flips {
                let at = index.index(bytes.len());
                bytes[at] = value;
            }
            if let Ok(descriptor) = TypeDescriptor::decode(&bytes) {
                prop_assert_eq!(descriptor.check(), Ok(()));
                let value = vec![0u8; descriptor.size];
                prop_assert!(descriptor.format_value(&value).is_some());
            }
        }
    }
}
