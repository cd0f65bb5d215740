//! The real Writer and Reader apps, driven by label through egui_kittest, talking over a real
//! segment with a unique name. No GPU: kittest runs the UI logic and its accessibility tree.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use egui::Key;
use egui::accesskit::Role;
use egui_kittest::Harness;
use egui_kittest::kittest::{NodeT, Queryable};
use shm_common::{
    Capacity, CreationMode, FrameHeader, PixelFormat, RecordKind, SegmentLocation, TestData, Writer,
};
use shm_reader::{ReaderApp, ReaderOptions};
use shm_testkit::pictures::{jpeg_with_orientation, png};
use shm_testkit::{Corpus, Expect, TestSegment};
use shm_writer::{DialogChoice, WriterApp, WriterOptions};

const WINDOW: [f32; 2] = [1100.0, 720.0];

fn writer_with(options: WriterOptions, size: [f32; 2]) -> Harness<'static, WriterApp> {
    let options = WriterOptions {
        dialog: DialogChoice::InApp,
        ..options
    };
    Harness::builder()
        .with_size(size)
        .with_context_setup(shm_ui::install_cjk_font)
        .build_eframe(move |cc| WriterApp::new(cc, options))
}

fn writer_app(location: &SegmentLocation, capacity: Capacity) -> Harness<'static, WriterApp> {
    let options = WriterOptions {
        location: location.clone(),
        capacity,
        ..WriterOptions::default()
    };
    let mut writer = writer_with(options, WINDOW);
    wait_for(&mut writer, "the segment line", |writer| {
        shows(writer, "共享内存段") || shows(writer, "另一个 Writer")
    });
    writer
}

fn reader_sized(location: &SegmentLocation, size: [f32; 2]) -> Harness<'static, ReaderApp> {
    let options = ReaderOptions {
        location: location.clone(),
        ..ReaderOptions::default()
    };
    Harness::builder()
        .with_size(size)
        .with_context_setup(shm_ui::install_cjk_font)
        .build_eframe(move |cc| ReaderApp::new(cc, options))
}

fn reader_app(location: &SegmentLocation) -> Harness<'static, ReaderApp> {
    reader_sized(location, WINDOW)
}

/// A plain library writer, for tests where the Writer window is not the point.
fn library_writer(location: &SegmentLocation, capacity: Capacity) -> Writer {
    Writer::create(location, CreationMode::CreateOrOpen, capacity).unwrap()
}

/// The bytes of a picture of the bundled corpus.
fn bundled_bytes(name: &str) -> Vec<u8> {
    std::fs::read(&Corpus::bundled().find(name).path).unwrap()
}

