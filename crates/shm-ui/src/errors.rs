//! The library's errors worded in each language. English uses the library's own sentences;
//! Chinese words every variant from its data, so no English is left inside a Chinese message
//! but a decoder's or the OS's own detail.

use std::io;

use shm_common::{
    CreateError, FrameError, GrowError, LayoutError, OpenError, ReadError, RecordKind,
    SegmentLocation, SendError,
};
use shm_picture::{DecodeError, StreamError, StreamNote};

use crate::i18n::Language;

impl Language {
    /// An operating-system error.
    pub fn io_error(self, error: &io::Error) -> String {
        if self == Language::English {
            return error.to_string();
        }
        let words = match error.kind() {
            io::ErrorKind::NotFound => "不存在",
            io::ErrorKind::PermissionDenied => "权限不足",
            io::ErrorKind::AlreadyExists => "已经存在",
            io::ErrorKind::StorageFull => "存储空间已满",
            io::ErrorKind::OutOfMemory => "内存不足",
            io::ErrorKind::IsADirectory => "是文件夹",
            io::ErrorKind::ReadOnlyFilesystem => "文件系统只读",
            io::ErrorKind::Unsupported => "不支持此操作",
            _ => return format!("系统错误（{error}）"),
        };
        words.to_owned()
    }

    /// Why a segment's header cannot be used.
    pub fn layout_error(self, error: &LayoutError) -> String {
        if self == Language::English {
            return error.to_string();
        }
        match error {
            LayoutError::Uninitialised => {
                "它尚未初始化：创建者仍在设置，或在设置时崩溃了".to_owned()
            }
            LayoutError::BadMagic { found } => {
                format!("它不是本程序的共享内存段（魔数 {found:#018x}）")
            }
            LayoutError::Version { found, expected } => {
                format!("它的布局版本是 {found}，本程序需要 {expected}")
            }
            LayoutError::HeaderSize { found } => {
                format!("它的头部声称控制区有 {found} 字节，应为 4096")
            }
            LayoutError::CapacityOutOfRange { capacity } => {
                format!("它的容量 {capacity} 字节超出了 4 KiB 到 1 GiB 的范围")
            }
            LayoutError::TotalSize { claimed, expected } => {
                format!("它的头部声称总共 {claimed} 字节，但按容量应为 {expected} 字节")
            }
            LayoutError::Truncated { mapped, needed } => {
                format!("它只有 {mapped} 字节，而头部需要 {needed} 字节：它被截断了")
            }
            LayoutError::Directory(reason) => format!("它的通道目录已损坏（{reason}）"),
            LayoutError::DirectoryLength { len } => {
                format!("它的头部声称通道目录有 {len} 字节，超过了允许的 4 MiB")
            }
        }
    }

