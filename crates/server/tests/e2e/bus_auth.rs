//! Bus authentication (decision D12): with `cluster-password`, a bus link
//! starts with a challenge-response proving the secret. Nodes with another
//! secret never join; a stranger, and a frame claiming to come from a real
//! node, are refused (the forging client is written here, frame by frame);
//! a node restarted with the secret rejoins.

use crate::common::*;
use bytes::BytesMut;
use disque_core::cluster::message::{Frame, Message};
use disque_core::ids::{JobId, NodeId};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

fn with_password(secret: &str) -> ServerOptions {
    Server::options().arg("cluster-password", secret)
}

fn node_id(id: &str) -> NodeId {
    NodeId::parse(id.as_bytes()).expect("node id")
}

/// A DELJOB for `job` that claims to come from `sender`.
fn forged_deljob(sender: &str, job: &str) -> BytesMut {
    let mut out = BytesMut::new();
    Frame {
        sender: node_id(sender),
        port: 7711,
        flags: 0,
        message: Message::DelJob {
            id: JobId::parse(job.as_bytes()).expect("job id"),
            holders: Vec::new(),
        },
    }
    .encode(&mut out);
    out
}

/// A MEET from a stranger that wants to join.
fn stranger_meet() -> BytesMut {
    let mut out = BytesMut::new();
    Frame {
        sender: node_id(&"5".repeat(40)),
        port: 7711,
        flags: 0,
        message: Message::Meet(Vec::new()),
    }
    .encode(&mut out);
    out
}

/// Connects to a node's bus port as a client that is not a node.
async fn bus_connect(port: u16) -> TcpStream {
    TcpStream::connect(("127.0.0.1", port + 10_000))
        .await
        .expect("bus connect")
}

/// Waits until the node closes the connection (failing after 10 s).
async fn wait_closed(stream: &mut TcpStream) {
    let mut buf = [0u8; 4096];
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        match tokio::time::timeout_at(deadline, stream.read(&mut buf)).await {
            Err(_) => panic!("the node kept the forged connection open"),
            Ok(Ok(0)) | Ok(Err(_)) => return,
            Ok(Ok(_)) => {}
        }
    }
}

/// Two nodes, job `id` added on node 0 with a copy on node 1.
async fn two_nodes_and_a_job(opts: ServerOptions) -> (Cluster, String) {
    let cl = Cluster::start_with(2, opts).await;
    let mut c0 = cl.client(0).await;
    let id = addjob(&mut c0, "q body 0 REPLICATE 2").await;
    let mut c1 = cl.client(1).await;
    poll_until!(secs(10), "node 1 holds the copy", {
        show(&mut c1, &id).await.is_some()
    });
    (cl, id)
}

/// The control: without a password (the original's open bus) the forging
/// client below does delete a real job. This is the attack of issue 10.
#[tokio::test]
async fn without_a_password_a_forged_deljob_deletes_a_job() {
    let (cl, id) = two_nodes_and_a_job(Server::options()).await;
    let mut bus = bus_connect(cl.port(1)).await;
    bus.write_all(&forged_deljob(&cl.ids[0], &id))
        .await
        .unwrap();
    let mut c1 = cl.client(1).await;
    poll_until!(secs(10), "the forged DELJOB deleted the copy", {
        show(&mut c1, &id).await.is_none()
    });
}

/// With a password, the same forged DELJOB (and a stranger's MEET) are
/// refused: the connection is closed, the refusal logged, the job kept and
/// the stranger unknown.
#[tokio::test]
async fn a_forged_frame_and_a_stranger_are_refused() {
    let (cl, id) = two_nodes_and_a_job(with_password("s3cret")).await;
    let mut bus = bus_connect(cl.port(1)).await;
    bus.write_all(&forged_deljob(&cl.ids[0], &id))
        .await
        .unwrap();
    wait_closed(&mut bus).await;
    let mut stranger = bus_connect(cl.port(1)).await;
    stranger.write_all(&stranger_meet()).await.unwrap();
    wait_closed(&mut stranger).await;
    poll_until!(secs(5), "the refusal is logged", {
        cl.nodes[1]
            .log_text()
            .contains("did not start the cluster-password handshake")
    });
    let mut c1 = cl.client(1).await;
    assert!(show(&mut c1, &id).await.is_some(), "the job was deleted");
    assert_eq!(cluster_nodes(&mut c1).await.len(), 2);
    // The cluster still works.
    let mut c0 = cl.client(0).await;
    addjob(&mut c0, "q2 body 0 REPLICATE 2").await;
}