/// Steps the app until `shown` holds: the workers answer on their own threads.
#[track_caller]
fn wait_for<S>(harness: &mut Harness<'_, S>, what: &str, shown: impl Fn(&Harness<'_, S>) -> bool) {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        harness.step();
        if shown(harness) {
            harness.run_ok();
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
    assert!(
        shows(harness, text),
        "the window does not show '{text}': {:?}",
        labels(harness)
    );
}

fn path_box<S>(harness: &Harness<'_, S>) -> String {
    harness.get_by_label("图片路径").value().unwrap_or_default()
}

/// Replaces the text of the field labelled `label`, as a person would.
fn retype<S>(harness: &mut Harness<'_, S>, label: &str, text: &str) {
    harness.get_by_label(label).focus();
    harness.run_ok();
    harness.key_press_modifiers(egui::Modifiers::COMMAND, Key::A);
    harness.run_ok();
    if text.is_empty() {
        harness.key_press(Key::Backspace);
    } else {
        harness.get_by_label(label).type_text(text);
    }
    harness.run_ok();
}

/// Types a path into the Writer's path box and presses Enter.
fn type_path(writer: &mut Harness<'_, WriterApp>, text: &str) {
    retype(writer, "图片路径", text);
    writer.key_press(Key::Enter);
    writer.run_ok();
}

/// Types a path, presses Enter and waits until it is opened (or refused).
fn open_path(writer: &mut Harness<'_, WriterApp>, path: &Path) {
    type_path(writer, &path.display().to_string());
    // Every answer to an open names the path in quotes: opened, missing, not a picture...
    let quoted = format!("'{}'", path.display());
    wait_for(writer, &quoted, |writer| shows(writer, &quoted));
}

/// Clicks 咻一下 in the Writer and waits for its answer in the status line.
fn whoosh(writer: &mut Harness<'_, WriterApp>) {
    let before = labels(writer);
    writer.get_by_label("咻一下").click();
    wait_for(writer, "the answer to 咻一下", |writer| {
        labels(writer)
            .iter()
            .any(|label| label.contains("发送") && !before.contains(label))
    });
}

/// The picture view's scale, as it tells screen readers: `适应窗口 38%`, `100%`.
fn zoom<S>(harness: &Harness<'_, S>, name: &str) -> String {
    harness
        .get_by_role_and_label(Role::Image, name)
        .value()
        .unwrap_or_default()
}

/// The on-screen rectangle of the picture named `name`.
fn picture_rect<S>(harness: &Harness<'_, S>, name: &str) -> egui::Rect {
    harness.get_by_role_and_label(Role::Image, name).rect()
}

fn valid_pictures(corpus: &Corpus) -> Vec<(PathBuf, u32, u32)> {
    corpus
        .entries
        .iter()
        .filter(|entry| entry.expect == Expect::Ok && !entry.relative.contains("portrait"))
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
        open_path(&mut writer, path);
        assert_shows(&writer, "已打开");
        whoosh(&mut writer);
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
    reader.run_ok();
    assert!(!shows(&reader, "尚未发送结构体"), "the popup did not close");

    writer.get_by_label("Struct").click();
    wait_for(&mut writer, "the struct sent", |writer| {
        shows(writer, "已发送结构体")
    });
    reader.get_by_label("Struct").click();
    wait_for(&mut reader, "the popup", |reader| {
        reader
            .query_all_by_label("Id=100,Age=20,Scores=60,61,62,63,64,65,66,67,68,69")
            .count()
            == 2
    });
    reader.get_by_label("确定").click();
    reader.run_ok();

    for (field, value) in [
        ("Id", "7"),
        ("Age", "33"),
        ("Scores[0]", "-1"),
        ("Scores[9]", "2147483647"),
    ] {
        retype(&mut writer, field, value);
    }
    writer.get_by_label("Struct").click();
    wait_for(&mut writer, "the edited struct sent", |writer| {
        shows(writer, "已发送结构体 Id=7,Age=33")
    });
    reader.get_by_label("Struct").click();
    wait_for(&mut reader, "the edited struct", |reader| {
        shows(
            reader,
            "Id=7,Age=33,Scores=-1,61,62,63,64,65,66,67,68,2147483647",
        )
    });
}

#[test]
fn every_invalid_struct_field_is_outlined_with_its_own_message_and_nothing_is_sent() {
    let segment = TestSegment::new("apps-fields");
    let mut writer = writer_app(&segment.location, Capacity::Default);
    retype(&mut writer, "Age", "twenty");
    retype(&mut writer, "Scores[3]", "99999999999");
    retype(&mut writer, "Scores[7]", "");
    writer.get_by_label("Struct").click();
    writer.run_ok();
    assert_shows(&writer, "没有发送结构体：有 3 个字段不是整数");
    assert_shows(&writer, "不是整数");
    assert_shows(&writer, "超出 -2147483648 到 2147483647");
    assert_shows(&writer, "请填写一个整数");
    let mut reader = shm_common::Reader::open(&segment.location).unwrap();
    assert!(
        reader.latest_struct().unwrap().is_none(),
        "nothing was sent"
    );

    // Any i32 fits and goes, the extremes included.
    for (field, value) in [
        ("Age", "-2147483648"),
        ("Scores[3]", "2147483647"),
        ("Scores[7]", "0"),
    ] {
        retype(&mut writer, field, value);
    }
    writer.get_by_label("Struct").click();
    wait_for(&mut writer, "the struct sent", |writer| {
        shows(writer, "已发送结构体")
    });
    let (data, _) = reader.latest_struct().unwrap().unwrap();
    assert_eq!((data.age, data.scores[3]), (i32::MIN, i32::MAX));
}

#[test]
fn the_struct_editor_scrolls_in_a_small_window() {
    let segment = TestSegment::new("apps-small");
    let options = WriterOptions {
        location: segment.location.clone(),
        ..WriterOptions::default()
    };
    let mut writer = writer_with(options, [420.0, 300.0]);
    writer.run_ok();
    let bottom = writer.get_by_label("Struct").rect().bottom();
    assert!(
        bottom > 300.0,
        "the button starts below the window ({bottom})"
    );
    writer.get_by_label("Struct").scroll_to_me();
    writer.run_ok();
    let rect = writer.get_by_label("Struct").rect();
    assert!(rect.bottom() <= 300.0, "scrolled into view: {rect:?}");
    writer.get_by_label("Struct").click();
    wait_for(&mut writer, "the struct sent", |writer| {
        shows(writer, "已发送结构体")
    });
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
    open_path(&mut writer, &picture);
    whoosh(&mut writer);
    reader.get_by_label("咻一下").click();
    let expected = picture.display().to_string();
    wait_for(&mut reader, "the CJK path", |reader| {
        path_box(reader) == expected
    });
    assert_shows(&reader, "32 × 32");
}

#[test]
fn pasted_paths_with_quotes_tilde_or_file_uri_open_as_absolute_paths() {
    let segment = TestSegment::new("apps-paste");
    let dir = tempfile::tempdir().unwrap();
    let picture = dir.path().join("a b 图.png");
    std::fs::copy(&Corpus::bundled().find("basn2c08.png").path, &picture).unwrap();
    let shown = picture.display().to_string();
    let mut writer = writer_app(&segment.location, Capacity::Default);

    type_path(&mut writer, &format!("\"{shown}\""));
    wait_for(&mut writer, "the quoted path", |writer| {
        shows(writer, &format!("已打开 '{shown}'"))
    });
    assert_eq!(path_box(&writer), shown);

    let uri = format!(
        "file://{}",
        shown.replace(' ', "%20").replace('图', "%E5%9B%BE")
    );
    type_path(&mut writer, &uri);
    writer.run_ok();
    wait_for(&mut writer, "the URI", |writer| path_box(writer) == shown);

    // `~` is the home directory.
    let home = shm_writer::parse_path_input("~/x.png", Some(Path::new("/home/me")));
    assert_eq!(home, Some(PathBuf::from("/home/me/x.png")));

    // Enter on an empty box says what to do.
    type_path(&mut writer, "   ");
    assert_shows(&writer, "请先在“图片路径”中输入图片的路径");
}

#[test]
fn live_mode_shows_a_new_picture_without_a_click() {
    let segment = TestSegment::new("apps-live");
    let mut writer = writer_app(&segment.location, Capacity::Default);
    let mut reader = reader_app(&segment.location);
    reader.get_by_label("实时").click();
    reader.run_ok();

    let corpus = Corpus::bundled();
    for name in ["hopper.gif", "rgb24.bmp"] {
        let entry = corpus.find(name);
        open_path(&mut writer, &entry.path);
        whoosh(&mut writer);
        let expected = entry.path.display().to_string();
        wait_for(&mut reader, &expected, |reader| {
            path_box(reader) == expected
        });
    }
    // A struct sent in live mode shows up in the details by itself too, as a table.
    writer.get_by_label("Struct").click();
    writer.run_ok();
    wait_for(&mut reader, "the live struct", |reader| {
        shows(reader, "Id=100,Age=20,Scores=60,61,62,63,64,65,66,67,68,69")
    });
    assert_shows(&reader, "Scores[9]");
    // Live counts what arrived.
    assert_shows(&reader, "图片 2，结构体 1，视频帧 0");
}

#[test]
fn a_failed_open_clears_the_picture_and_whoosh_then_sends_nothing() {
    let segment = TestSegment::new("apps-failed-open");
    let corpus = Corpus::bundled();
    let mut writer = writer_app(&segment.location, Capacity::Default);

    writer.get_by_label("咻一下").click();
    writer.run_ok();
    assert_shows(&writer, "没有发送任何内容：请先选择一张图片");

    let good = corpus.find("basn2c08.png").path.clone();
    open_path(&mut writer, &good);
    whoosh(&mut writer);
    assert_shows(&writer, "已发送");
    assert!(
        writer
            .query_by_role_and_label(Role::Image, &good.display().to_string())
            .is_some()
    );

    // A file that is not a picture: the error takes the picture's place.
    let text = corpus.find("not-an-image.png").path.clone();
    open_path(&mut writer, &text);
    assert_shows(&writer, "不是可以显示的图片");
    assert_shows(&writer, "这些字节不是本程序能读取的任何格式的图片");
    assert!(
        writer
            .query_by_role_and_label(Role::Image, &good.display().to_string())
            .is_none(),
        "the old picture is gone"
    );
    assert_eq!(path_box(&writer), text.display().to_string());
    whoosh(&mut writer);
    assert_shows(&writer, "没有发送任何内容：'");

    for (path, words) in [
        (
            PathBuf::from("/no/such/picture.png"),
            "文件 '/no/such/picture.png' 不存在",
        ),
        (
            corpus.find("empty.png").path.clone(),
            "图片是空的（0 字节）",
        ),
        (corpus.root.clone(), "是文件夹，不是图片文件"),
    ] {
        open_path(&mut writer, &path);
        assert_shows(&writer, words);
    }

    // The Reader still has the one good picture: nothing else went out.
    let mut reader = reader_app(&segment.location);
    reader.get_by_label("咻一下").click();
    let expected = good.display().to_string();
    wait_for(&mut reader, "the earlier picture", |reader| {
        path_box(reader) == expected
    });
    let info = shm_common::Reader::open(&segment.location)
        .unwrap()
        .info()
        .unwrap();
    assert_eq!(info.channels[RecordKind::Image.index()].published, 1);
}

#[test]
fn whoosh_sends_the_file_as_it_is_on_disk_at_the_click() {
    let segment = TestSegment::new("apps-reread");
    let dir = tempfile::tempdir().unwrap();
    let picture = dir.path().join("changing.png");
    std::fs::write(&picture, png(20, 10, [255, 0, 0, 255])).unwrap();
    let mut writer = writer_app(&segment.location, Capacity::Default);
    open_path(&mut writer, &picture);
    assert_shows(&writer, "20×10 像素");

    let now = png(30, 40, [0, 0, 255, 255]);
    std::fs::write(&picture, &now).unwrap();
    whoosh(&mut writer);
    assert_shows(&writer, "文件在打开后被修改过：已按磁盘上的当前内容发送");
    let mut reader = shm_common::Reader::open(&segment.location).unwrap();
    assert_eq!(reader.latest_image().unwrap().unwrap().0.bytes, now);

    // Deleted after opening: nothing goes out, and there is no current picture.
    std::fs::remove_file(&picture).unwrap();
    whoosh(&mut writer);
    assert_shows(&writer, "没有发送任何内容：文件");
    assert_eq!(
        reader.info().unwrap().channels[RecordKind::Image.index()].published,
        1
    );
}

/// The `via` of every "sent" event in the events log at `log`.
fn sent_via(log: &Path) -> Vec<String> {
    std::fs::read_to_string(log)
        .unwrap_or_default()
        .lines()
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
        .filter(|event| event["event"] == "sent")
        .map(|event| event["via"].as_str().unwrap_or_default().to_owned())
        .collect()
}

#[test]
fn an_unchanged_file_goes_straight_from_disk_into_shared_memory() {
    let segment = TestSegment::new("apps-loan");
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("events.jsonl");
    let picture = dir.path().join("red.png");
    let red = png(20, 10, [255, 0, 0, 255]);
    let green = png(20, 10, [0, 255, 0, 255]);
    assert_eq!(
        red.len(),
        green.len(),
        "the test needs two pictures of one length"
    );
    std::fs::write(&picture, &red).unwrap();
    let options = WriterOptions {
        location: segment.location.clone(),
        events: shm_ui::EventLog::open("writer", &log).unwrap(),
        ..WriterOptions::default()
    };
    let mut writer = writer_with(options, WINDOW);
    open_path(&mut writer, &picture);
    whoosh(&mut writer);
    assert_shows(&writer, "已发送");
    let mut reader = shm_common::Reader::open(&segment.location).unwrap();
    assert_eq!(reader.latest_image().unwrap().unwrap().0.bytes, red);
    assert_eq!(sent_via(&log), ["loan"]);

    // Other bytes of the same length: the loan is given up, the file reopened and sent as it
    // is now, and the Reader never sees a mix.
    std::fs::write(&picture, &green).unwrap();
    whoosh(&mut writer);
    assert_shows(&writer, "文件在打开后被修改过：已按磁盘上的当前内容发送");
    let (message, meta) = reader.latest_image().unwrap().unwrap();
    assert_eq!((message.bytes, meta.sequence), (green, 2));
    assert_eq!(sent_via(&log), ["loan", "copy"]);
}

/// `in_place` of every "received" picture in the events log at `log`.
fn received_in_place(log: &Path) -> Vec<bool> {
    std::fs::read_to_string(log)
        .unwrap_or_default()
        .lines()
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
        .filter(|event| event["event"] == "received" && event["kind"] == "image")
        .map(|event| event["in_place"].as_bool().unwrap_or_default())
        .collect()
}

#[test]
fn the_reader_decodes_pictures_where_the_writer_put_them() {
    let segment = TestSegment::new("apps-lease");
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("events.jsonl");
    let mut writer = library_writer(&segment.location, Capacity::Default);
    writer
        .send_image("/red.png", &png(20, 10, [255, 0, 0, 255]))
        .unwrap();
    let options = ReaderOptions {
        location: segment.location.clone(),
        events: shm_ui::EventLog::open("reader", &log).unwrap(),
        ..ReaderOptions::default()
    };
    let mut reader = Harness::builder()
        .with_size(WINDOW)
        .with_context_setup(shm_ui::install_cjk_font)
        .build_eframe(move |cc| ReaderApp::new(cc, options));
    reader.get_by_label("咻一下").click();
    wait_for(&mut reader, "the red picture", |reader| {
        path_box(reader) == "/red.png" && shows(reader, "20 × 10")
    });
    assert_eq!(received_in_place(&log), [true], "decoded from a lease");

    // While another program holds the picture channel's one lease, the Reader copies instead,
    // and the writer goes on regardless.
    let mut other = shm_common::Reader::open(&segment.location).unwrap();
    let held = other.lease(shm_common::PICTURE_CHANNEL).unwrap().unwrap();
    assert!(held.is_in_place());
    writer
        .send_image("/green.png", &png(30, 10, [0, 255, 0, 255]))
        .unwrap();
    reader.get_by_label("咻一下").click();
    wait_for(&mut reader, "the green picture", |reader| {
        path_box(reader) == "/green.png" && shows(reader, "30 × 10")
    });
    assert_eq!(received_in_place(&log), [true, false]);
    assert_eq!(held.image().unwrap().path, "/red.png");
}

#[test]
fn switching_the_language_rewords_the_message_already_shown() {
    let segment = TestSegment::new("apps-reword");
    let mut writer = writer_app(&segment.location, Capacity::Default);
    open_path(&mut writer, Path::new("/no/such/x.png"));
    assert_shows(&writer, "文件 '/no/such/x.png' 不存在");
    writer.get_by_label("English").click();
    writer.run_ok();
    assert_shows(&writer, "file '/no/such/x.png' does not exist");
    assert!(
        !shows(&writer, "不存在"),
        "no Chinese left: {:?}",
        labels(&writer)
    );
    assert_shows(&writer, "Whoosh!");
    writer.get_by_label("中文").click();
    writer.run_ok();
    assert_shows(&writer, "文件 '/no/such/x.png' 不存在");
}

#[test]
fn a_picture_larger_than_the_segment_grows_it_and_the_reader_follows() {
    let segment = TestSegment::new("apps-grow");
    let mut writer = writer_app(&segment.location, Capacity::AtLeast(64 << 10));
    let mut reader = reader_app(&segment.location);
    reader.get_by_label("实时").click();
    reader.run_ok();
    writer.get_by_label("Struct").click();
    writer.run_ok();
    wait_for(&mut reader, "the struct", |reader| {
        shows(reader, "Id=100,Age=20")
    });

    let dir = tempfile::tempdir().unwrap();
    let big = dir.path().join("big.bmp");
    let noise = image::RgbImage::from_fn(300, 300, |x, y| {
        image::Rgb([(x * 7) as u8, (y * 13) as u8, (x ^ y) as u8])
    });
    noise.save(&big).unwrap();
    open_path(&mut writer, &big);
    whoosh(&mut writer);
    wait_for(&mut writer, "the send after growing", |writer| {
        shows(writer, "已发送")
    });
    assert_shows(&writer, "为放下它，共享内存段");
    assert_shows(&writer, "已扩大到 3 MiB");
    let expected = big.display().to_string();
    wait_for(&mut reader, "the big picture", |reader| {
        path_box(reader) == expected
    });
    assert_shows(&reader, "300 × 300");
    assert_shows(&reader, "Writer 扩大了");
    // The struct was carried over, and counted once.
    let mut library = shm_common::Reader::open(&segment.location).unwrap();
    assert_eq!(
        library.latest_struct().unwrap().unwrap().0,
        TestData::default()
    );
    assert!(library.capacity() >= 1 << 20);
    assert_shows(&reader, "图片 1，结构体 1，视频帧 0");
}

#[test]
fn growing_past_the_limit_asks_first() {
    let segment = TestSegment::new("apps-ask");
    let options = WriterOptions {
        location: segment.location.clone(),
        capacity: Capacity::AtLeast(64 << 10),
        ask_beyond: 1 << 20,
        ..WriterOptions::default()
    };
    let mut writer = writer_with(options, WINDOW);
    let dir = tempfile::tempdir().unwrap();
    let big = dir.path().join("big.bmp");
    image::RgbImage::from_pixel(300, 300, image::Rgb([9, 9, 9]))
        .save(&big)
        .unwrap();
    open_path(&mut writer, &big);
    writer.get_by_label("咻一下").click();
    wait_for(&mut writer, "the question", |writer| {
        shows(writer, "扩大共享内存段？")
    });
    writer.get_by_label("取消").click();
    wait_for(&mut writer, "the refusal", |writer| {
        shows(writer, "您选择了不扩大")
    });
    writer.get_by_label("咻一下").click();
    wait_for(&mut writer, "the question again", |writer| {
        shows(writer, "扩大共享内存段？")
    });
    writer.get_by_label("扩大").click();
    wait_for(&mut writer, "the send", |writer| shows(writer, "已发送"));
}

#[test]
fn a_second_writer_is_told_who_holds_the_segment() {
    let segment = TestSegment::new("apps-rival");
    let _first = writer_app(&segment.location, Capacity::Default);
    let mut second = writer_app(&segment.location, Capacity::Default);
    let pid = std::process::id();
    assert_shows(&second, &format!("另一个 Writer（pid {pid}）正在使用"));
    second.get_by_label("Struct").click();
    wait_for(&mut second, "the retry", |second| {
        shows(second, "请先关闭它")
    });
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
    assert_shows(&reader, "声称有 100000x100000 像素");
}

#[test]
fn english_labels_are_one_click_away() {
    let segment = TestSegment::new("apps-english");
    let mut writer = writer_app(&segment.location, Capacity::Default);
    writer.get_by_label("English").click();
    writer.run_ok();
    for label in ["Browse…", "Whoosh!", "Struct", "Stretch", "Picture path"] {
        assert_shows(&writer, label);
    }
    let mut reader = reader_app(&segment.location);
    reader.get_by_label("English").click();
    reader.run_ok();
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
    wait_for(&mut writer, "the dropped picture", |writer| {
        shows(writer, "TIFF，36×28 像素")
    });
    assert_eq!(path_box(&writer), picture.display().to_string());
}

#[test]
fn browse_and_ctrl_o_open_the_dialog_titled_choose_a_picture_in_the_pictures_folder() {
    let segment = TestSegment::new("apps-dialog");
    // egui_file's two text fields carry no accessible name; everything of ours does (the
    // other tests check).
    let options = WriterOptions {
        location: segment.location.clone(),
        ..WriterOptions::default()
    };
    let options = WriterOptions {
        dialog: DialogChoice::InApp,
        ..options
    };
    let mut writer = Harness::builder()
        .with_size(WINDOW)
        .with_accessibility_check(false)
        .with_context_setup(shm_ui::install_cjk_font)
        .build_eframe(move |cc| WriterApp::new(cc, options));
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("first.png"), png(4, 4, [1, 2, 3, 255])).unwrap();
    std::fs::write(dir.path().join("second.png"), png(5, 6, [1, 2, 3, 255])).unwrap();
    std::fs::write(dir.path().join("notes.txt"), "not a picture").unwrap();
    open_path(&mut writer, &dir.path().join("first.png"));

    writer.get_by_label("浏览…").click();
    wait_for(&mut writer, "the dialog", |writer| {
        shows(writer, "请选择图片")
    });
    assert!(
        shows(&writer, "second.png"),
        "opens in the picture's folder"
    );
    assert!(!shows(&writer, "notes.txt"), "shows pictures only");
    writer.get_by_label_contains("second.png").click();
    writer.run_ok();
    let open_buttons: Vec<_> = writer.query_all_by_label("打开").collect();
    open_buttons.last().unwrap().click();
    wait_for(&mut writer, "the chosen picture", |writer| {
        shows(writer, "5×6 像素")
    });
    assert!(!shows(&writer, "请选择图片"), "the dialog closed");

    writer.key_press_modifiers(egui::Modifiers::COMMAND, Key::O);
    wait_for(&mut writer, "the dialog from Ctrl+O", |writer| {
        shows(writer, "请选择图片")
    });
    writer.get_by_label("取消").click();
    writer.run_ok();
    assert!(!shows(&writer, "请选择图片"));
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
    let mut writer = writer_with(options, WINDOW);
    wait_for(&mut writer, "the picture", |writer| {
        shows(writer, "JPEG，100×75 像素")
    });
    whoosh(&mut writer);
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
    reader.run_ok();
    writer
        .send_image("/wide.png", &png(1500, 300, [200, 30, 30, 255]))
        .unwrap();
    reader.get_by_label("咻一下").click();
    wait_for(&mut reader, "the scaled-down picture", |reader| {
        shows(reader, "已缩小")
    });
    assert_shows(&reader, "1500 × 300");
}