    /// Opening `location` (or a channel of it) failed: what happened, and what to do about it
    /// in the window's terms.
    pub fn open_error(self, error: &OpenError, location: &SegmentLocation) -> String {
        let segment = self.segment(location);
        if self == Language::English {
            let advice = match error {
                OpenError::NotFound { .. } => Some("start the Writer first"),
                OpenError::Invalid { .. } => {
                    Some("remove it with `shm remove` or start with another --name")
                }
                OpenError::PermissionDenied { .. } => {
                    Some("run as that user or start with another --name")
                }
                OpenError::ForeignOwner { .. } => {
                    Some("remove it as that user, or start with another --name")
                }
                OpenError::OpenToOthers { .. } => {
                    Some("make it owner-only (chmod 600), remove it, or start with another --name")
                }
                _ => None,
            };
            return match advice {
                Some(advice) => format!("{error}; {advice}"),
                None => error.to_string(),
            };
        }
        match error {
            OpenError::NotFound { .. } => {
                format!("{segment}还不存在：请先启动 Writer（或运行 `shm send-image`）")
            }
            OpenError::Invalid { reason, .. } => format!(
                "{segment}无法使用：{}；请用 `shm remove` 删除它，或用 --name 换一个段",
                self.layout_error(reason)
            ),
            OpenError::ForeignOwner { owner, you, .. } => format!(
                "{segment}属于用户 {owner}，不属于你（用户 {you}）：它的主人能读取或修改每一条记录，所以没有打开它；请以该用户删除它，或用 --name 换一个段"
            ),
            OpenError::OpenToOthers { mode, .. } => format!(
                "{segment}的权限是 {mode:04o}：其他用户能读取或修改它的记录，所以没有打开它；请改为只有自己可用（chmod 600）、删除它，或用 --name 换一个段"
            ),
            OpenError::NoChannel { channel, .. } => {
                format!("{segment}没有名为 `{channel}` 的通道")
            }
            OpenError::ChannelKind {
                channel,
                found,
                expected,
                ..
            } => format!(
                "{segment}的通道 `{channel}` 传的是{}，不是{}",
                self.kind_noun(*found),
                self.kind_noun(*expected)
            ),
            OpenError::TypeMismatch {
                channel, mismatch, ..
            } => format!(
                "{segment}的通道 `{channel}` 传的是 {}，而这里需要 {}（{}）",
                mismatch.found,
                mismatch.expected,
                mismatch
                    .differences
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join("; ")
            ),
            OpenError::PermissionDenied { .. } => format!(
                "没有权限访问{segment}：它属于另一个用户；请以该用户运行，或用 --name 换一个段"
            ),
            OpenError::Os { action, source, .. } => {
                let action = match *action {
                    "create" => "创建",
                    "open" => "打开",
                    "size" => "设置大小",
                    "map" => "映射",
                    "inspect" => "检查",
                    "lock" => "锁定",
                    "reserve space for" => "预留空间给",
                    other => other,
                };
                format!("无法{action}{segment}：{}", self.io_error(source))
            }
        }
    }

    /// Creating `location`, or opening it as its writer, failed: what happened, and what to
    /// do about it in the window's terms.
    pub fn create_error(self, error: &CreateError, location: &SegmentLocation) -> String {
        let segment = self.segment(location);
        match (self, error) {
            (_, CreateError::Open(error)) => self.open_error(error, location),
            (_, CreateError::Replace(error)) => self.grow_error(error, location),
            (Language::English, CreateError::WriterActive { pid, .. }) => format!(
                "another Writer (pid {pid}) is using {segment}; close it first, or start this one with another --name (click again to retry once it is closed)"
            ),
            (Language::English, CreateError::AlreadyExists { .. }) => {
                format!("{error}; remove it with `shm remove`, or start with another --name")
            }
            (Language::English, CreateError::NoSpace { shared_memory, .. }) => format!(
                "{error}; {}",
                if *shared_memory {
                    "in a container give it more shared memory (docker run --shm-size=256m), ask for a smaller --capacity, or put the segment on a disk with --file"
                } else {
                    "free some space there, ask for a smaller --capacity, or put the file on a disk with more room"
                }
            ),
            (Language::English, other) => other.to_string(),
            (Language::Chinese, CreateError::AlreadyExists { .. }) => {
                format!("{segment}已经存在")
            }
            (Language::Chinese, CreateError::WriterActive { pid, .. }) => format!(
                "另一个 Writer（pid {pid}）正在使用{segment}；请先关闭它，或用 --name 换一个段（关闭后再点按钮即可重试）"
            ),
            (Language::Chinese, CreateError::Capacity { capacity }) => format!(
                "无法使用 {} 的容量：必须在 4 KiB 到 1 GiB 之间",
                self.size(*capacity)
            ),
            (Language::Chinese, CreateError::Channels { source, .. }) => {
                format!("{segment}无法包含这些通道（{source}）")
            }
            (
                Language::Chinese,
                CreateError::NoSpace {
                    shared_memory,
                    needed,
                    available,
                    directory,
                    ..
                },
            ) => format!(
                "{segment}需要 {}，但 {} 只剩 {}；{}",
                self.size_u64(*needed),
                directory.display(),
                self.size_u64(*available),
                if *shared_memory {
                    "在容器里请给它更多共享内存（docker run --shm-size=256m），或用更小的 --capacity，或用 --file 把共享内存段放在磁盘上"
                } else {
                    "请腾出空间，或用更小的 --capacity，或把文件放在空间更大的磁盘上"
                }
            ),
        }
    }

