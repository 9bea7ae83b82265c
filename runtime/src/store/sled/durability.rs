//! The durable point of the sled store: sled's `flush()` (which ends in `sync_file_range`,
//! not a power-loss barrier) followed by an `fdatasync` of sled's data file, and an fsync
//! of any file sled created since the last sync (blobs, snapshots) and of its directory.
//!
//! **The tail of the current segment is allocated ahead.** sled writes its log into
//! segments of [`SEGMENT_BYTES`], appending to the current one, so nearly every durable
//! point grew the data file, and a sync that must also make a new file size durable costs a
//! journal commit of the file system on top of the data: measured on the dev VM (ext4,
//! virtio), `fdatasync` after a sled flush took 150–170 µs when the file grew and 80 µs when
//! it did not. So each sync first extends the file with `fallocate` to the end of the
//! segment sled is writing in: the file then grows once per segment (512 KiB of log), not
//! once per sync. This is safe for sled: `fallocate` never changes bytes already written,
//! the new range reads as zeros, and zeros are what sled itself treats as the end of a
//! segment's valid messages (its torn-write canary, `MessageKind::Corrupted`, is 0; it zeroes
//! free segments the same way). The segment count sled derives from the file length on open
//! is unchanged, since the length only reaches the end of a segment already begun.

use std::collections::BTreeSet;
use std::ffi::OsString;
use std::fs::File;
use std::io::{self, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime};

use crate::store::crash::{CrashHook, CrashPoint};

/// sled's segment size, set explicitly when the store is opened (it is also sled 0.34's
/// default, so stores created before keep their configuration).
pub(crate) const SEGMENT_BYTES: u64 = 512 * 1024;

