//! TLS (decision D13): clients on `tls-port` with `tls-auth-clients
//! yes|optional|no`, the bus over mutual TLS with `tls-cluster yes`,
//! redis-cli --tls against the node, and the settings in CONFIG. The
//! certificates are made at test time (common/tls.rs).

use crate::common::tls::Certs;
use crate::common::*;
use std::process::Command;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// A node with a TLS port (and its usual clear-text one, for the harness).
async fn tls_node(certs: &Certs, extra: &[(&str, &str)]) -> (Server, u16) {
    let tls_port = free_port();
    let mut opts = Server::options().arg("tls-port", &tls_port.to_string());
    for (name, value) in certs.node_args() {
        opts = opts.arg(name, &value);
    }
    for (name, value) in extra {
        opts = opts.arg(name, value);
    }
    (opts.start().await, tls_port)
}

/// PING over an established TLS stream.
async fn tls_ping<S: AsyncReadExt + AsyncWriteExt + Unpin>(stream: &mut S) -> Vec<u8> {
    stream.write_all(b"PING\r\n").await.unwrap();
    let mut got = vec![0u8; 7];
    tokio::time::timeout(REPLY_DEADLINE, stream.read_exact(&mut got))
        .await
        .expect("a reply in time")
        .expect("a reply");
    got
}

/// True when the TLS connection is refused: the handshake fails, or the
/// node closes the connection at the first request (TLS 1.3 reports a
/// refused client certificate after the handshake).
async fn refused(
    certs: &Certs,
    port: u16,
    client: Option<(&std::path::Path, &std::path::Path)>,
) -> bool {
    let Ok(mut stream) = certs.connect(port, client).await else {
        return true;
    };
    if stream.write_all(b"PING\r\n").await.is_err() {
        return true;
    }
    let mut buf = [0u8; 16];
    matches!(
        tokio::time::timeout(REPLY_DEADLINE, stream.read(&mut buf)).await,
        Ok(Ok(0)) | Ok(Err(_))
    )
}

#[tokio::test]
async fn clients_over_tls_must_present_a_certificate_by_default() {
    let dir = TempDir::new();
    let certs = Certs::make(dir.path());
    let (_s, port) = tls_node(&certs, &[]).await;
    let client = Some((certs.client_cert.as_path(), certs.client_key.as_path()));
    let mut stream = certs.connect(port, client).await.expect("TLS handshake");
    assert_eq!(tls_ping(&mut stream).await, b"+PONG\r\n");
    assert!(
        refused(&certs, port, None).await,
        "a client without a certificate was served"
    );
    let stranger = Some((certs.stranger_cert.as_path(), certs.stranger_key.as_path()));
    assert!(
        refused(&certs, port, stranger).await,
        "a certificate of another CA was accepted"
    );
}

#[tokio::test]
async fn tls_auth_clients_optional_and_no() {
    let dir = TempDir::new();
    let certs = Certs::make(dir.path());
    let (_s, port) = tls_node(&certs, &[("tls-auth-clients", "optional")]).await;
    let mut stream = certs.connect(port, None).await.expect("TLS handshake");
    assert_eq!(tls_ping(&mut stream).await, b"+PONG\r\n");
    let stranger = Some((certs.stranger_cert.as_path(), certs.stranger_key.as_path()));
    assert!(
        refused(&certs, port, stranger).await,
        "a bad certificate was accepted"
    );

    let (_s, port) = tls_node(&certs, &[("tls-auth-clients", "no")]).await;
    let mut stream = certs.connect(port, None).await.expect("TLS handshake");
    assert_eq!(tls_ping(&mut stream).await, b"+PONG\r\n");
}

/// Clear text sent to the TLS port is not served.
#[tokio::test]
async fn clear_text_on_the_tls_port_is_refused() {
    let dir = TempDir::new();
    let certs = Certs::make(dir.path());
    let (s, port) = tls_node(&certs, &[]).await;
    let mut raw = Raw::connect(port).await;
    raw.send(b"PING\r\n").await;
    let said = raw.expect_closed().await;
    assert!(!said.starts_with(b"+PONG"), "{said:?}");
    let mut c = s.client().await;
    assert_eq!(cmd(&mut c, "PING").await, status("PONG"));
}

/// redis-cli --tls (Debian's redis-tools) talks to the node.
#[tokio::test]
async fn redis_cli_over_tls() {
    let dir = TempDir::new();
    let certs = Certs::make(dir.path());
    let (_s, port) = tls_node(&certs, &[]).await;
    let out = Command::new("redis-cli")
        .args(["--tls", "--cacert"])
        .arg(&certs.ca)
        .arg("--cert")
        .arg(&certs.client_cert)
        .arg("--key")
        .arg(&certs.client_key)
        .args(["-p", &port.to_string(), "ADDJOB", "q", "over-tls", "0"])
        .output();
    let Ok(out) = out else {
        eprintln!("SKIPPED: redis-cli is not installed");
        return;
    };
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    if stderr.contains("Unrecognized option") || stderr.contains("not supported") {
        eprintln!("SKIPPED: this redis-cli has no TLS: {stderr}");
        return;
    }
    assert!(stdout.trim().starts_with("D-"), "{stdout} {stderr}");
}