    /// Sending a record to `location` failed.
    pub fn send_error(self, error: &SendError, location: &SegmentLocation) -> String {
        let segment = self.segment(location);
        match (self, error) {
            (Language::English, SendError::FileTruncated { .. }) => {
                format!("{error}; restart the Writer")
            }
            (Language::English, other) => other.to_string(),
            (
                Language::Chinese,
                SendError::TooLarge {
                    kind,
                    size,
                    capacity,
                    ..
                },
            ) => format!(
                "{}有 {}，但{segment}最多容纳 {}",
                self.kind_noun(*kind),
                self.size(*size),
                self.size(*capacity)
            ),
            (Language::Chinese, SendError::Malformed { kind, source }) => format!(
                "{}无法发送：{}",
                self.kind_noun(*kind),
                self.frame_error(source)
            ),
            (Language::Chinese, SendError::FileTruncated { len, .. }) => {
                format!("{segment}被其他程序截断为 {len} 字节；请重启 Writer")
            }
            (Language::Chinese, SendError::NoChannel { channel, .. }) => {
                format!("{segment}没有名为 `{channel}` 的通道")
            }
            (Language::Chinese, SendError::StructSize { channel, len, size }) => {
                format!("结构体通道 `{channel}` 的值是 {size} 字节，而不是 {len} 字节")
            }
        }
    }

    /// Reading a record from `location` failed.
    pub fn read_error(self, error: &ReadError, location: &SegmentLocation) -> String {
        if self == Language::English {
            return match error {
                ReadError::FileTruncated { .. } => format!("{error}; ask its Writer to restart"),
                other => other.to_string(),
            };
        }
        let noun = |kind: &RecordKind| self.kind_noun(*kind);
        match error {
            ReadError::LengthExceedsCapacity {
                kind,
                len,
                capacity,
            } => format!(
                "{}记录的长度 {len} 字节超过了容量 {capacity} 字节：共享内存段已损坏",
                noun(kind)
            ),
            ReadError::WrongKind { expected, found } => format!(
                "{}槽中的记录被标记为类型 {found}：共享内存段已损坏",
                noun(expected)
            ),
            ReadError::ChecksumMismatch {
                kind,
                stored,
                computed,
            } => format!(
                "{}记录的校验和不符（存储的 {stored:#018x}，算出的 {computed:#018x}）：有程序绕过发布协议写入了共享内存段",
                noun(kind)
            ),
            ReadError::Malformed { kind, source } => {
                format!("{}记录格式错误：{}", noun(kind), self.frame_error(source))
            }
            ReadError::Inconsistent { kind } => format!(
                "{}槽的两个序号互相矛盾：共享内存段已损坏，或有程序绕过发布协议写入",
                noun(kind)
            ),
            ReadError::BufferMapping {
                kind,
                region,
                regions,
            } => format!(
                "{}槽指向第 {region} 号缓冲区，但它只有 {regions} 个：共享内存段已损坏，或有程序绕过发布协议写入",
                noun(kind)
            ),
            ReadError::Unstable { kind, waited_ms } => format!(
                "{}记录在读取的 {waited_ms} 毫秒内一直在变：共享内存段的序号不一致",
                noun(kind)
            ),
            ReadError::FileTruncated { len, .. } => format!(
                "{}被其他程序截断为 {len} 字节；请让 Writer 重启",
                self.segment(location)
            ),
            ReadError::NoChannel { channel, .. } => {
                format!("{}没有名为 `{channel}` 的通道", self.segment(location))
            }
            ReadError::ChannelChanged(source) => {
                format!("共享内存段已被重建：{}", self.open_error(source, location))
            }
        }
    }

