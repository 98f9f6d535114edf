//! A log file writer that rolls by day and by size and enforces retention, the Rust
//! twin of logback's `SizeAndTimeBasedRollingPolicy` (guide §6.2).
//!
//! The active file is `<dir>/<name>` (e.g. `logs/ingenio-backend.log`). When the local date
//! changes, or when the next write would push the file past `max_size`, the active file is
//! renamed to `<stem>-YYYY-MM-DD.N.<ext>` (the date is the day its lines were written, N counts
//! 0, 1, 2 … within that day) and a fresh active file is started. After every roll, rolled files
//! older than `max_history_days` days are deleted, and then the oldest rolled files are deleted
//! while all rolled files together exceed `total_size_cap` bytes. A zero in any policy field
//! switches that rule off.

use anyhow::Context as _;
use chrono::{DateTime, Local, NaiveDate};
use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

/// Tells the writer what day it is (local time); injectable so tests can move the calendar.
pub type DateSource = Box<dyn Fn() -> NaiveDate + Send + 'static>;

/// When to roll and what to keep.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RollingPolicy {
    /// Roll before a write would make the active file larger than this many bytes (0: never).
    pub max_size: u64,
    /// Delete rolled files dated more than this many days before today (0: keep forever).
    pub max_history_days: u32,
    /// Delete the oldest rolled files while all rolled files exceed this many bytes (0: no cap).
    pub total_size_cap: u64,
}

/// One rolled (archived) file found in the log directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RolledFile {
    pub path: PathBuf,
    pub date: NaiveDate,
    pub index: u32,
    pub size: u64,
}

/// Writes log lines to the active file, rolling and pruning as it goes. Meant to be owned by
/// one writer thread (`tracing_appender::non_blocking`), so it needs no lock.
pub struct RollingFileWriter {
    dir: PathBuf,
    file_name: String,
    stem: String,
    ext: Option<String>,
    policy: RollingPolicy,
    today: DateSource,
    file: Option<File>,
    size: u64,
    date: NaiveDate,
}

impl std::fmt::Debug for RollingFileWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RollingFileWriter")
            .field("path", &self.active_path())
            .field("policy", &self.policy)
            .field("size", &self.size)
            .field("date", &self.date)
            .finish()
    }
}

impl RollingFileWriter {
    /// A writer for `<dir>/<file_name>` on the local calendar; creates `dir` if missing.
    pub fn new(
        dir: impl AsRef<Path>,
        file_name: &str,
        policy: RollingPolicy,
    ) -> anyhow::Result<Self> {
        Self::with_date_source(
            dir,
            file_name,
            policy,
            Box::new(|| Local::now().date_naive()),
        )
    }

    /// Like [`RollingFileWriter::new`] with a custom notion of "today".
    pub fn with_date_source(
        dir: impl AsRef<Path>,
        file_name: &str,
        policy: RollingPolicy,
        today: DateSource,
    ) -> anyhow::Result<Self> {
        let dir = dir.as_ref().to_path_buf();
        let file_name = file_name.trim();
        if file_name.is_empty() || file_name.contains(['/', '\\']) {
            anyhow::bail!("log file name {file_name:?} must be a plain file name");
        }
        fs::create_dir_all(&dir)
            .with_context(|| format!("cannot create log directory {}", dir.display()))?;
        let (stem, ext) = match file_name.rsplit_once('.') {
            Some((stem, ext)) if !stem.is_empty() => (stem.to_string(), Some(ext.to_string())),
            _ => (file_name.to_string(), None),
        };
        let now = today();
        let path = dir.join(file_name);
        // An active file left over from an earlier run keeps its size and its day (from mtime).
        let (size, date) = match fs::metadata(&path) {
            Ok(meta) => {
                let date = meta
                    .modified()
                    .map(|t| DateTime::<Local>::from(t).date_naive())
                    .unwrap_or(now);
                (meta.len(), date)
            }
            Err(_) => (0, now),
        };
        let file = open_append(&path)
            .with_context(|| format!("cannot open log file {}", path.display()))?;
        let mut writer = Self {
            dir,
            file_name: file_name.to_string(),
            stem,
            ext,
            policy,
            today,
            file: Some(file),
            size,
            date,
        };
        if writer.size > 0 && writer.date < now {
            writer
                .roll(now)
                .with_context(|| format!("cannot roll old log file {}", path.display()))?;
        } else {
            writer.date = now;
            writer.apply_retention(now);
        }
        Ok(writer)
    }

