//! The embedded store: one sled tree in `<dir>/store/`, written concurrently under per-run
//! and cross-run locks (`locks`) in atomic multi-key writes (`intent`, or record-last for
//! plain appends), made durable by group commit (sled `flush()` plus a real `fdatasync`).
//! sled's own periodic flush is off, so durability is only ours.

mod append;
mod codec;
mod durability;
mod intent;
mod journal;
mod keys;
mod lock;
mod locks;
mod overlay;
mod read;
mod run_state;

use std::path::{Path, PathBuf};
use std::sync::{MutexGuard, RwLock, RwLockReadGuard};

use crate::store::Store;
use crate::store::callback::{CallbackRecord, CallbackState, PostOutcome, TokenHash};
use crate::store::crash::{CrashHook, CrashPoint};
use crate::store::error::{StoreError, StoreResult};
use crate::store::event::{Append, AppendReceipt, Event, EventKind};
use crate::store::group_commit::GroupCommit;
use crate::store::limits::Limits;
use crate::store::resource::{Resource, ResourceHash, ResourceMeta};
use crate::store::run::{NewRun, RunId, RunQuery, RunRecord};
use crate::store::schedule::{DueTimer, SlotHolder};

use self::codec::{FORMAT_UPGRADABLE, FORMAT_VERSION, Header, sled_error};
use self::durability::DataFiles;
use self::lock::DirLock;
use self::locks::WriteLocks;
use self::overlay::Overlay;
use self::run_state::RunState;

/// How to open a [`SledStore`].
#[derive(Clone)]
pub struct SledConfig {
    /// The store directory (`.weir/`); created when missing.
    pub dir: PathBuf,
    /// Size limits.
    pub limits: Limits,
    /// sled's page cache size, bytes.
    pub cache_bytes: u64,
    /// Called at named points of the write path (kill -9 tests only).
    pub crash_hook: Option<CrashHook>,
}

impl SledConfig {
    /// The defaults for a store in `dir`.
    pub fn new(dir: impl Into<PathBuf>) -> SledConfig {
        SledConfig { dir: dir.into(), limits: Limits::default(), cache_bytes: 256 << 20, crash_hook: None }
    }
}

/// Counters of the durable write path.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct StoreStats {
    /// Writes applied (each one atomic).
    pub writes: u64,
    /// Successful flush + fdatasync rounds.
    pub syncs: u64,
}

/// The sled-backed store. Dropping it releases the directory lock; reopening after an
/// error is dropping it and calling [`SledStore::open`] again.
pub struct SledStore {
    dir: PathBuf,
    db: sled::Db,
    limits: Limits,
    /// Make each write's read-check-write atomic (see `locks`).
    locks: WriteLocks,
    /// Held in write mode while an intent's keys are applied, so readers see it whole.
    visible: RwLock<()>,
    group: GroupCommit,
    files: DataFiles,
    crash: Option<CrashHook>,
    _lock: DirLock,
}

impl std::fmt::Debug for SledStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SledStore").field("dir", &self.dir).finish_non_exhaustive()
    }
}

impl SledStore {
    /// Opens (or creates) the store in `dir` with default settings.
    pub fn open_dir(dir: impl Into<PathBuf>) -> StoreResult<SledStore> {
        SledStore::open(SledConfig::new(dir))
    }

    /// Opens (or creates) a store: takes the directory lock, opens sled, checks the format,
    /// and syncs once so that whatever recovery found is durable.
    pub fn open(config: SledConfig) -> StoreResult<SledStore> {
        let dir = config.dir;
        std::fs::create_dir_all(&dir)
            .map_err(|e| StoreError::io(format!("creating {}", dir.display()), e))?;
        let lock = DirLock::acquire(&dir)?;
        let data_dir = dir.join("store");
        lock::wait_for_sled_release(&data_dir)?;
        let db = sled::Config::new()
            .path(&data_dir)
            .flush_every_ms(None)
            .segment_size(durability::SEGMENT_BYTES as usize)
            .cache_capacity(config.cache_bytes)
            .mode(sled::Mode::HighThroughput)
            .open()
            .map_err(|e| match e {
                sled::Error::Io(ref io) if io.to_string().contains("could not acquire lock") => {
                    StoreError::Locked { path: dir.clone(), pid: None }
                }
                other => sled_error("opening the store", other),
            })?;
        intent::recover(&db)?;
        let files = DataFiles::open(&data_dir).map_err(|e| StoreError::io("opening sled's data file", e))?;
        // Whatever recovery found (and re-applied) is durable before anything reads it.
        files.sync(&db, None).map_err(|source| StoreError::Sync { source })?;
        let store = SledStore {
            dir,
            db,
            limits: config.limits,
            locks: WriteLocks::default(),
            visible: RwLock::new(()),
            group: GroupCommit::default(),
            files,
            crash: config.crash_hook,
            _lock: lock,
        };
        store.check_format()?;
        Ok(store)
    }

