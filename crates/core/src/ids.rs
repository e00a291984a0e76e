//! Job ids and node ids: fixed 40-byte values, never heap strings.
//!
//! A job id is `D-<8 hex of the creating node's id>-<24 base64 chars>-<4 hex TTL field>`
//! (docs/jobs-and-ids.md §1). A node id is 40 lowercase hex characters.

use rand::Rng;
use std::fmt;

/// Length of job ids and node ids.
pub const ID_LEN: usize = 40;

const BASE64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
const HEX: &[u8; 16] = b"0123456789abcdef";

/// A 40-byte job id as it travels on the wire.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct JobId(pub [u8; ID_LEN]);

impl JobId {
    /// Accepts an id by shape only: 40 bytes, `D` at 0, `-` at 1, 10 and 35.
    pub fn parse(bytes: &[u8]) -> Option<JobId> {
        if bytes.len() != ID_LEN
            || bytes[0] != b'D'
            || bytes[1] != b'-'
            || bytes[10] != b'-'
            || bytes[35] != b'-'
        {
            return None;
        }
        let mut id = [0u8; ID_LEN];
        id.copy_from_slice(bytes);
        Some(JobId(id))
    }

    /// Creates a new id for a job made on `node`.
    pub fn generate(node: &NodeId, rng: &mut impl Rng, ttl_secs: u64, retry_secs: u32) -> JobId {
        let mut id = [0u8; ID_LEN];
        id[0] = b'D';
        id[1] = b'-';
        id[2..10].copy_from_slice(&node.0[..8]);
        id[10] = b'-';
        // 144 random bits, 6 per character: one draw for the whole part.
        let mut raw = [0u8; 18];
        rng.fill_bytes(&mut raw);
        for (chars, bytes) in id[11..35].chunks_mut(4).zip(raw.chunks(3)) {
            let bits = u32::from(bytes[0]) << 16 | u32::from(bytes[1]) << 8 | u32::from(bytes[2]);
            for (k, c) in chars.iter_mut().enumerate() {
                *c = BASE64[(bits >> (18 - 6 * k) & 63) as usize];
            }
        }
        id[35] = b'-';
        let field = ttl_field(ttl_secs, retry_secs);
        for (i, b) in id[36..40].iter_mut().enumerate() {
            *b = HEX[((field >> (12 - 4 * i)) & 0xf) as usize];
        }
        JobId(id)
    }

    /// The id as bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// The TTL field (last 4 hex digits) in minutes; non-hex characters count as 0.
    pub fn ttl_field(&self) -> u32 {
        self.0[36..40].iter().fold(0u32, |acc, &c| {
            let digit = (c as char).to_digit(16).unwrap_or(0);
            (acc << 4) | digit
        })
    }

    /// True when the TTL field is even: the job was added with RETRY 0 (at-most-once).
    pub fn is_at_most_once(&self) -> bool {
        self.ttl_field() & 1 == 0
    }

    /// The first 8 bytes of the random part, used to order ids for cursor scans.
    pub fn scan_key(&self) -> u64 {
        let mut key = [0u8; 8];
        key.copy_from_slice(&self.0[11..19]);
        u64::from_be_bytes(key)
    }
}

/// The TTL field of a new job id: minutes, capped at 65535, odd for RETRY > 0, even for RETRY 0.
fn ttl_field(ttl_secs: u64, retry_secs: u32) -> u32 {
    let minutes = (ttl_secs / 60).min(65535) as u32;
    if retry_secs > 0 {
        minutes | 1
    } else {
        minutes & !1
    }
}

impl fmt::Debug for JobId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&String::from_utf8_lossy(&self.0))
    }
}

/// A 40-character lowercase hex node id.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct NodeId(pub [u8; ID_LEN]);

impl NodeId {
    /// A new random node id.
    pub fn random(rng: &mut impl Rng) -> NodeId {
        let mut id = [0u8; ID_LEN];
        for b in &mut id {
            *b = HEX[rng.gen_range(0..16)];
        }
        NodeId(id)
    }

    /// Accepts exactly 40 lowercase hex characters (node ids from `nodes.conf`,
    /// the bus, or a client). Anything else would corrupt `nodes.conf` lines.
    pub fn parse(bytes: &[u8]) -> Option<NodeId> {
        let id: [u8; ID_LEN] = bytes.try_into().ok()?;
        // Every byte is checked, without branches, so that the check is a few
        // vector instructions: ids of holders arrive in every replicated job.
        let bad = id.iter().fold(0u8, |bad, &c| {
            let hex = c.wrapping_sub(b'0') < 10 || c.wrapping_sub(b'a') < 6;
            bad | u8::from(!hex)
        });
        (bad == 0).then_some(NodeId(id))
    }

    /// The id as bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        std::str::from_utf8(&self.0).unwrap_or("")
    }
}

impl fmt::Debug for NodeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&String::from_utf8_lossy(&self.0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{rngs::StdRng, SeedableRng};

    fn id_suffix(ttl: u64, retry: u32) -> String {
        let mut rng = StdRng::seed_from_u64(1);
        let node = NodeId::random(&mut rng);
        let id = JobId::generate(&node, &mut rng, ttl, retry);
        assert!(JobId::parse(id.as_bytes()).is_some());
        assert_eq!(&id.0[2..10], &node.0[..8]);
        String::from_utf8(id.0[36..].to_vec()).unwrap()
    }

    #[test]
    fn ttl_field_matches_spec_examples() {
        assert_eq!(id_suffix(86400, 30), "05a1");
        assert_eq!(id_suffix(3600, 5), "003d");
        assert_eq!(id_suffix(3600, 0), "003c");
        assert_eq!(id_suffix(10, 1), "0001");
        assert_eq!(id_suffix(10, 0), "0000");
        assert_eq!(id_suffix(200, 0), "0002");
        assert_eq!(id_suffix(5_000_000, 1), "ffff");
    }

    #[test]
    fn shape_validation() {
        assert!(JobId::parse(b"D-00000000-AAAAAAAAAAAAAAAAAAAAAAAA-0001").is_some());
        assert!(JobId::parse(b"D-123").is_none());
        assert!(JobId::parse(b"X-00000000-AAAAAAAAAAAAAAAAAAAAAAAA-0001").is_none());
        let odd = JobId::parse(b"D-00000000-AAAAAAAAAAAAAAAAAAAAAAAA-0zz1").unwrap();
        assert_eq!(odd.ttl_field(), 1);
        assert!(!odd.is_at_most_once());
    }

    #[test]
    fn node_ids_are_lowercase_hex() {
        assert!(NodeId::parse(&[b'a'; 40]).is_some());
        assert!(NodeId::parse(&[b'A'; 40]).is_none());
        assert!(NodeId::parse(b"0123456789abcdef0123456789abcdef0123 x\n").is_none());
        assert!(NodeId::parse(&[b'a'; 39]).is_none());
        // Every byte counts, whatever its place, and the ranges end where they should.
        for place in [0, 7, 8, 31, 32, 39] {
            for c in 0..=255u8 {
                let mut id = [b'0'; 40];
                id[place] = c;
                let hex = c.is_ascii_digit() || (b'a'..=b'f').contains(&c);
                assert_eq!(NodeId::parse(&id).is_some(), hex, "{c} at {place}");
            }
        }
    }
}
