//! A rendered project: relative paths (validated so nothing escapes the project root) to bytes,
//! kept in a sorted map so iteration order, and therefore the zip, is deterministic.

use std::collections::BTreeMap;
use std::fmt;

/// Why a path cannot be part of a file tree.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("bad path {path:?}: {reason}")]
pub struct RelPathError {
    pub path: String,
    pub reason: &'static str,
}

/// A path relative to the project root: `/`-separated, non-empty segments, none of them `.` or
/// `..`, no leading `/`, no backslash, no NUL or other control character. It can never name
/// anything outside the root, on any operating system that unpacks the zip.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RelPath(String);

impl RelPath {
    pub fn new(path: impl Into<String>) -> Result<Self, RelPathError> {
        let path = path.into();
        let bad = |reason| {
            Err(RelPathError {
                path: path.clone(),
                reason,
            })
        };
        if path.is_empty() {
            return bad("empty");
        }
        if path.len() > 512 {
            return bad("longer than 512 bytes");
        }
        if path.starts_with('/') {
            return bad("absolute");
        }
        if path.contains('\\') {
            return bad("contains a backslash");
        }
        if path.chars().any(char::is_control) {
            return bad("contains a control character");
        }
        if path.contains(':') {
            return bad("contains a colon (drive letter or stream name)");
        }
        for segment in path.split('/') {
            match segment {
                "" => return bad("empty segment"),
                "." | ".." => return bad("dot segment"),
                _ => {}
            }
        }
        Ok(Self(path))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The first segment, used to group files in progress events (`root` for top-level files).
    pub fn group(&self) -> &str {
        match self.0.split_once('/') {
            Some((dir, _)) => dir,
            None => "root",
        }
    }
}

impl fmt::Display for RelPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The files of a rendered project, sorted by path.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FileTree {
    files: BTreeMap<RelPath, Vec<u8>>,
}

impl FileTree {
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds (or replaces) a file.
    pub fn insert(&mut self, path: RelPath, bytes: impl Into<Vec<u8>>) {
        self.files.insert(path, bytes.into());
    }

    /// Adds a file by a path string, refusing paths that would escape the root.
    pub fn add(&mut self, path: &str, bytes: impl Into<Vec<u8>>) -> Result<(), RelPathError> {
        self.insert(RelPath::new(path)?, bytes);
        Ok(())
    }

    pub fn get(&self, path: &str) -> Option<&[u8]> {
        self.files
            .iter()
            .find(|(p, _)| p.as_str() == path)
            .map(|(_, b)| b.as_slice())
    }

    /// Files in path order.
    pub fn iter(&self) -> impl Iterator<Item = (&RelPath, &[u8])> {
        self.files.iter().map(|(p, b)| (p, b.as_slice()))
    }

    pub fn len(&self) -> usize {
        self.files.len()
    }

    pub fn is_empty(&self) -> bool {
        self.files.is_empty()
    }

    /// Sum of the file sizes (uncompressed).
    pub fn total_bytes(&self) -> u64 {
        self.files.values().map(|b| b.len() as u64).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_that_escape_are_refused() {
        for bad in [
            "",
            "/etc/passwd",
            "../x",
            "a/../../x",
            "a/./b",
            "a//b",
            "a\\b",
            "c:x",
            "a/\0",
            "a/",
        ] {
            assert!(RelPath::new(bad).is_err(), "{bad:?} accepted");
        }
        for good in [
            "index.html",
            "src/pages/首页.vue",
            "a/b/c.js",
            ".gitignore",
            "..a",
        ] {
            assert!(RelPath::new(good).is_ok(), "{good:?} refused");
        }
    }

    #[test]
    fn groups_are_first_segments() {
        let p = |s: &str| RelPath::new(s).map(|p| p.group().to_owned());
        assert_eq!(p("index.html"), Ok("root".to_owned()));
        assert_eq!(p("src/pages/a.tsx"), Ok("src".to_owned()));
    }
}
