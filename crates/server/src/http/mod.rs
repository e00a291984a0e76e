//! The HTTP side of a node (decision D19), on `http-port` (0 = off, the
//! default): `/metrics` (Prometheus), `/api/...` (JSON) and `/`, the
//! dashboard. It binds like the client port (`bind`, or every interface),
//! runs on the server's single thread (hyper connections spawned on the
//! same `LocalSet`, each request borrowing the state only between awaits),
//! and asks for `requirepass` as HTTP basic auth (any user name). Without
//! `requirepass` and without an explicit `bind`, only local peers
//! (127.0.0.1, ::1) are served: see [`allowed_peer`].
//!
//! Routes:
//! * `GET /`, `/app.js`, `/app.css`: the dashboard (embedded in the binary);
//! * `GET /metrics`: see [`metrics`];
//! * `GET /api/node`: this node's id and counters;
//! * `GET /api/nodes`: the cluster as this node sees it (CLUSTER NODES + HELLO);
//! * `GET /api/queues[?limit=n]`: queues, busiest first (QSTAT fields);
//! * `GET /api/queues/<name>`: one queue (QSTAT), 404 when unknown;
//! * `POST /api/queues/<name>/pause?state=in|out|all|none[&bcast=yes]`: PAUSE;
//! * `GET /api/jobs/<id>`: one job (SHOW fields), 404 when unknown.

pub mod metrics;
pub mod recorder;
pub mod view;

use crate::config::Config;
use crate::state::{Shared, State};
use base64::Engine;
use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::header::{HeaderMap, HeaderValue};
use hyper::{Method, Request, Response, StatusCode};
use serde_json::{json, Value};
use std::convert::Infallible;
use std::net::IpAddr;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::AbortHandle;

/// The dashboard page and its assets.
const INDEX_HTML: &str = include_str!("dashboard/index.html");
const APP_JS: &str = include_str!("dashboard/app.js");
const APP_CSS: &str = include_str!("dashboard/app.css");

/// How long a client may take to send a request's headers.
const HEADER_TIMEOUT: Duration = Duration::from_secs(10);
/// Queues listed by `/api/queues` without `limit`.
const DEFAULT_QUEUE_LIMIT: usize = 1000;
/// HTTP connections served at once; more are closed at once.
const MAX_CONNECTIONS: usize = 256;

/// The HTTP listeners of `http-port`: the state's `http` field, changed
/// only by [`apply_port`].
#[derive(Default)]
pub struct Listening {
    /// The port listened on, if any.
    port: Option<u16>,
    /// The accept tasks, one per bound address.
    tasks: Vec<AbortHandle>,
}

/// Makes the HTTP listeners match `http-port`: binds the new port (every
/// `bind` address), then stops accepting on the old one; 0 stops listening.
/// On a bind error nothing changes and the error text is returned.
///
/// The accept tasks start at once (so that the old port's can be stopped
/// by a later call) and wait for the shared handle, given to them at the
/// next flush point ([`State::spawn_later`]): the state never points to
/// itself.
pub fn apply_port(state: &mut State) -> Result<(), String> {
    let port = state.config.http_port;
    let current = state.http.port;
    if current == Some(port) || (port == 0 && current.is_none()) {
        return Ok(());
    }
    let listeners = if port == 0 {
        Vec::new()
    } else {
        crate::server::bind_addresses(&state.config, port)?
    };
    for task in std::mem::take(&mut state.http.tasks) {
        task.abort();
    }
    state.http.port = None;
    if port == 0 {
        return Ok(());
    }
    let mut handles = Vec::new();
    for listener in listeners {
        let (give, given) = oneshot::channel();
        handles.push(give);
        let task = tokio::task::spawn_local(accept(given, listener));
        state.http.tasks.push(task.abort_handle());
    }
    state.http.port = Some(port);
    state.spawn_later(move |shared| {
        for give in handles {
            // Fails only for a task stopped meanwhile (the port changed).
            let _ = give.send(shared.clone());
        }
    });
    crate::log::notice(&format!(
        "HTTP (dashboard, /api, /metrics) listening on port {port}"
    ));
    Ok(())
}

/// Counts an open connection until dropped.
struct Open(std::rc::Rc<std::cell::Cell<usize>>);

impl Drop for Open {
    fn drop(&mut self) {
        self.0.set(self.0.get() - 1);
    }
}

