//! `nodes.conf` (docs/cluster.md §3): this node's identity survives restarts. The file
//! is locked for the life of the process, and saved atomically (temp, fsync, rename).

use disque_core::files::parse_nodes_conf;
pub use disque_core::files::Identity;
use std::fs::File;
use std::io::Write;
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};

/// The open, locked `nodes.conf`.
pub struct NodesConf {
    path: PathBuf,
    _lock: File,
}

impl NodesConf {
    /// Locks the file (creating it if missing) and reads this node's identity, if any.
    ///
    /// The lock is taken on `<file>.lock` beside it: saving renames a new file
    /// over `nodes.conf`, so a lock on the file itself would not stay with it.
    pub fn open(path: &Path) -> Result<(NodesConf, Option<Identity>), String> {
        let mut lock_path = path.as_os_str().to_owned();
        lock_path.push(".lock");
        let lock = std::fs::OpenOptions::new()
            .read(true)
            .append(true)
            .create(true)
            .open(&lock_path)
            .map_err(|e| format!("Can't open the cluster config file {}: {e}", path.display()))?;
        // SAFETY: flock on a descriptor we own.
        if unsafe { libc::flock(lock.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } != 0 {
            return Err(format!(
                "Sorry, the cluster configuration file {} is already used by a different Disque node. Please make sure that different nodes use different cluster configuration files.",
                path.display()
            ));
        }
        // Only a missing file means a new node: any other read failure must not
        // lead to a fresh identity being saved over the old one.
        let text = match std::fs::read_to_string(path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
            Err(e) => {
                return Err(format!(
                    "Can't read the cluster config file {}: {e}",
                    path.display()
                ))
            }
        };
        let identity = parse_nodes_conf(&text).map_err(|line| {
            format!("Unrecoverable error: corrupted cluster config file \"{line}\".")
        })?;
        Ok((
            NodesConf {
                path: path.to_path_buf(),
                _lock: lock,
            },
            identity,
        ))
    }

    /// Writes the file: temp file, fsync, rename over the old one.
    pub fn save(&self, text: &str) -> std::io::Result<()> {
        let tmp = self.path.with_extension("tmp-save");
        let mut f = File::create(&tmp)?;
        f.write_all(text.as_bytes())?;
        f.sync_all()?;
        std::fs::rename(&tmp, &self.path)?;
        crate::aof::sync_dir(&self.path);
        Ok(())
    }
}
