//! `cargo xtask backup` / `restore` (guide §7): `pg_dump | gzip` of the configured database into
//! `<dir>/<db>_<YYYYmmdd_HHMMSS>.sql.gz` with RETENTION_DAYS pruning, and `gunzip | psql` back.

use crate::env::{Db, Env};
use crate::util;
use anyhow::{bail, Context, Result};
use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

pub fn backup(profile_flag: Option<&str>, out: Option<&Path>) -> Result<ExitCode> {
    let env = Env::load()?;
    let db = env.db(&env.profile(profile_flag));
    let retention_days: u64 = match env.get("RETENTION_DAYS") {
        Some(v) => v
            .trim()
            .parse()
            .with_context(|| format!("RETENTION_DAYS {v:?} is not a number of days"))?,
        None => 7,
    };
    let dir = match out {
        Some(dir) => dir.to_path_buf(),
        None => util::root().join("backups"),
    };
    std::fs::create_dir_all(&dir).with_context(|| format!("failed to create {}", dir.display()))?;

    let file = dir.join(format!(
        "{}_{}.sql.gz",
        db.name,
        timestamp(SystemTime::now())
    ));
    println!(
        "xtask: backing up database {} to {}",
        db.describe(),
        file.display()
    );
    dump(&db, &file)?;
    let size = std::fs::metadata(&file).map(|m| m.len()).unwrap_or(0);
    println!("xtask: backup done: {} ({size} bytes)", file.display());

    let removed = prune(&dir, &db.name, Duration::from_secs(retention_days * 86_400))?;
    for old in &removed {
        println!("xtask: removed old backup {}", old.display());
    }
    println!("xtask: kept backups of the last {retention_days} day(s)");
    Ok(ExitCode::SUCCESS)
}

/// `pg_dump | gzip > file`, written to a `.partial` file first so a failed dump leaves nothing behind.
fn dump(db: &Db, file: &Path) -> Result<()> {
    let partial = file.with_extension("gz.partial");
    let out = File::create(&partial)
        .with_context(|| format!("failed to create {}", partial.display()))?;
    let mut pg_dump = Command::new("pg_dump");
    db.libpq(&mut pg_dump)
        .args(["--clean", "--if-exists", "--no-owner", "--no-privileges"])
        .stdout(Stdio::piped());
    let mut dump = pg_dump
        .spawn()
        .context("failed to start pg_dump (is the PostgreSQL client installed?)")?;
    let dump_out = dump.stdout.take().context("pg_dump has no stdout")?;
    let gzip = Command::new("gzip")
        .arg("-c")
        .stdin(Stdio::from(dump_out))
        .stdout(Stdio::from(out))
        .status();
    let dump_status = dump.wait().context("failed to wait for pg_dump")?;
    let result = match gzip {
        Err(err) => Err(anyhow::Error::new(err).context("failed to run gzip")),
        Ok(_) if !dump_status.success() => Err(anyhow::anyhow!("pg_dump failed ({dump_status})")),
        Ok(st) if !st.success() => Err(anyhow::anyhow!("gzip failed ({st})")),
        Ok(_) => std::fs::rename(&partial, file)
            .with_context(|| format!("failed to move the dump to {}", file.display())),
    };
    if result.is_err() {
        let _ = std::fs::remove_file(&partial);
    }
    result
}

/// Deletes `<db>_*.sql.gz` files in `dir` last modified more than `max_age` ago; returns them.
fn prune(dir: &Path, db_name: &str, max_age: Duration) -> Result<Vec<PathBuf>> {
    let prefix = format!("{db_name}_");
    let now = SystemTime::now();
    let mut removed = Vec::new();
    for entry in
        std::fs::read_dir(dir).with_context(|| format!("failed to list {}", dir.display()))?
    {
        let entry = entry.context("failed to read a directory entry")?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if !name.starts_with(&prefix) || !name.ends_with(".sql.gz") {
            continue;
        }
        let modified = entry.metadata().and_then(|m| m.modified());
        let Ok(modified) = modified else {
            continue;
        };
        if now.duration_since(modified).unwrap_or_default() > max_age {
            std::fs::remove_file(entry.path())
                .with_context(|| format!("failed to remove {name}"))?;
            removed.push(entry.path());
        }
    }
    removed.sort();
    Ok(removed)
}

