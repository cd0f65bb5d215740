//! What the apps tell the user, kept as data and worded only when drawn: switching the
//! language re-words whatever is on screen.

use std::io;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use shm_common::{
    CreateError, GrowError, ReadError, RecordKind, SegmentLocation, SendError, TestData,
};
use shm_picture::{DecodeError, StreamError, StreamNote};

use crate::i18n::Language;

/// One message for the status line. Errors that cannot be copied are shared, so a note can be
/// shown in two places (the picture's place and the status line).
#[derive(Clone, Debug)]
pub enum Note {
    /// The Writer opened a picture.
    Opened {
        /// Its full path.
        path: PathBuf,
        /// Bytes in the file.
        len: usize,
        /// Width as shown.
        width: u32,
        /// Height as shown.
        height: u32,
        /// Format name.
        format: &'static str,
        /// Frames of an animation (0 for a still picture).
        frames: usize,
    },
    /// The Writer sent a picture.
    Sent {
        /// The path sent.
        path: String,
        /// Bytes of the picture.
        len: usize,
        /// How long the copy into shared memory took.
        write_time: Duration,
        /// The record's number.
        sequence: u64,
        /// The file had changed on disk since it was opened: what went out is what is there now.
        changed_on_disk: bool,
        /// The segment grew to this size (in all) to hold it.
        grown_to: Option<usize>,
    },
    /// The Writer sent the struct.
    SentStruct {
        /// What was sent.
        data: TestData,
    },
    /// 咻一下 with no picture chosen.
    ChooseFirst,
    /// 咻一下 sent nothing, for this reason.
    NotSent(Box<Note>),
    /// Enter on an empty path box.
    PathEmpty,
    /// The file does not exist.
    FileMissing {
        /// The path.
        path: PathBuf,
    },
    /// The path is a folder.
    IsDirectory {
        /// The path.
        path: PathBuf,
    },
    /// The file cannot be read.
    CannotRead {
        /// The path.
        path: PathBuf,
        /// Why.
        error: Arc<io::Error>,
    },
    /// The bytes are not a picture that can be shown.
    NotAPicture {
        /// The path (as sent, for the Reader).
        path: String,
        /// Why.
        error: DecodeError,
    },
    /// The segment grew to hold a record.
    Grown {
        /// Its size now, in all.
        total_size: usize,
        /// The kind of record that needed it.
        kind: RecordKind,
    },
    /// The user chose not to grow the segment past the limit.
    GrowDeclined {
        /// The record's size.
        size: usize,
    },
    /// Creating the segment, or opening it as its writer, failed.
    Create(Arc<CreateError>),
    /// Sending failed.
    Send(Arc<SendError>),
    /// Growing failed.
    Grow(Arc<GrowError>),
    /// Reading failed.
    Read(Arc<ReadError>),
    /// Some struct fields are not numbers.
    FieldsInvalid {
        /// How many.
        count: usize,
    },
    /// A stream ended.
    StreamStopped {
        /// Frames sent.
        frames: u64,
        /// For how long.
        elapsed: Duration,
    },
    /// No stream could be made.
    StreamFailed(Arc<StreamError>),
    /// A stream left something out.
    StreamSkipped(Arc<StreamNote>),
    /// The file dialog could not be shown.
    DialogFailed(Arc<io::Error>),
    /// 咻一下 or Struct in the Reader with nothing sent yet.
    NoPicture,
    /// A Reader button before any Writer appeared.
    NoWriterYet,
    /// The Reader moved to a new Writer's segment.
    Reconnected {
        /// The new Writer's pid.
        pid: Option<u32>,
    },
    /// The Reader followed its Writer to a larger segment.
    FollowedGrowth {
        /// Largest picture now.
        capacity: usize,
        /// Largest frame now (0: no frames).
        frame_capacity: usize,
    },
}

impl Note {
    /// Whether the note reports something that went wrong.
    pub fn is_error(&self) -> bool {
        !matches!(
            self,
            Note::Opened { .. }
                | Note::Sent { .. }
                | Note::SentStruct { .. }
                | Note::Grown { .. }
                | Note::StreamStopped { .. }
                | Note::Reconnected { .. }
                | Note::FollowedGrowth { .. }
        )
    }
}

