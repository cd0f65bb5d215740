//! The real Writer and Reader apps, driven by label through egui_kittest, talking over a real
//! segment with a unique name. No GPU: kittest runs the UI logic and its accessibility tree.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use egui::Key;
use egui_kittest::Harness;
use egui_kittest::kittest::{NodeT, Queryable};
use shm_common::{Capacity, CreationMode, RecordKind, SegmentLocation, Writer};
use shm_reader::{ReaderApp, ReaderOptions};
use shm_testkit::{Corpus, Expect, TestSegment};
use shm_writer::{WriterApp, WriterOptions};

fn writer_app(location: &SegmentLocation, capacity: Capacity) -> Harness<'static, WriterApp> {
    let options = WriterOptions {
        location: location.clone(),
        capacity,
        ..WriterOptions::default()
    };
    Harness::builder()
        .with_size([1100.0, 720.0])
        .with_context_setup(shm_ui::install_cjk_font)
        .build_eframe(move |cc| WriterApp::new(cc, options))
}

fn reader_app(location: &SegmentLocation) -> Harness<'static, ReaderApp> {
    let options = ReaderOptions {
        location: location.clone(),
        ..ReaderOptions::default()
    };
    Harness::builder()
        .with_size([1100.0, 720.0])
        .with_context_setup(shm_ui::install_cjk_font)
        .build_eframe(move |cc| ReaderApp::new(cc, options))
}

/// A plain library writer, for tests where the Writer window is not the point.
fn library_writer(location: &SegmentLocation, capacity: Capacity) -> Writer {
    Writer::create(location, CreationMode::CreateOrOpen, capacity).unwrap()
}

/// The bytes of a picture of the bundled corpus.
fn bundled_bytes(name: &str) -> Vec<u8> {
    std::fs::read(&Corpus::bundled().find(name).path).unwrap()
}

