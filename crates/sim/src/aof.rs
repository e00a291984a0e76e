//! What a simulated node finds on its "disk" when it restarts: AOF records and
//! the `nodes.conf` text, parsed the way the server reads them.

use bytes::Bytes;
use disque_core::cluster::membership::SavedPeer;
use disque_core::ids::NodeId;

/// Splits AOF bytes into records (RESP multibulk arrays of bulk strings).
/// A truncated or malformed tail ends the list, like `aof-load-truncated yes`.
pub fn parse_aof(data: &[u8]) -> Vec<Vec<Bytes>> {
    let mut out = Vec::new();
    let mut pos = 0;
    while pos < data.len() {
        match parse_record(data, pos) {
            Some((record, next)) => {
                out.push(record);
                pos = next;
            }
            None => break,
        }
    }
    out
}

/// Reads `<prefix><digits>\r\n` at `pos`.
fn number(data: &[u8], pos: usize, prefix: u8) -> Option<(usize, usize)> {
    if *data.get(pos)? != prefix {
        return None;
    }
    let rest = data.get(pos + 1..)?;
    let end = rest.iter().position(|b| *b == b'\r')?;
    let n = std::str::from_utf8(&rest[..end]).ok()?.parse().ok()?;
    if rest.get(end + 1) != Some(&b'\n') {
        return None;
    }
    Some((n, pos + 1 + end + 2))
}

fn parse_record(data: &[u8], pos: usize) -> Option<(Vec<Bytes>, usize)> {
    let (count, mut pos) = number(data, pos, b'*')?;
    let mut args = Vec::with_capacity(count);
    for _ in 0..count {
        let (len, start) = number(data, pos, b'$')?;
        let end = start.checked_add(len)?;
        if data.get(end..end + 2)? != b"\r\n" {
            return None;
        }
        args.push(Bytes::copy_from_slice(&data[start..end]));
        pos = end + 2;
    }
    (!args.is_empty()).then_some((args, pos))
}

/// What a `nodes.conf` says.
#[derive(Debug, Default)]
pub struct SavedCluster {
    /// This node's IP (from its `myself` line).
    pub my_ip: String,
    /// This node was leaving.
    pub leaving: bool,
    /// The other nodes.
    pub peers: Vec<SavedPeer>,
}

/// Parses `nodes.conf` text (`<id> <ip>:<port> <flags> <ping> <pong> <link>`
/// lines). The simulator only parses text the core wrote, so malformed lines
/// are skipped rather than refused.
pub fn parse_nodes_conf(text: &str) -> SavedCluster {
    let mut out = SavedCluster::default();
    for line in text.lines() {
        let fields: Vec<&str> = line.split(' ').collect();
        if fields.len() != 6 {
            continue;
        }
        let Some(id) = NodeId::parse(fields[0].as_bytes()) else {
            continue;
        };
        let Some((ip, port)) = fields[1].rsplit_once(':') else {
            continue;
        };
        let flags: Vec<String> = fields[2]
            .split(',')
            .filter(|f| *f != "noflags")
            .map(str::to_string)
            .collect();
        if flags.iter().any(|f| f == "myself") {
            out.my_ip = ip.to_string();
            out.leaving = flags.iter().any(|f| f == "leaving");
            continue;
        }
        out.peers.push(SavedPeer {
            id,
            ip: ip.to_string(),
            port: port.parse().unwrap_or(0),
            flags,
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_and_truncated_tail() {
        let data = b"*2\r\n$7\r\nLOADJOB\r\n$3\r\nabc\r\n*2\r\n$6\r\nDELJOB\r\n$2\r\nxy\r\n*2\r\n$6\r\nDEL";
        let records = parse_aof(data);
        assert_eq!(records.len(), 2);
        assert_eq!(&records[0][1][..], b"abc");
        assert_eq!(&records[1][0][..], b"DELJOB");
    }

    #[test]
    fn nodes_conf_lines() {
        let me = "a".repeat(40);
        let other = "b".repeat(40);
        let text = format!(
            "{me} 127.0.0.1:7711 myself,leaving 0 0 connected\n{other} 127.0.0.2:7711 fail? 5 6 disconnected\n"
        );
        let saved = parse_nodes_conf(&text);
        assert_eq!(saved.my_ip, "127.0.0.1");
        assert!(saved.leaving);
        assert_eq!(saved.peers.len(), 1);
        assert_eq!(saved.peers[0].port, 7711);
        assert_eq!(saved.peers[0].flags, vec!["fail?".to_string()]);
    }
}
