//! Loading the AOF (docs/persistence.md §4): at startup on the event loop, a batch of
//! records at a time, so that clients meanwhile get `-LOADING`; and all at once
//! for DEBUG LOADAOF.

use crate::aof_file::RecordReader;
use crate::state::{now_ms, Shared, State};
use disque_core::{AofError, Effects, Env, Node, Replay, Replayed};
use std::fs::File;
use std::io::BufReader;
use std::path::Path;

/// Records replayed between two yields to the event loop.
const RECORDS_PER_BATCH: usize = 2000;

/// Progress of the startup load (INFO `loading_*` fields).
#[derive(Clone, Copy, Debug)]
pub struct LoadingInfo {
    /// Unix seconds when loading started.
    pub start_time: u64,
    /// File size.
    pub total_bytes: u64,
    /// Bytes replayed so far.
    pub loaded_bytes: u64,
}

/// Why loading stopped.
#[derive(Debug)]
pub enum LoadError {
    /// The file could not be read.
    Io(std::io::Error),
    /// What the core's replay refused.
    Aof(AofError),
}

impl LoadError {
    /// The log line explaining it.
    pub fn message(&self, path: &Path) -> String {
        match self {
            LoadError::Io(e) => format!("Unrecoverable error reading the append only file {}: {e}", path.display()),
            LoadError::Aof(AofError::Corrupt(text)) => format!(
                "Bad file format reading the append only file {}: {text}. The file was not changed; check it with disque-check-aof",
                path.display()
            ),
            LoadError::Aof(AofError::Truncated(offset)) => format!(
                "Unexpected end of file reading the append only file {} (incomplete record at offset {offset}). You can: 1) Make a backup of your AOF file, then use ./disque-check-aof --fix <filename>. 2) Alternatively you can set the 'aof-load-truncated' configuration option to yes and restart the server.",
                path.display()
            ),
        }
    }
}

/// Reads an AOF and replays its records into the node through the core's
/// [`Replay`].
pub struct Loader {
    reader: RecordReader<BufReader<File>>,
    replay: Replay,
}

impl Loader {
    /// Opens `path` for replay.
    pub fn open(path: &Path, enqueue_once: bool, truncated_ok: bool) -> std::io::Result<Loader> {
        let file = File::open(path)?;
        Ok(Loader {
            reader: RecordReader::new(BufReader::new(file)),
            replay: Replay::new(enqueue_once, truncated_ok),
        })
    }

    /// Offset reached.
    pub fn offset(&self) -> u64 {
        self.reader.offset()
    }

    /// Jobs loaded so far.
    pub fn loaded_jobs(&self) -> u64 {
        self.replay.loaded_jobs
    }

    /// Replays up to `max` records as one event of the core
    /// ([`State::run_core`]: one clock read for the step, like a batch of
    /// pipelined requests), then carries out their effects (a QUEUED
    /// broadcast of a job queued again with `aof-enqueue-jobs-once`, released
    /// clients). Ok(true) when the file is done. A truncated tail with
    /// `aof-load-truncated yes` is cut off the file (logged) and ends the load.
    pub fn step(&mut self, state: &mut State, path: &Path, max: usize) -> Result<bool, LoadError> {
        state.run_core(|node, env, fx| self.replay_records(node, env, path, max, fx))
    }

    fn replay_records(
        &mut self,
        node: &mut Node,
        env: &Env,
        path: &Path,
        max: usize,
        fx: &mut Effects,
    ) -> Result<bool, LoadError> {
        for _ in 0..max {
            let next = self.reader.next_record().map_err(LoadError::Io)?;
            match self
                .replay
                .take(node, env, next, fx)
                .map_err(LoadError::Aof)?
            {
                Replayed::Record => {}
                Replayed::End => return Ok(true),
                Replayed::CutAt(offset) => {
                    crate::log::warning(&format!(
                        "!!! Warning: short read while loading the AOF file {}!!! Truncating the AOF at offset {offset}",
                        path.display()
                    ));
                    let file = std::fs::OpenOptions::new()
                        .write(true)
                        .open(path)
                        .map_err(LoadError::Io)?;
                    file.set_len(offset).map_err(LoadError::Io)?;
                    return Ok(true);
                }
            }
        }
        Ok(false)
    }
}

/// The startup load, run as a task: replays in batches with `state.loading` set,
/// exits the process on a fatal error, then tells the core it is done (a node
/// left without jobs announces it, D8), starts logging if `appendonly yes`
/// and resets `aof-enqueue-jobs-once` (docs/persistence.md §4.5).
pub async fn load_at_startup(shared: Shared) {
    let (path, enqueue_once, truncated_ok, appendonly) = {
        let state = shared.borrow();
        let c = &state.config;
        (
            state.aof().path().to_path_buf(),
            c.aof_enqueue_jobs_once,
            c.aof_load_truncated,
            c.appendonly,
        )
    };
    if appendonly || enqueue_once {
        let started = std::time::Instant::now();
        match Loader::open(&path, enqueue_once, truncated_ok) {
            Ok(mut loader) => {
                let total = std::fs::metadata(&path).map_or(0, |m| m.len());
                shared.borrow_mut().loading = Some(LoadingInfo {
                    start_time: now_ms() / 1000,
                    total_bytes: total,
                    loaded_bytes: 0,
                });
                loop {
                    let result = {
                        let mut state = shared.borrow_mut();
                        let result = loader.step(&mut state, &path, RECORDS_PER_BATCH);
                        if let Some(info) = state.loading.as_mut() {
                            info.loaded_bytes = loader.offset();
                        }
                        result
                    };
                    match result {
                        Ok(true) => break,
                        Ok(false) => tokio::task::yield_now().await,
                        Err(e) => {
                            crate::log::warning(&e.message(&path));
                            std::process::exit(1);
                        }
                    }
                }
                crate::log::notice(&format!(
                    "DB loaded from append only file: {:.3} seconds ({} jobs)",
                    started.elapsed().as_secs_f64(),
                    loader.loaded_jobs()
                ));
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && appendonly => {}
            Err(e) => {
                crate::log::warning(&format!(
                    "Fatal error: can't open the append log file for reading: {e}"
                ));
                std::process::exit(1);
            }
        }
    }
    let mut state = shared.borrow_mut();
    state.loading = None;
    state.run_core(|node, _, _| node.startup_complete());
    if appendonly {
        if let Err(e) = state.open_aof(crate::aof::AofState::On) {
            crate::log::warning(&format!("Can't open the append-only file: {e}"));
            std::process::exit(1);
        }
    }
    if enqueue_once {
        crate::config_glue::loaded_enqueue_jobs_once(&mut state);
    }
}

/// DEBUG LOADAOF: write what is buffered, drop every job without logging the
/// deletions (decision D6), replay the file at once.
pub fn reload(state: &mut State) -> Result<(), String> {
    state.write_aof();
    let path = state.aof().path().to_path_buf();
    if std::fs::metadata(&path).map_or(0, |m| m.len()) == 0 {
        return Err(String::new());
    }
    state.run_core(|node, env, fx| node.flush_all(env, false, fx));
    let (enqueue_once, truncated_ok) = (
        state.config.aof_enqueue_jobs_once,
        state.config.aof_load_truncated,
    );
    let mut loader = Loader::open(&path, enqueue_once, truncated_ok).map_err(|e| e.to_string())?;
    while !loader
        .step(state, &path, usize::MAX)
        .map_err(|e| e.message(&path))?
    {}
    Ok(())
}
