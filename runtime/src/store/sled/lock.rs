//! The store directory's lock: `lock.pid`, locked exclusively and holding the owner's pid,
//! so a second process is told who holds the store.

use std::fs::{File, OpenOptions, TryLockError};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::Path;

use crate::store::error::{StoreError, StoreResult};

/// Held for as long as the store is open; the OS releases it when the process dies.
#[derive(Debug)]
pub(crate) struct DirLock {
    _file: File,
}

impl DirLock {
    /// Takes the lock of `dir`, or says which process holds it.
    pub(crate) fn acquire(dir: &Path) -> StoreResult<DirLock> {
        let path = dir.join("lock.pid");
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(|e| StoreError::io(format!("opening {}", path.display()), e))?;
        match file.try_lock() {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => {
                let mut text = String::new();
                let pid = file.read_to_string(&mut text).ok().and_then(|_| text.trim().parse().ok());
                return Err(StoreError::Locked { path: dir.to_path_buf(), pid });
            }
            Err(TryLockError::Error(e)) => {
                return Err(StoreError::io(format!("locking {}", path.display()), e));
            }
        }
        let write_pid = |file: &mut File| -> std::io::Result<()> {
            file.set_len(0)?;
            file.seek(SeekFrom::Start(0))?;
            write!(file, "{}", std::process::id())
        };
        write_pid(&mut file).map_err(|e| StoreError::io(format!("writing {}", path.display()), e))?;
        Ok(DirLock { _file: file })
    }
}

/// Waits until no sled instance of this process still holds the data file's lock.
///
/// Only called with the directory lock held, so no other process can hold it: a holder can
/// only be a thread of a store this process just dropped (sled's IO pool may still own the
/// file for a moment after `Db` is dropped), and it lets go soon. Taking and releasing the
/// same lock blocks until then, so the `try_lock` inside `sled::open` then succeeds.
pub(crate) fn wait_for_sled_release(data_dir: &Path) -> StoreResult<()> {
    let path = data_dir.join("db");
    let file = match File::open(&path) {
        Ok(file) => file,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(StoreError::io(format!("opening {}", path.display()), e)),
    };
    file.lock().map_err(|e| StoreError::io(format!("locking {}", path.display()), e))?;
    file.unlock().map_err(|e| StoreError::io(format!("unlocking {}", path.display()), e))
}
