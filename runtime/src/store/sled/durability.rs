//! The durable point of the sled store: sled's `flush()` (which ends in `sync_file_range`,
//! not a power-loss barrier) followed by an `fdatasync` of sled's data file, and an fsync
//! of any file sled created since the last sync (blobs, snapshots) and of its directory.

use std::collections::BTreeSet;
use std::ffi::OsString;
use std::fs::File;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, SystemTime};

use crate::store::crash::{CrashHook, CrashPoint};

/// The files whose sync makes sled's writes durable.
#[derive(Debug)]
pub(crate) struct DataFiles {
    dir: PathBuf,
    data: File,
    /// What the last look at the directories found.
    seen: Mutex<Seen>,
}

/// The entries of the store directory and of `blobs/` already synced, and the directories'
/// modification times when they were listed.
#[derive(Debug, Default)]
struct Seen {
    entries: BTreeSet<OsString>,
    stamps: [Option<SystemTime>; 2],
}

/// A directory changed this recently is listed again even when its modification time looks
/// unchanged: file system timestamps are coarse (a few ms), so an entry created right after
/// the last listing can leave the time as it was.
const STAMP_SLACK: Duration = Duration::from_secs(2);

fn stamp(dir: &Path) -> io::Result<Option<SystemTime>> {
    match std::fs::metadata(dir) {
        Ok(meta) => meta.modified().map(Some),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e),
    }
}

fn entries(dir: &Path, prefix: &str) -> io::Result<BTreeSet<OsString>> {
    let mut out = BTreeSet::new();
    match std::fs::read_dir(dir) {
        Ok(listing) => {
            for entry in listing {
                let mut name = OsString::from(prefix);
                name.push(entry?.file_name());
                out.insert(name);
            }
            Ok(out)
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(out),
        Err(e) => Err(e),
    }
}

fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

impl DataFiles {
    /// Opens sled's data file in `dir` and makes the directory itself durable.
    pub(crate) fn open(dir: &Path) -> io::Result<DataFiles> {
        let data = File::open(dir.join("db"))?;
        let files = DataFiles { dir: dir.to_path_buf(), data, seen: Mutex::new(Seen::default()) };
        files.sync_new_entries()?;
        if let Some(parent) = dir.parent() {
            sync_dir(parent)?;
        }
        Ok(files)
    }

    /// Flushes sled and syncs its files; `crash` is called at the named points between.
    pub(crate) fn sync(&self, db: &sled::Db, crash: Option<&CrashHook>) -> io::Result<()> {
        if let Some(hook) = crash {
            hook(CrashPoint::BeforeSync);
        }
        db.flush().map_err(io::Error::from)?;
        if let Some(hook) = crash {
            hook(CrashPoint::BetweenFlushAndSync);
        }
        self.data.sync_data()?;
        self.sync_new_entries()?;
        if let Some(hook) = crash {
            hook(CrashPoint::AfterSync);
        }
        Ok(())
    }

    /// Syncs files that appeared since the last sync, then their directories. Two `stat`s
    /// when nothing changed; a listing otherwise.
    fn sync_new_entries(&self) -> io::Result<()> {
        let blobs = self.dir.join("blobs");
        let stamps = [stamp(&self.dir)?, stamp(&blobs)?];
        let mut seen = self.seen.lock().unwrap_or_else(|e| e.into_inner());
        let recent = stamps
            .iter()
            .flatten()
            .any(|t| SystemTime::now().duration_since(*t).map_or(true, |age| age < STAMP_SLACK));
        if stamps == seen.stamps && !recent {
            return Ok(());
        }
        let mut now = entries(&self.dir, "")?;
        now.extend(entries(&blobs, "blobs/")?);
        if seen.entries == now {
            seen.stamps = stamps;
            return Ok(());
        }
        for name in now.difference(&seen.entries) {
            let path = self.dir.join(name);
            if path.is_file() {
                match File::open(&path) {
                    Ok(file) => file.sync_all()?,
                    // sled removes snapshots and blobs it has superseded.
                    Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                    Err(e) => return Err(e),
                }
            }
        }
        if blobs.is_dir() {
            sync_dir(&blobs)?;
        }
        sync_dir(&self.dir)?;
        seen.entries = now;
        seen.stamps = stamps;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_sled_creates_is_synced_and_remembered() {
        let dir = tempfile::tempdir().expect("tempdir");
        let db = sled::Config::new().path(dir.path()).flush_every_ms(None).open().expect("sled");
        let files = DataFiles::open(dir.path()).expect("files");
        files.sync(&db, None).expect("sync");
        std::fs::write(dir.path().join("blobs").join("4242"), b"wibble").expect("blob");
        files.sync(&db, None).expect("sync");
        let seen = files.seen.lock().expect("lock");
        assert!(seen.entries.contains(&OsString::from("blobs/4242")), "{:?}", seen.entries);
        assert!(seen.entries.contains(&OsString::from("db")));
    }
}