#[test]
fn small_pictures_show_at_one_to_one_and_large_ones_fit() {
    let segment = TestSegment::new("apps-one-to-one");
    let mut writer = library_writer(&segment.location, Capacity::Default);
    let mut reader = reader_app(&segment.location);
    writer
        .send_image("/dot.png", &png(1, 1, [0, 0, 0, 255]))
        .unwrap();
    reader.get_by_label("咻一下").click();
    wait_for(&mut reader, "the dot", |reader| {
        path_box(reader) == "/dot.png"
    });
    let dot = picture_rect(&reader, "/dot.png");
    // The view takes the space; the picture's scale is the view's value.
    assert!(dot.width() > 100.0, "the view takes the space: {dot:?}");
    assert_eq!(zoom(&reader, "/dot.png"), "适应窗口 100%", "not blown up");

    writer
        .send_image("/panorama.png", &png(20000, 100, [9, 99, 9, 255]))
        .unwrap();
    reader.get_by_label("咻一下").click();
    wait_for(&mut reader, "the panorama", |reader| {
        path_box(reader) == "/panorama.png"
    });
    let fitted = zoom(&reader, "/panorama.png");
    assert!(
        fitted.starts_with("适应窗口") && fitted != "适应窗口 100%",
        "fitted, below 100%: {fitted}"
    );
    // Double-click switches to 1:1, and back.
    reader
        .get_by_role_and_label(Role::Image, "/panorama.png")
        .hover();
    reader.run_ok();
    let center = picture_rect(&reader, "/panorama.png").center();
    for _ in 0..2 {
        reader.input_mut().events.push(egui::Event::PointerButton {
            pos: center,
            button: egui::PointerButton::Primary,
            pressed: true,
            modifiers: egui::Modifiers::NONE,
        });
        reader.input_mut().events.push(egui::Event::PointerButton {
            pos: center,
            button: egui::PointerButton::Primary,
            pressed: false,
            modifiers: egui::Modifiers::NONE,
        });
        reader.step();
    }
    reader.run_ok();
    assert_eq!(
        zoom(&reader, "/panorama.png"),
        "100%",
        "1:1 after a double-click"
    );
    // The wheel zooms.
    reader.input_mut().events.push(egui::Event::MouseWheel {
        unit: egui::MouseWheelUnit::Point,
        delta: egui::vec2(0.0, 200.0),
        modifiers: egui::Modifiers::NONE,
        phase: egui::TouchPhase::Move,
        source: egui::MouseWheelSource::Wheel,
    });
    for _ in 0..20 {
        reader.step();
    }
    let zoomed = zoom(&reader, "/panorama.png");
    assert!(
        zoomed.ends_with('%') && zoomed != "100%" && !zoomed.starts_with("适应"),
        "zoomed by the wheel: {zoomed}"
    );
}

