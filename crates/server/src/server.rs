//! Startup and the event loop: listeners, the ticker that drives the core's
//! timers, signals. Everything runs on one thread (a tokio `LocalSet`).

use crate::config::Config;
use crate::connection::{serve, Peer};
use crate::nodes_conf::NodesConf;
use crate::state::{now_ms, Shared, State};
use disque_core::ids::NodeId;
use disque_core::{Node, NodeConfig};
use rand::rngs::StdRng;
use rand::SeedableRng;
use std::cell::RefCell;
use std::net::SocketAddr;
use std::os::fd::AsRawFd;
use std::rc::Rc;
use std::time::Duration;
use tokio::net::{TcpListener, UnixListener};

/// The settings of the core derived from the configuration.
pub fn node_config(config: &Config) -> NodeConfig {
    NodeConfig {
        port: config.announced_port(),
        maxmemory: config.maxmemory,
        maxmemory_policy: config.maxmemory_policy,
        aof_logging: false,
        rereplicate: config.rereplicate,
    }
}

fn random_hex(rng: &mut StdRng) -> String {
    NodeId::random(rng).as_str().to_string()
}

/// Runs the server until it exits. Returns an error message for startup failures.
pub async fn run(config: Config) -> Result<(), String> {
    if config.announced_port() > 55535 {
        return Err("Disque port number too high. Cluster communication port is 10,000 port numbers higher than your Disque node port. Your Disque node port number must be lower than 55535.".into());
    }
    let mut rng = StdRng::from_entropy();
    let (nodes_conf, identity) =
        NodesConf::open(std::path::Path::new(&config.cluster_config_file))?;
    let run_id = random_hex(&mut rng);
    let node_id = identity
        .as_ref()
        .map_or_else(|| NodeId::random(&mut rng), |i| i.id);
    let core_rng = StdRng::from_rng(&mut rng).map_err(|e| e.to_string())?;
    let mut node = Node::new(node_id, node_config(&config), core_rng);
    node.set_node_timeout(config.cluster_node_timeout.max(1) as u64);
    let fresh = identity.is_none();
    if let Some(identity) = identity {
        crate::log::notice(&format!(
            "Node configuration loaded, I'm {}",
            node_id.as_str()
        ));
        let env = disque_core::Env {
            now_ms: now_ms(),
            used_memory: 0,
        };
        node.restore_identity(&env, identity);
    } else {
        crate::log::notice(&format!(
            "No cluster configuration found, I'm {}",
            node_id.as_str()
        ));
    }
    let tls = crate::tls::setup(&config)?;
    let tcp = bind_tcp(&config).await?;
    let tls_tcp = if config.tls_port != 0 {
        bind_addresses(&config, config.tls_port)?
    } else {
        Vec::new()
    };
    let unix = match &config.unixsocket {
        Some(path) => Some(bind_unix(path, config.unixsocketperm)?),
        None => None,
    };
    if tcp.is_empty() && tls_tcp.is_empty() && unix.is_none() {
        return Err("Configured to not listen anywhere, exiting.".into());
    }
    let bus = bind_bus(&config).await?;
    let shared: Shared = Rc::new(RefCell::new(State::new(
        node, nodes_conf, config, tls, run_id,
    )));
    if fresh {
        shared.borrow_mut().save_nodes_conf()?;
    }
    crate::http::apply_port(&mut shared.borrow_mut())?;
    // Starts the HTTP accept tasks.
    shared.borrow_mut().flush_point(&shared);
    crate::log::notice(&format!(
        "Disque 1.0-rc1 (Rust) running, port {}, pid {}",
        shared.borrow().config.port,
        std::process::id()
    ));
    for listener in tcp {
        tokio::task::spawn_local(accept_tcp(shared.clone(), listener, false));
    }
    for listener in tls_tcp {
        tokio::task::spawn_local(accept_tcp(shared.clone(), listener, true));
    }
    if let Some((listener, path)) = unix {
        tokio::task::spawn_local(accept_unix(shared.clone(), listener, path));
    }
    for listener in bus {
        tokio::task::spawn_local(crate::bus::accept(shared.clone(), listener));
    }
    tokio::task::spawn_local(signals(shared.clone()));
    tokio::task::spawn_local(crate::aof_load::load_at_startup(shared.clone()));
    tokio::task::spawn_local(crate::group_commit::syncer(shared.clone()));
    crate::log::notice("The server is now ready to accept connections");
    ticker(shared).await;
    Ok(())
}

