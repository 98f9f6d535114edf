//! Deterministic zips of rendered trees (same tree ⇒ same bytes: path order, fixed timestamp and
//! mode, no extra fields), the artifact record built from them, and a reader that serves single
//! files out of zip bytes without unpacking to disk and never names a file outside the root.

use std::collections::BTreeMap;
use std::io::{Cursor, Read, Write};

use bytes::Bytes;
use ingenio_app_specs::AppSpec;
use sha2::{Digest, Sha256};
use zip::write::SimpleFileOptions;
use zip::{CompressionMethod, DateTime, ZipArchive, ZipWriter};

use crate::render::{RenderError, Renderer};
use crate::tree::{FileTree, RelPath};

/// The largest single entry [`ZipIndex::get`] decompresses (a zip bomb yields `None`).
pub const MAX_ENTRY_BYTES: u64 = 64 * 1024 * 1024;

/// Why a zip could not be written or read.
#[derive(Debug, thiserror::Error)]
pub enum ArchiveError {
    #[error("zip could not be written")]
    Write(#[source] zip::result::ZipError),
    #[error("zip entry could not be written")]
    Io(#[source] std::io::Error),
    #[error("bytes are not a readable zip")]
    Read(#[source] zip::result::ZipError),
}

/// Why an artifact could not be built.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    #[error(transparent)]
    Render(#[from] RenderError),
    #[error(transparent)]
    Archive(#[from] ArchiveError),
}

/// Extensions stored without compression (their content is already compressed).
const STORED: &[&str] = &[
    "png", "jpg", "jpeg", "gif", "webp", "avif", "ico", "zip", "gz", "tgz", "br", "zst", "woff",
    "woff2", "mp3", "mp4", "m4a", "ogg", "webm", "pdf",
];

fn method_for(path: &RelPath) -> CompressionMethod {
    let ext = path
        .as_str()
        .rsplit_once('.')
        .map(|(_, e)| e.to_ascii_lowercase())
        .unwrap_or_default();
    if STORED.contains(&ext.as_str()) {
        CompressionMethod::Stored
    } else {
        CompressionMethod::Deflated
    }
}

/// The tree as a zip: entries in path order, timestamp 1980-01-01 00:00, unix mode 0644, no extra
/// fields, deflate (store for already-compressed types).
pub fn zip(tree: &FileTree) -> Result<Vec<u8>, ArchiveError> {
    let mut writer = ZipWriter::new(Cursor::new(Vec::new()));
    for (path, bytes) in tree.iter() {
        let options = SimpleFileOptions::default()
            .compression_method(method_for(path))
            .last_modified_time(DateTime::default())
            .unix_permissions(0o644)
            .large_file(false);
        writer
            .start_file(path.as_str(), options)
            .map_err(ArchiveError::Write)?;
        writer.write_all(bytes).map_err(ArchiveError::Io)?;
    }
    let cursor = writer.finish().map_err(ArchiveError::Write)?;
    Ok(cursor.into_inner())
}

/// A rendered, zipped project and what the `generated_code` record keeps about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Artifact {
    pub zip: Vec<u8>,
    pub file_count: u64,
    /// Sum of the uncompressed file sizes.
    pub total_size_bytes: u64,
    pub zip_size: u64,
    /// Lowercase hex SHA-256 of `zip`.
    pub content_hash: String,
    /// Every file with its uncompressed size, in path order.
    pub files: Vec<(RelPath, u64)>,
}

/// Renders `spec` with `renderer` and zips the result.
pub fn build(renderer: &dyn Renderer, spec: &AppSpec) -> Result<Artifact, BuildError> {
    let tree = renderer.render(spec)?;
    let bytes = zip(&tree)?;
    Ok(Artifact {
        file_count: tree.len() as u64,
        total_size_bytes: tree.total_bytes(),
        zip_size: bytes.len() as u64,
        content_hash: hex::encode(Sha256::digest(&bytes)),
        files: tree
            .iter()
            .map(|(p, b)| (p.clone(), b.len() as u64))
            .collect(),
        zip: bytes,
    })
}

/// Random access to the files of a zip held in memory (for the preview server). Entries whose
/// names are not valid [`RelPath`]s (absolute, `..`, backslashes, drive letters, control
/// characters) and directories are ignored, so no lookup can leave the root; for duplicate names
/// the first entry wins.
#[derive(Debug, Clone)]
pub struct ZipIndex {
    archive: ZipArchive<Cursor<Bytes>>,
    entries: BTreeMap<RelPath, usize>,
}

impl ZipIndex {
    /// Reads the central directory once.
    pub fn new(bytes: impl Into<Bytes>) -> Result<Self, ArchiveError> {
        let archive = ZipArchive::new(Cursor::new(bytes.into())).map_err(ArchiveError::Read)?;
        let mut entries = BTreeMap::new();
        for i in 0..archive.len() {
            let Some(name) = archive.name_for_index(i) else {
                continue;
            };
            if name.ends_with('/') {
                continue;
            }
            if let Ok(path) = RelPath::new(name) {
                entries.entry(path).or_insert(i);
            }
        }
        Ok(Self { archive, entries })
    }

    /// The decompressed bytes of one file, `None` when there is no such (acceptable) entry or it
    /// cannot be decompressed (corrupt, encrypted, larger than [`MAX_ENTRY_BYTES`]).
    pub fn get(&self, path: &str) -> Option<Vec<u8>> {
        let index = *self.entries.get(&RelPath::new(path).ok()?)?;
        let mut archive = self.archive.clone();
        let file = archive.by_index(index).ok()?;
        if file.size() > MAX_ENTRY_BYTES {
            return None;
        }
        let mut out = Vec::with_capacity(usize::try_from(file.size()).unwrap_or(0));
        let read = file.take(MAX_ENTRY_BYTES + 1).read_to_end(&mut out).ok()?;
        (read as u64 <= MAX_ENTRY_BYTES).then_some(out)
    }

    pub fn contains(&self, path: &str) -> bool {
        RelPath::new(path).is_ok_and(|p| self.entries.contains_key(&p))
    }

    /// The acceptable file names, in path order.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.entries.keys().map(RelPath::as_str)
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    fn tree() -> FileTree {
        let mut t = FileTree::new();
        t.add("index.html", "<!DOCTYPE html>".repeat(50)).unwrap();
        t.add("assets/logo.png", vec![0x89, b'P', b'N', b'G'])
            .unwrap();
        t.add("src/页面.js", "console.log(1)").unwrap();
        t
    }

    #[test]
    fn zips_are_deterministic_and_readable() {
        let a = zip(&tree()).unwrap();
        assert_eq!(a, zip(&tree()).unwrap());
        let index = ZipIndex::new(a.clone()).unwrap();
        assert_eq!(
            index.names().collect::<Vec<_>>(),
            vec!["assets/logo.png", "index.html", "src/页面.js"]
        );
        assert_eq!(index.get("src/页面.js").unwrap(), b"console.log(1)");
        assert!(index.contains("index.html"));
        assert!(index.get("missing.html").is_none());
        assert!(index.get("../index.html").is_none());

        let mut raw = ZipArchive::new(Cursor::new(a)).unwrap();
        for i in 0..raw.len() {
            let f = raw.by_index(i).unwrap();
            assert_eq!(f.unix_mode(), Some(0o100644));
            assert_eq!(f.last_modified(), Some(DateTime::default()));
            assert!(f.extra_data().is_none_or(<[u8]>::is_empty), "{}", f.name());
            let expected = if f.name().ends_with(".png") {
                CompressionMethod::Stored
            } else {
                CompressionMethod::Deflated
            };
            assert_eq!(f.compression(), expected);
        }
    }

    #[test]
    fn hostile_entry_names_are_never_served() {
        let mut w = ZipWriter::new(Cursor::new(Vec::new()));
        let o = SimpleFileOptions::default().compression_method(CompressionMethod::Stored);
        for name in [
            "../evil.txt",
            "/etc/passwd",
            "a/../../b.txt",
            "c:/x.txt",
            "a\\..\\b.txt",
            "dir/",
            "ok.txt",
        ] {
            w.start_file(name, o).unwrap();
            w.write_all(b"x").unwrap();
        }
        let bytes = w.finish().unwrap().into_inner();
        let index = ZipIndex::new(bytes).unwrap();
        assert_eq!(index.names().collect::<Vec<_>>(), vec!["ok.txt"]);
        for bad in [
            "../evil.txt",
            "/etc/passwd",
            "evil.txt",
            "etc/passwd",
            "b.txt",
        ] {
            assert!(index.get(bad).is_none(), "{bad}");
        }
        assert_eq!(index.get("ok.txt").unwrap(), b"x");
    }

    #[test]
    fn garbage_is_not_a_zip() {
        assert!(matches!(
            ZipIndex::new(b"not a zip".to_vec()),
            Err(ArchiveError::Read(_))
        ));
    }
}