/// Steps the app until `shown` holds: the Reader's worker answers on its own thread.
#[track_caller]
fn wait_for<S>(harness: &mut Harness<'_, S>, what: &str, shown: impl Fn(&Harness<'_, S>) -> bool) {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        harness.step();
        if shown(harness) {
            harness.run();
            return;
        }
        assert!(
            Instant::now() < deadline,
            "timed out waiting for {what}; the window shows: {:?}",
            labels(harness)
        );
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// Every label in the window, for failure messages.
fn labels<S>(harness: &Harness<'_, S>) -> Vec<String> {
    harness
        .query_all_by(|node| {
            node.label().is_some_and(|label| !label.is_empty()) || node.value().is_some()
        })
        .filter_map(|node| {
            node.accesskit_node()
                .label()
                .or_else(|| node.accesskit_node().value())
        })
        .collect()
}

fn shows<S>(harness: &Harness<'_, S>, text: &str) -> bool {
    harness.query_all_by_label_contains(text).next().is_some()
}

#[track_caller]
fn assert_shows<S>(harness: &Harness<'_, S>, text: &str) {
    assert!(shows(harness, text), "the window does not show '{text}'");
}

fn path_box<S>(harness: &Harness<'_, S>) -> String {
    harness.get_by_label("图片路径").value().unwrap_or_default()
}

/// Types a path into the Writer's path box and presses Enter, as a person would.
fn type_path(writer: &mut Harness<'_, WriterApp>, path: &Path) {
    writer.get_by_label("图片路径").focus();
    writer.run();
    writer.key_press_modifiers(egui::Modifiers::COMMAND, Key::A);
    writer.run();
    writer
        .get_by_label("图片路径")
        .type_text(&path.display().to_string());
    writer.run();
    writer.key_press(Key::Enter);
    writer.run();
}

fn valid_pictures(corpus: &Corpus) -> Vec<(PathBuf, u32, u32)> {
    corpus
        .entries
        .iter()
        .filter(|entry| entry.expect == Expect::Ok)
        .map(|entry| {
            (
                entry.path.clone(),
                entry.width.unwrap(),
                entry.height.unwrap(),
            )
        })
        .collect()
}

#[test]
fn pictures_sent_by_the_writer_show_in_the_reader_with_their_path_and_size() {
    let segment = TestSegment::new("apps-pictures");
    let mut writer = writer_app(&segment.location, Capacity::Default);
    let mut reader = reader_app(&segment.location);
    let corpus = Corpus::best("pictures_sent_by_the_writer_show_in_the_reader");
    let pictures = valid_pictures(&corpus);
    assert!(
        pictures.len() >= 9,
        "too few pictures in {}",
        corpus.root.display()
    );
    for (path, width, height) in &pictures {
        type_path(&mut writer, path);
        assert_shows(&writer, "已打开");
        writer.get_by_label("咻一下").click();
        writer.run();
        assert_shows(&writer, "已发送");

        reader.get_by_label("咻一下").click();
        let expected_path = path.display().to_string();
        let pixels = format!("{width} × {height}");
        wait_for(&mut reader, &expected_path, |reader| {
            path_box(reader) == expected_path && shows(reader, &pixels)
        });
    }
    println!(
        "{} pictures from {} went Writer -> Reader",
        pictures.len(),
        corpus.root.display()
    );
}

#[test]
fn the_struct_round_trips_with_the_original_text_and_edited_fields() {
    let segment = TestSegment::new("apps-struct");
    let mut writer = writer_app(&segment.location, Capacity::Default);
    let mut reader = reader_app(&segment.location);
    wait_for(&mut reader, "the connection", |reader| {
        shows(reader, "已连接")
    });

    // Before anything was sent: the popup says so.
    reader.get_by_label("Struct").click();
    wait_for(&mut reader, "the empty popup", |reader| {
        shows(reader, "尚未发送结构体")
    });
    reader.get_by_label("确定").click();
    reader.run();
    assert!(!shows(&reader, "尚未发送结构体"), "the popup did not close");

    writer.get_by_label("Struct").click();
    writer.run();
    reader.get_by_label("Struct").click();
    wait_for(&mut reader, "the popup", |reader| {
        reader
            .query_all_by_label("Id=100,Age=20,Scores=60,61,62,63,64,65,66,67,68,69")
            .count()
            == 2
    });
    reader.get_by_label("确定").click();
    reader.run();

    for (field, value) in [
        ("Id", "7"),
        ("Age", "33"),
        ("Scores[0]", "-1"),
        ("Scores[9]", "2147483647"),
    ] {
        writer.get_by_label(field).focus();
        writer.run();
        writer.key_press_modifiers(egui::Modifiers::COMMAND, Key::A);
        writer.get_by_label(field).type_text(value);
        writer.run();
    }
    writer.get_by_label("Struct").click();
    writer.run();
    assert_shows(&writer, "已发送结构体 Id=7,Age=33");
    reader.get_by_label("Struct").click();
    wait_for(&mut reader, "the edited struct", |reader| {
        reader
            .query_all_by_label("Id=7,Age=33,Scores=-1,61,62,63,64,65,66,67,68,2147483647")
            .next()
            .is_some()
    });

    // A field that is not a number is refused in words, and nothing is sent.
    writer.get_by_label("Age").focus();
    writer.run();
    writer.key_press_modifiers(egui::Modifiers::COMMAND, Key::A);
    writer.get_by_label("Age").type_text("twenty");
    writer.run();
    writer.get_by_label("Struct").click();
    writer.run();
    assert_shows(&writer, "Age 必须是");
}

#[test]
fn a_chinese_path_round_trips_and_renders() {
    let segment = TestSegment::new("apps-cjk");
    let dir = tempfile::tempdir().unwrap();
    let folder = dir.path().join("图片");
    std::fs::create_dir(&folder).unwrap();
    let picture = folder.join("猫咪 照片.png");
    std::fs::copy(&Corpus::bundled().find("basn2c08.png").path, &picture).unwrap();

    let mut writer = writer_app(&segment.location, Capacity::Default);
    let mut reader = reader_app(&segment.location);
    type_path(&mut writer, &picture);
    writer.get_by_label("咻一下").click();
    writer.run();
    reader.get_by_label("咻一下").click();
    let expected = picture.display().to_string();
    wait_for(&mut reader, "the CJK path", |reader| {
        path_box(reader) == expected
    });
    assert_shows(&reader, "32 × 32");
}

#[test]
fn live_mode_shows_a_new_picture_without_a_click() {
    let segment = TestSegment::new("apps-live");
    let mut writer = writer_app(&segment.location, Capacity::Default);
    let mut reader = reader_app(&segment.location);
    reader.get_by_label("实时").click();
    reader.run();

    let corpus = Corpus::bundled();
    for name in ["hopper.gif", "rgb24.bmp"] {
        let entry = corpus.find(name);
        type_path(&mut writer, &entry.path);
        writer.get_by_label("咻一下").click();
        writer.run();
        let expected = entry.path.display().to_string();
        wait_for(&mut reader, &expected, |reader| {
            path_box(reader) == expected
        });
    }
    // A struct sent in live mode shows up in the details by itself too.
    writer.get_by_label("Struct").click();
    writer.run();
    wait_for(&mut reader, "the live struct", |reader| {
        shows(reader, "Id=100,Age=20,Scores=60,61,62,63,64,65,66,67,68,69")
    });
}

#[test]
fn writer_errors_are_sentences_and_keep_the_current_picture() {
    let segment = TestSegment::new("apps-writer-errors");
    let corpus = Corpus::bundled();
    let mut writer = writer_app(&segment.location, Capacity::AtLeast(4096));
    assert_shows(&writer, "每张图片最多 4 KiB");

    writer.get_by_label("咻一下").click();
    writer.run();
    assert_shows(&writer, "请先选择一张图片");

    let small = corpus.find("basn2c08.png").path.clone();
    type_path(&mut writer, &small);
    writer.get_by_label("咻一下").click();
    writer.run();
    assert_shows(&writer, "已发送");

    type_path(&mut writer, Path::new("/no/such/picture.png"));
    assert_shows(&writer, "文件 '/no/such/picture.png' 不存在");

    let text = corpus.find("not-an-image.png").path.clone();
    type_path(&mut writer, &text);
    assert_shows(&writer, "不是可以显示的图片");
    assert_shows(&writer, "not a picture in any format");

    let empty = corpus.find("empty.png").path.clone();
    type_path(&mut writer, &empty);
    assert_shows(&writer, "the picture is empty");

    let folder = corpus.root.clone();
    type_path(&mut writer, &folder);
    assert_shows(&writer, "是文件夹，不是图片文件");

    // The picture on screen is still the small one, which still sends.
    assert!(
        writer
            .query_by_label(&small.display().to_string())
            .is_some()
    );
    let large = corpus.find("hopper.gif").path.clone();
    type_path(&mut writer, &large);
    writer.get_by_label("咻一下").click();
    writer.run();
    assert_shows(&writer, "最多容纳 4 KiB；请用 --capacity 1MiB 启动 Writer");
    assert_shows(&writer, "图片有 15");

    let mut reader = reader_app(&segment.location);
    reader.get_by_label("咻一下").click();
    let expected = small.display().to_string();
    wait_for(&mut reader, "the earlier picture", |reader| {
        path_box(reader) == expected
    });
}

#[test]
fn a_second_writer_is_told_who_holds_the_segment() {
    let segment = TestSegment::new("apps-rival");
    let _first = writer_app(&segment.location, Capacity::Default);
    let mut second = writer_app(&segment.location, Capacity::Default);
    let pid = std::process::id();
    assert_shows(&second, &format!("另一个 Writer（pid {pid}）正在使用"));
    second.get_by_label("Struct").click();
    second.run();
    assert_shows(&second, "请先关闭它");
}

#[test]
fn the_reader_waits_for_a_writer_and_follows_it_across_restarts() {
    let segment = TestSegment::new("apps-reconnect");
    let mut reader = reader_app(&segment.location);
    wait_for(&mut reader, "the waiting line", |reader| {
        shows(reader, "正在等待 Writer 创建")
    });
    reader.get_by_label("咻一下").click();
    wait_for(&mut reader, "the no-Writer error", |reader| {
        shows(reader, "还没有 Writer")
    });

    let mut first = library_writer(&segment.location, Capacity::Default);
    wait_for(&mut reader, "the connection", |reader| {
        shows(reader, "已连接")
    });
    first
        .send_image("/first.png", &bundled_bytes("basn2c08.png"))
        .unwrap();
    drop(first);
    wait_for(&mut reader, "the exit", |reader| {
        shows(reader, "Writer 已退出")
    });

    let mut second = library_writer(&segment.location, Capacity::Default);
    wait_for(&mut reader, "the reconnection", |reader| {
        shows(reader, "新的 Writer (pid")
    });
    second
        .send_image("/second.png", &bundled_bytes("basn6a08.png"))
        .unwrap();
    reader.get_by_label("咻一下").click();
    wait_for(&mut reader, "the new Writer's picture", |reader| {
        path_box(reader) == "/second.png"
    });
}

#[test]
fn undecodable_bytes_are_named_and_the_previous_picture_stays() {
    let segment = TestSegment::new("apps-undecodable");
    let corpus = Corpus::bundled();
    let mut writer = library_writer(&segment.location, Capacity::Default);
    let mut reader = reader_app(&segment.location);

    reader.get_by_label("咻一下").click();
    wait_for(&mut reader, "the nothing-sent error", |reader| {
        shows(reader, "尚未发送图片")
    });

    let good = corpus.find("hopper.jpg");
    writer
        .send_image("/good.jpg", &std::fs::read(&good.path).unwrap())
        .unwrap();
    reader.get_by_label("咻一下").click();
    wait_for(&mut reader, "the good picture", |reader| {
        path_box(reader) == "/good.jpg"
    });

    for bad in [
        "bricks-dither.truncated-half.png",
        "not-an-image.png",
        "bomb-100000x100000-rgba8.png",
    ] {
        let bytes = std::fs::read(&corpus.find(bad).path).unwrap();
        writer.send_image(&format!("/{bad}"), &bytes).unwrap();
        reader.get_by_label("咻一下").click();
        wait_for(&mut reader, bad, |reader| {
            shows(reader, &format!("'/{bad}' 不是可以显示的图片"))
        });
        assert_eq!(
            path_box(&reader),
            "/good.jpg",
            "the previous picture must stay"
        );
        assert_shows(&reader, "128 × 128");
    }
    assert_shows(&reader, "declares 100000x100000 pixels");
}

#[test]
fn english_labels_are_one_click_away() {
    let segment = TestSegment::new("apps-english");
    let mut writer = writer_app(&segment.location, Capacity::Default);
    writer.get_by_label("English").click();
    writer.run();
    for label in ["Browse…", "Whoosh!", "Struct", "Stretch", "Picture path"] {
        assert_shows(&writer, label);
    }
    let mut reader = reader_app(&segment.location);
    reader.get_by_label("English").click();
    reader.run();
    reader.get_by_label("Struct").click();
    wait_for(&mut reader, "the English popup", |reader| {
        reader.query_by_label("no struct sent yet").is_some()
    });
    assert_shows(&reader, "Live");
}

#[derive(Debug)]
struct DroppedPath(PathBuf);

impl egui::DroppedFile for DroppedPath {
    fn path(&self) -> &Path {
        &self.0
    }

    fn bytes(&self) -> Result<Vec<u8>, String> {
        std::fs::read(&self.0).map_err(|err| err.to_string())
    }
}

#[test]
fn a_picture_dropped_on_the_writer_opens() {
    let segment = TestSegment::new("apps-drop");
    let mut writer = writer_app(&segment.location, Capacity::Default);
    let picture = Corpus::bundled().find("hippopotamus.tiff").path.clone();
    writer
        .input_mut()
        .dropped_files
        .push(Arc::new(DroppedPath(picture.clone())));
    writer.run();
    assert_shows(&writer, "已打开");
    assert_shows(&writer, "TIFF，36×28 像素");
    assert_eq!(path_box(&writer), picture.display().to_string());
}

#[test]
fn without_a_dialog_backend_the_writer_says_so() {
    let has_backend = std::env::var_os("DBUS_SESSION_BUS_ADDRESS").is_some()
        || std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default())
            .any(|dir| dir.join("zenity").is_file());
    if has_backend {
        println!(
            "without_a_dialog_backend_the_writer_says_so: skipped, this machine has a D-Bus session or zenity"
        );
        return;
    }
    let segment = TestSegment::new("apps-nodialog");
    let mut writer = writer_app(&segment.location, Capacity::Default);
    writer.get_by_label("浏览…").click();
    wait_for(&mut writer, "the no-dialog note", |writer| {
        shows(writer, "此系统没有可用的文件对话框")
    });
}