/// The cluster bus listeners: the same addresses, port + 10000 (tls-port
/// + 10000 without a clear-text port).
async fn bind_bus(config: &Config) -> Result<Vec<TcpListener>, String> {
    bind_addresses(config, config.announced_port() + 10_000)
}

async fn bind_tcp(config: &Config) -> Result<Vec<TcpListener>, String> {
    if config.port == 0 {
        return Ok(Vec::new());
    }
    bind_addresses(config, config.port)
}

/// Listeners on `port` at every `bind` address (all interfaces without one;
/// IPv6 optional then), as for the client port.
pub(crate) fn bind_addresses(config: &Config, port: u16) -> Result<Vec<TcpListener>, String> {
    let explicit = !config.bind.is_empty();
    let addrs: Vec<String> = if explicit {
        config.bind.clone()
    } else {
        vec!["0.0.0.0".into(), "::".into()]
    };
    let mut listeners = Vec::new();
    for addr in addrs {
        let ip: std::net::IpAddr = addr
            .parse()
            .map_err(|_| format!("Invalid bind address '{addr}'"))?;
        let sock_addr = SocketAddr::new(ip, port);
        match listen(sock_addr, config.tcp_backlog) {
            Ok(l) => listeners.push(l),
            // Without explicit bind, IPv6 is optional (the host may not have it).
            Err(e) if !explicit && ip.is_ipv6() => {
                crate::log::notice(&format!("Not listening on IPv6: {e}"))
            }
            Err(e) => {
                return Err(format!(
                    "Creating Server TCP listening socket {addr}:{port}: {e}"
                ))
            }
        }
    }
    Ok(listeners)
}

fn listen(addr: SocketAddr, backlog: i32) -> std::io::Result<TcpListener> {
    let domain = if addr.is_ipv6() {
        socket2::Domain::IPV6
    } else {
        socket2::Domain::IPV4
    };
    let socket = socket2::Socket::new(domain, socket2::Type::STREAM, None)?;
    if addr.is_ipv6() {
        socket.set_only_v6(true)?;
    }
    socket.set_reuse_address(true)?;
    socket.set_nonblocking(true)?;
    socket.bind(&addr.into())?;
    socket.listen(backlog.max(1))?;
    TcpListener::from_std(socket.into())
}

fn bind_unix(path: &str, perm: u32) -> Result<(UnixListener, String), String> {
    let _ = std::fs::remove_file(path);
    let listener = UnixListener::bind(path).map_err(|e| format!("Opening Unix socket: {e}"))?;
    if perm != 0 {
        use std::os::unix::fs::PermissionsExt;
        let _ = std::fs::set_permissions(path, std::fs::Permissions::from_mode(perm));
    }
    Ok((listener, path.to_string()))
}

