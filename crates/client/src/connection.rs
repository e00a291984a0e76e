//! One connection to one Disque node, with timeouts and reconnection.

use std::io;
use std::net::SocketAddr;
#[cfg(unix)]
use std::path::PathBuf;
use std::time::Duration;

use bytes::BytesMut;
use disque_proto::{encode_request, Reply, ReplyDecoder};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpStream, ToSocketAddrs};

use crate::{ClientError, ClientOptions};

/// The byte stream under a [`Client`]: TCP, or a Unix socket.
trait Transport: AsyncRead + AsyncWrite + Send + Sync + Unpin {}

impl<T: AsyncRead + AsyncWrite + Send + Sync + Unpin> Transport for T {}

/// How much room is made in the read buffer before each read.
const READ_CHUNK: usize = 16 * 1024;

/// Where a [`Client`] connects (again).
#[derive(Clone, Debug)]
enum Target {
    Tcp(Vec<SocketAddr>),
    #[cfg(unix)]
    Unix(PathBuf),
}

/// A connection to a Disque node.
///
/// Replies come back in the order the commands were sent, so several
/// commands may be sent before their replies are read (pipelining). The
/// typed helpers (`add_job`, `get_job`, ...) are defined in [`crate::jobs`].
///
/// A connection that fails (I/O error, closed by the server, garbage, or a
/// reply that did not come within [`ClientOptions::command_timeout`]) is
/// dropped. The call that saw the failure returns it (the command may or
/// may not have run); the next command connects again, retrying with
/// [`ClientOptions::reconnect`] back-off, unless reconnection is off
/// ([`Client::connect`]), in which case it fails with
/// [`ClientError::Closed`].
pub struct Client {
    /// `None` once the connection failed.
    stream: Option<Box<dyn Transport>>,
    read_buf: BytesMut,
    /// Progress through the reply being received in `read_buf`.
    decoder: ReplyDecoder,
    write_buf: BytesMut,
    peer: Option<SocketAddr>,
    target: Target,
    options: ClientOptions,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("peer", &self.peer)
            .field("connected", &self.stream.is_some())
            .field("buffered", &self.read_buf.len())
            .finish()
    }
}

impl Client {
    /// Connects over TCP (Nagle's algorithm off) with
    /// [`ClientOptions::unbounded`]: a 5 s connect timeout, no command
    /// timeout and no reconnection, for tools that block on purpose. Use
    /// [`Client::connect_with`] for timeouts and reconnection.
    pub async fn connect(addr: impl ToSocketAddrs) -> io::Result<Client> {
        Client::connect_with(addr, ClientOptions::unbounded())
            .await
            .map_err(|e| match e {
                ClientError::Io(e) => e,
                ClientError::Timeout => io::Error::new(io::ErrorKind::TimedOut, e.to_string()),
                other => io::Error::other(other.to_string()),
            })
    }

    /// Connects over TCP with `options` (timeouts, reconnection, AUTH).
    ///
    /// ```no_run
    /// # async fn demo() -> Result<(), disque_client::ClientError> {
    /// use disque_client::{Client, ClientOptions};
    ///
    /// let mut client = Client::connect_with("127.0.0.1:7711", ClientOptions::default()).await?;
    /// assert_eq!(client.ping().await?, "PONG");
    /// # Ok(())
    /// # }
    /// ```
    pub async fn connect_with(
        addr: impl ToSocketAddrs,
        options: ClientOptions,
    ) -> Result<Client, ClientError> {
        let resolve = tokio::net::lookup_host(addr);
        let addrs: Vec<SocketAddr> = match options.connect_timeout {
            Some(t) => tokio::time::timeout(t, resolve)
                .await
                .map_err(|_| ClientError::Timeout)??,
            None => resolve.await?,
        }
        .collect();
        let mut client = Client::new(Target::Tcp(addrs), options);
        client.open().await?;
        Ok(client)
    }

    /// Connects to a Unix domain socket (no command timeout, no
    /// reconnection).
    #[cfg(unix)]
    pub async fn connect_unix(path: impl AsRef<std::path::Path>) -> io::Result<Client> {
        let mut client = Client::new(
            Target::Unix(path.as_ref().to_path_buf()),
            ClientOptions::unbounded(),
        );
        client.open().await.map_err(|e| match e {
            ClientError::Io(e) => e,
            other => io::Error::other(other.to_string()),
        })?;
        Ok(client)
    }