/// The files whose sync makes sled's writes durable.
#[derive(Debug)]
pub(crate) struct DataFiles {
    dir: PathBuf,
    /// `dir/blobs`, where sled writes large values.
    blobs: PathBuf,
    data: File,
    /// The data file's length after our last `fallocate`: a sync does nothing more while
    /// the length is unchanged (sled writing inside the allocated tail does not change it).
    allocated: AtomicU64,
    /// The store directory and `blobs/`, kept open: a `stat` of an open descriptor costs
    /// less than one by path (measured: the two by path took 8 µs of every sync). `None`
    /// for `blobs/` if it did not exist at open; it is then looked up by path.
    dirs: [Option<File>; 2],
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
const STAMP_SLACK: Duration = Duration::from_millis(250);

fn stamp(open: Option<&File>, dir: &Path) -> io::Result<Option<SystemTime>> {
    let meta = match open {
        Some(file) => file.metadata(),
        None => std::fs::metadata(dir),
    };
    match meta {
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

/// Allocates `len` bytes of `file` from `offset` (Linux `fallocate`, mode 0: the length
/// grows, existing bytes are never touched, new ones read as zeros).
#[cfg(target_os = "linux")]
fn allocate(file: &File, offset: u64, len: u64) -> io::Result<()> {
    use std::os::fd::AsRawFd;
    let (Ok(offset), Ok(len)) = (libc::off_t::try_from(offset), libc::off_t::try_from(len)) else {
        return Err(io::Error::from(io::ErrorKind::InvalidInput));
    };
    // SAFETY: `fallocate` on a descriptor this `File` owns and keeps open for the call; it
    // reads and writes no memory of ours.
    let rc = unsafe { libc::fallocate(file.as_raw_fd(), 0, offset, len) };
    if rc == 0 { Ok(()) } else { Err(io::Error::last_os_error()) }
}

/// Elsewhere the file grows with sled's writes, as sled does on its own.
#[cfg(not(target_os = "linux"))]
fn allocate(_file: &File, _offset: u64, _len: u64) -> io::Result<()> {
    Err(io::Error::from(io::ErrorKind::Unsupported))
}

fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

impl DataFiles {
    /// Opens sled's data file in `dir` and makes the directory itself durable.
    pub(crate) fn open(dir: &Path) -> io::Result<DataFiles> {
        // Opened for writing only so that `fallocate` may extend it; we never write to it.
        let data = std::fs::OpenOptions::new().read(true).write(true).open(dir.join("db"))?;
        let files = DataFiles {
            dir: dir.to_path_buf(),
            blobs: dir.join("blobs"),
            data,
            allocated: AtomicU64::new(u64::MAX),
            dirs: [Some(File::open(dir)?), File::open(dir.join("blobs")).ok()],
            seen: Mutex::new(Seen::default()),
        };
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
        self.allocate_segment_tail();
        self.data.sync_data()?;
        self.sync_new_entries()?;
        if let Some(hook) = crash {
            hook(CrashPoint::AfterSync);
        }
        Ok(())
    }

    /// Extends the data file to the end of the segment its length falls in (see the module
    /// documentation). Best effort: where `fallocate` is refused (another file system, a
    /// full disk, a size limit) the store works as before, only with slower syncs; sled's
    /// own next write reports a real shortage of space.
    fn allocate_segment_tail(&self) {
        // The length by `lseek`, not `fstat`: measured on the dev VM, an `fstat` of the data
        // file just before its `fdatasync` made that sync (and the next raw one) ~45 µs
        // slower, reproducibly; `lseek` does not.
        let Ok(len) = (&self.data).seek(SeekFrom::End(0)) else { return };
        if self.allocated.load(Ordering::Relaxed) == len {
            return;
        }
        let end = len.div_ceil(SEGMENT_BYTES) * SEGMENT_BYTES;
        if end > len && allocate(&self.data, len, end - len).is_ok() {
            self.allocated.store(end, Ordering::Relaxed);
        } else {
            self.allocated.store(len, Ordering::Relaxed);
        }
    }

    /// Syncs files that appeared since the last sync, then their directories. Two `stat`s
    /// when nothing changed; a listing otherwise.
    fn sync_new_entries(&self) -> io::Result<()> {
        let blobs = &self.blobs;
        let stamps = [stamp(self.dirs[0].as_ref(), &self.dir)?, stamp(self.dirs[1].as_ref(), blobs)?];
        let mut seen = self.seen.lock().unwrap_or_else(|e| e.into_inner());
        let recent = stamps
            .iter()
            .flatten()
            .any(|t| SystemTime::now().duration_since(*t).map_or(true, |age| age < STAMP_SLACK));
        if stamps == seen.stamps && !recent {
            return Ok(());
        }
        let mut now = entries(&self.dir, "")?;
        now.extend(entries(blobs, "blobs/")?);
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
            sync_dir(blobs)?;
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

    /// The data file ends at a segment boundary after every sync, sled keeps writing into the
    /// allocated tail, and a reopen reads back everything written across several segments
    /// (sled takes the zeros after its last message for the end of the log).
    #[cfg(target_os = "linux")]
    #[test]
    fn the_data_file_is_allocated_to_the_end_of_the_current_segment() {
        let dir = tempfile::tempdir().expect("tempdir");
        let open = || {
            sled::Config::new()
                .path(dir.path())
                .flush_every_ms(None)
                .segment_size(SEGMENT_BYTES as usize)
                .open()
                .expect("sled")
        };
        let db = open();
        let files = DataFiles::open(dir.path()).expect("files");
        let value = vec![7u8; 3000];
        for i in 0u32..600 {
            db.insert(i.to_be_bytes(), value.as_slice()).expect("insert");
            files.sync(&db, None).expect("sync");
            let len = std::fs::metadata(dir.path().join("db")).expect("db").len();
            assert_eq!(len % SEGMENT_BYTES, 0, "after sync {i} the file is {len} bytes");
        }
        let len = std::fs::metadata(dir.path().join("db")).expect("db").len();
        assert!(len >= 3 * SEGMENT_BYTES, "600 values of 3 KB span several segments: {len}");
        drop(files);
        drop(db);
        let db = open();
        for i in 0u32..600 {
            assert_eq!(db.get(i.to_be_bytes()).expect("get").as_deref(), Some(value.as_slice()), "value {i}");
        }
    }
}