    fn check_format(&self) -> StoreResult<()> {
        let found = self.db.get(keys::FORMAT).map_err(|e| sled_error("reading the store header", e))?;
        match found {
            Some(raw) => {
                let header: Header = codec::decode(&raw, || "store header".to_owned())?;
                match header.format {
                    FORMAT_VERSION => Ok(()),
                    FORMAT_UPGRADABLE => self.write_header(),
                    other => Err(StoreError::Format {
                        found: format!("{other} (written with sled {})", header.sled),
                        supported: format!("{FORMAT_UPGRADABLE} and {FORMAT_VERSION}"),
                    }),
                }
            }
            None => self.write_header(),
        }
    }

    fn write_header(&self) -> StoreResult<()> {
        self.write(self.locks.content(), |ov| {
            let header = Header { format: FORMAT_VERSION, sled: "0.34.7".to_owned() };
            ov.insert(keys::FORMAT.to_vec(), codec::encode(&header)?);
            Ok(())
        })
    }

    /// The store directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Counters of the write path.
    pub fn stats(&self) -> StoreStats {
        StoreStats { writes: self.group.writes(), syncs: self.group.syncs() }
    }

    /// Bytes used on disk by the whole store directory.
    pub fn disk_bytes(&self) -> StoreResult<u64> {
        fn walk(path: &Path) -> std::io::Result<u64> {
            let mut total = 0;
            for entry in std::fs::read_dir(path)? {
                let entry = entry?;
                let meta = entry.metadata()?;
                total += if meta.is_dir() { walk(&entry.path())? } else { meta.len() };
            }
            Ok(total)
        }
        walk(&self.dir).map_err(|e| StoreError::io("measuring the store", e))
    }

    fn crash_at(&self, point: CrashPoint) {
        if let Some(hook) = &self.crash {
            hook(point);
        }
    }

    /// Waits for any write being applied, so a read sees each write whole.
    fn reading(&self) -> RwLockReadGuard<'_, ()> {
        self.visible.read().unwrap_or_else(|e| e.into_inner())
    }

    /// Applies what an operation wrote, atomically: a plain append of `run` record-last,
    /// anything else through an intent (while readers wait). Called holding the locks that
    /// made the operation's read-check-write atomic (`locks`). Returns the sequence number
    /// the caller must wait for, once it has released those locks ([`SledStore::durable`]):
    /// it covers this write and every write the operation could have read from.
    fn apply(&self, ov: Overlay<'_>, run: Option<RunId>) -> StoreResult<u64> {
        if ov.is_empty() {
            return Ok(self.group.current());
        }
        let writes = ov.into_writes();
        let seq = self.group.begin();
        let applied = match run.and_then(|run| append::plain_append_commit(run, &writes)) {
            Some(record) => intent::apply_record_last(&self.db, &writes, record),
            None => {
                let _whole = self.visible.write().unwrap_or_else(|e| e.into_inner());
                intent::apply(&self.db, seq, &writes)
            }
        };
        if let Err(e) = applied {
            // Part of the write may be applied in memory: refuse writes until a reopen
            // recovers the intent or drops it.
            self.group.poison(e.to_string());
            self.group.finish(seq, false);
            return Err(e);
        }
        Ok(self.group.finish(seq, true))
    }

    /// Returns once a sync covers `target` (from [`SledStore::apply`]).
    fn durable(&self, target: u64) -> StoreResult<()> {
        self.crash_at(CrashPoint::DuringGroup);
        self.group.wait_durable(target, &|| self.files.sync(&self.db, self.crash.as_ref()))
    }

    /// Runs `build` holding `held` (kv, resources, callbacks, the header), applies what it
    /// wrote, and returns once durable.
    fn write<T>(
        &self,
        held: MutexGuard<'_, ()>,
        build: impl FnOnce(&mut Overlay<'_>) -> StoreResult<T>,
    ) -> StoreResult<T> {
        self.group.check_writable()?;
        let (out, target) = {
            let _held = held;
            let mut ov = Overlay::new(&self.db);
            let out = build(&mut ov)?;
            (out, self.apply(ov, None)?)
        };
        self.durable(target)?;
        Ok(out)
    }

    /// True when an append's checks read other runs' keys (see `locks`).
    fn crosses_runs(append: &Append) -> bool {
        append.status.is_some_and(|s| s.is_terminal())
            || append.events.iter().any(|e| {
                matches!(
                    e.kind,
                    EventKind::SlotAcquired { .. }
                        | EventKind::SlotReleased { .. }
                        | EventKind::CallbackCreated { .. }
                        | EventKind::CallbackReceived { .. }
                )
            })
    }
}