    /// Path of the file currently written to.
    pub fn active_path(&self) -> PathBuf {
        self.dir.join(&self.file_name)
    }

    /// The rolled name for `date` and `index`, e.g. `ingenio-backend-2025-01-15.0.log`.
    pub fn rolled_name(&self, date: NaiveDate, index: u32) -> String {
        match &self.ext {
            Some(ext) => format!("{}-{}.{index}.{ext}", self.stem, date.format("%Y-%m-%d")),
            None => format!("{}-{}.{index}", self.stem, date.format("%Y-%m-%d")),
        }
    }

    /// All rolled files of this writer in the directory, oldest first (by date, then index).
    pub fn rolled_files(&self) -> io::Result<Vec<RolledFile>> {
        let mut found = Vec::new();
        for entry in fs::read_dir(&self.dir)? {
            let entry = entry?;
            let Some(name) = entry.file_name().to_str().map(str::to_string) else {
                continue;
            };
            let Some((date, index)) = self.parse_rolled_name(&name) else {
                continue;
            };
            let meta = entry.metadata()?;
            if !meta.is_file() {
                continue;
            }
            found.push(RolledFile {
                path: entry.path(),
                date,
                index,
                size: meta.len(),
            });
        }
        found.sort_by_key(|a| (a.date, a.index));
        Ok(found)
    }

    fn parse_rolled_name(&self, name: &str) -> Option<(NaiveDate, u32)> {
        let rest = name.strip_prefix(self.stem.as_str())?.strip_prefix('-')?;
        let rest = match &self.ext {
            Some(ext) => rest.strip_suffix(ext.as_str())?.strip_suffix('.')?,
            None => rest,
        };
        let (date, index) = rest.split_once('.')?;
        if date.len() != 10 || index.is_empty() || !index.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let date = NaiveDate::parse_from_str(date, "%Y-%m-%d").ok()?;
        Some((date, index.parse().ok()?))
    }

    /// Renames the active file to its rolled name, starts a new one and prunes old files.
    fn roll(&mut self, today: NaiveDate) -> io::Result<()> {
        if let Some(mut file) = self.file.take() {
            // Best effort: the data is already handed to the OS either way.
            let _ = file.flush();
        }
        let active = self.active_path();
        let next_index = self
            .rolled_files()?
            .iter()
            .filter(|f| f.date == self.date)
            .map(|f| f.index + 1)
            .max()
            .unwrap_or(0);
        let target = self.dir.join(self.rolled_name(self.date, next_index));
        let renamed = if active.exists() {
            fs::rename(&active, &target)
        } else {
            Ok(())
        };
        // Whatever happened to the rename, keep logging into a (new or old) active file.
        let reopened = open_append(&active);
        self.size = match &reopened {
            Ok(f) => f.metadata().map(|m| m.len()).unwrap_or(0),
            Err(_) => 0,
        };
        self.file = reopened.ok();
        self.date = today;
        renamed?;
        self.apply_retention(today);
        Ok(())
    }

