//! Cluster bus authentication (decision D12): with `cluster-password` set,
//! every bus connection, in both directions, starts with a mutual
//! challenge-response that proves the secret without sending it.
//!
//! ```text
//! connector -> acceptor   HELLO     = MAGIC, nonce_c (32), id_c (40)
//! acceptor  -> connector  CHALLENGE = MAGIC, nonce_a (32), id_a (40), mac_a (32)
//! connector -> acceptor   PROOF     = mac_c (32)
//! mac_x = HMAC-SHA256(secret, label_x | nonce_c | nonce_a | id_c | id_a)
//! ```
//!
//! The labels differ by direction, so a proof cannot be reflected back to
//! its maker, and both nonces are fresh, so a proof cannot be replayed. The
//! messages have fixed sizes: nothing is read beyond them before the proof
//! is checked, and the caller bounds the whole exchange in time. Frames only
//! follow a completed handshake, and the caller then checks that every
//! frame's sender is the node id that was authenticated.

use disque_core::ids::NodeId;
use hmac::{Hmac, Mac};
use rand::RngCore;
use sha2::Sha256;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

/// The first bytes of HELLO and CHALLENGE (version 1 of the handshake).
pub const MAGIC: &[u8; 8] = b"DQBUSAU1";
/// Bytes of a nonce.
pub const NONCE_LEN: usize = 32;
/// Bytes of a node id.
pub const ID_LEN: usize = 40;
/// Bytes of a proof (HMAC-SHA256).
pub const MAC_LEN: usize = 32;
/// Bytes of HELLO.
pub const HELLO_LEN: usize = MAGIC.len() + NONCE_LEN + ID_LEN;
/// Bytes of CHALLENGE.
pub const CHALLENGE_LEN: usize = HELLO_LEN + MAC_LEN;

const LABEL_ACCEPTOR: &[u8] = b"disque bus acceptor";
const LABEL_CONNECTOR: &[u8] = b"disque bus connector";

/// Why a handshake failed (the text goes to the log).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AuthError {
    /// The peer sent something else than a handshake message: it most
    /// likely has no `cluster-password`.
    NotAHandshake,
    /// A node id that is not 40 lowercase hex characters.
    BadNodeId,
    /// The proof does not match: the peer has another secret.
    WrongProof,
    /// The peer closed the connection or an I/O error happened.
    Io(String),
}

impl std::fmt::Display for AuthError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            AuthError::NotAHandshake => f.write_str(
                "the peer did not start the cluster-password handshake (is cluster-password set on it?)",
            ),
            AuthError::BadNodeId => f.write_str("malformed node id in the handshake"),
            AuthError::WrongProof => f.write_str(
                "wrong proof of the cluster-password (the peer has another cluster-password)",
            ),
            AuthError::Io(e) => write!(
                f,
                "connection lost during the cluster-password handshake ({e}; has the peer the same cluster-password?)"
            ),
        }
    }
}

impl From<std::io::Error> for AuthError {
    fn from(e: std::io::Error) -> Self {
        AuthError::Io(e.to_string())
    }
}

/// A HELLO, or the first part of a CHALLENGE.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Hello {
    /// The sender's fresh nonce.
    pub nonce: [u8; NONCE_LEN],
    /// The sender's node id.
    pub id: NodeId,
}

/// Parses a HELLO (exactly [`HELLO_LEN`] bytes).
pub fn parse_hello(bytes: &[u8]) -> Result<Hello, AuthError> {
    if bytes.len() != HELLO_LEN || !bytes.starts_with(MAGIC) {
        return Err(AuthError::NotAHandshake);
    }
    let (nonce, id) = bytes[MAGIC.len()..].split_at(NONCE_LEN);
    let id = NodeId::parse(id).ok_or(AuthError::BadNodeId)?;
    let mut n = [0u8; NONCE_LEN];
    n.copy_from_slice(nonce);
    Ok(Hello { nonce: n, id })
}

/// Parses a CHALLENGE (exactly [`CHALLENGE_LEN`] bytes): the acceptor's
/// HELLO part and its proof.
pub fn parse_challenge(bytes: &[u8]) -> Result<(Hello, [u8; MAC_LEN]), AuthError> {
    if bytes.len() != CHALLENGE_LEN {
        return Err(AuthError::NotAHandshake);
    }
    let hello = parse_hello(&bytes[..HELLO_LEN])?;
    let mut mac = [0u8; MAC_LEN];
    mac.copy_from_slice(&bytes[HELLO_LEN..]);
    Ok((hello, mac))
}

/// Appends a HELLO (or the first part of a CHALLENGE).
pub fn encode_hello(hello: &Hello, out: &mut Vec<u8>) {
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&hello.nonce);
    out.extend_from_slice(hello.id.as_str().as_bytes());
}

/// The MAC over both sides' nonces and ids, for one direction's label.
fn mac(secret: &[u8], label: &[u8], connector: &Hello, acceptor: &Hello) -> Hmac<Sha256> {
    // HMAC takes keys of any length.
    let mut m = <Hmac<Sha256> as Mac>::new_from_slice(secret).expect("HMAC accepts any key");
    m.update(label);
    m.update(&connector.nonce);
    m.update(&acceptor.nonce);
    m.update(connector.id.as_str().as_bytes());
    m.update(acceptor.id.as_str().as_bytes());
    m
}

/// The proof the acceptor (`acceptor == true`) or the connector sends.
pub fn proof(secret: &[u8], acceptor: bool, c: &Hello, a: &Hello) -> [u8; MAC_LEN] {
    let label = if acceptor {
        LABEL_ACCEPTOR
    } else {
        LABEL_CONNECTOR
    };
    mac(secret, label, c, a).finalize().into_bytes().into()
}