pub fn restore(profile_flag: Option<&str>, file: &Path) -> Result<ExitCode> {
    let env = Env::load()?;
    let db = env.db(&env.profile(profile_flag));
    if !file.is_file() {
        bail!("no such backup file: {}", file.display());
    }
    println!(
        "xtask: restoring {} into database {}",
        file.display(),
        db.describe()
    );
    let mut psql = Command::new("psql");
    db.libpq(&mut psql)
        .args(["-X", "-q", "-v", "ON_ERROR_STOP=1", "--single-transaction"])
        .stdout(Stdio::null());

    let gzipped = file.extension().is_some_and(|e| e == "gz");
    let status = if gzipped {
        let mut gunzip = Command::new("gunzip")
            .arg("-c")
            .arg(file)
            .stdout(Stdio::piped())
            .spawn()
            .context("failed to start gunzip")?;
        let plain = gunzip.stdout.take().context("gunzip has no stdout")?;
        let status = psql
            .stdin(Stdio::from(plain))
            .status()
            .context("failed to start psql (is the PostgreSQL client installed?)")?;
        let unzip = gunzip.wait().context("failed to wait for gunzip")?;
        if !unzip.success() {
            bail!(
                "gunzip failed ({unzip}); is {} a gzip file?",
                file.display()
            );
        }
        status
    } else {
        psql.arg("-f")
            .arg(file)
            .status()
            .context("failed to start psql (is the PostgreSQL client installed?)")?
    };
    if !status.success() {
        bail!(
            "psql failed ({status}); nothing was changed (single transaction). Does database {} exist? \
             (`cargo xtask db-create`)",
            db.name
        );
    }
    println!("xtask: restore done");
    Ok(ExitCode::SUCCESS)
}

/// `YYYYmmdd_HHMMSS` in UTC.
fn timestamp(t: SystemTime) -> String {
    let secs = t.duration_since(UNIX_EPOCH).unwrap_or_default().as_secs();
    let days = i64::try_from(secs / 86_400).unwrap_or(0);
    let rem = secs % 86_400;
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}{m:02}{d:02}_{:02}{:02}{:02}",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// Days since 1970-01-01 to (year, month, day) in the proleptic Gregorian calendar (H. Hinnant).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    (
        y,
        u32::try_from(m).unwrap_or(1),
        u32::try_from(d).unwrap_or(1),
    )
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    #[test]
    fn timestamps_are_utc_calendar_dates() {
        assert_eq!(timestamp(UNIX_EPOCH), "19700101_000000");
        let t = UNIX_EPOCH + Duration::from_secs(1_736_906_400); // 2025-01-15 02:00:00 UTC
        assert_eq!(timestamp(t), "20250115_020000");
        let leap = UNIX_EPOCH + Duration::from_secs(951_782_400 + 86_399); // 2000-02-29 23:59:59
        assert_eq!(timestamp(leap), "20000229_235959");
    }

    #[test]
    fn prune_removes_only_old_dumps_of_this_database() {
        let dir = std::env::temp_dir().join(format!("xtask-prune-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let ten_days_ago = SystemTime::now() - Duration::from_secs(10 * 86_400);
        let names = [
            ("app_20250101_000000.sql.gz", true),
            ("app_20250110_000000.sql.gz", false),
            ("other_20250101_000000.sql.gz", true),
            ("app_notes.txt", true),
        ];
        for (name, old) in names {
            let path = dir.join(name);
            std::fs::write(&path, b"x").unwrap();
            if old {
                let file = File::options().write(true).open(&path).unwrap();
                file.set_modified(ten_days_ago).unwrap();
            }
        }
        let removed = prune(&dir, "app", Duration::from_secs(7 * 86_400)).unwrap();
        let mut left: Vec<_> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        left.sort();
        std::fs::remove_dir_all(&dir).unwrap();
        assert_eq!(removed, vec![dir.join("app_20250101_000000.sql.gz")]);
        assert_eq!(
            left,
            [
                "app_20250110_000000.sql.gz",
                "app_notes.txt",
                "other_20250101_000000.sql.gz"
            ]
        );
    }
}
