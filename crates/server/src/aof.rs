//! The append-only file (docs/persistence.md): writing the core's records before the
//! replies of the same turn leave (decision D11), fsync policies, background and
//! synchronous rewrites.
//!
//! Records are RESP multibulk `LOADJOB`/`DELJOB` commands. A rewrite written by
//! `SHUTDOWN REWRITE-AOF` is wrapped in two marker records
//! (`AOFMETA snapshot-begin` / `AOFMETA snapshot-end`) so that a controlled restart
//! can restore every job exactly as it was (decision D5).

use crate::config::AppendFsync;
use bytes::{Bytes, BytesMut};
use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Instant;

/// First record of a snapshot written at shutdown.
pub const SNAPSHOT_BEGIN: &[u8] = b"*2\r\n$7\r\nAOFMETA\r\n$14\r\nsnapshot-begin\r\n";
/// Last record of a snapshot written at shutdown.
pub const SNAPSHOT_END: &[u8] = b"*2\r\n$7\r\nAOFMETA\r\n$12\r\nsnapshot-end\r\n";

/// `aof_state` in INFO.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AofState {
    /// Not logging.
    Off,
    /// Logging.
    On,
    /// Logging, while the rewrite that started it runs (CONFIG SET appendonly yes).
    WaitRewrite,
}

impl AofState {
    /// The INFO name.
    pub fn name(self) -> &'static str {
        match self {
            AofState::Off => "off",
            AofState::On => "on",
            AofState::WaitRewrite => "wait-rewrite",
        }
    }
}

/// A background rewrite in progress.
struct Rewrite {
    temp: PathBuf,
    started: Instant,
    /// Records appended while the snapshot was being written.
    diff: BytesMut,
    worker: JoinHandle<io::Result<()>>,
}

/// The AOF writer. Its fields are private; the server's [`crate::state::State`]
/// is the only caller of the methods that change it (see its table of
/// owners).
pub struct Aof {
    /// Current state.
    state: AofState,
    file: Option<File>,
    path: PathBuf,
    buffer: BytesMut,
    /// The fsync policy.
    fsync: AppendFsync,
    last_fsync: Instant,
    fsync_running: Arc<AtomicBool>,
    /// Bytes in the file.
    current_size: u64,
    /// Size after the last rewrite or startup.
    base_size: u64,
    /// The last write error, if writing is failing (`-MISCONF`).
    write_error: Option<String>,
    rewrite: Option<Rewrite>,
    /// Whether the last background rewrite succeeded.
    last_rewrite_ok: bool,
    /// Duration of the last rewrite in seconds, -1 if none.
    last_rewrite_secs: i64,
    /// fsyncs skipped because the previous one was still running.
    delayed_fsync: u64,
    /// Bytes written since startup (a position that never goes back).
    written: u64,
    /// Position known to be on disk.
    synced: u64,
    /// A group commit is under way (`always`): an fsync runs, or the next one
    /// gathers its batch. Records of new batches stay buffered until the next
    /// fsync starts, then go to the file in one write.
    group_commit: bool,
}

impl Aof {
    /// An AOF at `path` (not opened yet).
    pub fn new(path: PathBuf, fsync: AppendFsync) -> Aof {
        Aof {
            state: AofState::Off,
            file: None,
            path,
            buffer: BytesMut::new(),
            fsync,
            last_fsync: Instant::now(),
            fsync_running: Arc::new(AtomicBool::new(false)),
            current_size: 0,
            base_size: 0,
            write_error: None,
            rewrite: None,
            last_rewrite_ok: true,
            last_rewrite_secs: -1,
            delayed_fsync: 0,
            written: 0,
            synced: 0,
            group_commit: false,
        }
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Current state (INFO `aof_state`).
    pub fn state(&self) -> AofState {
        self.state
    }

    /// True while logging (open, possibly waiting for its first rewrite).
    pub fn is_on(&self) -> bool {
        self.state != AofState::Off
    }

    /// Changes the fsync policy (CONFIG SET appendfsync). Records a group
    /// commit held back are written first: under the other policies a reply
    /// waits only for its records to be written.
    pub fn set_fsync(&mut self, fsync: AppendFsync) {
        if self.fsync == AppendFsync::Always && fsync != AppendFsync::Always {
            self.group_commit = false;
            self.flush();
        }
        self.fsync = fsync;
    }

    /// Bytes in the file.
    pub fn current_size(&self) -> u64 {
        self.current_size
    }

    /// Size after the last rewrite or startup.
    pub fn base_size(&self) -> u64 {
        self.base_size
    }

    /// The last write error, while writing fails (`-MISCONF`).
    pub fn write_error(&self) -> Option<&str> {
        self.write_error.as_deref()
    }

    /// Whether the last background rewrite succeeded.
    pub fn last_rewrite_ok(&self) -> bool {
        self.last_rewrite_ok
    }

    /// Duration of the last rewrite in seconds, -1 if none.
    pub fn last_rewrite_secs(&self) -> i64 {
        self.last_rewrite_secs
    }

    /// fsyncs skipped because the previous one was still running.
    pub fn delayed_fsync(&self) -> u64 {
        self.delayed_fsync
    }

    /// Opens (creating if missing) the file for appending and starts logging.
    pub fn open(&mut self, state: AofState) -> io::Result<()> {
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.path)?;
        self.current_size = file.metadata()?.len();
        self.base_size = self.current_size;
        self.file = Some(file);
        self.state = state;
        Ok(())
    }

