//! One connection to one Disque node.

use std::io;
use std::net::SocketAddr;
use std::time::Duration;

use bytes::BytesMut;
use disque_proto::{encode_request, Reply, ReplyDecoder};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpStream, ToSocketAddrs};

use crate::ClientError;

/// The byte stream under a [`Client`]: TCP, or a Unix socket.
trait Transport: AsyncRead + AsyncWrite + Send + Unpin {}

impl<T: AsyncRead + AsyncWrite + Send + Unpin> Transport for T {}

/// How much room is made in the read buffer before each read.
const READ_CHUNK: usize = 16 * 1024;

/// A connection to a Disque node.
///
/// Replies come back in the order the commands were sent, so several
/// commands may be sent before their replies are read (pipelining). The
/// typed helpers (`add_job`, `get_job`, ...) are defined in [`crate::jobs`].
pub struct Client {
    stream: Box<dyn Transport>,
    read_buf: BytesMut,
    /// Progress through the reply being received in `read_buf`.
    decoder: ReplyDecoder,
    write_buf: BytesMut,
    peer: Option<SocketAddr>,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("peer", &self.peer)
            .field("buffered", &self.read_buf.len())
            .finish()
    }
}

impl Client {
    /// Connects over TCP (Nagle's algorithm off).
    pub async fn connect(addr: impl ToSocketAddrs) -> io::Result<Client> {
        let stream = TcpStream::connect(addr).await?;
        stream.set_nodelay(true)?;
        let peer = stream.peer_addr().ok();
        Ok(Client::from_stream(Box::new(stream), peer))
    }

    /// Connects to a Unix domain socket.
    #[cfg(unix)]
    pub async fn connect_unix(path: impl AsRef<std::path::Path>) -> io::Result<Client> {
        let stream = tokio::net::UnixStream::connect(path).await?;
        Ok(Client::from_stream(Box::new(stream), None))
    }