#[test]
fn exif_orientation_6_shows_a_portrait_picture() {
    let segment = TestSegment::new("apps-exif");
    let mut writer = library_writer(&segment.location, Capacity::Default);
    let mut reader = reader_app(&segment.location);
    writer
        .send_image("/sideways.jpg", &jpeg_with_orientation(80, 40, 6))
        .unwrap();
    reader.get_by_label("咻一下").click();
    wait_for(&mut reader, "the turned picture", |reader| {
        path_box(reader) == "/sideways.jpg"
    });
    assert_shows(&reader, "40 × 80");
    assert_shows(&reader, "90°");
}

#[test]
fn an_animated_gif_plays_in_the_reader() {
    let segment = TestSegment::new("apps-gif");
    let mut writer = library_writer(&segment.location, Capacity::Default);
    let mut reader = reader_app(&segment.location);
    let mut gif = Vec::new();
    {
        let mut encoder = image::codecs::gif::GifEncoder::new(&mut gif);
        for colour in [[255, 0, 0, 255], [0, 255, 0, 255], [0, 0, 255, 255]] {
            let frame = image::Frame::from_parts(
                image::RgbaImage::from_pixel(8, 8, image::Rgba(colour)),
                0,
                0,
                image::Delay::from_numer_denom_ms(100, 1),
            );
            encoder.encode_frame(frame).unwrap();
        }
    }
    writer.send_image("/anim.gif", &gif).unwrap();
    reader.get_by_label("咻一下").click();
    wait_for(&mut reader, "the animation", |reader| {
        path_box(reader) == "/anim.gif"
    });
    assert_shows(&reader, "动画帧数");
}