    /// Stops logging: writes and fsyncs what is buffered, closes, abandons a rewrite.
    pub fn close(&mut self) {
        let _ = self.flush_and_sync();
        self.file = None;
        self.state = AofState::Off;
        self.abandon_rewrite();
    }

    /// True while a background rewrite runs.
    pub fn rewrite_in_progress(&self) -> bool {
        self.rewrite.is_some()
    }

    /// Seconds the running rewrite has taken so far, -1 if none.
    pub fn current_rewrite_secs(&self) -> i64 {
        self.rewrite
            .as_ref()
            .map_or(-1, |r| r.started.elapsed().as_secs() as i64)
    }

    /// Bytes waiting to be written.
    pub fn buffered(&self) -> usize {
        self.buffer.len()
    }

    /// Bytes collected for the running rewrite.
    pub fn rewrite_buffered(&self) -> usize {
        self.rewrite.as_ref().map_or(0, |r| r.diff.len())
    }

    /// Takes records produced by the core.
    pub fn append(&mut self, records: &[u8]) {
        if records.is_empty() {
            return;
        }
        if self.state != AofState::Off {
            self.buffer.extend_from_slice(records);
        }
        if let Some(rewrite) = &mut self.rewrite {
            rewrite.diff.extend_from_slice(records);
        }
    }

    /// Writes the records of a batch before its replies leave. With `always`,
    /// while a group commit is under way, they stay buffered: the replies wait
    /// for the next fsync anyway, and [`Aof::begin_sync`] writes the records of
    /// every batch in between with one call where each batch would make its own.
    pub fn write_batch(&mut self) {
        if !(self.group_commit && self.fsync == AppendFsync::Always) {
            self.flush();
        }
    }

    /// Writes buffered records to the file (before the replies of this turn leave);
    /// with `everysec` starts a background fsync when one is due. With `always` a
    /// write failure is fatal.
    pub fn flush(&mut self) {
        if self.buffer.is_empty() {
            return;
        }
        let Some(file) = self.file.as_mut() else {
            return;
        };
        match file.write_all(&self.buffer) {
            Ok(()) => {
                self.current_size += self.buffer.len() as u64;
                self.written += self.buffer.len() as u64;
                self.buffer.clear();
                if self.write_error.take().is_some() {
                    crate::log::warning("AOF write error looks solved, Disque can write again.");
                }
            }
            Err(e) => {
                if self.fsync == AppendFsync::Always {
                    crate::log::warning(&format!(
                        "Can't recover from AOF write error when the AOF fsync policy is 'always': {e}. Exiting..."
                    ));
                    std::process::exit(1);
                }
                if self.write_error.is_none() {
                    crate::log::warning(&format!("Error writing to the AOF file: {e}"));
                }
                self.write_error = Some(crate::config::strerror(&e));
                // A partial write may have left a broken record: cut it away.
                let _ = file.set_len(self.current_size);
                return;
            }
        }
        // With `always` the fsync is a group commit (see `group_commit`).
        if self.fsync == AppendFsync::EverySec {
            self.background_fsync();
        }
    }

    /// The position the records taken so far reach once written, when logging.
    pub fn appended_position(&self) -> Option<u64> {
        (self.state != AofState::Off && self.file.is_some())
            .then_some(self.written + self.buffer.len() as u64)
    }

    /// How far records are as safe as the fsync policy promises: fsynced with
    /// `always`, written otherwise. Everything counts as safe with the AOF off
    /// or while writes fail without `always` (replies are not held then either).
    pub fn durable_position(&self) -> u64 {
        if self.file.is_none() || self.write_error.is_some() {
            u64::MAX
        } else if self.fsync == AppendFsync::Always {
            self.synced
        } else {
            self.written
        }
    }