/// With `tls-cluster yes` the nodes join over mutual TLS, and a clear-text
/// peer, or one with a certificate of another CA, is refused.
#[tokio::test]
async fn the_bus_over_mutual_tls() {
    let dir = TempDir::new();
    let certs = Certs::make(dir.path());
    let mut opts = Server::options().arg("tls-cluster", "yes");
    for (name, value) in certs.node_args() {
        opts = opts.arg(name, &value);
    }
    let cl = Cluster::start_with(3, opts).await;
    let mut c0 = cl.client(0).await;
    let id = addjob(&mut c0, "q body 0 REPLICATE 3").await;
    let mut c2 = cl.client(2).await;
    poll_until!(secs(10), "the copy reached node 2", {
        show(&mut c2, &id).await.is_some()
    });

    // A clear-text node cannot join.
    let plain = Server::start().await;
    let mut cp = plain.client().await;
    let meet = format!("CLUSTER MEET 127.0.0.1 {}", cl.port(0));
    assert_eq!(cmd(&mut cp, &meet).await, status("OK"));
    poll_until!(secs(10), "node 0 logs the refused connection", {
        cl.nodes[0].log_text().contains("TLS handshake failed")
    });
    // A node with a certificate of another CA cannot join either.
    let stranger = Server::options()
        .arg("tls-cluster", "yes")
        .arg("tls-cert-file", &certs.stranger_cert.display().to_string())
        .arg("tls-key-file", &certs.stranger_key.display().to_string())
        .arg("tls-ca-cert-file", &certs.ca.display().to_string())
        .start()
        .await;
    let mut cs = stranger.client().await;
    assert_eq!(cmd(&mut cs, &meet).await, status("OK"));
    // With TLS 1.3 the refusal of its certificate reaches it as an alert
    // once the handshake is done, so its link is closed.
    let link = format!(
        "Cluster bus link to 127.0.0.1:{} closed",
        cl.port(0) + 10_000
    );
    poll_until!(secs(10), "the stranger's link is closed", {
        stranger.log_text().contains(&link)
    });
    assert_during!(ms(900), "the stranger stays out", {
        assert_eq!(cluster_nodes(&mut c0).await.len(), 3);
        let theirs = cluster_nodes(&mut cs).await;
        assert!(
            theirs
                .values()
                .all(|l| l.has_flag("myself") || l.has_flag("handshake")),
            "{theirs:?}"
        );
        true
    });
}