    /// Wraps a stream already connected to a node (TLS over TCP, for
    /// instance; `peer` is the node's address if known), with
    /// [`ClientOptions::unbounded`]: no command timeout and no reconnection,
    /// since the stream cannot be opened again.
    pub fn over<S: AsyncRead + AsyncWrite + Send + Sync + Unpin + 'static>(
        stream: S,
        peer: Option<SocketAddr>,
    ) -> Client {
        let target = Target::Tcp(peer.into_iter().collect());
        let mut client = Client::new(target, ClientOptions::unbounded());
        client.stream = Some(Box::new(stream));
        client.peer = peer;
        client
    }

    fn new(target: Target, options: ClientOptions) -> Client {
        Client {
            stream: None,
            read_buf: BytesMut::with_capacity(READ_CHUNK),
            decoder: ReplyDecoder::new(),
            write_buf: BytesMut::new(),
            peer: None,
            target,
            options,
        }
    }

    /// The address of the node, for TCP connections.
    pub fn peer_addr(&self) -> Option<SocketAddr> {
        self.peer
    }

    /// The options this client was made with.
    pub fn options(&self) -> &ClientOptions {
        &self.options
    }

    /// False once the connection failed (until the next command reconnects).
    pub fn is_connected(&self) -> bool {
        self.stream.is_some()
    }

    /// Opens the connection (once, within the connect timeout) and sends
    /// AUTH when a password is set.
    async fn open(&mut self) -> Result<(), ClientError> {
        let timeout = self.options.connect_timeout;
        let connect = async {
            let (stream, peer): (Box<dyn Transport>, _) = match &self.target {
                Target::Tcp(addrs) => {
                    let stream = TcpStream::connect(&addrs[..]).await?;
                    stream.set_nodelay(true)?;
                    let peer = stream.peer_addr().ok();
                    (Box::new(stream), peer)
                }
                #[cfg(unix)]
                Target::Unix(path) => {
                    (Box::new(tokio::net::UnixStream::connect(path).await?), None)
                }
            };
            self.stream = Some(stream);
            self.peer = peer;
            self.read_buf.clear();
            self.decoder = ReplyDecoder::new();
            if let Some(password) = self.options.password.clone() {
                if let Reply::Error(text) = self.exchange(&["AUTH", password.as_str()]).await? {
                    let text = String::from_utf8_lossy(&text).into_owned();
                    return Err(ClientError::Server(text));
                }
            }
            Ok(())
        };
        let result = match timeout {
            Some(t) => tokio::time::timeout(t, connect)
                .await
                .unwrap_or(Err(ClientError::Timeout)),
            None => connect.await,
        };
        if result.is_err() {
            self.stream = None;
        }
        result
    }

    /// Connects again after a failure, retrying with back-off; fails with
    /// [`ClientError::Closed`] when reconnection is off.
    async fn reconnect(&mut self) -> Result<(), ClientError> {
        let Some(backoff) = self.options.reconnect.clone() else {
            return Err(ClientError::Closed);
        };
        let mut attempt = 0;
        loop {
            match self.open().await {
                Ok(()) => return Ok(()),
                Err(e) if attempt >= backoff.attempts => return Err(e),
                Err(_) => {
                    tokio::time::sleep(backoff.delay(attempt)).await;
                    attempt += 1;
                }
            }
        }
    }

    /// Sends one command and reads its reply, within
    /// [`ClientOptions::reply_timeout`]. An error reply from the server is
    /// returned as `Ok(Reply::Error(..))`.
    pub async fn call<A: AsRef<[u8]>>(&mut self, args: &[A]) -> Result<Reply, ClientError> {
        if self.stream.is_none() {
            self.reconnect().await?;
        }
        match self.options.reply_timeout(args) {
            None => self.exchange(args).await,
            Some(t) => match tokio::time::timeout(t, self.exchange(args)).await {
                Ok(result) => result,
                Err(_) => {
                    self.stream = None;
                    Err(ClientError::Timeout)
                }
            },
        }
    }

    /// Sends one command and reads its reply on the current connection.
    async fn exchange<A: AsRef<[u8]>>(&mut self, args: &[A]) -> Result<Reply, ClientError> {
        self.write_buf.clear();
        encode_request(args, &mut self.write_buf);
        self.transmit().await?;
        self.read_reply().await
    }

    /// Sends one command without reading its reply; read it later with
    /// [`Client::read_reply`].
    pub async fn send<A: AsRef<[u8]>>(&mut self, args: &[A]) -> Result<(), ClientError> {
        self.write_buf.clear();
        encode_request(args, &mut self.write_buf);
        self.write_buffer().await
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
        self.write_buffer().await
    }

    /// Sends bytes exactly as given (inline commands, malformed input).
    pub async fn send_raw(&mut self, bytes: &[u8]) -> Result<(), ClientError> {
        self.write_buf.clear();
        self.write_buf.extend_from_slice(bytes);
        self.write_buffer().await
    }

    /// Writes `write_buf`, connecting again first if needed.
    async fn write_buffer(&mut self) -> Result<(), ClientError> {
        if self.stream.is_none() {
            self.reconnect().await?;
        }
        self.transmit().await
    }

    /// Writes `write_buf` on the current connection.
    async fn transmit(&mut self) -> Result<(), ClientError> {
        let stream = self.stream.as_mut().ok_or(ClientError::Closed)?;
        let written = async {
            stream.write_all(&self.write_buf).await?;
            stream.flush().await
        }
        .await;
        if let Err(e) = written {
            self.stream = None;
            return Err(e.into());
        }
        Ok(())
    }

    /// Reads the next reply (no timeout). Fails with
    /// [`ClientError::Closed`] when the server closes the connection first.
    pub async fn read_reply(&mut self) -> Result<Reply, ClientError> {
        let result = self.read_reply_inner().await;
        if result.is_err() {
            self.stream = None;
        }
        result
    }

    async fn read_reply_inner(&mut self) -> Result<Reply, ClientError> {
        loop {
            if let Some(reply) = self.decoder.decode(&mut self.read_buf)? {
                return Ok(reply);
            }
            let stream = self.stream.as_mut().ok_or(ClientError::Closed)?;
            self.read_buf.reserve(READ_CHUNK);
            if stream.read_buf(&mut self.read_buf).await? == 0 {
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
pub(crate) mod tests {
    use super::*;
    use crate::fake::{bulk, fake_server};
    use bytes::Bytes;
    use std::sync::Arc;

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

    /// Options with short timeouts and quick reconnection, for the tests.
    pub(crate) fn quick() -> ClientOptions {
        ClientOptions {
            connect_timeout: Some(Duration::from_millis(300)),
            command_timeout: Some(Duration::from_millis(200)),
            reconnect: Some(crate::Backoff {
                attempts: 3,
                initial: Duration::from_millis(10),
                max: Duration::from_millis(50),
            }),
            password: None,
        }
    }

    /// Fails the test if `f` takes more than 5 s (a hang).
    pub(crate) async fn within<T>(f: impl std::future::Future<Output = T>) -> T {
        tokio::time::timeout(Duration::from_secs(5), f)
            .await
            .expect("the call hung")
    }

    #[tokio::test]
    async fn a_node_that_never_answers_times_out() {
        let silent = fake_server(|_| Vec::new()).await;
        let mut c = Client::connect_with(silent, quick()).await.unwrap();
        assert!(matches!(within(c.ping()).await, Err(ClientError::Timeout)));
        assert!(!c.is_connected());
        // The next command reconnects and times out again: never a hang,
        // and never the late reply of the previous command.
        assert!(matches!(
            within(c.qlen("q")).await,
            Err(ClientError::Timeout)
        ));
        // A blocking GETJOB gets its own TIMEOUT on top of the command's.
        let opts = crate::GetJobOptions {
            timeout_ms: Some(100),
            ..crate::GetJobOptions::default()
        };
        let start = std::time::Instant::now();
        assert!(matches!(
            within(c.get_job(&["q"], &opts)).await,
            Err(ClientError::Timeout)
        ));
        assert!(start.elapsed() >= Duration::from_millis(300));
        // AUTH at connection time is bounded by the connect timeout.
        let with_password = ClientOptions {
            password: Some("pw".into()),
            ..quick()
        };
        assert!(matches!(
            within(Client::connect_with(silent, with_password)).await,
            Err(ClientError::Timeout)
        ));
    }

    #[tokio::test]
    async fn reconnects_after_the_server_closed_the_connection() {
        use std::sync::atomic::{AtomicUsize, Ordering};
        let calls = Arc::new(AtomicUsize::new(0));
        let seen = calls.clone();
        let addr = fake_server(move |args| match &args[0][..] {
            b"AUTH" => b"+OK\r\n".to_vec(),
            _ if seen.fetch_add(1, Ordering::SeqCst) == 0 => b"CLOSE".to_vec(),
            _ => b"+PONG\r\n".to_vec(),
        })
        .await;
        let options = ClientOptions {
            password: Some("pw".into()),
            ..quick()
        };
        let mut c = Client::connect_with(addr, options).await.unwrap();
        assert!(matches!(c.ping().await, Err(ClientError::Closed)));
        assert_eq!(c.ping().await.unwrap(), "PONG");
        assert!(c.is_connected());
        // Without reconnection (Client::connect) a lost connection stays lost.
        calls.store(0, Ordering::SeqCst);
        let mut plain = Client::connect(addr).await.unwrap();
        assert!(matches!(plain.ping().await, Err(ClientError::Closed)));
        assert!(matches!(plain.ping().await, Err(ClientError::Closed)));
    }

    #[tokio::test]
    async fn reconnects_to_a_restarted_server_and_gives_up_on_a_dead_one() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let mut c = Client::connect_with(addr, quick()).await.unwrap();
        let (socket, _) = listener.accept().await.unwrap();
        drop((socket, listener));
        assert!(c.ping().await.is_err());
        // Nothing listens: the retries with back-off end in an error.
        assert!(matches!(within(c.ping()).await, Err(ClientError::Io(_))));
        // The server is back on the same port.
        let back = tokio::net::TcpListener::bind(addr).await.unwrap();
        tokio::spawn(async move {
            let (mut socket, _) = back.accept().await.unwrap();
            let mut buf = [0u8; 64];
            let _ = socket.read(&mut buf).await;
            let _ = socket.write_all(b"+PONG\r\n").await;
            let _ = socket.read(&mut buf).await;
        });
        assert_eq!(within(c.ping()).await.unwrap(), "PONG");
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