    /// With `always`: the position that replies of this turn must wait for (the
    /// end of the records taken so far), when it is not on disk yet.
    pub fn unsynced_target(&self) -> Option<u64> {
        let end = self.written + self.buffer.len() as u64;
        (self.fsync == AppendFsync::Always && self.file.is_some() && self.synced < end)
            .then_some(end)
    }

    /// True when everything written up to `target` is durable, or durability is
    /// not awaited (policy other than `always`, AOF off).
    pub fn is_synced(&self, target: u64) -> bool {
        self.synced >= target || self.fsync != AppendFsync::Always || self.file.is_none()
    }

    /// Starts a group-commit fsync: writes the buffered records and returns a
    /// handle to fsync off the event loop and the position it will cover (none
    /// when the file cannot be shared with another thread).
    pub fn begin_sync(&mut self) -> Option<(File, u64)> {
        self.flush();
        let file = self.file.as_ref()?.try_clone().ok()?;
        self.group_commit = true;
        Some((file, self.written))
    }

    /// Ends a group-commit fsync that covered everything up to `target`; the
    /// group commit goes on (records stay buffered) until [`Aof::end_group_commit`].
    pub fn end_sync(&mut self, target: u64) {
        self.synced = self.synced.max(target);
    }

    /// The group commit has nothing left to fsync: batches write their records
    /// at once again.
    pub fn end_group_commit(&mut self) {
        self.group_commit = false;
    }

    /// With `everysec`: fsync in a background thread at most once per second.
    fn background_fsync(&mut self) {
        if self.last_fsync.elapsed().as_millis() < 1000 {
            return;
        }
        if self.fsync_running.load(Ordering::Acquire) {
            self.delayed_fsync += 1;
            return;
        }
        let Some(clone) = self.file.as_ref().and_then(|f| f.try_clone().ok()) else {
            return;
        };
        self.last_fsync = Instant::now();
        let running = self.fsync_running.clone();
        running.store(true, Ordering::Release);
        std::thread::spawn(move || {
            let started = Instant::now();
            let _ = clone.sync_data();
            crate::http::recorder::fsync(started.elapsed());
            running.store(false, Ordering::Release);
        });
    }

    /// The periodic duty: retry after a write error, fsync pending data (everysec).
    pub fn cron(&mut self) {
        if self.state == AofState::Off {
            return;
        }
        self.flush();
        if self.fsync == AppendFsync::EverySec && self.write_error.is_none() {
            self.background_fsync();
        }
    }

    /// Writes and fsyncs everything (SHUTDOWN, SIGTERM, turning AOF off): D11.
    pub fn flush_and_sync(&mut self) -> io::Result<()> {
        if let Some(file) = self.file.as_mut() {
            file.write_all(&self.buffer)?;
            self.current_size += self.buffer.len() as u64;
            self.written += self.buffer.len() as u64;
            self.buffer.clear();
            file.sync_all()?;
            self.synced = self.written;
        }
        Ok(())
    }

    /// Starts a background rewrite from `snapshot` (the core's records); false
    /// when one is already running.
    pub fn start_rewrite(&mut self, snapshot: Bytes) -> bool {
        if self.rewrite.is_some() {
            return false;
        }
        let temp = self
            .path
            .with_file_name(format!("temp-rewriteaof-bg-{}.aof", std::process::id()));
        let target = temp.clone();
        let worker = std::thread::spawn(move || write_file(&target, &[&snapshot]));
        self.rewrite = Some(Rewrite {
            temp,
            started: Instant::now(),
            diff: BytesMut::new(),
            worker,
        });
        true
    }

    /// Finishes a background rewrite whose worker is done: appends the records that
    /// arrived meanwhile, renames the new file over the old one, switches to it.
    pub fn poll_rewrite(&mut self) {
        if !self
            .rewrite
            .as_ref()
            .is_some_and(|r| r.worker.is_finished())
        {
            return;
        }
        let Some(rewrite) = self.rewrite.take() else {
            return;
        };
        let secs = rewrite.started.elapsed().as_secs() as i64;
        let result = rewrite
            .worker
            .join()
            .unwrap_or_else(|_| Err(io::Error::other("rewrite thread panicked")))
            .and_then(|()| self.install_rewrite(&rewrite.temp, &rewrite.diff));
        self.last_rewrite_secs = secs;
        crate::http::recorder::aof_rewrite(result.is_ok());
        match result {
            Ok(()) => {
                self.last_rewrite_ok = true;
                if self.state == AofState::WaitRewrite {
                    self.state = AofState::On;
                }
                crate::log::notice("Background AOF rewrite finished successfully");
            }
            Err(e) => {
                let _ = std::fs::remove_file(&rewrite.temp);
                self.last_rewrite_ok = false;
                crate::log::warning(&format!("Background AOF rewrite failed: {e}"));
            }
        }
    }

