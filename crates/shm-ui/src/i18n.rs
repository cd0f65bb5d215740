//! Every word the apps show, in Chinese (the original's language, the default) and English.

use std::path::Path;

use serde::{Deserialize, Serialize};
use shm_common::{ByteSize, SegmentLocation};

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
    /// Stretches the picture to the view instead of fitting it.
    pub stretch: &'static str,
    /// The Reader's live-update toggle.
    pub live: &'static str,
    /// Closes the popup.
    pub ok: &'static str,
    /// Shown where the picture goes before there is one (Writer).
    pub writer_empty: &'static str,
    /// Shown where the picture goes before there is one (Reader).
    pub reader_empty: &'static str,
    /// Shown while a file is dragged over the window.
    pub drop_here: &'static str,
    /// The popup's text when no struct was sent.
    pub no_struct: &'static str,
    /// Read with nothing sent.
    pub no_picture: &'static str,
    /// Send with nothing loaded.
    pub choose_first: &'static str,
    /// The struct editor's heading.
    pub struct_heading: &'static str,
    /// Details: size in bytes.
    pub size: &'static str,
    /// Details: size in pixels.
    pub pixels: &'static str,
    /// Details: format.
    pub format: &'static str,
    /// Details: writer-to-reader latency.
    pub latency: &'static str,
    /// Details: decode time.
    pub decode_time: &'static str,
    /// Details: the picture is shown scaled down.
    pub downscaled: &'static str,
    /// Details: the latest struct.
    pub latest_struct: &'static str,
    /// Where no file dialog can be opened.
    pub no_dialog: &'static str,
    /// Bytes unit.
    pub bytes: &'static str,
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
    writer_empty: "尚未选择图片：点击“浏览…”，输入路径后按回车，或把图片拖到窗口上",
    reader_empty: "尚未收到图片：点击“咻一下”，或勾选“实时”",
    drop_here: "松开鼠标即可打开图片",
    no_struct: "尚未发送结构体",
    no_picture: "尚未发送图片",
    choose_first: "请先选择一张图片",
    struct_heading: "结构体 TestData",
    size: "大小",
    pixels: "像素",
    format: "格式",
    latency: "传输延迟",
    decode_time: "解码时间",
    downscaled: "（已缩小以适应显卡纹理上限）",
    latest_struct: "最新结构体",
    no_dialog: "此系统没有可用的文件对话框（未找到桌面门户或 zenity）：请在下方输入图片路径后按回车，或把图片拖到窗口上",
    bytes: "字节",
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
    writer_empty: "No picture yet: click Browse…, type a path and press Enter, or drop a picture onto the window",
    reader_empty: "No picture yet: click Whoosh!, or tick Live",
    drop_here: "Release to open the picture",
    no_struct: "no struct sent yet",
    no_picture: "no picture sent yet",
    choose_first: "choose a picture first",
    struct_heading: "Struct TestData",
    size: "Size",
    pixels: "Pixels",
    format: "Format",
    latency: "Transfer latency",
    decode_time: "Decode time",
    downscaled: "(scaled down to the GPU's texture limit)",
    latest_struct: "Latest struct",
    no_dialog: "No file dialog is available on this system (no desktop portal or zenity): type the picture's path below and press Enter, or drop a picture onto the window",
    bytes: "bytes",
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

    /// The Writer's segment line.
    pub fn writer_segment(self, location: &SegmentLocation, capacity: usize) -> String {
        let segment = self.segment(location);
        match self {
            Language::Chinese => format!("{segment}，每张图片最多 {}", ByteSize(capacity)),
            Language::English => format!("{segment}, pictures up to {}", ByteSize(capacity)),
        }
    }

    /// A picture was sent.
    pub fn sent_picture(self, path: &str, size: usize, took_ms: f64, sequence: u64) -> String {
        match self {
            Language::Chinese => format!(
                "已发送 '{path}'（{}），用时 {took_ms:.2} 毫秒，第 {sequence} 张",
                ByteSize(size)
            ),
            Language::English => format!(
                "sent '{path}' ({}) in {took_ms:.2} ms, picture #{sequence}",
                ByteSize(size)
            ),
        }
    }

    /// The struct was sent.
    pub fn sent_struct(self, text: &str) -> String {
        match self {
            Language::Chinese => format!("已发送结构体 {text}"),
            Language::English => format!("sent struct {text}"),
        }
    }

    /// A picture was loaded into the Writer.
    pub fn loaded(self, path: &Path, size: usize, width: u32, height: u32, format: &str) -> String {
        let path = path.display();
        match self {
            Language::Chinese => format!(
                "已打开 '{path}'：{format}，{width}×{height} 像素，{}",
                ByteSize(size)
            ),
            Language::English => format!(
                "opened '{path}': {format}, {width}×{height} pixels, {}",
                ByteSize(size)
            ),
        }
    }

    /// The file does not exist.
    pub fn file_missing(self, path: &Path) -> String {
        match self {
            Language::Chinese => format!("文件 '{}' 不存在", path.display()),
            Language::English => format!("file '{}' does not exist", path.display()),
        }
    }

    /// The path is a directory.
    pub fn is_directory(self, path: &Path) -> String {
        match self {
            Language::Chinese => format!("'{}' 是文件夹，不是图片文件", path.display()),
            Language::English => format!("'{}' is a folder, not a picture file", path.display()),
        }
    }

    /// Any other read failure.
    pub fn cannot_read(self, path: &Path, reason: &str) -> String {
        match self {
            Language::Chinese => format!("无法读取 '{}'：{reason}", path.display()),
            Language::English => format!("cannot read '{}': {reason}", path.display()),
        }
    }

    /// The bytes are not a picture (or a damaged one).
    pub fn not_a_picture(self, path: &str, reason: &str) -> String {
        match self {
            Language::Chinese => format!("'{path}' 不是可以显示的图片：{reason}"),
            Language::English => format!("'{path}' is not a picture that can be shown: {reason}"),
        }
    }

    /// The picture does not fit the segment.
    pub fn too_large(
        self,
        size: usize,
        capacity: usize,
        location: &SegmentLocation,
        suggestion: &str,
    ) -> String {
        let segment = self.segment(location);
        match self {
            Language::Chinese => format!(
                "图片有 {}，但{segment}最多容纳 {}；请用 --capacity {suggestion} 启动 Writer",
                ByteSize(size),
                ByteSize(capacity)
            ),
            Language::English => format!(
                "picture is {} but {segment} holds at most {}; start the Writer with --capacity {suggestion}",
                ByteSize(size),
                ByteSize(capacity)
            ),
        }
    }

    /// Another Writer holds the segment.
    pub fn writer_active(self, pid: u32, location: &SegmentLocation) -> String {
        let segment = self.segment(location);
        match self {
            Language::Chinese => format!(
                "另一个 Writer（pid {pid}）正在使用{segment}；请先关闭它，或用 --name 换一个段（关闭后再点按钮即可重试）"
            ),
            Language::English => format!(
                "another Writer (pid {pid}) is using {segment}; close it first or pick another --name (click again to retry once it is closed)"
            ),
        }
    }

    /// Any other error, given as the library's sentence.
    pub fn failed(self, what: &str) -> String {
        match self {
            Language::Chinese => format!("出错：{what}"),
            Language::English => what.to_owned(),
        }
    }

    /// A struct field is not a number.
    pub fn field_invalid(self, field: &str) -> String {
        match self {
            Language::Chinese => format!("{field} 必须是 -2147483648 到 2147483647 之间的整数"),
            Language::English => {
                format!("{field} must be a whole number from -2147483648 to 2147483647")
            }
        }
    }

    /// The Reader waits for a Writer.
    pub fn waiting(self, location: &SegmentLocation) -> String {
        let segment = self.segment(location);
        match self {
            Language::Chinese => format!("正在等待 Writer 创建{segment}…"),
            Language::English => format!("waiting for a Writer to create {segment}…"),
        }
    }

    /// The Reader is connected.
    pub fn connected(
        self,
        location: &SegmentLocation,
        capacity: usize,
        pid: Option<u32>,
    ) -> String {
        let segment = self.segment(location);
        let size = ByteSize(capacity);
        match (self, pid) {
            (Language::Chinese, Some(pid)) => {
                format!("已连接{segment}（每张图片最多 {size}），Writer pid {pid}")
            }
            (Language::Chinese, None) => {
                format!("已打开{segment}（每张图片最多 {size}），目前没有 Writer")
            }
            (Language::English, Some(pid)) => {
                format!("connected to {segment} (pictures up to {size}), Writer pid {pid}")
            }
            (Language::English, None) => {
                format!("opened {segment} (pictures up to {size}); no Writer is attached")
            }
        }
    }

    /// The Writer closed.
    pub fn writer_exited(self) -> String {
        match self {
            Language::Chinese => {
                "Writer 已退出：仍显示最后收到的内容，正在等待新的 Writer…".to_owned()
            }
            Language::English => {
                "the Writer exited: showing what it sent last, waiting for a new one…".to_owned()
            }
        }
    }

    /// The Writer died.
    pub fn writer_crashed(self, pid: u32) -> String {
        match self {
            Language::Chinese => {
                format!("Writer（pid {pid}）意外终止：仍显示最后收到的内容，正在等待新的 Writer…")
            }
            Language::English => format!(
                "the Writer (pid {pid}) died: showing what it sent last, waiting for a new one…"
            ),
        }
    }

    /// The Reader moved to a new Writer's segment.
    pub fn reconnected(self, pid: Option<u32>) -> String {
        let pid = pid.map_or_else(String::new, |pid| format!(" (pid {pid})"));
        match self {
            Language::Chinese => format!("新的 Writer{pid} 已连接"),
            Language::English => format!("a new Writer{pid} connected"),
        }
    }

    /// Reading needs a Writer first.
    pub fn no_writer_yet(self, location: &SegmentLocation) -> String {
        let segment = self.segment(location);
        match self {
            Language::Chinese => format!("还没有 Writer：{segment}尚不存在，请先启动 Writer"),
            Language::English => {
                format!("no Writer yet: {segment} does not exist; start the Writer first")
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_original_labels_are_the_defaults() {
        let texts = Language::default().texts();
        assert_eq!(texts.whoosh, "咻一下");
        assert_eq!(texts.struct_button, "Struct");
        assert_eq!(texts.dialog_title, "请选择图片");
        assert_eq!(texts.filter_png, "PNG图片");
        assert_eq!(texts.filter_jpeg, "JPG图片");
        assert_eq!(Language::English.texts().no_struct, "no struct sent yet");
    }

    #[test]
    fn too_large_names_both_sizes_in_both_languages() {
        let location = SegmentLocation::default();
        let english = Language::English.too_large(13_002_342, 10 << 20, &location, "16MiB");
        assert_eq!(
            english,
            "picture is 12.4 MiB but segment 'shm-exchange' holds at most 10 MiB; start the Writer with --capacity 16MiB"
        );
        let chinese = Language::Chinese.too_large(13_002_342, 10 << 20, &location, "16MiB");
        assert!(
            chinese.contains("12.4 MiB")
                && chinese.contains("10 MiB")
                && chinese.contains("--capacity 16MiB")
        );
    }
}