/// How long a client may take to complete the TLS handshake.
const TLS_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Accepts clients, over TLS when `tls` (`tls-port`), with the context of
/// the moment (CONFIG SET may replace it).
async fn accept_tcp(shared: Shared, listener: TcpListener, tls: bool) {
    loop {
        let Ok((stream, addr)) = listener.accept().await else {
            tokio::time::sleep(Duration::from_millis(10)).await;
            continue;
        };
        let _ = stream.set_nodelay(true);
        let keepalive = shared.borrow().config.tcp_keepalive;
        if keepalive > 0 {
            let params =
                socket2::TcpKeepalive::new().with_time(Duration::from_secs(keepalive as u64));
            let _ = socket2::SockRef::from(&stream).set_tcp_keepalive(&params);
        }
        let local = crate::security::is_local_ip(addr.ip());
        let addr = match addr {
            SocketAddr::V4(a) => a.to_string(),
            SocketAddr::V6(a) => format!("[{}]:{}", a.ip(), a.port()),
        };
        let peer = Peer {
            addr,
            fd: stream.as_raw_fd(),
            unix: false,
            local,
        };
        let acceptor = if tls {
            let state = shared.borrow();
            let Some(acceptor) = state.tls.as_ref().and_then(|t| t.clients.clone()) else {
                continue;
            };
            Some(acceptor)
        } else {
            None
        };
        match acceptor {
            None => {
                tokio::task::spawn_local(serve(shared.clone(), stream, peer));
            }
            Some(acceptor) => {
                let handshake = acceptor.accept(stream);
                let shared = shared.clone();
                tokio::task::spawn_local(async move {
                    match tokio::time::timeout(TLS_HANDSHAKE_TIMEOUT, handshake).await {
                        Ok(Ok(stream)) => serve(shared, stream, peer).await,
                        Ok(Err(e)) => crate::log::verbose(&format!(
                            "Error accepting a client connection: {e} (addr={})",
                            peer.addr
                        )),
                        Err(_) => crate::log::verbose(&format!(
                            "Error accepting a client connection: TLS handshake timed out (addr={})",
                            peer.addr
                        )),
                    }
                });
            }
        }
    }
}

async fn accept_unix(shared: Shared, listener: UnixListener, path: String) {
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            tokio::time::sleep(Duration::from_millis(10)).await;
            continue;
        };
        let peer = Peer {
            addr: path.clone(),
            fd: stream.as_raw_fd(),
            unix: true,
            local: true,
        };
        tokio::task::spawn_local(serve(shared.clone(), stream, peer));
    }
}

/// SIGTERM and SIGINT shut the server down like SHUTDOWN.
async fn signals(shared: Shared) {
    use tokio::signal::unix::{signal, SignalKind};
    let (Ok(mut term), Ok(mut int)) = (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    ) else {
        return;
    };
    tokio::select! {
        _ = term.recv() => crate::log::warning("Received SIGTERM scheduling shutdown..."),
        _ = int.recv() => crate::log::warning("Received SIGINT scheduling shutdown..."),
    }
    let mut state = shared.borrow_mut();
    if let Err(message) = crate::shutdown::prepare(&mut state, false) {
        crate::log::warning(&message);
    }
    crate::shutdown::exit_gracefully(&state);
}

/// Drives the core's timers: wakes at the next job or client deadline, and at
/// least `hz` times per second for the periodic duties.
async fn ticker(shared: Shared) {
    let notify = shared.borrow().ticker_signal();
    let mut last_sample = 0;
    let mut memory_mark = 0;
    loop {
        let wake_at = {
            let mut state = shared.borrow_mut();
            let period = 1000 / state.config.hz.clamp(1, 500) as u64;
            let now = now_ms();
            let wake_at = state
                .node()
                .next_wakeup()
                .map_or(now + period, |t| t.min(now + period));
            state.plan_ticker(wake_at);
            wake_at
        };
        let delay = Duration::from_millis(wake_at.saturating_sub(now_ms()));
        tokio::select! {
            _ = tokio::time::sleep(delay) => {}
            _ = notify.notified() => {}
        }
        let mut state = shared.borrow_mut();
        if state.loading.is_none() {
            state.run_core(|node, env, fx| node.on_tick(env, fx));
        }
        let now = state.env().now_ms;
        if now >= last_sample + 100 {
            last_sample = now;
            state.stats.sample(now);
            state.aof_cron();
            crate::alloc::return_freed_memory(&mut memory_mark);
        }
        state.flush_point(&shared);
    }
}