#[test]
fn a_picture_named_on_the_command_line_opens_and_travels_byte_for_byte() {
    let segment = TestSegment::new("apps-cli-arg");
    let picture = Corpus::bundled().find("peacock.default.jpeg").path.clone();
    let options = WriterOptions {
        location: segment.location.clone(),
        picture: Some(picture.clone()),
        ..WriterOptions::default()
    };
    let mut writer = Harness::builder()
        .with_size([1100.0, 720.0])
        .with_context_setup(shm_ui::install_cjk_font)
        .build_eframe(move |cc| WriterApp::new(cc, options));
    assert_shows(&writer, "JPEG，100×75 像素");
    writer.get_by_label("咻一下").click();
    writer.run();
    let mut reader = shm_common::Reader::open(&segment.location).unwrap();
    let (image, _) = reader.latest_image().unwrap().unwrap();
    assert_eq!(image.path, picture.display().to_string());
    assert_eq!(
        image.bytes,
        std::fs::read(&picture).unwrap(),
        "the file's bytes, not re-encoded"
    );
}

#[test]
fn pictures_beyond_the_texture_limit_are_shown_scaled_down() {
    let segment = TestSegment::new("apps-downscale");
    let mut writer = library_writer(&segment.location, Capacity::Default);
    let mut reader = reader_app(&segment.location);
    reader.input_mut().max_texture_side = Some(1024);
    reader.run();
    let wide = image::RgbaImage::from_pixel(1500, 300, image::Rgba([200, 30, 30, 255]));
    let mut png = std::io::Cursor::new(Vec::new());
    wide.write_to(&mut png, image::ImageFormat::Png).unwrap();
    writer.send_image("/wide.png", png.get_ref()).unwrap();
    reader.get_by_label("咻一下").click();
    wait_for(&mut reader, "the scaled-down picture", |reader| {
        shows(reader, "已缩小")
    });
    assert_shows(&reader, "1500 × 300");
}