    /// A record does not follow its format.
    pub fn frame_error(self, error: &FrameError) -> String {
        if self == Language::English {
            return error.to_string();
        }
        let field = |field: &str| match field {
            "path length" => "路径长度".to_owned(),
            "picture length" => "图片长度".to_owned(),
            other => other.to_owned(),
        };
        match error {
            FrameError::Truncated { needed, remaining } => {
                format!("记录提前结束：还需要 {needed} 字节，只剩 {remaining} 字节")
            }
            FrameError::NegativeLength { field: name, value } => {
                format!("{}为负数（{value}）", field(name))
            }
            FrameError::LengthTooLarge {
                field: name,
                len,
                remaining,
            } => format!(
                "{}声称有 {len} 字节，但记录中只剩 {remaining} 字节",
                field(name)
            ),
            FrameError::PathNotUtf8 { valid_up_to } => {
                format!("图片路径不是有效的 UTF-8（第 {valid_up_to} 字节出错）")
            }
            FrameError::TrailingBytes { extra } => format!("图片之后还有 {extra} 个多余的字节"),
            FrameError::StructSize { len } => format!("结构体记录有 {len} 字节，应为 48 字节"),
            FrameError::PixelFormat { code } => format!("视频帧的像素格式代码 {code} 无法识别"),
            FrameError::FrameGeometry {
                width,
                height,
                stride,
                bytes,
            } => format!(
                "视频帧声称有 {width}x{height} 像素、每行 {stride} 字节，与它的 {bytes} 字节像素数据不符"
            ),
        }
    }

    /// Growing the segment at `location` failed.
    pub fn grow_error(self, error: &GrowError, location: &SegmentLocation) -> String {
        let segment = self.segment(location);
        match (self, error) {
            (Language::English, GrowError::Create { source, .. }) => format!(
                "{segment} could not grow: {}",
                self.create_error(source, location)
            ),
            (Language::English, other) => other.to_string(),
            (Language::Chinese, GrowError::TooLarge { kind, size, max }) => format!(
                "无法发送 {} 的{noun}：共享内存段的每个{noun}最多 {}",
                self.size(*size),
                self.size(*max),
                noun = self.kind_noun(*kind)
            ),
            (
                Language::Chinese,
                GrowError::NoSpace {
                    needed,
                    available,
                    directory,
                    ..
                },
            ) => format!(
                "{segment}无法扩大到 {}：{} 只剩 {} 可用空间",
                self.size(*needed),
                directory.display(),
                self.size_u64(*available)
            ),
            (Language::Chinese, GrowError::Create { source, .. }) => {
                format!("{segment}无法扩大：{}", self.create_error(source, location))
            }
            (Language::Chinese, GrowError::Rename { source, .. }) => format!(
                "{segment}无法扩大：新的段无法接替旧段的名字（{}）",
                self.io_error(source)
            ),
        }
    }

    /// Bytes that could not be decoded into a picture.
    pub fn decode_error(self, error: &DecodeError) -> String {
        if self == Language::English {
            return error.to_string();
        }
        match error {
            DecodeError::Empty => "图片是空的（0 字节）".to_owned(),
            DecodeError::UnknownFormat => format!(
                "这些字节不是本程序能读取的任何格式的图片（{}）",
                shm_picture::readable_formats()
                    .into_iter()
                    .map(shm_picture::format_name)
                    .collect::<Vec<_>>()
                    .join("、")
            ),
            DecodeError::TooLarge {
                format,
                width,
                height,
            } => format!(
                "这张 {format} 图片声称有 {width}x{height} 像素，超过了 {} MiB 的解码内存上限",
                shm_picture::MAX_DECODE_ALLOC >> 20
            ),
            DecodeError::OverLimit { format } => format!(
                "这张 {format} 图片需要的内存超过了 {} MiB 的解码上限",
                shm_picture::MAX_DECODE_ALLOC >> 20
            ),
            DecodeError::Unsupported { format, detail } => {
                format!("这张 {format} 图片用到了本程序无法解码的功能（解码器说：{detail}）")
            }
            DecodeError::Damaged { format, detail } => {
                format!("这张 {format} 图片已损坏（解码器说：{detail}）")
            }
        }
    }