impl Store for SledStore {
    fn create_run(&self, run: &NewRun) -> StoreResult<RunRecord> {
        self.group.check_writable()?;
        let (record, target) = {
            let mut held = self.locks.run(run.id, false);
            let mut ov = Overlay::new(&self.db);
            let record = append::create_run(&mut ov, &self.limits, run)?;
            let created = !ov.is_empty();
            let target = self.apply(ov, Some(run.id))?;
            if created {
                held.stripe().insert(run.id, RunState::created(record.clone()));
            }
            (record, target)
        };
        self.durable(target)?;
        Ok(record)
    }

    fn create_run_with(&self, run: &NewRun, first: &Append) -> StoreResult<AppendReceipt> {
        self.limits.check_append(first)?;
        self.group.check_writable()?;
        let (receipt, target) = {
            let mut held = self.locks.run(run.id, SledStore::crosses_runs(first));
            let mut ov = Overlay::new(&self.db);
            let record = append::create_run(&mut ov, &self.limits, run)?;
            // A run created before (a retry, or an earlier `create_run`) is appended to as it is.
            let mut fresh = (!ov.is_empty()).then(|| RunState::created(record));
            let stripe = held.stripe();
            let state = match fresh.as_mut() {
                Some(state) => state,
                None => stripe.state(&self.db, run.id)?.ok_or(StoreError::RunUnknown(run.id))?,
            };
            let appended = append::append(&mut ov, &self.limits, run.id, state, first)?;
            // Creation keys and events in one write: through an intent, never record-last.
            let target = self.apply(ov, Some(run.id))?;
            state.applied(appended.receipt.run.clone(), appended.identities);
            if let Some(state) = fresh {
                stripe.insert(run.id, state);
            }
            (appended.receipt, target)
        };
        self.durable(target)?;
        Ok(receipt)
    }

    fn delete_run(&self, run: RunId) -> StoreResult<bool> {
        self.group.check_writable()?;
        let (deleted, target) = {
            let mut held = self.locks.run(run, true);
            let mut ov = Overlay::new(&self.db);
            let deleted = append::delete_run(&mut ov, run)?;
            let target = self.apply(ov, Some(run))?;
            held.stripe().forget(run);
            (deleted, target)
        };
        self.durable(target)?;
        Ok(deleted)
    }

    fn append(&self, run: RunId, events: &Append) -> StoreResult<AppendReceipt> {
        // Limits first, as the model does (and before loading a run's state for nothing).
        self.limits.check_append(events)?;
        self.group.check_writable()?;
        let (receipt, target) = {
            let mut held = self.locks.run(run, SledStore::crosses_runs(events));
            let state = held.stripe().state(&self.db, run)?.ok_or(StoreError::RunUnknown(run))?;
            let mut ov = Overlay::new(&self.db);
            let appended = append::append(&mut ov, &self.limits, run, state, events)?;
            let target = self.apply(ov, Some(run))?;
            state.applied(appended.receipt.run.clone(), appended.identities);
            (appended.receipt, target)
        };
        self.durable(target)?;
        Ok(receipt)
    }

    fn run(&self, run: RunId) -> StoreResult<Option<RunRecord>> {
        let _whole = self.reading();
        append::load_run(&Overlay::new(&self.db), run)
    }

    fn journal(&self, run: RunId, from: u32) -> StoreResult<Vec<Event>> {
        let _whole = self.reading();
        read::journal(&self.db, run, from)
    }

