//! An in-process fake Disque node for the tests: it parses requests with
//! the real request parser and answers with canned bytes.

use std::net::SocketAddr;
use std::sync::Arc;

use bytes::{Bytes, BytesMut};
use disque_proto::RequestParser;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

/// Starts a fake node on a free loopback port. `handler` maps each request
/// to the bytes to send back; the reply `CLOSE` closes the connection
/// instead, and an empty reply sends nothing.
pub async fn fake_server<F>(handler: F) -> SocketAddr
where
    F: Fn(&[Bytes]) -> Vec<u8> + Send + Sync + 'static,
{
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let handler = Arc::new(handler);
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            let handler = handler.clone();
            tokio::spawn(async move {
                let mut parser = RequestParser::new();
                let mut buf = BytesMut::new();
                loop {
                    while let Ok(Some(args)) = parser.parse(&mut buf) {
                        let reply = handler(&args);
                        if reply == b"CLOSE" {
                            return;
                        }
                        if socket.write_all(&reply).await.is_err() {
                            return;
                        }
                    }
                    match socket.read_buf(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(_) => {}
                    }
                }
            });
        }
    });
    addr
}

/// The RESP encoding of a bulk string.
pub fn bulk(data: &[u8]) -> Vec<u8> {
    let mut out = format!("${}\r\n", data.len()).into_bytes();
    out.extend_from_slice(data);
    out.extend_from_slice(b"\r\n");
    out
}