#[test]
fn the_strip_of_recent_pictures_shows_an_earlier_one_again() {
    let segment = TestSegment::new("apps-history");
    let mut writer = library_writer(&segment.location, Capacity::Default);
    let mut reader = reader_app(&segment.location);
    for (path, size) in [("/one.png", 10), ("/two.png", 20)] {
        writer
            .send_image(path, &png(size, size, [size as u8, 0, 0, 255]))
            .unwrap();
        reader.get_by_label("咻一下").click();
        wait_for(&mut reader, path, |reader| path_box(reader) == path);
    }
    reader.get_by_label("最近的图片 2: /one.png").click();
    reader.run_ok();
    assert_eq!(path_box(&reader), "/one.png");
    assert_shows(&reader, "10 × 10");
}

#[test]
fn an_extreme_struct_leaves_the_picture_most_of_the_readers_width() {
    let segment = TestSegment::new("apps-layout");
    let mut writer = library_writer(&segment.location, Capacity::Default);
    for width in [1100.0, 700.0] {
        let mut reader = reader_sized(&segment.location, [width, 600.0]);
        writer
            .send_image("/wide.png", &png(4000, 1000, [10, 10, 10, 255]))
            .unwrap();
        writer
            .send_struct(&TestData {
                id: i32::MIN,
                age: i32::MIN,
                scores: [i32::MIN; 10],
            })
            .unwrap();
        reader.get_by_label("咻一下").click();
        wait_for(&mut reader, "the picture", |reader| {
            path_box(reader) == "/wide.png"
        });
        reader.get_by_label("Struct").click();
        wait_for(&mut reader, "the popup", |reader| {
            shows(reader, "Id=-2147483648")
        });
        reader.get_by_label("确定").click();
        reader.run_ok();
        let view = picture_rect(&reader, "/wide.png");
        assert!(
            view.width() >= 0.6 * width,
            "at {width} px the picture gets {} px",
            view.width()
        );
        // Every detail row is still there.
        assert_shows(&reader, "传输时间");
        assert_shows(&reader, "Scores[9]");
    }
    // At 520 px, Live and Stretch stay inside the window.
    let reader = reader_sized(&segment.location, [520.0, 500.0]);
    for label in ["实时", "拉伸"] {
        let rect = reader.get_by_label(label).rect();
        assert!(rect.right() <= 520.0, "{label} is cut off: {rect:?}");
    }
}