/// A client that knows the password and completes the handshake as one
/// node id may still not send frames in another node's name.
#[tokio::test]
async fn a_frame_must_come_from_the_authenticated_node() {
    let (cl, id) = two_nodes_and_a_job(with_password("s3cret")).await;
    let mut bus = bus_connect(cl.port(1)).await;
    let me = node_id(&"7".repeat(40));
    let peer = disque_server::bus_auth::connect(&mut bus, b"s3cret", me)
        .await
        .expect("handshake with the right secret");
    assert_eq!(peer.as_str(), cl.ids[1]);
    bus.write_all(&forged_deljob(&cl.ids[0], &id))
        .await
        .unwrap();
    wait_closed(&mut bus).await;
    poll_until!(secs(5), "the refusal is logged", {
        cl.nodes[1]
            .log_text()
            .contains("on a connection authenticated as")
    });
    let mut c1 = cl.client(1).await;
    assert!(show(&mut c1, &id).await.is_some(), "the job was deleted");
}

/// The handshake with a wrong secret fails on the client's side (the node's
/// proof does not check) and is logged by the node.
#[tokio::test]
async fn a_wrong_secret_fails_the_handshake() {
    let s = with_password("right").start().await;
    let mut bus = bus_connect(s.port).await;
    let me = node_id(&"7".repeat(40));
    let r = disque_server::bus_auth::connect(&mut bus, b"wrong", me).await;
    assert_eq!(r, Err(disque_server::bus_auth::AuthError::WrongProof));
    drop(bus);
    poll_until!(secs(5), "the refusal is logged", {
        s.log_text().contains("cluster-password handshake")
    });
}

/// Nodes with different secrets, or one without, never join; both log why.
#[tokio::test]
async fn different_secrets_cannot_join() {
    for other in [with_password("two"), Server::options()] {
        let a = with_password("one").start().await;
        let b = other.start().await;
        let mut ca = a.client().await;
        assert_eq!(
            cmd(&mut ca, &format!("CLUSTER MEET 127.0.0.1 {}", b.port)).await,
            status("OK")
        );
        poll_until!(secs(10), "node a logs why it could not join", {
            a.log_text().contains("Cluster bus: could not join")
        });
        poll_until!(secs(10), "node b logs the refusal", {
            let log = b.log_text();
            log.contains("cluster-password") || log.contains("before the sender is known")
        });
        // The handshake record expires; b never becomes a member of a.
        let mut cb = b.client().await;
        assert_during!(ms(900), "the nodes stay apart", {
            let nodes = cluster_nodes(&mut ca).await;
            assert!(
                nodes
                    .values()
                    .all(|l| l.has_flag("myself") || l.has_flag("handshake")),
                "{nodes:?}"
            );
            cluster_nodes(&mut cb).await.len() == 1
        });
    }
}

/// A node restarted with the secret rejoins its cluster by itself.
#[tokio::test]
async fn a_restarted_node_rejoins() {
    let mut cl = Cluster::start_with(3, with_password("s3cret")).await;
    cl.restart(2).await;
    cl.wait_joined().await;
    let mut c2 = cl.client(2).await;
    addjob(&mut c2, "q body 0 REPLICATE 3").await;
}

/// CONFIG GET, SET and REWRITE; a too long secret is refused.
#[tokio::test]
async fn cluster_password_config() {
    let (s, file, _dir) = start_with_config("# bus\n").await;
    let mut c = s.client().await;
    assert_eq!(
        cmd(&mut c, "CONFIG GET cluster-password").await,
        arr(vec![bulk("cluster-password"), bulk("")])
    );
    assert_eq!(
        cmd(&mut c, "CONFIG SET cluster-password s3cret").await,
        status("OK")
    );
    assert_eq!(
        cmd(&mut c, "CONFIG GET cluster-password").await,
        arr(vec![bulk("cluster-password"), bulk("s3cret")])
    );
    let long = "x".repeat(513);
    assert_eq!(
        cmd(&mut c, &format!("CONFIG SET cluster-password {long}")).await,
        error(&format!(
            "ERR Invalid argument '{long}' for CONFIG SET 'cluster-password'"
        ))
    );
    assert_eq!(cmd(&mut c, "CONFIG REWRITE").await, status("OK"));
    let text = std::fs::read_to_string(&file).unwrap();
    assert!(text.contains("cluster-password \"s3cret\""), "{text}");
    // New links use it at once: a client without the handshake is refused.
    let mut bus = bus_connect(s.port).await;
    bus.write_all(&stranger_meet()).await.unwrap();
    wait_closed(&mut bus).await;
}
