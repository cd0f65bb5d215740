//! Every word the apps show, in Chinese (the original's language, the default) and English,
//! and the one formatter per language for sizes and times.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use shm_common::{ByteSize, Elapsed, SegmentLocation};

/// The language of the labels, remembered between runs.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum Language {
    /// 中文, as in the original demo.
    #[default]
    Chinese,
    /// English.
    English,
}

/// The fixed labels of both apps.
#[derive(Debug)]
pub struct Texts {
    /// Language picker label.
    pub language: &'static str,
    /// Opens the file dialog.
    pub browse: &'static str,
    /// The file dialog's title.
    pub dialog_title: &'static str,
    /// File dialog filter for PNG.
    pub filter_png: &'static str,
    /// File dialog filter for JPEG.
    pub filter_jpeg: &'static str,
    /// File dialog filter for every readable format.
    pub filter_all: &'static str,
    /// The path box's label.
    pub picture_path: &'static str,
    /// Loads the typed path.
    pub open: &'static str,
    /// Sends (Writer) or reads (Reader) the picture.
    pub whoosh: &'static str,
    /// Sends or reads the struct.
    pub struct_button: &'static str,
    /// Stretches the picture to the view like the original's picture box.
    pub stretch: &'static str,
    /// The Reader's live-update toggle.
    pub live: &'static str,
    /// Closes a popup.
    pub ok: &'static str,
    /// Closes a question without doing anything.
    pub cancel: &'static str,
    /// Shown where the picture goes before there is one (Writer).
    pub writer_empty: &'static str,
    /// Shown where the picture goes before there is one (Reader).
    pub reader_empty: &'static str,
    /// Shown while a file is dragged over the window.
    pub drop_here: &'static str,
    /// The popup's text when no struct was sent.
    pub no_struct: &'static str,
    /// The struct editor's heading.
    pub struct_heading: &'static str,
    /// Struct table: the field column.
    pub field: &'static str,
    /// Struct table: the value column.
    pub value: &'static str,
    /// Details: size in bytes.
    pub size: &'static str,
    /// Details: size in pixels.
    pub pixels: &'static str,
    /// Details: format.
    pub format: &'static str,
    /// Details: writer's first byte to the reader holding the record.
    pub transfer: &'static str,
    /// Details: how long the writer took to store the record.
    pub write_time: &'static str,
    /// Details: when the record was sent.
    pub sent: &'static str,
    /// Details: decode time.
    pub decode_time: &'static str,
    /// Details: the picture is shown scaled down.
    pub downscaled: &'static str,
    /// Details: the EXIF turn applied.
    pub orientation: &'static str,
    /// Details: frames of an animation.
    pub frames: &'static str,
    /// Details: the latest struct.
    pub latest_struct: &'static str,
    /// Heading of the segment's other channels, each shown with its latest record.
    pub channels: &'static str,
    /// Column of a field's type.
    pub field_type: &'static str,
    /// A bytes record that is not text.
    pub binary: &'static str,
    /// Picture view: fit to the view.
    pub fit: &'static str,
    /// Picture view: how to zoom and pan.
    pub view_hint: &'static str,
    /// Live: records received.
    pub received: &'static str,
    /// Live: records skipped (a newer one came first).
    pub skipped: &'static str,
    /// Live: frames shown per second.
    pub shown_per_second: &'static str,
    /// Live: frames received per second.
    pub received_per_second: &'static str,
    /// Live: median transfer time.
    pub transfer_median: &'static str,
    /// Live: 99th percentile transfer time.
    pub transfer_p99: &'static str,
    /// Live: the plot's heading.
    pub plot_heading: &'static str,
    /// Live: the plot's line of transfer times.
    pub plot_transfer: &'static str,
    /// Live: the plot's line of frames per second.
    pub plot_fps: &'static str,
    /// Live: the last frame's number.
    pub frame_number: &'static str,
    /// The strip of recent pictures.
    pub history: &'static str,
    /// Stream: the heading of the Writer's stream controls.
    pub stream_heading: &'static str,
    /// Stream: what to stream.
    pub stream_source: &'static str,
    /// Stream: the moving test pattern.
    pub stream_pattern: &'static str,
    /// Stream: the current picture (or its frames).
    pub stream_picture: &'static str,
    /// Stream: every picture of the current picture's folder.
    pub stream_folder: &'static str,
    /// Stream: frame size.
    pub stream_size: &'static str,
    /// Stream: frames per second.
    pub stream_rate: &'static str,
    /// Stream: as fast as possible.
    pub stream_max: &'static str,
    /// Stream: start.
    pub stream_start: &'static str,
    /// Stream: stop.
    pub stream_stop: &'static str,
    /// Growing past the limit: the question's title.
    pub grow_title: &'static str,
    /// Growing past the limit: yes.
    pub grow_yes: &'static str,
    /// Reopens the Reader from the Writer.
    pub open_reader: &'static str,
    /// Reopens the Writer from the Reader.
    pub open_writer: &'static str,
    /// In-app file dialog: the file field.
    pub dialog_file: &'static str,
    /// In-app file dialog: show hidden files.
    pub dialog_hidden: &'static str,
    /// In-app file dialog: the parent folder.
    pub dialog_parent: &'static str,
    /// In-app file dialog: read the folder again.
    pub dialog_refresh: &'static str,
}

