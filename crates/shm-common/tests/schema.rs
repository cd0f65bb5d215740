//! `#[derive(Schema)]` against the compiler's own layout: every primitive, nested arrays,
//! nested structs and arrays of structs, through the stored encoding and back.

use bytemuck::{Pod, Zeroable};
use shm_common::{ByteOrder, Field, Primitive, Schema, TestData, TypeDescriptor};

#[derive(Clone, Copy, Pod, Zeroable, Schema)]
#[repr(C)]
struct EveryPrimitive {
    a_u128: u128,
    a_i128: i128,
    a_u64: u64,
    a_i64: i64,
    a_f64: f64,
    a_u32: u32,
    a_i32: i32,
    a_f32: f32,
    a_u16: u16,
    a_i16: i16,
    a_u8: u8,
    a_i8: i8,
    pad: [u8; 22],
}

#[derive(Clone, Copy, Pod, Zeroable, Schema)]
#[repr(C)]
struct Point {
    x: f32,
    y: f32,
}

#[derive(Clone, Copy, Pod, Zeroable, Schema)]
#[repr(C, align(16))]
#[schema(name = "robot::Path")]
struct Path {
    grid: [[[u16; 2]; 3]; 4],
    origin: Point,
    points: [[Point; 2]; 2],
    count: u32,
    pad: [u8; 4],
}

#[derive(Clone, Copy, Pod, Zeroable, Schema)]
#[repr(C)]
struct Pair(u32, [i8; 4]);

fn field(name: &str, offset: usize, primitive: Primitive, dimensions: &[usize]) -> Field {
    Field {
        name: name.into(),
        offset,
        primitive,
        dimensions: dimensions.to_vec(),
    }
}

#[test]
fn every_primitive_is_described_at_the_compilers_offsets() {
    let descriptor = EveryPrimitive::descriptor();
    assert_eq!(descriptor.size, size_of::<EveryPrimitive>());
    assert_eq!(descriptor.align, align_of::<EveryPrimitive>());
    let primitives: Vec<Primitive> = descriptor.fields.iter().map(|f| f.primitive).collect();
    for primitive in Primitive::ALL {
        assert!(primitives.contains(&primitive), "{primitive} missing");
    }
    let offsets: Vec<usize> = descriptor.fields.iter().map(|f| f.offset).collect();
    assert_eq!(
        offsets,
        [
            std::mem::offset_of!(EveryPrimitive, a_u128),
            std::mem::offset_of!(EveryPrimitive, a_i128),
            std::mem::offset_of!(EveryPrimitive, a_u64),
            std::mem::offset_of!(EveryPrimitive, a_i64),
            std::mem::offset_of!(EveryPrimitive, a_f64),
            std::mem::offset_of!(EveryPrimitive, a_u32),
            std::mem::offset_of!(EveryPrimitive, a_i32),
            std::mem::offset_of!(EveryPrimitive, a_f32),
            std::mem::offset_of!(EveryPrimitive, a_u16),
            std::mem::offset_of!(EveryPrimitive, a_i16),
            std::mem::offset_of!(EveryPrimitive, a_u8),
            std::mem::offset_of!(EveryPrimitive, a_i8),
            std::mem::offset_of!(EveryPrimitive, pad),
        ]
    );
    assert_eq!(TypeDescriptor::decode(&descriptor.encode()), Ok(descriptor));
}

#[test]
fn nested_arrays_and_structs_are_spelled_out_and_round_trip() {
    let descriptor = Path::descriptor();
    assert_eq!(descriptor.name, "robot::Path");
    assert_eq!(descriptor.align, 16);
    assert_eq!(descriptor.size, size_of::<Path>());
    let origin = std::mem::offset_of!(Path, origin);
    let points = std::mem::offset_of!(Path, points);
    assert_eq!(
        descriptor.fields,
        [
            field("grid", 0, Primitive::U16, &[4, 3, 2]),
            field("origin.x", origin, Primitive::F32, &[]),
            field("origin.y", origin + 4, Primitive::F32, &[]),
            field("points[0][0].x", points, Primitive::F32, &[]),
            field("points[0][0].y", points + 4, Primitive::F32, &[]),
            field("points[0][1].x", points + 8, Primitive::F32, &[]),
            field("points[0][1].y", points + 12, Primitive::F32, &[]),
            field("points[1][0].x", points + 16, Primitive::F32, &[]),
            field("points[1][0].y", points + 20, Primitive::F32, &[]),
            field("points[1][1].x", points + 24, Primitive::F32, &[]),
            field("points[1][1].y", points + 28, Primitive::F32, &[]),
            field(
                "count",
                std::mem::offset_of!(Path, count),
                Primitive::U32,
                &[]
            ),
            field("pad", std::mem::offset_of!(Path, pad), Primitive::U8, &[4]),
        ]
    );
    assert_eq!(descriptor.fields[0].type_name(), "[[[u16; 2]; 3]; 4]");
    assert_eq!(descriptor.check(), Ok(()));
    assert_eq!(TypeDescriptor::decode(&descriptor.encode()), Ok(descriptor));
}

#[test]
fn a_value_is_formatted_field_by_field_from_its_descriptor_alone() {
    let mut path = Path::zeroed();
    path.grid[3][2][1] = 7;
    path.origin = Point { x: 1.5, y: -2.0 };
    path.points[1][0].y = 0.25;
    path.count = 4;
    let stored = TypeDescriptor::decode(&Path::descriptor().encode()).unwrap();
    let line = stored.format_value(bytemuck::bytes_of(&path)).unwrap();
    assert!(
        line.starts_with("grid=[[[0, 0], [0, 0], [0, 0]], "),
        "{line}"
    );
    assert!(line.contains("[0, 0], [0, 7]]]"), "{line}");
    assert!(line.contains(",origin.x=1.5,origin.y=-2,"), "{line}");
    assert!(line.contains(",points[1][0].y=0.25,"), "{line}");
    assert!(line.contains(",count=4,"), "{line}");
    assert_eq!(stored.format_value(&[0; 3]), None);
}

#[test]
fn tuple_structs_name_fields_by_position() {
    let descriptor = Pair::descriptor();
    assert_eq!(
        descriptor.fields,
        [
            field("0", 0, Primitive::U32, &[]),
            field("1", 4, Primitive::I8, &[4]),
        ]
    );
}

#[test]
fn the_seed_struct_is_described_as_it_was_laid_out() {
    let descriptor = TestData::descriptor();
    assert_eq!(descriptor.name, "TestData");
    assert_eq!(descriptor.size, 48);
    assert_eq!(descriptor.byte_order, ByteOrder::NATIVE);
    assert_eq!(
        descriptor.fields,
        [
            field("id", 0, Primitive::I32, &[]),
            field("age", 4, Primitive::I32, &[]),
            field("scores", 8, Primitive::I32, &[10]),
        ]
    );
    let line = descriptor
        .format_value(bytemuck::bytes_of(&TestData::default()))
        .unwrap();
    assert_eq!(
        line,
        "id=100,age=20,scores=[60, 61, 62, 63, 64, 65, 66, 67, 68, 69]"
    );
}

#[test]
fn a_huge_array_of_structs_is_cut_off_and_refused_not_spelled_out() {
    #[derive(Clone, Copy, Pod, Zeroable, Schema)]
    #[repr(C)]
    struct Cloud {
        points: [Point; 100_000],
    }
    let descriptor = Cloud::descriptor();
    assert!(descriptor.fields.len() <= shm_common::schema::MAX_FIELDS + 2);
    assert!(descriptor.check().is_err());
}