    /// No stream could be made.
    pub fn stream_error(self, error: &StreamError) -> String {
        match (self, error) {
            (Language::English, other) => other.to_string(),
            (Language::Chinese, StreamError::Size { width, height }) => {
                format!("无法生成 {width}x{height} 像素的视频流：每边必须在 1 到 16384 像素之间")
            }
            (Language::Chinese, StreamError::NoPictures { count }) => {
                format!("所选的 {count} 个文件中没有可以显示的图片")
            }
        }
    }

    /// Something a stream left out.
    pub fn stream_note(self, note: &StreamNote) -> String {
        match (self, note) {
            (Language::English, other) => other.to_string(),
            (Language::Chinese, StreamNote::Unreadable { path, error }) => {
                format!("已跳过 '{}'：{}", path.display(), self.io_error(error))
            }
            (Language::Chinese, StreamNote::NotAPicture { path, error }) => {
                format!("已跳过 '{}'：{}", path.display(), self.decode_error(error))
            }
            (Language::Chinese, StreamNote::Cut { kept }) => format!(
                "只推送前 {kept} 帧：更多的帧需要超过 {} MiB 内存",
                shm_picture::MAX_STREAM_BYTES >> 20
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn has_latin_words(text: &str) -> bool {
        // Names, units, hex and the formats' own names may stay; sentences may not. Quoted
        // parts are names (of segments, files).
        let unquoted: String = text.split('\'').step_by(2).collect();
        unquoted
            .split(|c: char| !c.is_ascii_alphabetic())
            .any(|word| {
                let allowed = ["Writer", "remove", "name", "Reader", "farbfeld"];
                word.len() > 4 && !allowed.contains(&word)
            })
    }

    #[test]
    fn chinese_messages_carry_no_english_sentences() {
        let location = SegmentLocation::default();
        let zh = Language::Chinese;
        let too_large = SendError::TooLarge {
            kind: RecordKind::Image,
            size: 13_002_342,
            capacity: 10 << 20,
            segment: location.clone(),
        };
        let messages = [
            zh.create_error(
                &CreateError::WriterActive {
                    segment: location.clone(),
                    pid: 7,
                },
                &location,
            ),
            zh.open_error(
                &OpenError::Invalid {
                    segment: location.clone(),
                    reason: LayoutError::Version {
                        found: 9,
                        expected: 3,
                    },
                },
                &location,
            ),
            zh.send_error(&too_large, &location),
            zh.read_error(
                &ReadError::LengthExceedsCapacity {
                    kind: RecordKind::Image,
                    len: u64::MAX,
                    capacity: 4096,
                },
                &location,
            ),
            zh.decode_error(&DecodeError::UnknownFormat),
            zh.decode_error(&DecodeError::TooLarge {
                format: "PNG",
                width: 100_000,
                height: 100_000,
            }),
            zh.grow_error(
                &GrowError::NoSpace {
                    segment: location.clone(),
                    needed: 32 << 20,
                    available: 1 << 20,
                    directory: "/dev/shm".into(),
                },
                &location,
            ),
        ];
        for message in messages {
            assert!(!has_latin_words(&message), "{message}");
        }
        assert_eq!(
            zh.send_error(&too_large, &location),
            "图片有 12.4 MiB，但共享内存段 'shm-exchange'最多容纳 10 MiB"
        );
    }
}