    /// Deletes rolled files past `max_history_days`, then the oldest ones over `total_size_cap`.
    /// Failures are reported on stderr (logging them would recurse into this writer).
    fn apply_retention(&self, today: NaiveDate) {
        if self.policy.max_history_days == 0 && self.policy.total_size_cap == 0 {
            return;
        }
        let files = match self.rolled_files() {
            Ok(f) => f,
            Err(e) => {
                eprintln!("log retention: cannot list {}: {e}", self.dir.display());
                return;
            }
        };
        let mut kept = Vec::with_capacity(files.len());
        for f in files {
            let age = (today - f.date).num_days();
            if self.policy.max_history_days > 0 && age > i64::from(self.policy.max_history_days) {
                remove_reporting(&f.path);
            } else {
                kept.push(f);
            }
        }
        if self.policy.total_size_cap > 0 {
            let mut total: u64 = kept.iter().map(|f| f.size).sum();
            for f in &kept {
                if total <= self.policy.total_size_cap {
                    break;
                }
                remove_reporting(&f.path);
                total = total.saturating_sub(f.size);
            }
        }
    }
}

impl Write for RollingFileWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let today = (self.today)();
        let len = buf.len() as u64;
        let date_roll = today != self.date;
        let size_roll =
            self.policy.max_size > 0 && self.size > 0 && self.size + len > self.policy.max_size;
        if date_roll && self.size == 0 && !size_roll {
            // Nothing was written on the old day: just carry the empty file over.
            self.date = today;
        } else if date_roll || size_roll {
            if let Err(e) = self.roll(today) {
                eprintln!(
                    "log rolling of {} failed: {e}",
                    self.active_path().display()
                );
            }
        }
        if self.file.is_none() {
            self.file = Some(open_append(&self.active_path())?);
        }
        match self.file.as_mut() {
            Some(file) => file.write_all(buf)?,
            None => return Err(io::Error::other("log file is not open")),
        }
        self.size += len;
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        match self.file.as_mut() {
            Some(file) => file.flush(),
            None => Ok(()),
        }
    }
}

fn open_append(path: &Path) -> io::Result<File> {
    OpenOptions::new().create(true).append(true).open(path)
}