#[test]
fn the_reader_reports_a_damaged_segment_in_words() {
    use std::os::unix::fs::FileExt;
    let dir = tempfile::tempdir().unwrap();
    let location = SegmentLocation::File(dir.path().join("segment"));
    let mut writer = library_writer(&location, Capacity::AtLeast(4096));
    writer
        .send_image("/ok.png", &bundled_bytes("basn2c08.png"))
        .unwrap();
    drop(writer);
    let poke = |offset: u64, bytes: &[u8]| {
        let file = std::fs::OpenOptions::new()
            .write(true)
            .open(dir.path().join("segment"))
            .unwrap();
        file.write_all_at(bytes, offset).unwrap();
    };
    // The record's length field (record 1, buffer 1 of the picture slot).
    poke(
        shm_testkit::offsets::length_field(RecordKind::Image, 1),
        &u64::MAX.to_le_bytes(),
    );
    let mut reader = reader_app(&location);
    wait_for(&mut reader, "the connection", |reader| {
        shows(reader, "已打开共享内存文件")
    });
    reader.get_by_label("咻一下").click();
    wait_for(&mut reader, "the corruption report", |reader| {
        shows(reader, "exceeds the capacity")
    });

    poke(0, b"NOTOURS!");
    let mut fresh = reader_app(&location);
    wait_for(&mut fresh, "the foreign segment report", |reader| {
        shows(reader, "not a segment of ours")
    });
}