/// Checks a proof in constant time.
pub fn check(
    secret: &[u8],
    acceptor: bool,
    c: &Hello,
    a: &Hello,
    given: &[u8],
) -> Result<(), AuthError> {
    let label = if acceptor {
        LABEL_ACCEPTOR
    } else {
        LABEL_CONNECTOR
    };
    mac(secret, label, c, a)
        .verify_slice(given)
        .map_err(|_| AuthError::WrongProof)
}

fn fresh_hello(id: NodeId) -> Hello {
    let mut nonce = [0u8; NONCE_LEN];
    rand::thread_rng().fill_bytes(&mut nonce);
    Hello { nonce, id }
}

/// The connector's side: proves the secret and checks the acceptor's
/// proof. Returns the acceptor's node id.
pub async fn connect<S: AsyncRead + AsyncWrite + Unpin>(
    stream: &mut S,
    secret: &[u8],
    my_id: NodeId,
) -> Result<NodeId, AuthError> {
    let mine = fresh_hello(my_id);
    let mut out = Vec::with_capacity(HELLO_LEN);
    encode_hello(&mine, &mut out);
    stream.write_all(&out).await?;
    stream.flush().await?;
    let mut buf = [0u8; CHALLENGE_LEN];
    stream.read_exact(&mut buf).await?;
    let (theirs, their_mac) = parse_challenge(&buf)?;
    check(secret, true, &mine, &theirs, &their_mac)?;
    stream
        .write_all(&proof(secret, false, &mine, &theirs))
        .await?;
    stream.flush().await?;
    Ok(theirs.id)
}

/// The acceptor's side: reads the connector's HELLO, answers with its own
/// proof and checks the connector's. Returns the connector's node id.
pub async fn accept<S: AsyncRead + AsyncWrite + Unpin>(
    stream: &mut S,
    secret: &[u8],
    my_id: NodeId,
) -> Result<NodeId, AuthError> {
    let mut buf = [0u8; HELLO_LEN];
    // The magic first: a peer without a password sends a frame instead.
    stream.read_exact(&mut buf[..MAGIC.len()]).await?;
    if &buf[..MAGIC.len()] != MAGIC {
        return Err(AuthError::NotAHandshake);
    }
    stream.read_exact(&mut buf[MAGIC.len()..]).await?;
    let theirs = parse_hello(&buf)?;
    let mine = fresh_hello(my_id);
    let mut out = Vec::with_capacity(CHALLENGE_LEN);
    encode_hello(&mine, &mut out);
    out.extend_from_slice(&proof(secret, true, &theirs, &mine));
    stream.write_all(&out).await?;
    stream.flush().await?;
    let mut their_mac = [0u8; MAC_LEN];
    stream.read_exact(&mut their_mac).await?;
    check(secret, false, &theirs, &mine, &their_mac)?;
    Ok(theirs.id)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    fn id(seed: u64) -> NodeId {
        NodeId::random(&mut rand::rngs::StdRng::seed_from_u64(seed))
    }

    async fn pair(
        secret_c: &[u8],
        secret_a: &[u8],
    ) -> (Result<NodeId, AuthError>, Result<NodeId, AuthError>) {
        let (mut c, mut a) = tokio::io::duplex(1024);
        let (sc, sa) = (secret_c.to_vec(), secret_a.to_vec());
        let connector = async move {
            let r = connect(&mut c, &sc, id(1)).await;
            drop(c);
            r
        };
        let acceptor = async move {
            let r = accept(&mut a, &sa, id(2)).await;
            drop(a);
            r
        };
        tokio::join!(connector, acceptor)
    }

    #[tokio::test]
    async fn same_secret_authenticates_both_ways() {
        let (c, a) = pair(b"s3cret", b"s3cret").await;
        assert_eq!(c, Ok(id(2)));
        assert_eq!(a, Ok(id(1)));
    }

    #[tokio::test]
    async fn another_secret_fails_on_both_sides() {
        let (c, a) = pair(b"one", b"two").await;
        assert_eq!(c, Err(AuthError::WrongProof));
        // The connector gave up before sending its proof.
        assert!(matches!(a, Err(AuthError::Io(_))), "{a:?}");
    }

    #[test]
    fn proofs_are_bound_to_direction_nonces_and_ids() {
        let (c, a) = (fresh_hello(id(1)), fresh_hello(id(2)));
        let p = proof(b"k", true, &c, &a);
        assert!(check(b"k", true, &c, &a, &p).is_ok());
        assert_eq!(check(b"k", false, &c, &a, &p), Err(AuthError::WrongProof));
        let other = fresh_hello(id(2));
        assert_eq!(
            check(b"k", true, &c, &other, &p),
            Err(AuthError::WrongProof)
        );
        assert_eq!(
            check(b"k", true, &c, &a, &p[..31]),
            Err(AuthError::WrongProof)
        );
    }

    #[test]
    fn parsers_refuse_what_is_not_a_handshake() {
        assert_eq!(parse_hello(b""), Err(AuthError::NotAHandshake));
        assert_eq!(
            parse_hello(&[0u8; HELLO_LEN]),
            Err(AuthError::NotAHandshake)
        );
        let mut bad_id = MAGIC.to_vec();
        bad_id.extend_from_slice(&[0u8; NONCE_LEN + ID_LEN]);
        assert_eq!(parse_hello(&bad_id), Err(AuthError::BadNodeId));
        let mut out = Vec::new();
        encode_hello(&fresh_hello(id(3)), &mut out);
        assert_eq!(parse_hello(&out).map(|h| h.id), Ok(id(3)));
        assert_eq!(parse_challenge(&out), Err(AuthError::NotAHandshake));
    }
}