const CHINESE: Texts = Texts {
    language: "语言",
    browse: "浏览…",
    dialog_title: "请选择图片",
    filter_png: "PNG图片",
    filter_jpeg: "JPG图片",
    filter_all: "所有图片",
    picture_path: "图片路径",
    open: "打开",
    whoosh: "咻一下",
    struct_button: "Struct",
    stretch: "拉伸",
    live: "实时",
    ok: "确定",
    cancel: "取消",
    writer_empty: "尚未选择图片：点击“浏览…”（Ctrl+O），输入路径后按回车，或把图片拖到窗口上",
    reader_empty: "尚未收到图片：点击“咻一下”，或勾选“实时”",
    drop_here: "松开鼠标即可打开图片",
    no_struct: "尚未发送结构体",
    struct_heading: "结构体 TestData",
    field: "字段",
    value: "值",
    size: "大小",
    pixels: "像素",
    format: "格式",
    transfer: "传输时间",
    write_time: "写入用时",
    sent: "发送于",
    decode_time: "解码时间",
    downscaled: "（已缩小以适应显卡纹理上限）",
    orientation: "EXIF 方向",
    frames: "动画帧数",
    latest_struct: "最新结构体",
    channels: "其他通道",
    field_type: "类型",
    binary: "二进制数据",
    fit: "适应窗口",
    view_hint: "滚轮缩放，拖动平移，双击在适应窗口与原始大小之间切换",
    received: "已接收",
    skipped: "已跳过",
    shown_per_second: "显示帧率",
    received_per_second: "接收帧率",
    transfer_median: "传输时间中位数",
    transfer_p99: "传输时间 p99",
    plot_heading: "最近几秒",
    plot_transfer: "传输时间（毫秒）",
    plot_fps: "每秒帧数",
    frame_number: "帧编号",
    history: "最近的图片",
    stream_heading: "实时流",
    stream_source: "来源",
    stream_pattern: "测试图案",
    stream_picture: "当前图片（动画的每一帧）",
    stream_folder: "当前图片所在文件夹的所有图片",
    stream_size: "尺寸",
    stream_rate: "帧率",
    stream_max: "尽可能快",
    stream_start: "开始推流",
    stream_stop: "停止推流",
    grow_title: "扩大共享内存段？",
    grow_yes: "扩大",
    open_reader: "打开 Reader 窗口",
    open_writer: "打开 Writer 窗口",
    dialog_file: "文件：",
    dialog_hidden: "显示隐藏文件",
    dialog_parent: "上一级文件夹",
    dialog_refresh: "刷新",
};

const ENGLISH: Texts = Texts {
    language: "Language",
    browse: "Browse…",
    dialog_title: "Choose a picture",
    filter_png: "PNG pictures",
    filter_jpeg: "JPEG pictures",
    filter_all: "All pictures",
    picture_path: "Picture path",
    open: "Open",
    whoosh: "Whoosh!",
    struct_button: "Struct",
    stretch: "Stretch",
    live: "Live",
    ok: "OK",
    cancel: "Cancel",
    writer_empty: "No picture yet: click Browse… (Ctrl+O), type a path and press Enter, or drop a picture onto the window",
    reader_empty: "No picture yet: click Whoosh!, or tick Live",
    drop_here: "Release to open the picture",
    no_struct: "no struct sent yet",
    struct_heading: "Struct TestData",
    field: "Field",
    value: "Value",
    size: "Size",
    pixels: "Pixels",
    format: "Format",
    transfer: "Transfer time",
    write_time: "Write time",
    sent: "Sent",
    decode_time: "Decode time",
    downscaled: "(scaled down to the GPU's texture limit)",
    orientation: "EXIF orientation",
    frames: "Animation frames",
    latest_struct: "Latest struct",
    channels: "Other channels",
    field_type: "Type",
    binary: "binary data",
    fit: "Fit",
    view_hint: "Wheel to zoom, drag to pan, double-click to switch between fit and actual size",
    received: "Received",
    skipped: "Skipped",
    shown_per_second: "Frames shown",
    received_per_second: "Frames received",
    transfer_median: "Transfer, median",
    transfer_p99: "Transfer, p99",
    plot_heading: "Last seconds",
    plot_transfer: "transfer (ms)",
    plot_fps: "frames/s",
    frame_number: "Frame number",
    history: "Recent pictures",
    stream_heading: "Live stream",
    stream_source: "Source",
    stream_pattern: "Test pattern",
    stream_picture: "This picture (every frame of an animation)",
    stream_folder: "Every picture in this picture's folder",
    stream_size: "Size",
    stream_rate: "Rate",
    stream_max: "As fast as possible",
    stream_start: "Start stream",
    stream_stop: "Stop stream",
    grow_title: "Grow the segment?",
    grow_yes: "Grow",
    open_reader: "Open the Reader window",
    open_writer: "Open the Writer window",
    dialog_file: "File:",
    dialog_hidden: "Show hidden files",
    dialog_parent: "Parent folder",
    dialog_refresh: "Refresh",
};