    /// Wraps a stream that is already connected to a node (TLS over TCP,
    /// for instance); `peer` is the node's address if known.
    pub fn over<S: AsyncRead + AsyncWrite + Send + Unpin + 'static>(
        stream: S,
        peer: Option<SocketAddr>,
    ) -> Client {
        Client::from_stream(Box::new(stream), peer)
    }

    fn from_stream(stream: Box<dyn Transport>, peer: Option<SocketAddr>) -> Client {
        Client {
            stream,
            read_buf: BytesMut::with_capacity(READ_CHUNK),
            decoder: ReplyDecoder::new(),
            write_buf: BytesMut::new(),
            peer,
        }
    }

    /// The address of the node, for TCP connections.
    pub fn peer_addr(&self) -> Option<SocketAddr> {
        self.peer
    }

    /// Sends one command and reads its reply. An error reply from the server
    /// is returned as `Ok(Reply::Error(..))`.
    pub async fn call<A: AsRef<[u8]>>(&mut self, args: &[A]) -> Result<Reply, ClientError> {
        self.send(args).await?;
        self.read_reply().await
    }

    /// Sends one command without reading its reply; read it later with
    /// [`Client::read_reply`].
    pub async fn send<A: AsRef<[u8]>>(&mut self, args: &[A]) -> Result<(), ClientError> {
        self.write_buf.clear();
        encode_request(args, &mut self.write_buf);
        self.stream.write_all(&self.write_buf).await?;
        self.stream.flush().await?;
        Ok(())
    }

    /// Sends several commands in one write; read their replies with
    /// [`Client::read_reply`], one per command.
    pub async fn send_many<A: AsRef<[u8]>>(
        &mut self,
        commands: &[&[A]],
    ) -> Result<(), ClientError> {
        self.write_buf.clear();
        for args in commands {
            encode_request(args, &mut self.write_buf);
        }
        self.stream.write_all(&self.write_buf).await?;
        self.stream.flush().await?;
        Ok(())
    }

    /// Sends bytes exactly as given (inline commands, malformed input).
    pub async fn send_raw(&mut self, bytes: &[u8]) -> Result<(), ClientError> {
        self.stream.write_all(bytes).await?;
        self.stream.flush().await?;
        Ok(())
    }

    /// Reads the next reply. Fails with [`ClientError::Closed`] when the
    /// server closes the connection first.
    pub async fn read_reply(&mut self) -> Result<Reply, ClientError> {
        loop {
            if let Some(reply) = self.decoder.decode(&mut self.read_buf)? {
                return Ok(reply);
            }
            self.read_buf.reserve(READ_CHUNK);
            if self.stream.read_buf(&mut self.read_buf).await? == 0 {
                return Err(ClientError::Closed);
            }
        }
    }

    /// Reads the next reply, waiting at most `timeout`: `Ok(None)` when none
    /// arrived in time. Bytes of a partly received reply are kept, so a
    /// later read continues where this one stopped.
    pub async fn read_reply_timeout(
        &mut self,
        timeout: Duration,
    ) -> Result<Option<Reply>, ClientError> {
        match tokio::time::timeout(timeout, self.read_reply()).await {
            Ok(result) => result.map(Some),
            Err(_) => Ok(None),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fake::{bulk, fake_server};
    use bytes::Bytes;

    #[tokio::test]
    async fn call_send_and_read() {
        let addr = fake_server(|args| match &args[0][..] {
            b"PING" => b"+PONG\r\n".to_vec(),
            b"ECHO" => bulk(&args[1]),
            _ => b"-ERR unknown command\r\n".to_vec(),
        })
        .await;
        let mut c = Client::connect(addr).await.unwrap();
        assert_eq!(c.peer_addr(), Some(addr));
        assert_eq!(c.call(&["PING"]).await.unwrap(), Reply::status("PONG"));
        assert_eq!(
            c.call(&["NOPE"]).await.unwrap(),
            Reply::error("ERR unknown command")
        );
        // Pipelining: two sends, then two replies in order.
        c.send(&["ECHO", "a"]).await.unwrap();
        c.send_many(&[&["ECHO", "b"][..], &["PING", ""][..]])
            .await
            .unwrap();
        assert_eq!(c.read_reply().await.unwrap(), Reply::Bulk(Bytes::from("a")));
        assert_eq!(c.read_reply().await.unwrap(), Reply::Bulk(Bytes::from("b")));
        assert_eq!(c.read_reply().await.unwrap(), Reply::status("PONG"));
        // Raw inline bytes go through as they are.
        c.send_raw(b"ECHO \"x y\"\r\n").await.unwrap();
        assert_eq!(
            c.read_reply().await.unwrap(),
            Reply::Bulk(Bytes::from("x y"))
        );
    }

    #[tokio::test]
    async fn timeout_then_late_reply() {
        let addr = fake_server(|args| match &args[0][..] {
            b"SLOW" => Vec::new(),
            _ => b":7\r\n".to_vec(),
        })
        .await;
        let mut c = Client::connect(addr).await.unwrap();
        c.send(&["SLOW"]).await.unwrap();
        let got = c
            .read_reply_timeout(Duration::from_millis(50))
            .await
            .unwrap();
        assert_eq!(got, None);
        c.send(&["FAST"]).await.unwrap();
        let got = c.read_reply_timeout(Duration::from_secs(5)).await.unwrap();
        assert_eq!(got, Some(Reply::Integer(7)));
    }

    #[tokio::test]
    async fn closed_connection() {
        let addr = fake_server(|_| b"CLOSE".to_vec()).await;
        let mut c = Client::connect(addr).await.unwrap();
        assert!(matches!(c.call(&["x"]).await, Err(ClientError::Closed)));
    }

    #[tokio::test]
    async fn garbage_reply_is_a_protocol_error() {
        let addr = fake_server(|_| b"?what\r\n".to_vec()).await;
        let mut c = Client::connect(addr).await.unwrap();
        assert!(matches!(
            c.call(&["x"]).await,
            Err(ClientError::Protocol(_))
        ));
    }
}