/// Accepts HTTP connections and serves each on its own local task, once
/// given the shared handle.
async fn accept(given: oneshot::Receiver<Shared>, listener: TcpListener) {
    use hyper_util::rt::{TokioIo, TokioTimer};
    let Ok(shared) = given.await else {
        return;
    };
    let open = std::rc::Rc::new(std::cell::Cell::new(0));
    loop {
        let Ok((stream, addr)) = listener.accept().await else {
            tokio::time::sleep(Duration::from_millis(10)).await;
            continue;
        };
        if open.get() >= MAX_CONNECTIONS {
            continue;
        }
        open.set(open.get() + 1);
        let guard = Open(open.clone());
        let shared = shared.clone();
        let peer = addr.ip();
        tokio::task::spawn_local(async move {
            let _guard = guard;
            let service = hyper::service::service_fn(move |req| {
                let shared = shared.clone();
                async move { Ok::<_, Infallible>(handle(&shared, peer, req).await) }
            });
            let _ = hyper::server::conn::http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(HEADER_TIMEOUT)
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

/// Protected mode for HTTP, the clients' rule (decision D14): with
/// `protected-mode yes`, no `requirepass` and no explicit `bind`, only local
/// peers are served.
pub fn allowed_peer(config: &Config, peer: IpAddr) -> bool {
    !crate::security::protected_mode_refuses(config, crate::security::is_local_ip(peer))
}

/// True when the request carries `requirepass` as basic auth (any user).
fn authorized(password: &[u8], headers: &HeaderMap) -> bool {
    let Some(value) = headers
        .get(hyper::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
    else {
        return false;
    };
    let Some(encoded) = value
        .split_once(' ')
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("basic"))
        .map(|(_, rest)| rest.trim())
    else {
        return false;
    };
    let Ok(decoded) = base64::engine::general_purpose::STANDARD.decode(encoded) else {
        return false;
    };
    let given = decoded
        .iter()
        .position(|b| *b == b':')
        .map_or(&[][..], |i| &decoded[i + 1..]);
    crate::commands::constant_time_eq(password, given)
}

/// A request from another site (its `Origin` is not this host) may not
/// change anything: a page elsewhere cannot pause queues with the
/// operator's credentials.
fn cross_site(headers: &HeaderMap) -> bool {
    let Some(origin) = headers.get(hyper::header::ORIGIN) else {
        return false;
    };
    let host = headers.get(hyper::header::HOST);
    let origin_host = origin
        .to_str()
        .ok()
        .and_then(|o| o.split_once("://"))
        .map(|(_, h)| h);
    origin_host.is_none() || origin_host != host.and_then(|h| h.to_str().ok())
}

type Reply = Response<Full<Bytes>>;

fn response(status: StatusCode, content_type: &'static str, body: impl Into<Bytes>) -> Reply {
    let mut r = Response::new(Full::new(body.into()));
    *r.status_mut() = status;
    let h = r.headers_mut();
    h.insert(
        hyper::header::CONTENT_TYPE,
        HeaderValue::from_static(content_type),
    );
    h.insert(
        hyper::header::CACHE_CONTROL,
        HeaderValue::from_static("no-store"),
    );
    h.insert(
        "x-content-type-options",
        HeaderValue::from_static("nosniff"),
    );
    h.insert("x-frame-options", HeaderValue::from_static("DENY"));
    h.insert(
        "content-security-policy",
        HeaderValue::from_static("default-src 'self'; frame-ancestors 'none'"),
    );
    r
}

fn json_reply(status: StatusCode, value: &Value) -> Reply {
    response(status, "application/json", value.to_string())
}

fn error(status: StatusCode, message: &str) -> Reply {
    json_reply(status, &json!({ "error": message }))
}

/// Decodes `%XX` escapes (and nothing else); `None` for a bad escape.
pub fn percent_decode(s: &str) -> Option<Vec<u8>> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = std::str::from_utf8(bytes.get(i + 1..i + 3)?).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    Some(out)
}

/// The value of `name` in a query string (`a=1&b=2`), decoded.
fn query_param(query: Option<&str>, name: &str) -> Option<Vec<u8>> {
    query?
        .split('&')
        .filter_map(|pair| pair.split_once('='))
        .find(|(k, _)| *k == name)
        .and_then(|(_, v)| percent_decode(&v.replace('+', " ")))
}

/// Serves one request.
/// Serves one request; its end is a flush point (what core commands wrote
/// reaches the AOF, their bus frames leave).
async fn handle(shared: &Shared, peer: IpAddr, req: Request<Incoming>) -> Reply {
    let reply = route(shared, peer, req).await;
    shared.borrow_mut().flush_point(shared);
    reply
}

/// The response to one request.
async fn route(shared: &Shared, peer: IpAddr, req: Request<Incoming>) -> Reply {
    {
        let state = shared.borrow();
        if !allowed_peer(&state.config, peer) {
            return error(
                StatusCode::FORBIDDEN,
                "DENIED Disque is running in protected mode: no requirepass and no bind address are set, so the HTTP port only serves 127.0.0.1 and ::1. Set requirepass or bind to open it to other hosts.",
            );
        }
        if let Some(password) = &state.config.requirepass {
            if !authorized(password, req.headers()) {
                let mut r = error(StatusCode::UNAUTHORIZED, "authentication required");
                r.headers_mut().insert(
                    hyper::header::WWW_AUTHENTICATE,
                    HeaderValue::from_static("Basic realm=\"disque\", charset=\"UTF-8\""),
                );
                return r;
            }
        }
    }
    let path = req.uri().path().to_string();
    let query = req.uri().query().map(str::to_string);
    let query = query.as_deref();
    let segments: Vec<&str> = path.split('/').skip(1).collect();
    let method = req.method().clone();
    if method == Method::POST && cross_site(req.headers()) {
        return error(StatusCode::FORBIDDEN, "cross-site request refused");
    }
    if method == Method::POST && shared.borrow().loading.is_some() {
        return error(
            StatusCode::SERVICE_UNAVAILABLE,
            "LOADING Disque is loading the dataset in memory",
        );
    }
    match (method, segments.as_slice()) {
        (Method::GET, [""]) => response(StatusCode::OK, "text/html; charset=utf-8", INDEX_HTML),
        (Method::GET, ["app.js"]) => {
            response(StatusCode::OK, "text/javascript; charset=utf-8", APP_JS)
        }
        (Method::GET, ["app.css"]) => response(StatusCode::OK, "text/css; charset=utf-8", APP_CSS),
        (Method::GET, ["metrics"]) => response(
            StatusCode::OK,
            metrics::CONTENT_TYPE,
            metrics::render(shared).await,
        ),
        (Method::GET, ["api", "node"]) => json_reply(StatusCode::OK, &node_json(&shared.borrow())),
        (Method::GET, ["api", "nodes"]) => {
            let nodes = view::nodes(&mut shared.borrow_mut());
            let list: Vec<Value> = nodes.iter().map(view::NodeView::to_json).collect();
            json_reply(StatusCode::OK, &json!({ "nodes": list }))
        }
        (Method::GET, ["api", "queues"]) => {
            let limit = query_param(query, "limit")
                .and_then(|v| String::from_utf8(v).ok()?.parse::<usize>().ok())
                .unwrap_or(DEFAULT_QUEUE_LIMIT);
            let queues = view::queues(shared).await;
            let list: Vec<Value> = queues
                .iter()
                .take(limit)
                .map(view::QueueView::to_json)
                .collect();
            json_reply(
                StatusCode::OK,
                &json!({ "total": queues.len(), "queues": list }),
            )
        }
        (Method::GET, ["api", "queues", name]) => match percent_decode(name) {
            None => error(StatusCode::BAD_REQUEST, "bad queue name escape"),
            Some(name) => match view::queue(&mut shared.borrow_mut(), &name) {
                Some(q) => json_reply(StatusCode::OK, &q.to_json()),
                None => error(StatusCode::NOT_FOUND, "no such queue"),
            },
        },
        (Method::POST, ["api", "queues", name, "pause"]) => pause(shared, name, query),
        (Method::GET, ["api", "jobs", id]) => {
            // Job ids may contain `/` and `+`, sent escaped.
            let id = percent_decode(id).unwrap_or_default();
            let reply = view::core_command(&mut shared.borrow_mut(), &[b"SHOW", &id]);
            match reply {
                disque_proto::Reply::Error(_) => error(StatusCode::BAD_REQUEST, "invalid job id"),
                other => match view::to_object(&other) {
                    Some(fields) => json_reply(StatusCode::OK, &Value::Object(fields)),
                    None => error(StatusCode::NOT_FOUND, "no such job"),
                },
            }
        }
        (_, ["" | "app.js" | "app.css" | "metrics"])
        | (_, ["api", "node" | "nodes" | "queues"])
        | (_, ["api", "queues" | "jobs", _])
        | (_, ["api", "queues", _, "pause"]) => {
            error(StatusCode::METHOD_NOT_ALLOWED, "method not allowed")
        }
        _ => error(StatusCode::NOT_FOUND, "not found"),
    }
}

/// `POST /api/queues/<name>/pause?state=...[&bcast=yes]`: PAUSE.
fn pause(shared: &Shared, name: &str, query: Option<&str>) -> Reply {
    let Some(name) = percent_decode(name) else {
        return error(StatusCode::BAD_REQUEST, "bad queue name escape");
    };
    let wanted = query_param(query, "state").unwrap_or_default();
    if !matches!(&wanted[..], b"in" | b"out" | b"all" | b"none") {
        return error(
            StatusCode::BAD_REQUEST,
            "state must be in, out, all or none",
        );
    }
    let mut args: Vec<&[u8]> = vec![b"PAUSE", &name, &wanted];
    if query_param(query, "bcast").is_some_and(|v| v == b"yes" || v == b"1") {
        args.push(b"bcast");
    }
    let reply = view::core_command(&mut shared.borrow_mut(), &args);
    json_reply(
        StatusCode::OK,
        &json!({ "name": String::from_utf8_lossy(&name), "pause": view::to_json(&reply) }),
    )
}

/// `/api/node`: this node's id and the counters INFO shows.
fn node_json(state: &State) -> Value {
    let stats = state.node().stats();
    let (ops, _, _) = state.stats.instantaneous();
    json!({
        "id": state.node().id().as_str(),
        "version": crate::config::DISQUE_VERSION,
        "port": state.config.port,
        "uptime_seconds": state.uptime().as_secs(),
        "registered_jobs": stats.registered_jobs,
        "registered_queues": stats.registered_queues,
        "blocked_clients": stats.blocked_clients,
        "connected_clients": state.clients.len(),
        "used_memory": crate::alloc::used_memory(),
        "ops_per_sec": ops,
        "leaving": state.node().is_leaving(),
        "loading": state.loading.is_some(),
        "aof_enabled": state.aof().is_on(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percent_decoding() {
        assert_eq!(percent_decode("a%20b%2F%00"), Some(b"a b/\0".to_vec()));
        assert_eq!(percent_decode("plain"), Some(b"plain".to_vec()));
        assert_eq!(percent_decode("bad%2"), None);
        assert_eq!(percent_decode("bad%zz"), None);
        assert_eq!(percent_decode("%é"), None);
    }

    #[test]
    fn only_loopback_is_local() {
        use crate::security::is_local_ip as is_local;
        assert!(is_local("127.0.0.1".parse().unwrap()));
        assert!(is_local("::1".parse().unwrap()));
        assert!(!is_local("127.0.0.2".parse().unwrap()));
        assert!(!is_local("10.0.0.1".parse().unwrap()));
        let mut config = Config::default();
        let remote: IpAddr = "192.0.2.7".parse().unwrap();
        assert!(!allowed_peer(&config, remote));
        config.requirepass = Some(b"pw".to_vec());
        assert!(allowed_peer(&config, remote));
        config.requirepass = None;
        config.bind = vec!["0.0.0.0".into()];
        assert!(allowed_peer(&config, remote));
    }

    #[test]
    fn basic_auth() {
        let mut headers = HeaderMap::new();
        assert!(!authorized(b"secret", &headers));
        let token = base64::engine::general_purpose::STANDARD.encode("admin:secret");
        headers.insert(
            hyper::header::AUTHORIZATION,
            HeaderValue::from_str(&format!("Basic {token}")).unwrap(),
        );
        assert!(authorized(b"secret", &headers));
        assert!(!authorized(b"other", &headers));
        headers.insert(
            hyper::header::AUTHORIZATION,
            HeaderValue::from_static("Basic !!!"),
        );
        assert!(!authorized(b"secret", &headers));
    }

    #[test]
    fn cross_site_posts() {
        let mut h = HeaderMap::new();
        h.insert(
            hyper::header::HOST,
            HeaderValue::from_static("127.0.0.1:8080"),
        );
        assert!(!cross_site(&h));
        h.insert(
            hyper::header::ORIGIN,
            HeaderValue::from_static("http://127.0.0.1:8080"),
        );
        assert!(!cross_site(&h));
        h.insert(
            hyper::header::ORIGIN,
            HeaderValue::from_static("http://evil.example"),
        );
        assert!(cross_site(&h));
        h.insert(hyper::header::ORIGIN, HeaderValue::from_static("null"));
        assert!(cross_site(&h));
    }
}
