//! A raw connection to a server: exact request bytes out, exact reply
//! frames in, silence and close checked with deadlines.

use std::time::Duration;

use bytes::{Bytes, BytesMut};
use disque_client::Reply;
use disque_proto::parse_reply;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::server::REPLY_DEADLINE;

/// A raw connection: exact bytes out, exact reply frames in.
pub struct Raw {
    /// The socket.
    pub stream: TcpStream,
    buf: BytesMut,
}

impl Raw {
    /// Connects to 127.0.0.1:`port`.
    pub async fn connect(port: u16) -> Raw {
        let stream = TcpStream::connect(("127.0.0.1", port))
            .await
            .expect("raw connect");
        Raw::on(stream)
    }

    /// A raw connection over `stream` (Nagle off: each command goes out at
    /// once).
    fn on(stream: TcpStream) -> Raw {
        stream.set_nodelay(true).expect("TCP_NODELAY");
        Raw {
            stream,
            buf: BytesMut::new(),
        }
    }

    /// Connects to 127.0.0.1:`port` from the source address `from` (e.g.
    /// 127.0.0.2, which the server must not count as local).
    pub async fn connect_from(from: &str, port: u16) -> Raw {
        let socket = tokio::net::TcpSocket::new_v4().expect("socket");
        socket
            .bind(std::net::SocketAddr::new(from.parse().expect("ip"), 0))
            .expect("bind the source address");
        let stream = socket
            .connect(([127, 0, 0, 1], port).into())
            .await
            .expect("raw connect");
        Raw::on(stream)
    }

    /// Sends exact bytes.
    pub async fn send(&mut self, bytes: &[u8]) {
        self.stream.write_all(bytes).await.expect("raw write");
    }

    /// Sends one multi-bulk command.
    pub async fn cmd<A: AsRef<[u8]>>(&mut self, args: &[A]) {
        let mut out = BytesMut::new();
        disque_proto::encode_request(args, &mut out);
        self.send(&out).await;
    }

    /// Reads one complete reply frame: (its exact bytes, its value).
    pub async fn frame_within(&mut self, timeout: Duration) -> Option<(Bytes, Reply)> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let before = self.buf.clone();
            match parse_reply(&mut self.buf) {
                Ok(Some(reply)) => {
                    let used = before.len() - self.buf.len();
                    return Some((before.freeze().slice(..used), reply));
                }
                Ok(None) => {}
                Err(e) => panic!(
                    "bad reply bytes {:?}: {e:?}",
                    String::from_utf8_lossy(&before)
                ),
            }
            self.buf.reserve(16 * 1024);
            match tokio::time::timeout_at(deadline, self.stream.read_buf(&mut self.buf)).await {
                Err(_) => return None,
                Ok(Ok(0)) => panic!(
                    "connection closed while waiting for a reply (buffered {:?})",
                    String::from_utf8_lossy(&self.buf)
                ),
                Ok(Ok(_)) => {}
                Ok(Err(e)) => panic!("read error: {e}"),
            }
        }
    }

    /// Reads one reply frame within [`REPLY_DEADLINE`].
    pub async fn frame(&mut self) -> (Bytes, Reply) {
        self.frame_within(REPLY_DEADLINE)
            .await
            .expect("no reply within the deadline")
    }

    /// Reads one reply within [`REPLY_DEADLINE`].
    pub async fn reply(&mut self) -> Reply {
        self.frame().await.1
    }

    /// Reads one reply and asserts its exact wire bytes.
    pub async fn expect(&mut self, wire: &[u8]) {
        let (bytes, _) = self.frame().await;
        assert_eq!(
            String::from_utf8_lossy(&bytes),
            String::from_utf8_lossy(wire),
            "wire bytes differ"
        );
    }

    /// Sends a command and asserts the exact wire bytes of its reply.
    pub async fn roundtrip<A: AsRef<[u8]>>(&mut self, args: &[A], wire: &[u8]) {
        self.cmd(args).await;
        self.expect(wire).await;
    }

    /// Asserts that nothing arrives for `d`.
    pub async fn expect_silence(&mut self, d: Duration) {
        if !self.buf.is_empty() {
            panic!("unexpected bytes: {:?}", String::from_utf8_lossy(&self.buf));
        }
        let mut tmp = [0u8; 1024];
        match tokio::time::timeout(d, self.stream.read(&mut tmp)).await {
            Err(_) => {}
            Ok(Ok(0)) => panic!("connection closed, expected it open and silent"),
            Ok(Ok(n)) => panic!("unexpected bytes: {:?}", String::from_utf8_lossy(&tmp[..n])),
            Ok(Err(e)) => panic!("read error: {e}"),
        }
    }

    /// Reads until the server closes the connection; returns what came
    /// before the close. Fails if the connection is still open after the
    /// deadline.
    pub async fn expect_closed(&mut self) -> Bytes {
        let deadline = tokio::time::Instant::now() + REPLY_DEADLINE;
        loop {
            self.buf.reserve(4096);
            match tokio::time::timeout_at(deadline, self.stream.read_buf(&mut self.buf)).await {
                Err(_) => panic!(
                    "connection still open (received {:?})",
                    String::from_utf8_lossy(&self.buf)
                ),
                Ok(Ok(0)) => return self.buf.split().freeze(),
                Ok(Ok(_)) => {}
                // A reset also counts as closed.
                Ok(Err(_)) => return self.buf.split().freeze(),
            }
        }
    }
}