    fn find_runs(&self, query: &RunQuery) -> StoreResult<Vec<RunRecord>> {
        let _whole = self.reading();
        read::find_runs(&self.db, query)
    }

    fn kv_get(&self, flow: &str, key: &[u8]) -> StoreResult<Option<Vec<u8>>> {
        self.limits.check_kv(flow, key, None)?;
        Overlay::new(&self.db).get(&keys::kv(flow, key))
    }

    fn kv_put(&self, flow: &str, key: &[u8], value: &[u8]) -> StoreResult<()> {
        self.limits.check_kv(flow, key, Some(value))?;
        self.write(self.locks.content(), |ov| {
            ov.insert(keys::kv(flow, key), value.to_vec());
            Ok(())
        })
    }

    fn kv_delete(&self, flow: &str, key: &[u8]) -> StoreResult<bool> {
        self.limits.check_kv(flow, key, None)?;
        self.write(self.locks.content(), |ov| {
            let existed = ov.get(&keys::kv(flow, key))?.is_some();
            if existed {
                ov.remove(keys::kv(flow, key));
            }
            Ok(existed)
        })
    }

    fn put_resource(&self, media_type: &str, bytes: &[u8], at_ms: u64) -> StoreResult<ResourceMeta> {
        self.limits.check_resource(media_type, bytes)?;
        let hash = ResourceHash::of(bytes);
        self.write(self.locks.content(), |ov| {
            if let Some(meta) = read::resource_meta(&self.db, &hash)? {
                return Ok(meta);
            }
            let meta = ResourceMeta {
                hash,
                size: bytes.len() as u64,
                media_type: media_type.to_owned(),
                created_at_ms: at_ms,
            };
            for (i, chunk) in bytes.chunks(keys::CHUNK_BYTES).enumerate() {
                let index = u32::try_from(i)
                    .map_err(|_| StoreError::Limit("a resource has too many chunks".to_owned()))?;
                ov.insert(keys::resource_chunk(&hash, index), chunk.to_vec());
            }
            ov.insert(keys::resource(&hash), codec::encode(&meta)?);
            Ok(meta)
        })
    }

    fn get_resource(&self, hash: &ResourceHash) -> StoreResult<Option<Resource>> {
        let _whole = self.reading();
        read::resource(&self.db, hash)
    }

    fn stat_resource(&self, hash: &ResourceHash) -> StoreResult<Option<ResourceMeta>> {
        let _whole = self.reading();
        read::resource_meta(&self.db, hash)
    }

    fn due_timers(&self, now_ms: u64, limit: usize) -> StoreResult<Vec<DueTimer>> {
        let _whole = self.reading();
        read::due_timers(&self.db, now_ms, limit)
    }

    fn callback(&self, token: &TokenHash) -> StoreResult<Option<CallbackRecord>> {
        let _whole = self.reading();
        append::load_callback(&Overlay::new(&self.db), token)
    }

    fn post_callback(&self, token: &TokenHash, payload: &[u8], at_ms: u64) -> StoreResult<PostOutcome> {
        self.write(self.locks.cross_run(), |ov| {
            let Some(mut cb) = append::load_callback(ov, token)? else {
                return Ok(PostOutcome::Unknown);
            };
            let finished = append::load_run(ov, cb.run)?.is_none_or(|r| r.status.is_terminal());
            if finished {
                return Ok(PostOutcome::RunFinished);
            }
            let outcome = match &cb.state {
                CallbackState::Consumed { .. } => PostOutcome::Consumed,
                CallbackState::Posted { payload: p, .. } => {
                    PostOutcome::AlreadyPosted { same: p.as_slice() == payload }
                }
                CallbackState::Waiting if at_ms > cb.expires_at_ms => PostOutcome::Expired,
                CallbackState::Waiting => PostOutcome::Accepted,
            };
            if outcome == PostOutcome::Accepted {
                cb.state = CallbackState::Posted { at_ms, payload: payload.to_vec() };
                ov.insert(keys::callback(token), codec::encode(&cb)?);
            }
            Ok(outcome)
        })
    }

    fn slot_holders(&self, key: &str) -> StoreResult<Vec<SlotHolder>> {
        let _whole = self.reading();
        read::slot_holders(&self.db, key)
    }
}
