//! What a person types or pastes into the path box, turned into an absolute path: quotes
//! around it, `~`, and `file://` URIs (as file managers copy them) are understood.

use std::path::{Path, PathBuf};

/// The path a path box's text names, absolute; `None` for an empty box.
pub fn parse_path_input(text: &str, home: Option<&Path>) -> Option<PathBuf> {
    let text = unquote(text.trim()).trim();
    if text.is_empty() {
        return None;
    }
    let path = if let Some(uri) = text.strip_prefix("file://") {
        // file:///x and file://localhost/x name /x; anything else after // is a host.
        let path = uri.strip_prefix("localhost").unwrap_or(uri);
        PathBuf::from(percent_decode(path))
    } else if text == "~" {
        home.map_or_else(|| PathBuf::from(text), Path::to_path_buf)
    } else if let (Some(rest), Some(home)) = (text.strip_prefix("~/"), home) {
        home.join(rest)
    } else {
        PathBuf::from(text)
    };
    Some(std::path::absolute(&path).unwrap_or(path))
}

/// The text without one pair of matching quotes around it.
fn unquote(text: &str) -> &str {
    for quote in ['"', '\''] {
        if let Some(inner) = text
            .strip_prefix(quote)
            .and_then(|rest| rest.strip_suffix(quote))
        {
            return inner;
        }
    }
    text
}

/// `%XX` escapes decoded as bytes; the result read as UTF-8 (invalid bytes replaced).
fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut index = 0;
    while index < bytes.len() {
        let escaped = (bytes[index] == b'%')
            .then(|| bytes.get(index + 1..index + 3))
            .flatten()
            .and_then(|hex| std::str::from_utf8(hex).ok())
            .and_then(|hex| u8::from_str_radix(hex, 16).ok());
        match escaped {
            Some(byte) => {
                out.push(byte);
                index += 3;
            }
            None => {
                out.push(bytes[index]);
                index += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The user's home directory, from `HOME`.
pub fn home_dir() -> Option<PathBuf> {
    std::env::var_os("HOME")
        .filter(|home| !home.is_empty())
        .map(PathBuf::from)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typed_and_pasted_paths_become_absolute_paths() {
        let home = Path::new("/home/me");
        let parse = |text: &str| parse_path_input(text, Some(home));
        assert_eq!(parse("   "), None);
        assert_eq!(parse("\"\""), None);
        assert_eq!(parse("/a/b.png"), Some(PathBuf::from("/a/b.png")));
        assert_eq!(parse("~/x.png"), Some(PathBuf::from("/home/me/x.png")));
        assert_eq!(parse("~"), Some(PathBuf::from("/home/me")));
        assert_eq!(parse("'/a b/c.png'"), Some(PathBuf::from("/a b/c.png")));
        assert_eq!(parse(" \"/a b/c.png\" "), Some(PathBuf::from("/a b/c.png")));
        assert_eq!(
            parse("file:///tmp/%E5%9B%BE%20one.png"),
            Some(PathBuf::from("/tmp/图 one.png"))
        );
        assert_eq!(
            parse("file://localhost/tmp/x.png"),
            Some(PathBuf::from("/tmp/x.png"))
        );
        assert_eq!(parse("/100%/x.png"), Some(PathBuf::from("/100%/x.png")));
        let relative = parse("pictures/x.png").unwrap();
        assert!(relative.is_absolute());
        assert!(relative.ends_with("pictures/x.png"));
    }
}