impl Language {
    /// Both languages, in picker order.
    pub const ALL: [Language; 2] = [Language::Chinese, Language::English];

    /// The fixed labels.
    pub fn texts(self) -> &'static Texts {
        match self {
            Language::Chinese => &CHINESE,
            Language::English => &ENGLISH,
        }
    }

    /// The language's own name, for the picker.
    pub fn name(self) -> &'static str {
        match self {
            Language::Chinese => "中文",
            Language::English => "English",
        }
    }

    /// A byte count: `512 字节` / `512 bytes`, then `3.5 KiB`, `12.4 MiB` in both.
    pub fn size(self, bytes: usize) -> String {
        match (self, bytes) {
            (Language::Chinese, bytes) if bytes < 1024 => format!("{bytes} 字节"),
            _ => ByteSize(bytes).to_string(),
        }
    }

    /// A byte count from a 64-bit field.
    pub fn size_u64(self, bytes: u64) -> String {
        self.size(usize::try_from(bytes).unwrap_or(usize::MAX))
    }

    /// A duration: `850 微秒`, `1.84 毫秒`, `2.5 秒` / `850 µs`, `1.84 ms`, `2.5 s`.
    pub fn duration(self, duration: Duration) -> String {
        match self {
            Language::English => Elapsed(duration).to_string(),
            Language::Chinese => {
                let micros = duration.as_secs_f64() * 1e6;
                if micros < 1000.0 {
                    format!("{micros:.0} 微秒")
                } else if micros < 1e6 {
                    format!("{:.2} 毫秒", micros / 1e3)
                } else {
                    format!("{:.1} 秒", micros / 1e6)
                }
            }
        }
    }

    /// How long ago something happened: `1.2 秒前` / `1.2 s ago`.
    pub fn ago(self, duration: Duration) -> String {
        let duration = self.duration(duration);
        match self {
            Language::Chinese => format!("{duration}前"),
            Language::English => format!("{duration} ago"),
        }
    }

    /// "segment 'x'" in this language.
    pub fn segment(self, location: &SegmentLocation) -> String {
        match (self, location) {
            (Language::English, location) => location.to_string(),
            (Language::Chinese, SegmentLocation::Named(name)) => format!("共享内存段 '{name}'"),
            (Language::Chinese, SegmentLocation::File(path)) => {
                format!("共享内存文件 '{}'", path.display())
            }
        }
    }

    /// A record kind as a noun: 图片 / picture.
    pub fn kind_noun(self, kind: shm_common::RecordKind) -> &'static str {
        use shm_common::RecordKind;
        match (self, kind) {
            (Language::Chinese, RecordKind::Image) => "图片",
            (Language::Chinese, RecordKind::Struct) => "结构体",
            (Language::Chinese, RecordKind::Frame) => "视频帧",
            (Language::Chinese, RecordKind::Bytes) => "消息",
            (Language::English, kind) => kind.noun(),
        }
    }

    /// The Writer's segment line.
    pub fn writer_segment(self, location: &SegmentLocation, total_size: usize) -> String {
        let segment = self.segment(location);
        let size = self.size(total_size);
        match self {
            Language::Chinese => format!("{segment}（{size}，放不下时自动扩大）"),
            Language::English => format!("{segment} ({size}, grows when a picture needs more)"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_keep_the_originals_words() {
        let texts = Language::Chinese.texts();
        assert_eq!(texts.whoosh, "咻一下");
        assert_eq!(texts.struct_button, "Struct");
        assert_eq!(texts.dialog_title, "请选择图片");
        assert_eq!(texts.filter_png, "PNG图片");
        assert_eq!(texts.filter_jpeg, "JPG图片");
        assert_eq!(Language::English.texts().no_struct, "no struct sent yet");
    }

    #[test]
    fn sizes_and_times_use_one_set_of_units_per_language() {
        let ms = Duration::from_micros(390);
        assert_eq!(Language::Chinese.duration(ms), "390 微秒");
        assert_eq!(Language::English.duration(ms), "390 µs");
        assert_eq!(
            Language::Chinese.duration(Duration::from_micros(1840)),
            "1.84 毫秒"
        );
        assert_eq!(
            Language::Chinese.ago(Duration::from_millis(1200)),
            "1.2 秒前"
        );
        assert_eq!(
            Language::English.ago(Duration::from_millis(1200)),
            "1.2 s ago"
        );
        assert_eq!(Language::Chinese.size(512), "512 字节");
        assert_eq!(Language::English.size(512), "512 bytes");
        assert_eq!(Language::Chinese.size(13_002_342), "12.4 MiB");
    }
}
