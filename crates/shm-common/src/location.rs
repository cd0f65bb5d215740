//! Where a segment lives, and how a writer or reader gets at it: plain values, checked when
//! made, that every message names a segment by.

use std::fmt;
use std::path::PathBuf;

use crate::error::NameError;

/// The segment both apps and the `shm` command use unless told otherwise.
pub const DEFAULT_SEGMENT_NAME: &str = "shm-exchange";

/// A validated name for a named segment: 1 to 200 of `[A-Za-z0-9._-]`, not starting with '.'.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct SegmentName(pub(crate) String);

impl SegmentName {
    /// Checks and wraps a name.
    pub fn new(name: impl Into<String>) -> Result<SegmentName, NameError> {
        let name = name.into();
        if name.is_empty() {
            return Err(NameError::Empty);
        }
        if name.len() > 200 {
            return Err(NameError::TooLong { len: name.len() });
        }
        let allowed = |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-');
        if name.starts_with('.') || !name.chars().all(allowed) {
            return Err(NameError::BadCharacter { name });
        }
        Ok(SegmentName(name))
    }

    /// The name as given.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl Default for SegmentName {
    fn default() -> SegmentName {
        SegmentName(DEFAULT_SEGMENT_NAME.to_owned())
    }
}

impl std::str::FromStr for SegmentName {
    type Err = NameError;

    fn from_str(name: &str) -> Result<SegmentName, NameError> {
        SegmentName::new(name)
    }
}

impl fmt::Display for SegmentName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Where a segment lives.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum SegmentLocation {
    /// Named OS shared memory (`/dev/shm/<name>` on Linux, opened directly).
    Named(SegmentName),
    /// A file on disk mapped into memory, through `memmap2`.
    File(PathBuf),
}

impl SegmentLocation {
    /// The directory whose file system holds the segment's memory: where its space comes from.
    pub fn storage_dir(&self) -> PathBuf {
        match self {
            // Linux keeps POSIX shared memory objects in the tmpfs mounted at /dev/shm.
            SegmentLocation::Named(_) => PathBuf::from("/dev/shm"),
            SegmentLocation::File(path) => match path.parent() {
                Some(parent) if !parent.as_os_str().is_empty() => parent.to_path_buf(),
                _ => PathBuf::from("."),
            },
        }
    }
}

impl Default for SegmentLocation {
    fn default() -> SegmentLocation {
        SegmentLocation::Named(SegmentName::default())
    }
}

impl fmt::Display for SegmentLocation {
    /// `segment 'name'` or `segment file '/path'`, as used in every message.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SegmentLocation::Named(name) => write!(f, "segment '{name}'"),
            SegmentLocation::File(path) => write!(f, "segment file '{}'", path.display()),
        }
    }
}

/// How to get at a segment, named like the original's `MemoryMappedFile` calls.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CreationMode {
    /// Create it; fail if it exists.
    CreateNew,
    /// Create it, or open it if it exists (a writer's way in).
    CreateOrOpen,
    /// Open it; fail if it does not exist (a reader's way in).
    OpenExisting,
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn names_are_validated() {
        assert!(SegmentName::new("shm-exchange").is_ok());
        assert!(SegmentName::new("a.b_c-1").is_ok());
        assert_eq!(SegmentName::new(""), Err(NameError::Empty));
        assert!(matches!(
            SegmentName::new("a/b"),
            Err(NameError::BadCharacter { .. })
        ));
        assert!(matches!(
            SegmentName::new(".hidden"),
            Err(NameError::BadCharacter { .. })
        ));
        assert!(matches!(
            SegmentName::new("图"),
            Err(NameError::BadCharacter { .. })
        ));
        assert!(matches!(
            SegmentName::new("x".repeat(201)),
            Err(NameError::TooLong { len: 201 })
        ));
    }

    #[test]
    fn locations_display_as_used_in_messages() {
        let named = SegmentLocation::Named(SegmentName::new("x").unwrap());
        assert_eq!(named.to_string(), "segment 'x'");
        let file = SegmentLocation::File(PathBuf::from("/tmp/seg"));
        assert_eq!(file.to_string(), "segment file '/tmp/seg'");
    }
}