#[tokio::test]
async fn tls_settings_in_config() {
    let dir = TempDir::new();
    let certs = Certs::make(dir.path());
    let (s, port) = tls_node(&certs, &[("tls-protocols", "TLSv1.3")]).await;
    let mut c = s.client().await;
    assert_eq!(
        cmd(&mut c, "CONFIG GET tls-p*").await,
        arr(vec![
            bulk("tls-port"),
            bulk(&port.to_string()),
            bulk("tls-protocols"),
            bulk("TLSv1.3"),
        ])
    );
    assert_eq!(
        cmd(&mut c, "CONFIG SET tls-port 1").await,
        error("ERR Unsupported CONFIG parameter: tls-port")
    );
    assert_eq!(
        cmd(&mut c, "CONFIG SET tls-protocols TLSv1.1").await,
        error("ERR Invalid argument 'TLSv1.1' for CONFIG SET 'tls-protocols'")
    );
    // Bad files stop the node at startup with a clear message.
    let out = Command::new(server_bin())
        .args(["--port", "0", "--tls-port", &free_port().to_string()])
        .args([
            "--tls-cert-file",
            "/nonexistent.pem",
            "--tls-key-file",
            "/nonexistent.key",
        ])
        .args(["--tls-auth-clients", "no"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let text =
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    assert!(
        text.contains("Failed to configure TLS: Failed to load certificate: /nonexistent.pem"),
        "{text}"
    );
    let out = Command::new(server_bin())
        .args(["--tls-protocols", "TLSv1.1"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("Invalid tls-protocols value"));
}

/// Kills a process started by hand when dropped.
struct Killed(std::process::Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `port 0` turns the clear-text port off: the node serves TLS clients and
/// its bus is at tls-port + 10000, where a TLS cluster reaches it.
#[tokio::test]
async fn tls_only_node_with_port_zero() {
    let dir = TempDir::new();
    let certs = Certs::make(dir.path());
    let tls_port = free_port();
    let mut cmd_line = Command::new(server_bin());
    cmd_line
        .args([
            "--port",
            "0",
            "--bind",
            "127.0.0.1",
            "--tls-port",
            &tls_port.to_string(),
        ])
        .args(["--tls-cluster", "yes", "--dir"])
        .arg(dir.path())
        .current_dir(dir.path())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null());
    for (name, value) in certs.node_args() {
        cmd_line.arg(format!("--{name}")).arg(value);
    }
    kill_with_parent(&mut cmd_line);
    let _node = Killed(cmd_line.spawn().expect("spawn"));
    let client = Some((certs.client_cert.as_path(), certs.client_key.as_path()));
    poll_until!(secs(20), "the TLS-only node answers", {
        match certs.connect(tls_port, client).await {
            Ok(mut stream) => tls_ping(&mut stream).await == b"+PONG\r\n",
            Err(_) => false,
        }
    });
    let mut opts = Server::options().arg("tls-cluster", "yes");
    for (name, value) in certs.node_args() {
        opts = opts.arg(name, &value);
    }
    let other = opts.start().await;
    let mut c = other.client().await;
    let meet = format!("CLUSTER MEET 127.0.0.1 {tls_port}");
    assert_eq!(cmd(&mut c, &meet).await, status("OK"));
    poll_until!(secs(20), "the two nodes are joined", {
        info_field(&cluster_info(&mut c).await, "cluster_reachable_nodes").as_deref() == Some("1")
    });
    addjob(&mut c, "q body 0 REPLICATE 2").await;
}

/// CONFIG SET of a TLS setting rebuilds the contexts for new connections:
/// a bad file is refused with Redis's text (the old contexts stay), the
/// files of a new CA are taken by setting a path again (rotation), and a
/// non-local client may not set a path.
#[tokio::test]
async fn tls_settings_change_at_run_time() {
    let dir = TempDir::new();
    let certs = Certs::make(dir.path());
    let (s, port) = tls_node(&certs, &[]).await;
    let mut c = s.client().await;
    assert_eq!(
        cmd(&mut c, "CONFIG SET tls-cert-file /nonexistent.pem").await,
        error("ERR CONFIG SET failed (possibly related to argument 'tls-cert-file') - Unable to update TLS configuration. Check server logs.")
    );
    assert!(s
        .log_text()
        .contains("Failed to load certificate: /nonexistent.pem"));
    let client = Some((certs.client_cert.as_path(), certs.client_key.as_path()));
    let mut stream = certs.connect(port, client).await.expect("TLS handshake");
    assert_eq!(tls_ping(&mut stream).await, b"+PONG\r\n");

    assert_eq!(
        cmd(&mut c, "CONFIG SET tls-auth-clients no").await,
        status("OK")
    );
    let mut stream = certs.connect(port, None).await.expect("TLS handshake");
    assert_eq!(tls_ping(&mut stream).await, b"+PONG\r\n");
    assert_eq!(
        cmd(&mut c, "CONFIG SET tls-auth-clients yes").await,
        status("OK")
    );
    assert!(
        refused(&certs, port, None).await,
        "tls-auth-clients yes is not back"
    );

    // Rotation: a new CA's files over the old ones, then the CA path set.
    let dir2 = TempDir::new();
    let next = Certs::make(dir2.path());
    std::fs::copy(&next.node_cert, &certs.node_cert).unwrap();
    std::fs::copy(&next.node_key, &certs.node_key).unwrap();
    let set_ca = format!("CONFIG SET tls-ca-cert-file {}", next.ca.display());
    assert_eq!(cmd(&mut c, &set_ca).await, status("OK"));
    let client = Some((next.client_cert.as_path(), next.client_key.as_path()));
    let mut stream = next
        .connect(port, client)
        .await
        .expect("TLS handshake, new CA");
    assert_eq!(tls_ping(&mut stream).await, b"+PONG\r\n");
    let old = Some((certs.client_cert.as_path(), certs.client_key.as_path()));
    assert!(
        refused(&certs, port, old).await,
        "the old CA is still trusted"
    );

    let mut outsider = Raw::connect_from("127.0.0.2", s.port).await;
    outsider
        .roundtrip(
            &["CONFIG", "SET", "tls-key-file", "/tmp/x"],
            b"-ERR CONFIG SET failed (possibly related to argument 'tls-key-file') - can't set protected config\r\n",
        )
        .await;
}

/// Large pipelined replies over TLS arrive whole (the last TLS records are
/// flushed even when the socket was full).
#[tokio::test]
async fn large_replies_over_tls() {
    let dir = TempDir::new();
    let certs = Certs::make(dir.path());
    let (s, port) = tls_node(&certs, &[]).await;
    let mut c = s.client().await;
    let id = addjob(&mut c, &format!("q {} 0", "b".repeat(200_000))).await;
    let client = Some((certs.client_cert.as_path(), certs.client_key.as_path()));
    let stream = certs.connect(port, client).await.expect("TLS handshake");
    let mut tls = disque_client::Client::over(stream, None);
    let show: Vec<&str> = vec!["SHOW", &id];
    let requests: Vec<&[&str]> = (0..50).map(|_| &show[..]).collect();
    tls.send_many(&requests).await.unwrap();
    for _ in 0..50 {
        let reply = tokio::time::timeout(REPLY_DEADLINE, tls.read_reply())
            .await
            .expect("a reply in time")
            .unwrap();
        assert_eq!(show_str(&reply, "body").len(), 200_000);
    }
}