fn remove_reporting(path: &Path) {
    if let Err(e) = fs::remove_file(path) {
        if e.kind() != io::ErrorKind::NotFound {
            eprintln!("log retention: cannot delete {}: {e}", path.display());
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;
    use std::sync::{Arc, Mutex};

    struct TempDir(PathBuf);

    impl TempDir {
        fn new(tag: &str) -> Self {
            let dir = std::env::temp_dir().join(format!(
                "ingenio-rolling-{tag}-{}-{}",
                std::process::id(),
                uuid::Uuid::new_v4().simple()
            ));
            fs::create_dir_all(&dir).unwrap();
            Self(dir)
        }
    }

    impl Drop for TempDir {
        fn drop(&mut self) {
            let _ = fs::remove_dir_all(&self.0);
        }
    }

    fn date(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    fn clock(start: &str) -> (Arc<Mutex<NaiveDate>>, DateSource) {
        let shared = Arc::new(Mutex::new(date(start)));
        let reader = Arc::clone(&shared);
        (shared, Box::new(move || *reader.lock().unwrap()))
    }

    fn names(dir: &Path) -> Vec<String> {
        let mut v: Vec<String> = fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    }

    fn policy(max_size: u64, days: u32, cap: u64) -> RollingPolicy {
        RollingPolicy {
            max_size,
            max_history_days: days,
            total_size_cap: cap,
        }
    }

    #[test]
    fn creates_missing_directory_and_writes_lines() {
        let tmp = TempDir::new("create");
        let dir = tmp.0.join("nested").join("logs");
        let (_c, today) = clock("2025-01-15");
        let mut w =
            RollingFileWriter::with_date_source(&dir, "app.log", policy(0, 0, 0), today).unwrap();
        w.write_all(b"hello\n").unwrap();
        w.flush().unwrap();
        assert_eq!(fs::read_to_string(dir.join("app.log")).unwrap(), "hello\n");
        assert_eq!(names(&dir), vec!["app.log"]);
    }

    #[test]
    fn rolls_by_size_with_increasing_index() {
        let tmp = TempDir::new("size");
        let (_c, today) = clock("2025-01-15");
        let mut w = RollingFileWriter::with_date_source(
            &tmp.0,
            "ingenio-backend.log",
            policy(25, 0, 0),
            today,
        )
        .unwrap();
        // 9-byte lines: two fit in 25 bytes, the third rolls.
        for i in 0..7 {
            w.write_all(format!("line-{i:03}\n").as_bytes()).unwrap();
        }
        assert_eq!(
            names(&tmp.0),
            vec![
                "ingenio-backend-2025-01-15.0.log",
                "ingenio-backend-2025-01-15.1.log",
                "ingenio-backend-2025-01-15.2.log",
                "ingenio-backend.log",
            ]
        );
        assert_eq!(
            fs::read_to_string(tmp.0.join("ingenio-backend-2025-01-15.0.log")).unwrap(),
            "line-000\nline-001\n"
        );
        assert_eq!(
            fs::read_to_string(tmp.0.join("ingenio-backend.log")).unwrap(),
            "line-006\n"
        );
    }

    #[test]
    fn a_single_oversized_line_is_written_whole() {
        let tmp = TempDir::new("big");
        let (_c, today) = clock("2025-01-15");
        let mut w =
            RollingFileWriter::with_date_source(&tmp.0, "a.log", policy(4, 0, 0), today).unwrap();
        w.write_all(b"0123456789\n").unwrap();
        assert_eq!(names(&tmp.0), vec!["a.log"]);
        w.write_all(b"x\n").unwrap();
        assert_eq!(names(&tmp.0), vec!["a-2025-01-15.0.log", "a.log"]);
        assert_eq!(fs::read_to_string(tmp.0.join("a.log")).unwrap(), "x\n");
    }

    #[test]
    fn rolls_when_the_date_changes_and_names_the_old_day() {
        let tmp = TempDir::new("date");
        let (c, today) = clock("2025-01-15");
        let mut w =
            RollingFileWriter::with_date_source(&tmp.0, "error.log", policy(1 << 20, 0, 0), today)
                .unwrap();
        w.write_all(b"day one\n").unwrap();
        *c.lock().unwrap() = date("2025-01-16");
        w.write_all(b"day two\n").unwrap();
        assert_eq!(names(&tmp.0), vec!["error-2025-01-15.0.log", "error.log"]);
        assert_eq!(
            fs::read_to_string(tmp.0.join("error-2025-01-15.0.log")).unwrap(),
            "day one\n"
        );
        assert_eq!(
            fs::read_to_string(tmp.0.join("error.log")).unwrap(),
            "day two\n"
        );
    }

    #[test]
    fn an_empty_active_file_is_not_rolled_when_the_day_changes() {
        let tmp = TempDir::new("emptyday");
        let (c, today) = clock("2025-01-15");
        let mut w =
            RollingFileWriter::with_date_source(&tmp.0, "error.log", policy(0, 0, 0), today)
                .unwrap();
        *c.lock().unwrap() = date("2025-01-16");
        w.write_all(b"first\n").unwrap();
        assert_eq!(names(&tmp.0), vec!["error.log"]);
        *c.lock().unwrap() = date("2025-01-17");
        w.write_all(b"second\n").unwrap();
        assert_eq!(names(&tmp.0), vec!["error-2025-01-16.0.log", "error.log"]);
    }

    #[test]
    fn index_continues_after_existing_rolled_files_of_the_same_day() {
        let tmp = TempDir::new("index");
        fs::write(tmp.0.join("app-2025-01-15.0.log"), "old0\n").unwrap();
        fs::write(tmp.0.join("app-2025-01-15.1.log"), "old1\n").unwrap();
        let (_c, today) = clock("2025-01-15");
        let mut w =
            RollingFileWriter::with_date_source(&tmp.0, "app.log", policy(6, 0, 0), today).unwrap();
        w.write_all(b"new-a\n").unwrap();
        w.write_all(b"new-b\n").unwrap();
        assert!(tmp.0.join("app-2025-01-15.2.log").exists());
        assert_eq!(
            fs::read_to_string(tmp.0.join("app-2025-01-15.0.log")).unwrap(),
            "old0\n"
        );
    }

    #[test]
    fn retention_deletes_files_older_than_max_history() {
        let tmp = TempDir::new("history");
        for d in ["2025-01-01", "2025-01-05", "2025-01-08", "2025-01-09"] {
            fs::write(tmp.0.join(format!("app-{d}.0.log")), "x\n").unwrap();
        }
        // Unrelated files are never touched.
        fs::write(tmp.0.join("other-2025-01-01.0.log"), "keep\n").unwrap();
        fs::write(tmp.0.join("app-notadate.0.log"), "keep\n").unwrap();
        let (c, today) = clock("2025-01-10");
        let mut w =
            RollingFileWriter::with_date_source(&tmp.0, "app.log", policy(0, 2, 0), today).unwrap();
        // Opening already applies retention: 01-01 and 01-05 are more than 2 days old.
        assert_eq!(
            names(&tmp.0),
            vec![
                "app-2025-01-08.0.log",
                "app-2025-01-09.0.log",
                "app-notadate.0.log",
                "app.log",
                "other-2025-01-01.0.log",
            ]
        );
        w.write_all(b"today\n").unwrap();
        *c.lock().unwrap() = date("2025-01-11");
        w.write_all(b"tomorrow\n").unwrap();
        // The roll made app-2025-01-10.0.log; 01-08 is now 3 days old and goes.
        assert_eq!(
            names(&tmp.0),
            vec![
                "app-2025-01-09.0.log",
                "app-2025-01-10.0.log",
                "app-notadate.0.log",
                "app.log",
                "other-2025-01-01.0.log",
            ]
        );
    }

    #[test]
    fn retention_caps_the_total_size_of_rolled_files_oldest_first() {
        let tmp = TempDir::new("cap");
        let (_c, today) = clock("2025-01-15");
        // Every 9-byte line rolls the previous one; a 30-byte cap keeps the newest 3 rolled files.
        let mut w =
            RollingFileWriter::with_date_source(&tmp.0, "app.log", policy(10, 0, 30), today)
                .unwrap();
        for i in 0..6 {
            w.write_all(format!("line-{i:03}\n").as_bytes()).unwrap();
        }
        let rolled = w.rolled_files().unwrap();
        let idx: Vec<u32> = rolled.iter().map(|f| f.index).collect();
        assert_eq!(idx, vec![2, 3, 4]);
        assert_eq!(rolled.iter().map(|f| f.size).sum::<u64>(), 27);
        assert_eq!(
            fs::read_to_string(tmp.0.join("app-2025-01-15.2.log")).unwrap(),
            "line-002\n"
        );
        assert_eq!(
            fs::read_to_string(tmp.0.join("app.log")).unwrap(),
            "line-005\n"
        );
    }

    #[test]
    fn an_old_active_file_from_a_previous_run_is_rolled_on_open() {
        let tmp = TempDir::new("reopen");
        fs::write(tmp.0.join("app.log"), "from yesterday\n").unwrap();
        // The file's mtime is the real today; pretend we start tomorrow.
        let tomorrow = Local::now().date_naive() + chrono::Days::new(1);
        let mut w = RollingFileWriter::with_date_source(
            &tmp.0,
            "app.log",
            policy(0, 0, 0),
            Box::new(move || tomorrow),
        )
        .unwrap();
        w.write_all(b"fresh\n").unwrap();
        let rolled = w.rolled_files().unwrap();
        assert_eq!(rolled.len(), 1);
        assert_eq!(rolled[0].date, Local::now().date_naive());
        assert_eq!(
            fs::read_to_string(&rolled[0].path).unwrap(),
            "from yesterday\n"
        );
        assert_eq!(
            fs::read_to_string(tmp.0.join("app.log")).unwrap(),
            "fresh\n"
        );
    }

    #[test]
    fn rejects_a_name_with_a_directory() {
        let tmp = TempDir::new("badname");
        let err = RollingFileWriter::new(&tmp.0, "sub/app.log", policy(0, 0, 0)).unwrap_err();
        assert!(err.to_string().contains("plain file name"));
    }
}