impl Language {
    /// The note in words; `location` is the segment the window works on.
    pub fn word(self, note: &Note, location: &SegmentLocation) -> String {
        let zh = self == Language::Chinese;
        match note {
            Note::Opened {
                path,
                len,
                width,
                height,
                format,
                frames,
            } => {
                let path = path.display();
                let size = self.size(*len);
                let animation = match (zh, *frames) {
                    (_, 0 | 1) => String::new(),
                    (true, frames) => format!("，{frames} 帧动画"),
                    (false, frames) => format!(", {frames}-frame animation"),
                };
                if zh {
                    format!("已打开 '{path}'：{format}，{width}×{height} 像素，{size}{animation}")
                } else {
                    format!("opened '{path}': {format}, {width}×{height} pixels, {size}{animation}")
                }
            }
            Note::Sent {
                path,
                len,
                write_time,
                sequence,
                changed_on_disk,
                grown_to,
            } => {
                let size = self.size(*len);
                let took = self.duration(*write_time);
                let grown = grown_to.map_or_else(String::new, |total| {
                    let segment = self.segment(location);
                    let total = self.size(total);
                    if zh {
                        format!("；为放下它，{segment}已扩大到 {total}")
                    } else {
                        format!("; {segment} grown to {total} to hold it")
                    }
                });
                let sent = match (zh, changed_on_disk) {
                    (true, false) => {
                        format!("已发送 '{path}'（{size}），写入用时 {took}，第 {sequence} 张")
                    }
                    (true, true) => format!(
                        "文件在打开后被修改过：已按磁盘上的当前内容发送 '{path}'（{size}），写入用时 {took}，第 {sequence} 张"
                    ),
                    (false, false) => {
                        format!("sent '{path}' ({size}), written in {took}, picture #{sequence}")
                    }
                    (false, true) => format!(
                        "the file changed on disk since it was opened: sent '{path}' as it is now ({size}), written in {took}, picture #{sequence}"
                    ),
                };
                sent + &grown
            }
            Note::SentStruct { data } => {
                if zh {
                    format!("已发送结构体 {data}")
                } else {
                    format!("sent struct {data}")
                }
            }
            Note::ChooseFirst => if zh {
                "没有发送任何内容：请先选择一张图片"
            } else {
                "nothing was sent: choose a picture first"
            }
            .to_owned(),
            Note::NotSent(reason) => {
                let reason = self.word(reason, location);
                if zh {
                    format!("没有发送任何内容：{reason}")
                } else {
                    format!("nothing was sent: {reason}")
                }
            }
            Note::PathEmpty => if zh {
                "请先在“图片路径”中输入图片的路径"
            } else {
                "type the picture's path into Picture path first"
            }
            .to_owned(),
            Note::FileMissing { path } => {
                if zh {
                    format!("文件 '{}' 不存在", path.display())
                } else {
                    format!("file '{}' does not exist", path.display())
                }
            }
            Note::IsDirectory { path } => {
                if zh {
                    format!("'{}' 是文件夹，不是图片文件", path.display())
                } else {
                    format!("'{}' is a folder, not a picture file", path.display())
                }
            }
            Note::CannotRead { path, error } => {
                let why = self.io_error(error);
                if zh {
                    format!("无法读取 '{}'：{why}", path.display())
                } else {
                    format!("cannot read '{}': {why}", path.display())
                }
            }
            Note::NotAPicture { path, error } => {
                let why = self.decode_error(error);
                if zh {
                    format!("'{path}' 不是可以显示的图片：{why}")
                } else {
                    format!("'{path}' is not a picture that can be shown: {why}")
                }
            }
            Note::Grown { total_size, kind } => {
                let size = self.size(*total_size);
                let noun = self.kind_noun(*kind);
                if zh {
                    format!(
                        "为放下这张{noun}，{}已扩大到 {size}",
                        self.segment(location)
                    )
                } else {
                    format!(
                        "{} grown to {size} to hold the {noun}",
                        self.segment(location)
                    )
                }
            }
            Note::GrowDeclined { size } => {
                let size = self.size(*size);
                if zh {
                    format!("没有发送：这张 {size} 的图片需要更大的共享内存段，而您选择了不扩大")
                } else {
                    format!(
                        "not sent: the {size} picture needs a larger segment, which you declined"
                    )
                }
            }
            Note::Create(error) => self.create_error(error, location),
            Note::Send(error) => self.send_error(error, location),
            Note::Grow(error) => self.grow_error(error, location),
            Note::Read(error) => self.read_error(error, location),
            Note::FieldsInvalid { count } => {
                if zh {
                    format!("没有发送结构体：有 {count} 个字段不是整数（见红框）")
                } else if *count == 1 {
                    "the struct was not sent: one field is not a whole number (outlined in red)"
                        .to_owned()
                } else {
                    format!(
                        "the struct was not sent: {count} fields are not whole numbers (outlined in red)"
                    )
                }
            }
            Note::StreamStopped { frames, elapsed } => {
                let seconds = elapsed.as_secs_f64().max(1e-9);
                let rate = *frames as f64 / seconds;
                let took = self.duration(*elapsed);
                if zh {
                    format!("推流结束：{took} 内发送了 {frames} 帧，平均每秒 {rate:.0} 帧")
                } else {
                    format!("stream stopped: {frames} frames in {took}, {rate:.0} frames/s")
                }
            }
            Note::StreamFailed(error) => self.stream_error(error),
            Note::StreamSkipped(note) => self.stream_note(note),
            Note::DialogFailed(error) => {
                let why = self.io_error(error);
                if zh {
                    format!("无法打开文件对话框（{why}）：请在“图片路径”中输入路径后按回车")
                } else {
                    format!(
                        "the file dialog could not open ({why}): type the path into Picture path and press Enter"
                    )
                }
            }
            Note::NoPicture => if zh {
                "尚未发送图片"
            } else {
                "no picture sent yet"
            }
            .to_owned(),
            Note::NoWriterYet => {
                let segment = self.segment(location);
                if zh {
                    format!("还没有 Writer：{segment}尚不存在，请先启动 Writer")
                } else {
                    format!("no Writer yet: {segment} does not exist; start the Writer first")
                }
            }
            Note::Reconnected { pid } => {
                let pid = pid.map_or_else(String::new, |pid| format!(" (pid {pid})"));
                if zh {
                    format!("新的 Writer{pid} 已连接")
                } else {
                    format!("a new Writer{pid} connected")
                }
            }
            Note::FollowedGrowth {
                capacity,
                frame_capacity,
            } => {
                let segment = self.segment(location);
                let pictures = self.size(*capacity);
                let frames = self.size(*frame_capacity);
                match (zh, *frame_capacity) {
                    (true, 0) => {
                        format!("Writer 扩大了{segment}（每张图片最多 {pictures}），已跟上")
                    }
                    (true, _) => format!(
                        "Writer 扩大了{segment}（每张图片最多 {pictures}，每帧最多 {frames}），已跟上"
                    ),
                    (false, 0) => format!(
                        "the Writer grew {segment} (pictures up to {pictures}); following it"
                    ),
                    (false, _) => format!(
                        "the Writer grew {segment} (pictures up to {pictures}, frames up to {frames}); following it"
                    ),
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_note_is_worded_in_whichever_language_is_chosen_when_drawn() {
        let note = Note::NotSent(Box::new(Note::NotAPicture {
            path: "/x.txt".to_owned(),
            error: DecodeError::UnknownFormat,
        }));
        let location = SegmentLocation::default();
        let chinese = Language::Chinese.word(&note, &location);
        let english = Language::English.word(&note, &location);
        assert!(
            chinese.starts_with("没有发送任何内容：'/x.txt' 不是可以显示的图片：这些字节不是"),
            "{chinese}"
        );
        assert!(english.starts_with("nothing was sent: '/x.txt' is not a picture that can be shown: the bytes are not a picture"), "{english}");
        assert!(note.is_error());
    }
}
