//! `nodes.conf` (docs/cluster.md §3): this node's identity survives restarts. The file
//! is locked for the life of the process, and saved atomically (temp, fsync, rename).

use disque_core::cluster::membership::SavedPeer;
use disque_core::ids::NodeId;
use std::fs::File;
use std::io::Write;
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};

/// What `nodes.conf` says: this node and the others it knew.
#[derive(Debug)]
pub struct Identity {
    /// This node's id.
    pub id: NodeId,
    /// `CLUSTER LEAVING yes` was in effect.
    pub leaving: bool,
    /// This node's IP as it had learned it.
    pub my_ip: String,
    /// The other nodes.
    pub peers: Vec<SavedPeer>,
}

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
        let identity = parse(&text).map_err(|line| {
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

/// Reads every node line. `Err(line)` for a corrupt file, `Ok(None)` for an empty one.
fn parse(text: &str) -> Result<Option<Identity>, String> {
    let mut myself = None;
    let mut peers = Vec::new();
    for line in text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with("vars "))
    {
        let fields: Vec<&str> = line.split(' ').collect();
        let corrupt = || line.to_string();
        if fields.len() != 6 {
            return Err(corrupt());
        }
        let id = NodeId::parse(fields[0].as_bytes()).ok_or_else(corrupt)?;
        let (ip, port) = fields[1].rsplit_once(':').ok_or_else(corrupt)?;
        let port: u16 = port.parse().map_err(|_| corrupt())?;
        let flags: Vec<String> = fields[2].split(',').map(str::to_string).collect();
        const KNOWN: [&str; 7] = [
            "myself",
            "fail?",
            "fail",
            "handshake",
            "noaddr",
            "leaving",
            "noflags",
        ];
        if flags.iter().any(|f| !KNOWN.contains(&f.as_str())) {
            return Err(corrupt());
        }
        if flags.iter().any(|f| f == "myself") {
            myself = Some((id, flags.iter().any(|f| f == "leaving"), ip.to_string()));
        } else if !flags.iter().any(|f| f == "handshake") {
            peers.push(SavedPeer {
                id,
                ip: ip.to_string(),
                port,
                flags,
            });
        }
    }
    match myself {
        Some((id, leaving, my_ip)) => Ok(Some(Identity {
            id,
            leaving,
            my_ip,
            peers,
        })),
        None if text.trim().is_empty() => Ok(None),
        None => Err("no myself line".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_myself_and_rejects_garbage() {
        let id = "a".repeat(40);
        let other = "b".repeat(40);
        let ok = format!("{id} 127.0.0.1:7711 myself,leaving 0 0 connected\n{other} 127.0.0.1:7712 fail? 0 0 disconnected\n");
        let parsed = parse(&ok).unwrap().unwrap();
        assert_eq!(parsed.id.as_str(), id);
        assert!(parsed.leaving);
        assert_eq!(parsed.my_ip, "127.0.0.1");
        assert_eq!(parsed.peers.len(), 1);
        assert_eq!(parsed.peers[0].port, 7712);
        assert!(parse(&format!("{id} 127.0.0.1:7711 myself,bogus 0 0 connected\n")).is_err());
        assert!(parse("").unwrap().is_none());
        assert!(parse("garbage\n").is_err());
    }
}