    fn install_rewrite(&mut self, temp: &Path, diff: &[u8]) -> io::Result<()> {
        self.flush_and_sync()?;
        let mut file = OpenOptions::new().append(true).open(temp)?;
        file.write_all(diff)?;
        file.sync_all()?;
        std::fs::rename(temp, &self.path)?;
        sync_dir(&self.path);
        if self.state != AofState::Off {
            self.file = Some(file);
        }
        self.current_size = std::fs::metadata(&self.path)?.len();
        self.base_size = self.current_size;
        Ok(())
    }

    fn abandon_rewrite(&mut self) {
        if let Some(rewrite) = self.rewrite.take() {
            let _ = rewrite.worker.join();
            let _ = std::fs::remove_file(&rewrite.temp);
        }
    }

    /// `SHUTDOWN REWRITE-AOF`: writes the snapshot synchronously, between the
    /// snapshot markers, and puts it in place of the AOF (even with AOF off).
    pub fn rewrite_for_shutdown(&mut self, snapshot: &[u8]) -> io::Result<()> {
        self.abandon_rewrite();
        let temp = self
            .path
            .with_file_name(format!("temp-rewriteaof-{}.aof", std::process::id()));
        write_file(&temp, &[SNAPSHOT_BEGIN, snapshot, SNAPSHOT_END])?;
        std::fs::rename(&temp, &self.path)?;
        sync_dir(&self.path);
        Ok(())
    }

    /// True when the automatic rewrite conditions hold.
    pub fn wants_auto_rewrite(&self, percentage: i64, min_size: i64) -> bool {
        if self.state != AofState::On || self.rewrite.is_some() || percentage <= 0 {
            return false;
        }
        let base = self.base_size.max(1);
        self.current_size > min_size.max(0) as u64
            && (self.current_size.saturating_sub(base)) * 100 / base >= percentage as u64
    }
}

fn write_file(path: &Path, parts: &[&[u8]]) -> io::Result<()> {
    let mut file = File::create(path)?;
    for part in parts {
        file.write_all(part)?;
    }
    file.sync_all()
}

/// fsyncs the directory holding `path`, so a rename survives a crash (best effort).
pub fn sync_dir(path: &Path) {
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    if let Ok(d) = File::open(dir) {
        let _ = d.sync_all();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file_len(aof: &Aof) -> u64 {
        std::fs::metadata(aof.path()).unwrap().len()
    }

    /// With `always`, batches that end while a group commit is under way (an
    /// fsync runs or the next one gathers) are written by the next fsync, in
    /// one write, and their replies wait for it.
    #[test]
    fn batches_during_a_group_commit_fsync_wait_for_the_next_one() {
        let dir = std::env::temp_dir().join(format!("aof-batch-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let mut aof = Aof::new(dir.join("appendonly.aof"), AppendFsync::Always);
        aof.open(AofState::On).unwrap();

        aof.append(b"first\n");
        aof.write_batch();
        assert_eq!(file_len(&aof), 6, "no fsync running: written at once");
        assert_eq!(aof.unsynced_target(), Some(6));
        let (_, covered) = aof.begin_sync().unwrap();
        assert_eq!(covered, 6);

        aof.append(b"second\n");
        aof.write_batch();
        assert_eq!(file_len(&aof), 6, "held while the fsync runs");
        assert_eq!(aof.unsynced_target(), Some(13));
        aof.end_sync(covered);
        assert!(aof.is_synced(6) && !aof.is_synced(13));
        aof.append(b"third\n");
        aof.write_batch();
        assert_eq!(file_len(&aof), 6, "held while the next fsync gathers");

        let (_, covered) = aof.begin_sync().unwrap();
        assert_eq!((covered, file_len(&aof)), (19, 19));
        aof.end_sync(covered);
        assert_eq!(aof.unsynced_target(), None);
        aof.end_group_commit();
        aof.append(b"fourth\n");
        aof.write_batch();
        assert_eq!(file_len(&aof), 26, "no group commit: written at once");
        let (_, covered) = aof.begin_sync().unwrap();
        aof.end_sync(covered);

        aof.set_fsync(AppendFsync::EverySec);
        aof.begin_sync().unwrap();
        aof.append(b"fifth\n");
        aof.write_batch();
        assert_eq!(file_len(&aof), 32, "only `always` holds records back");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
