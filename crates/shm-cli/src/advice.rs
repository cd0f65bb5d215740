//! What to do about a failure, in the command line's terms: the library says what happened,
//! this adds the next step (`shm remove`, `--name`, `--capacity`, `--file`...).

use std::error::Error;

use shm_common::{CreateError, GrowError, OpenError, ReadError, RemoveError, SendError};

/// `err`'s sentence, followed by what to do about it where there is something to do.
pub(crate) fn message(err: &(dyn Error + 'static)) -> String {
    match advice(err) {
        Some(advice) => format!("{err}; {advice}"),
        None => err.to_string(),
    }
}

fn advice(err: &(dyn Error + 'static)) -> Option<&'static str> {
    if let Some(err) = err.downcast_ref::<OpenError>() {
        return open_advice(err);
    }
    if let Some(err) = err.downcast_ref::<CreateError>() {
        return create_advice(err);
    }
    if let Some(err) = err.downcast_ref::<GrowError>() {
        return grow_advice(err);
    }
    if let Some(SendError::FileTruncated { .. }) = err.downcast_ref::<SendError>() {
        return Some("restart the Writer");
    }
    match err.downcast_ref::<ReadError>() {
        Some(ReadError::FileTruncated { .. }) => return Some("ask its Writer to restart"),
        Some(ReadError::ChannelChanged(err)) => return open_advice(err),
        _ => {}
    }
    match err.downcast_ref::<RemoveError>() {
        Some(RemoveError::NotOurs { .. }) => Some("check the path"),
        Some(RemoveError::CannotCheck { source, .. }) => open_advice(source),
        _ => None,
    }
}

fn open_advice(err: &OpenError) -> Option<&'static str> {
    Some(match err {
        OpenError::NotFound { .. } => "start the Writer (or run `shm send-image`) first",
        OpenError::Invalid { .. } => "remove it with `shm remove` or pick another --name",
        OpenError::PermissionDenied { .. } => "run as that user or use another --name",
        OpenError::ForeignOwner { .. } => "remove it as that user, or use another --name",
        OpenError::OpenToOthers { .. } => {
            "make it owner-only (chmod 600), remove it, or use another --name"
        }
        OpenError::NoChannel { .. } => "`shm info` lists its channels",
        OpenError::ChannelKind { .. } | OpenError::TypeMismatch { .. } | OpenError::Os { .. } => {
            return None;
        }
    })
}

fn create_advice(err: &CreateError) -> Option<&'static str> {
    Some(match err {
        CreateError::Open(err) => return open_advice(err),
        CreateError::Replace(err) => return grow_advice(err),
        CreateError::AlreadyExists { .. } => "open it instead, or remove it with `shm remove`",
        CreateError::WriterActive { .. } => "close it first, or use another segment with --name",
        CreateError::NoSpace {
            shared_memory: true,
            ..
        } => {
            "in a container give it more shared memory (docker run --shm-size=256m), ask for a smaller --capacity, or put the segment on a disk with --file"
        }
        CreateError::NoSpace { .. } => {
            "free some space there, ask for a smaller --capacity, or put the file on a disk with more room"
        }
        CreateError::Capacity { .. } | CreateError::Channels { .. } => return None,
    })
}

fn grow_advice(err: &GrowError) -> Option<&'static str> {
    match err {
        GrowError::Create { source, .. } => create_advice(source),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use shm_common::{SegmentLocation, SegmentName};

    #[test]
    fn advice_follows_the_library_sentence_even_when_nested() {
        let segment = SegmentLocation::Named(SegmentName::new("x").unwrap_or_default());
        let missing = OpenError::NotFound {
            segment: segment.clone(),
        };
        assert_eq!(
            message(&missing),
            "segment 'x' does not exist yet: no writer has created it; start the Writer (or run `shm send-image`) first"
        );
        let rival = GrowError::Create {
            segment: segment.clone(),
            source: Box::new(CreateError::WriterActive { segment, pid: 9 }),
        };
        assert!(
            message(&rival).ends_with("; close it first, or use another segment with --name"),
            "{}",
            message(&rival)
        );
    }
}