#[test]
fn a_live_stream_of_frames_shows_with_its_speed() {
    let segment = TestSegment::new("apps-frames");
    let mut reader = reader_app(&segment.location);
    reader.get_by_label("实时").click();
    let mut writer = library_writer(&segment.location, Capacity::Default);
    wait_for(&mut reader, "the connection", |reader| {
        shows(reader, "已连接")
    });
    let header = |number| FrameHeader {
        width: 64,
        height: 32,
        format: PixelFormat::Rgba8,
        stride: 256,
        number,
    };
    let pixels = vec![128u8; 256 * 32];
    let growth = writer
        .plan_growth(
            RecordKind::Frame,
            shm_common::FrameMessage::framed_len(pixels.len()),
        )
        .unwrap();
    writer.grow(&growth).unwrap();
    for number in 0..30 {
        writer.send_frame(&header(number), &pixels).unwrap();
        std::thread::sleep(Duration::from_millis(5));
        reader.step();
    }
    wait_for(&mut reader, "the last frame", |reader| {
        path_box(reader) == "frame 29 (64x32)"
    });
    assert_shows(&reader, "64 × 32 RGBA8");
    assert_shows(&reader, "接收帧率");
    assert_shows(&reader, "传输时间中位数");
    assert!(
        labels(&reader)
            .iter()
            .any(|label| label.contains("视频帧 ") && !label.ends_with("视频帧 0")),
        "frames counted: {:?}",
        labels(&reader)
    );
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
        shows(reader, "超过了容量 4096 字节：共享内存段已损坏")
    });

    poke(0, b"NOTOURS!");
    let mut fresh = reader_app(&location);
    wait_for(&mut fresh, "the foreign segment report", |reader| {
        shows(reader, "它不是本程序的共享内存段")
    });
}

/// A type the Reader was never compiled with.
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable, shm_common::Schema)]
#[repr(C)]
struct Pose {
    position: [f64; 3],
    heading: f32,
    id: u32,
}

#[test]
fn the_reader_shows_any_struct_channel_as_a_table_of_its_fields() {
    use shm_common::ChannelSpec;
    let segment = TestSegment::new("apps-channels");
    let mut writer = Writer::create_with(
        &segment.location,
        CreationMode::CreateNew,
        vec![
            ChannelSpec::of::<Pose>("pose").unwrap(),
            ChannelSpec::bytes("note", 64).unwrap(),
        ],
    )
    .unwrap();
    let pose = writer.channel::<Pose>("pose").unwrap();
    let note = writer.bytes_channel("note").unwrap();
    writer
        .publish(
            &pose,
            &Pose {
                position: [1.0, 2.0, 0.5],
                heading: 0.25,
                id: 7,
            },
        )
        .unwrap();
    writer
        .publish_bytes(&note, "你好, robot".as_bytes())
        .unwrap();

    let mut reader = reader_app(&segment.location);
    wait_for(&mut reader, "the pose table", |reader| {
        shows(reader, "pose · Pose")
    });
    assert_shows(&reader, "其他通道");
    for text in [
        "position",
        "[f64; 3]",
        "[1, 2, 0.5]",
        "heading",
        "0.25",
        "id",
        "u32",
        "你好, robot",
    ] {
        assert_shows(&reader, text);
    }
    // A new value shows by itself, Live or not; the missing demo channels are no error.
    writer
        .publish(
            &pose,
            &Pose {
                position: [-3.0, 4.0, 0.0],
                heading: 1.5,
                id: 8,
            },
        )
        .unwrap();
    wait_for(&mut reader, "the new pose", |reader| {
        shows(reader, "[-3, 4, 0]")
    });
    assert!(!shows(&reader, "没有名为"), "{:?}", labels(&reader));
    reader.get_by_label("English").click();
    reader.run_ok();
    assert_shows(&reader, "Other channels");
}
