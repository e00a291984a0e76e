//! `http-port` end to end (decision D19): `/metrics` checked by Debian's
//! `promtool` (when installed) and by a strict parser of the Prometheus text
//! format, the `/api/...` JSON, basic auth, protected mode, CONFIG, and the
//! dashboard in headless Chromium against a 3-node cluster.

use crate::common::*;
use serde_json::Value;
use std::collections::{HashMap, HashSet};
use std::io::Write;
use std::process::{Command, Stdio};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// A loopback port free right now.
fn free_http_port() -> u16 {
    std::net::TcpListener::bind(("127.0.0.1", 0))
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

/// A server with `http-port` on; returns it and the HTTP port.
async fn start_http(opts: ServerOptions) -> (Server, u16) {
    let port = free_http_port();
    let server = opts.arg("http-port", &port.to_string()).start().await;
    (server, port)
}

/// One HTTP exchange.
#[derive(Debug)]
struct HttpReply {
    status: u16,
    headers: HashMap<String, String>,
    body: String,
}

impl HttpReply {
    fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.body))
    }
}

/// Sends one request (`Connection: close`) from `source` and reads the reply.
async fn http_from(
    source: &str,
    port: u16,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
) -> Result<HttpReply, String> {
    let socket = tokio::net::TcpSocket::new_v4().map_err(|e| e.to_string())?;
    socket
        .bind(format!("{source}:0").parse().unwrap())
        .map_err(|e| e.to_string())?;
    let addr = format!("127.0.0.1:{port}").parse().unwrap();
    let mut stream = socket.connect(addr).await.map_err(|e| e.to_string())?;
    let mut request =
        format!("{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n");
    for (name, value) in headers {
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    request.push_str("Content-Length: 0\r\n\r\n");
    stream
        .write_all(request.as_bytes())
        .await
        .map_err(|e| e.to_string())?;
    // Until the connection closes or the Content-Length is complete (some
    // servers keep the connection open despite `Connection: close`).
    let mut raw = Vec::new();
    let mut chunk = [0u8; 16 * 1024];
    loop {
        let text = String::from_utf8_lossy(&raw);
        if let Some(end) = text.find("\r\n\r\n") {
            let length = text[..end].lines().find_map(|l| {
                let (k, v) = l.split_once(':')?;
                k.eq_ignore_ascii_case("content-length")
                    .then(|| v.trim().parse::<usize>().ok())
                    .flatten()
            });
            if length.is_some_and(|n| raw.len() >= end + 4 + n) {
                break;
            }
        }
        let n = tokio::time::timeout(REPLY_DEADLINE, stream.read(&mut chunk))
            .await
            .map_err(|_| "no reply in time".to_string())?
            .map_err(|e| e.to_string())?;
        if n == 0 {
            break;
        }
        raw.extend_from_slice(&chunk[..n]);
    }
    let text = String::from_utf8_lossy(&raw).into_owned();
    let (head, body) = text
        .split_once("\r\n\r\n")
        .ok_or_else(|| format!("no header end: {text:?}"))?;
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .and_then(|l| l.split(' ').nth(1))
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| format!("bad status line: {head:?}"))?;
    let headers = lines
        .filter_map(|l| l.split_once(": "))
        .map(|(k, v)| (k.to_ascii_lowercase(), v.to_string()))
        .collect();
    Ok(HttpReply {
        status,
        headers,
        body: body.to_string(),
    })
}

async fn http(port: u16, method: &str, path: &str) -> HttpReply {
    http_from("127.0.0.1", port, method, path, &[])
        .await
        .unwrap_or_else(|e| panic!("{method} {path}: {e}"))
}

async fn get_json(port: u16, path: &str) -> Value {
    let r = http(port, "GET", path).await;
    assert_eq!(r.status, 200, "GET {path}: {}", r.body);
    assert_eq!(
        r.headers.get("content-type").map(String::as_str),
        Some("application/json")
    );
    r.json()
}

// ---------------------------------------------------------------------------
// A strict reader of the Prometheus text format (version 0.0.4).

/// Label names and values, in order.
type LabelPairs = Vec<(String, String)>;

/// One sample: metric name, labels in order, value.
#[derive(Debug, Clone)]
struct Sample {
    name: String,
    labels: LabelPairs,
    value: f64,
}

fn valid_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || c == ':')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
}

fn parse_value(s: &str) -> Result<f64, String> {
    match s {
        "+Inf" => Ok(f64::INFINITY),
        "-Inf" => Ok(f64::NEG_INFINITY),
        "NaN" => Ok(f64::NAN),
        _ => s.parse().map_err(|_| format!("bad value {s:?}")),
    }
}

/// Parses `name{a="x",b="y"} value`, with the format's three escapes.
fn parse_sample(line: &str) -> Result<Sample, String> {
    let name_end = line.find(['{', ' ']).ok_or("no value")?;
    let name = &line[..name_end];
    if !valid_name(name) {
        return Err(format!("bad metric name {name:?}"));
    }
    let mut rest = &line[name_end..];
    let mut labels = Vec::new();
    if let Some(after) = rest.strip_prefix('{') {
        let mut chars = after.char_indices().peekable();
        loop {
            let start = chars.peek().map(|(i, _)| *i).ok_or("unterminated labels")?;
            if after[start..].starts_with('}') {
                rest = &after[start + 1..];
                break;
            }
            let eq = after[start..].find("=\"").ok_or("label without =\"")? + start;
            let key = &after[start..eq];
            if !valid_name(key) || key.contains(':') {
                return Err(format!("bad label name {key:?}"));
            }
            while chars.peek().is_some_and(|(i, _)| *i < eq + 2) {
                chars.next();
            }
            let mut value = String::new();
            loop {
                match chars.next().ok_or("unterminated label value")? {
                    (_, '"') => break,
                    (_, '\\') => match chars.next().ok_or("dangling escape")?.1 {
                        '\\' => value.push('\\'),
                        '"' => value.push('"'),
                        'n' => value.push('\n'),
                        c => return Err(format!("bad escape \\{c}")),
                    },
                    (_, '\n') => return Err("newline in label value".into()),
                    (_, c) => value.push(c),
                }
            }
            labels.push((key.to_string(), value));
            match chars.next().ok_or("unterminated labels")? {
                (_, ',') => {}
                (i, '}') => {
                    rest = &after[i + 1..];
                    break;
                }
                (_, c) => return Err(format!("unexpected {c:?} after a label")),
            }
        }
    }
    let value = rest.strip_prefix(' ').ok_or("no space before the value")?;
    let mut parts = value.split(' ');
    let v = parse_value(parts.next().unwrap_or(""))?;
    if let Some(ts) = parts.next() {
        ts.parse::<i64>().map_err(|_| "bad timestamp")?;
    }
    if parts.next().is_some() {
        return Err("trailing fields".into());
    }
    Ok(Sample {
        name: name.into(),
        labels,
        value: v,
    })
}

/// Checks the whole exposition and returns its samples: HELP and TYPE
/// lines well formed and before their samples, each family's samples
/// together, counters named `_total`, histogram buckets cumulative with
/// `+Inf` equal to `_count`, no duplicate series.
fn strict_parse(text: &str) -> Result<Vec<Sample>, String> {
    macro_rules! ensure {
        ($cond:expr, $($msg:tt)+) => {
            if !$cond {
                return Err(format!($($msg)+));
            }
        };
    }
    ensure!(text.ends_with('\n'), "the text must end with a newline");
    let mut types: HashMap<String, String> = HashMap::new();
    let mut finished: HashSet<String> = HashSet::new();
    let mut current: Option<String> = None;
    let mut series = HashSet::new();
    let mut samples = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let n = n + 1;
        ensure!(!line.is_empty(), "line {n}: empty line");
        if let Some(comment) = line.strip_prefix("# ") {
            let mut f = comment.splitn(3, ' ');
            let (kind, name, rest) = (f.next(), f.next(), f.next());
            if let (Some(kind @ ("HELP" | "TYPE")), Some(name)) = (kind, name) {
                ensure!(valid_name(name), "line {n}: bad name {name:?}");
                ensure!(rest.is_some(), "line {n}: {kind} without text");
            }
            if let (Some("TYPE"), Some(name), Some(t)) = (kind, name, rest) {
                let known = ["counter", "gauge", "histogram", "summary", "untyped"];
                ensure!(known.contains(&t), "line {n}: bad type {t:?}");
                ensure!(
                    types.insert(name.into(), t.into()).is_none(),
                    "line {n}: second TYPE for {name}"
                );
                ensure!(
                    t != "counter" || name.ends_with("_total"),
                    "line {n}: counter {name} without _total"
                );
            }
            continue;
        }
        let sample = parse_sample(line).map_err(|e| format!("line {n}: {e}: {line:?}"))?;
        let family = ["_bucket", "_sum", "_count"]
            .iter()
            .find_map(|suffix| {
                let base = sample.name.strip_suffix(suffix)?;
                (types.get(base).map(String::as_str) == Some("histogram")).then(|| base.to_string())
            })
            .unwrap_or_else(|| sample.name.clone());
        ensure!(
            types.contains_key(&family),
            "line {n}: sample before its TYPE"
        );
        if current.as_ref() != Some(&family) {
            ensure!(
                finished.insert(family.clone()),
                "line {n}: family {family} split in two"
            );
            current = Some(family);
        }
        let key = format!("{}{:?}", sample.name, sample.labels);
        ensure!(series.insert(key), "line {n}: duplicate series");
        samples.push(sample);
    }
    // Histograms: cumulative buckets, +Inf = _count.
    for (name, _) in types.iter().filter(|(_, t)| *t == "histogram") {
        let mut by_series: HashMap<LabelPairs, Vec<(f64, f64)>> = HashMap::new();
        for s in samples
            .iter()
            .filter(|s| s.name == format!("{name}_bucket"))
        {
            let le = s
                .labels
                .iter()
                .find(|(k, _)| k == "le")
                .ok_or("bucket without le")?;
            let rest: LabelPairs = s
                .labels
                .iter()
                .filter(|(k, _)| k != "le")
                .cloned()
                .collect();
            by_series
                .entry(rest)
                .or_default()
                .push((parse_value(&le.1)?, s.value));
        }
        for (labels, buckets) in by_series {
            let cumulative = buckets
                .windows(2)
                .all(|w| w[0].0 < w[1].0 && w[0].1 <= w[1].1);
            ensure!(cumulative, "{name}{labels:?}: buckets not cumulative");
            let last = buckets.last().ok_or("no buckets")?;
            ensure!(last.0 == f64::INFINITY, "{name}{labels:?}: no +Inf bucket");
            let count = samples
                .iter()
                .find(|s| s.name == format!("{name}_count") && s.labels == labels)
                .ok_or(format!("{name}{labels:?}: no _count"))?;
            ensure!(
                count.value == last.1,
                "{name}{labels:?}: +Inf bucket != _count"
            );
        }
    }
    Ok(samples)
}

/// [`strict_parse`], failing the test with the text on an error.
fn parse_metrics(text: &str) -> Vec<Sample> {
    strict_parse(text).unwrap_or_else(|e| panic!("invalid exposition: {e}\n{text}"))
}

/// The value of the series `name` with exactly these labels.
fn value(samples: &[Sample], name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    samples
        .iter()
        .find(|s| {
            s.name == name
                && s.labels.len() == labels.len()
                && labels
                    .iter()
                    .all(|(k, v)| s.labels.iter().any(|(a, b)| a == k && b == v))
        })
        .map(|s| s.value)
}

/// `promtool check metrics` when Debian's `prometheus` package is installed
/// (scripts/test installs it); Some(output) when it complained.
fn promtool_check(text: &str) -> Option<String> {
    let mut child = match Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
    {
        Ok(child) => child,
        Err(_) => {
            assert!(
                std::env::var_os("DISQUE_REQUIRE_PROMTOOL").is_none(),
                "promtool is required (DISQUE_REQUIRE_PROMTOOL) but not installed"
            );
            eprintln!("promtool not installed: checked with the strict parser only");
            return None;
        }
    };
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(text.as_bytes())
        .expect("write");
    let out = child.wait_with_output().expect("promtool");
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (!out.status.success() || !said.trim().is_empty()).then_some(said)
}

// ---------------------------------------------------------------------------

#[tokio::test]
async fn metrics_are_valid_prometheus_text_and_describe_the_node() {
    let (s, port) = start_http(Server::options()).await;
    let mut c = s.client().await;
    for i in 0..3 {
        addjob(&mut c, &format!("busy body{i} 0")).await;
    }
    addjob(&mut c, "quiet body 0").await;
    // A name that needs escaping in a label value.
    c.call(&["ADDJOB", "we\"ird\\q\nx", "body", "0"])
        .await
        .expect("addjob");
    cmd(&mut c, "GETJOB FROM quiet").await;
    cmd(&mut c, "PAUSE busy in").await;

    let r = http(port, "GET", "/metrics").await;
    assert_eq!(r.status, 200);
    assert!(
        r.headers["content-type"].starts_with("text/plain; version=0.0.4"),
        "{:?}",
        r.headers
    );
    if let Some(complaint) = promtool_check(&r.body) {
        panic!("promtool check metrics:\n{complaint}\n{}", r.body);
    }
    let m = parse_metrics(&r.body);
    assert_eq!(value(&m, "disque_registered_queues", &[]), Some(3.0));
    assert_eq!(value(&m, "disque_registered_jobs", &[]), Some(5.0));
    assert_eq!(value(&m, "disque_jobs", &[("state", "queued")]), Some(4.0));
    assert_eq!(value(&m, "disque_jobs", &[("state", "active")]), Some(1.0));
    assert_eq!(
        value(&m, "disque_queue_length", &[("queue", "busy")]),
        Some(3.0)
    );
    assert_eq!(
        value(&m, "disque_queue_length", &[("queue", "we\"ird\\q\nx")]),
        Some(1.0)
    );
    assert_eq!(
        value(&m, "disque_queue_jobs_in_total", &[("queue", "busy")]),
        Some(3.0)
    );
    assert_eq!(
        value(&m, "disque_queue_jobs_out_total", &[("queue", "quiet")]),
        Some(1.0)
    );
    assert_eq!(
        value(
            &m,
            "disque_queue_paused",
            &[("queue", "busy"), ("direction", "in")]
        ),
        Some(1.0)
    );
    assert_eq!(
        value(
            &m,
            "disque_queue_paused",
            &[("queue", "busy"), ("direction", "out")]
        ),
        Some(0.0)
    );
    assert_eq!(value(&m, "disque_blocked_clients", &[]), Some(0.0));
    assert_eq!(value(&m, "disque_bus_links", &[("state", "up")]), Some(0.0));
    assert_eq!(value(&m, "disque_aof_enabled", &[]), Some(0.0));
    assert_eq!(
        value(
            &m,
            "disque_command_duration_seconds_count",
            &[("command", "addjob")]
        ),
        Some(5.0)
    );
    assert!(value(&m, "disque_memory_used_bytes", &[]).is_some_and(|v| v > 0.0));
    assert!(value(&m, "disque_bus_bytes_total", &[("direction", "in")]).is_some());
    // HTTP requests are not commands: INFO commandstats is unchanged.
    let stats = info(&mut c, "commandstats").await;
    assert!(
        !stats.contains("cmdstat_qscan") && !stats.contains("cmdstat_jscan"),
        "{stats}"
    );
}

#[tokio::test]
async fn metrics_cover_the_aof_and_only_the_busiest_queues() {
    let (s, port) = start_http(
        Server::options()
            .arg("appendonly", "yes")
            .arg("appendfsync", "always")
            .arg("metrics-top-queues", "2"),
    )
    .await;
    let mut c = s.client().await;
    for (queue, n) in [("a", 1), ("b", 4), ("c", 2), ("d", 3)] {
        for _ in 0..n {
            addjob(&mut c, &format!("{queue} x 0")).await;
        }
    }
    let m = parse_metrics(&http(port, "GET", "/metrics").await.body);
    let exported: HashSet<&str> = m
        .iter()
        .filter(|s| s.name == "disque_queue_length")
        .map(|s| s.labels[0].1.as_str())
        .collect();
    assert_eq!(exported, HashSet::from(["b", "d"]));
    assert_eq!(value(&m, "disque_registered_queues", &[]), Some(4.0));
    assert_eq!(value(&m, "disque_aof_enabled", &[]), Some(1.0));
    assert!(value(&m, "disque_aof_current_size_bytes", &[]).is_some_and(|v| v > 0.0));
    assert!(
        value(&m, "disque_aof_fsync_duration_seconds_count", &[]).is_some_and(|v| v >= 1.0),
        "appendfsync always fsyncs before replying"
    );
    cmd(&mut c, "CONFIG SET metrics-top-queues 0").await;
    let m = parse_metrics(&http(port, "GET", "/metrics").await.body);
    assert!(!m.iter().any(|s| s.name.starts_with("disque_queue_")));
}

#[tokio::test]
async fn api_reports_queues_jobs_and_pauses_queues() {
    let (s, port) = start_http(Server::options()).await;
    let mut c = s.client().await;
    let id = addjob(&mut c, "q/1 hello 0").await;
    addjob(&mut c, "q/1 world 0").await;
    addjob(&mut c, "other x 0").await;

    let node = get_json(port, "/api/node").await;
    assert_eq!(node["id"].as_str().map(str::len), Some(40));
    assert_eq!(node["registered_jobs"], 3);
    assert_eq!(node["registered_queues"], 2);

    let queues = get_json(port, "/api/queues").await;
    assert_eq!(queues["total"], 2);
    assert_eq!(
        queues["queues"][0]["name"], "q/1",
        "busiest first: {queues}"
    );
    assert_eq!(queues["queues"][0]["len"], 2);
    assert_eq!(queues["queues"][0]["jobs-in"], 2);
    assert_eq!(queues["queues"][0]["pause"], "none");
    assert_eq!(
        get_json(port, "/api/queues?limit=1").await["queues"]
            .as_array()
            .map(Vec::len),
        Some(1)
    );

    let q = get_json(port, "/api/queues/q%2F1").await;
    assert_eq!(q["name"], "q/1");
    assert_eq!(q["len"], 2);
    assert_eq!(http(port, "GET", "/api/queues/nope").await.status, 404);
    assert_eq!(http(port, "GET", "/api/queues/bad%zz").await.status, 400);

    let escaped = id.replace('/', "%2F").replace('+', "%2B");
    assert_eq!(
        get_json(port, &format!("/api/jobs/{escaped}")).await["id"],
        id.as_str()
    );
    let job = get_json(port, &format!("/api/jobs/{}", id.replace('/', "%2F"))).await;
    assert_eq!(job["id"], id.as_str());
    assert_eq!(job["queue"], "q/1");
    assert_eq!(job["state"], "queued");
    assert_eq!(job["body"], "hello");
    assert_eq!(job["repl"], 1);
    assert!(job["nodes-delivered"].is_array());
    assert_eq!(
        http(port, "GET", "/api/jobs/not-a-job-id").await.status,
        400
    );
    let unknown = format!("{}XYZ{}", &id[..14], &id[17..]);
    assert_eq!(
        http(port, "GET", &format!("/api/jobs/{unknown}"))
            .await
            .status,
        404
    );

    let r = http(port, "POST", "/api/queues/q%2F1/pause?state=out").await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json()["pause"], "out");
    assert_eq!(text(&cmd(&mut c, "PAUSE q/1 state").await), "out");
    assert_eq!(
        http(port, "POST", "/api/queues/q%2F1/pause?state=sideways")
            .await
            .status,
        400
    );
    assert_eq!(
        http(port, "GET", "/api/queues/q%2F1/pause?state=none")
            .await
            .status,
        405
    );
    let cross = http_from(
        "127.0.0.1",
        port,
        "POST",
        "/api/queues/q%2F1/pause?state=none",
        &[("Origin", "http://elsewhere.example")],
    )
    .await
    .expect("request");
    assert_eq!(cross.status, 403);
    assert_eq!(text(&cmd(&mut c, "PAUSE q/1 state").await), "out");
    let r = http(port, "POST", "/api/queues/q%2F1/pause?state=none").await;
    assert_eq!(r.json()["pause"], "none");
    assert_eq!(http(port, "GET", "/nothing-here").await.status, 404);
}

#[tokio::test]
async fn the_dashboard_is_self_contained() {
    let (_s, port) = start_http(Server::options()).await;
    for (path, kind) in [
        ("/", "text/html"),
        ("/app.js", "text/javascript"),
        ("/app.css", "text/css"),
    ] {
        let r = http(port, "GET", path).await;
        assert_eq!(r.status, 200, "{path}");
        assert!(
            r.headers["content-type"].starts_with(kind),
            "{path}: {:?}",
            r.headers
        );
        assert_eq!(
            r.headers["content-security-policy"],
            "default-src 'self'; frame-ancestors 'none'"
        );
        // No URL of another site (the SVG namespace is a name, not a fetch),
        // absolute or scheme-relative.
        let body = r.body.replace("http://www.w3.org/2000/svg", "");
        for pattern in ["http:", "https:", "\"//", "'//", "(//"] {
            assert!(
                !body.contains(pattern),
                "{path} refers to another site ({pattern})"
            );
        }
    }
}

#[tokio::test]
async fn requirepass_is_asked_as_basic_auth() {
    let (s, port) = start_http(Server::options().password("s3cret")).await;
    let r = http(port, "GET", "/api/node").await;
    assert_eq!(r.status, 401);
    assert!(
        r.headers["www-authenticate"].starts_with("Basic"),
        "{:?}",
        r.headers
    );
    assert_eq!(http(port, "GET", "/metrics").await.status, 401);
    let wrong = "Basic YWRtaW46d3Jvbmc="; // admin:wrong
    let right = "Basic YWRtaW46czNjcmV0"; // admin:s3cret
    let with = |auth: &'static str| async move {
        http_from(
            "127.0.0.1",
            port,
            "GET",
            "/api/node",
            &[("Authorization", auth)],
        )
        .await
        .expect("request")
    };
    assert_eq!(with(wrong).await.status, 401);
    assert_eq!(with(right).await.status, 200);
    // CONFIG SET requirepass applies at once.
    let mut c = s.client().await;
    cmd(&mut c, "AUTH s3cret").await;
    cmd(&mut c, "CONFIG SET requirepass other").await;
    assert_eq!(with(right).await.status, 401);
}

/// A server started by hand without `bind` (the helpers always bind
/// 127.0.0.1), killed on drop.
struct Unbound {
    child: std::process::Child,
    _dir: TempDir,
}

impl Drop for Unbound {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[tokio::test]
async fn protected_mode_serves_only_local_peers() {
    let dir = TempDir::new();
    let port = free_port();
    let http_port = free_http_port();
    let mut cmd = Command::new(server_bin());
    cmd.args([
        "--port",
        &port.to_string(),
        "--http-port",
        &http_port.to_string(),
    ])
    .arg("--dir")
    .arg(dir.path())
    .current_dir(dir.path())
    .stdout(Stdio::null())
    .stderr(Stdio::null());
    kill_with_parent(&mut cmd);
    let _server = Unbound {
        child: cmd.spawn().expect("spawn"),
        _dir: dir,
    };
    let mut status = 0;
    poll_until!(secs(20), "the HTTP port answers", {
        if let Ok(r) = http_from("127.0.0.1", http_port, "GET", "/api/node", &[]).await {
            status = r.status;
        }
        status != 0
    });
    assert_eq!(status, 200);
    // 127.0.0.2 is a loopback address but not a local peer (D14).
    let remote = http_from("127.0.0.2", http_port, "GET", "/api/node", &[])
        .await
        .expect("request from 127.0.0.2");
    assert_eq!(remote.status, 403);
    assert!(remote.body.contains("protected mode"), "{}", remote.body);
}

#[tokio::test]
async fn http_port_is_a_setting() {
    let s = Server::start().await;
    let mut c = s.client().await;
    let all = cmd(&mut c, "CONFIG GET *").await;
    let names: Vec<String> = items(&all).iter().step_by(2).map(text).collect();
    // After the original's parameters and the earlier extensions; later
    // extensions (the security settings) follow them.
    let at = names
        .iter()
        .position(|n| n == "logformat")
        .expect("logformat listed");
    assert_eq!(
        names[at..at + 3],
        ["logformat", "http-port", "metrics-top-queues"]
    );
    assert_eq!(
        text(&items(&cmd(&mut c, "CONFIG GET http-port").await)[1]),
        "0"
    );

    let first = free_http_port();
    assert_eq!(
        cmd(&mut c, &format!("CONFIG SET http-port {first}")).await,
        status("OK")
    );
    assert_eq!(http(first, "GET", "/api/node").await.status, 200);
    let second = free_http_port();
    assert_eq!(
        cmd(&mut c, &format!("CONFIG SET http-port {second}")).await,
        status("OK")
    );
    assert_eq!(http(second, "GET", "/api/node").await.status, 200);
    poll_until!(secs(5), "the old HTTP port closes", {
        http_from("127.0.0.1", first, "GET", "/api/node", &[])
            .await
            .is_err()
    });
    // A port that cannot be bound: the setting keeps its value.
    let taken = std::net::TcpListener::bind(("127.0.0.1", 0)).expect("bind");
    let taken_port = taken.local_addr().expect("addr").port();
    let r = cmd(&mut c, &format!("CONFIG SET http-port {taken_port}")).await;
    assert!(matches!(r, Reply::Error(_)), "{r:?}");
    assert_eq!(
        text(&items(&cmd(&mut c, "CONFIG GET http-port").await)[1]),
        second.to_string()
    );
    assert_eq!(
        cmd(&mut c, "CONFIG SET http-port 70000").await,
        error("ERR Invalid argument '70000' for CONFIG SET 'http-port'")
    );
    cmd(&mut c, "CONFIG SET http-port 0").await;
    poll_until!(secs(5), "the HTTP port closes", {
        http_from("127.0.0.1", second, "GET", "/api/node", &[])
            .await
            .is_err()
    });
}

#[tokio::test]
async fn config_rewrite_keeps_the_http_settings() {
    let dir = TempDir::new();
    let file = dir.path().join("disque.conf");
    std::fs::write(&file, "# test\n").expect("write config");
    let port = free_http_port();
    let s = ServerOptions {
        config_file: Some(file.clone()),
        ..Server::options()
    }
    .arg("http-port", &port.to_string())
    .arg("metrics-top-queues", "7")
    .start()
    .await;
    let mut c = s.client().await;
    assert_eq!(cmd(&mut c, "CONFIG REWRITE").await, status("OK"));
    let text = std::fs::read_to_string(&file).expect("read config");
    assert!(text.contains(&format!("http-port {port}")), "{text}");
    assert!(text.contains("metrics-top-queues 7"), "{text}");
}

#[test]
fn the_strict_parser_refuses_malformed_text() {
    let bad = [
        "no_type 1\n",
        "# TYPE a gauge\na 1\n\n",
        "# TYPE a gauge\na{x=\"1} 1\n",
        "# TYPE a gauge\na{x=\"\\t\"} 1\n",
        "# TYPE a gauge\na one\n",
        "# TYPE a counter\na 1\n",
        "# TYPE a gauge\n# TYPE b gauge\na 1\nb 1\na{x=\"y\"} 2\n",
        "# TYPE a gauge\na 1\na 2\n",
        "# TYPE h histogram\nh_bucket{le=\"1\"} 2\nh_bucket{le=\"+Inf\"} 1\nh_sum 1\nh_count 1\n",
        "# TYPE a gauge\na 1",
    ];
    for text in bad {
        assert!(strict_parse(text).is_err(), "accepted {text:?}");
    }
    let good = "# HELP a_total A.\n# TYPE a_total counter\na_total{q=\"x\\\"y\\\\z\\n\"} 1.5\n";
    assert_eq!(parse_metrics(good)[0].labels[0].1, "x\"y\\z\n");
}

// ---------------------------------------------------------------------------
// The dashboard in a real browser.

/// Headless Chromium driven through the DevTools protocol (one page);
/// killed on drop.
struct Browser {
    child: std::process::Child,
    ws: tungstenite::WebSocket<std::net::TcpStream>,
    next_id: u64,
    _profile: TempDir,
}

/// The Chromium binary: `$DISQUE_CHROMIUM`, else `chromium`,
/// `chromium-browser` or `google-chrome` on the PATH.
fn chromium_binary() -> Option<std::path::PathBuf> {
    if let Some(path) = std::env::var_os("DISQUE_CHROMIUM") {
        return Some(path.into()).filter(|p: &std::path::PathBuf| p.is_file());
    }
    let path = std::env::var_os("PATH")?;
    ["chromium", "chromium-browser", "google-chrome"]
        .iter()
        .flat_map(|name| std::env::split_paths(&path).map(move |dir| dir.join(name)))
        .find(|candidate| candidate.is_file())
}

impl Browser {
    /// Starts Chromium and attaches to its first page.
    async fn launch(binary: &std::path::Path) -> Browser {
        let profile = TempDir::new();
        let mut cmd = Command::new(binary);
        cmd.args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-extensions",
            "--window-size=1200,900",
            "--remote-debugging-port=0",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .arg("about:blank")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
        kill_with_parent(&mut cmd);
        let child = cmd.spawn().expect("start chromium");
        // Chromium writes its DevTools port into the profile once it listens.
        let port_file = profile.path().join("DevToolsActivePort");
        let read_port = || -> Option<u16> {
            std::fs::read_to_string(&port_file)
                .ok()?
                .lines()
                .next()?
                .trim()
                .parse()
                .ok()
        };
        poll_until!(
            secs(20),
            "Chromium's DevToolsActivePort",
            read_port().is_some()
        );
        let port = read_port().unwrap_or(0);
        let mut page_ws = String::new();
        poll_until!(secs(20), "a Chromium page target", {
            if let Ok(r) = http_from("127.0.0.1", port, "GET", "/json/list", &[]).await {
                if let Ok(Value::Array(targets)) = serde_json::from_str::<Value>(&r.body) {
                    if let Some(url) = targets
                        .iter()
                        .find(|t| t["type"] == "page")
                        .and_then(|t| t["webSocketDebuggerUrl"].as_str())
                    {
                        page_ws = url.to_string();
                    }
                }
            }
            !page_ws.is_empty()
        });
        let stream = std::net::TcpStream::connect(("127.0.0.1", port)).expect("devtools connect");
        stream
            .set_read_timeout(Some(REPLY_DEADLINE))
            .expect("read timeout");
        let (ws, _) =
            tungstenite::client::client(page_ws.as_str(), stream).expect("devtools websocket");
        Browser {
            child,
            ws,
            next_id: 0,
            _profile: profile,
        }
    }

    /// Sends one DevTools command and returns its result.
    fn call(&mut self, method: &str, params: Value) -> Value {
        self.next_id += 1;
        let id = self.next_id;
        let request = serde_json::json!({ "id": id, "method": method, "params": params });
        self.ws
            .send(tungstenite::Message::text(request.to_string()))
            .expect("devtools send");
        loop {
            let message = self.ws.read().expect("devtools read");
            let Ok(text) = message.to_text() else {
                continue;
            };
            let Ok(reply) = serde_json::from_str::<Value>(text) else {
                continue;
            };
            if reply["id"] == id {
                assert!(reply["error"].is_null(), "{method}: {reply}");
                return reply["result"].clone();
            }
        }
    }

    /// Evaluates JavaScript in the page and returns its value.
    fn eval(&mut self, expression: &str) -> Value {
        let result = self.call(
            "Runtime.evaluate",
            serde_json::json!({ "expression": expression, "returnByValue": true, "awaitPromise": true }),
        );
        assert!(
            result["exceptionDetails"].is_null(),
            "{expression}: {}",
            result["exceptionDetails"]
        );
        result["result"]["value"].clone()
    }

    /// Polls `expression` until it returns `want`.
    async fn wait_for(&mut self, what: &str, expression: &str, want: Value) {
        let deadline = std::time::Instant::now() + secs(15);
        loop {
            let got = self.eval(expression);
            if got == want {
                return;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "timed out waiting for {what}: {expression} == {want} (last: {got})"
            );
            tokio::time::sleep(ms(50)).await;
        }
    }

    /// Saves a PNG of the page.
    fn screenshot(&mut self, path: &std::path::Path) {
        use base64::Engine;
        let shot = self.call(
            "Page.captureScreenshot",
            serde_json::json!({ "format": "png" }),
        );
        let png = base64::engine::general_purpose::STANDARD
            .decode(shot["data"].as_str().expect("screenshot data"))
            .expect("base64");
        std::fs::write(path, png).expect("write screenshot");
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// JavaScript for one cell of a queue's row (`null` while the row is absent).
fn queue_cell(queue: &str, cell: &str) -> String {
    format!(
        "(() => {{ const r = [...document.querySelectorAll('#queues tbody tr')].find(r => r.dataset.queue === {queue:?}); \
         return r ? r.querySelector({cell:?}).textContent : null; }})()"
    )
}

#[tokio::test]
async fn dashboard_in_headless_chromium() {
    let Some(chromium) = chromium_binary() else {
        assert!(
            std::env::var_os("DISQUE_REQUIRE_CHROMIUM").is_none(),
            "Chromium is required (DISQUE_REQUIRE_CHROMIUM) but not found"
        );
        eprintln!("SKIPPED: Chromium is not installed (apt-get install chromium); the dashboard was not tested in a browser");
        return;
    };
    let cluster = Cluster::start(3).await;
    let mut c = cluster.client(0).await;
    let http_port = free_http_port();
    assert_eq!(
        cmd(&mut c, &format!("CONFIG SET http-port {http_port}")).await,
        status("OK")
    );
    let mut browser = Browser::launch(&chromium).await;
    browser.call(
        "Page.navigate",
        serde_json::json!({ "url": format!("http://127.0.0.1:{http_port}/") }),
    );

    // The cluster: three nodes, links up, everyone at HELLO priority 1.
    browser
        .wait_for(
            "three nodes, two links up",
            "[...document.querySelectorAll('#nodes tbody tr')].map(r => r.querySelector('.link').textContent).sort().join(',')",
            "myself,up,up".into(),
        )
        .await;
    let ids =
        browser.eval("[...document.querySelectorAll('#nodes tbody tr')].map(r => r.dataset.id)");
    let mut listed: Vec<String> = serde_json::from_value(ids).expect("ids");
    let mut expected = cluster.ids.clone();
    listed.sort();
    expected.sort();
    assert_eq!(listed, expected);
    assert_eq!(
        browser.eval(
            "[...document.querySelectorAll('#nodes .priority')].map(c => c.textContent).join(',')"
        ),
        Value::from("1,1,1")
    );
    assert_eq!(
        browser.eval("document.getElementById('status').textContent"),
        Value::from("live")
    );

    // A queue appears, then its length follows ADDJOB.
    let id = addjob(&mut c, "dash hello 0").await;
    browser
        .wait_for("the queue appears", &queue_cell("dash", ".len"), "1".into())
        .await;
    addjob(&mut c, "dash again 0").await;
    addjob(&mut c, "dash more 0").await;
    browser
        .wait_for(
            "the length updates",
            &queue_cell("dash", ".len"),
            "3".into(),
        )
        .await;
    // The jobs added since the queue appeared show in the rate chart (a
    // point above the baseline, y = 78) and the queue has its sparkline.
    browser
        .wait_for(
            "jobs in per second in the chart",
            "[...document.querySelectorAll('#rate-chart polyline.in')].some(p => \
             p.getAttribute('points').split(' ').some(pt => +pt.split(',')[1] < 77))",
            true.into(),
        )
        .await;
    assert_eq!(
        browser.eval(
            "!![...document.querySelectorAll('#queues tbody tr')].find(r => r.dataset.queue === 'dash')?.querySelector('.chart svg polyline.in')"
        ),
        Value::from(true)
    );

    // Pause and resume from the page.
    browser.eval(&format!(
        "{}.click()",
        queue_cell("dash", ".pause-button").replace(".textContent", "")
    ));
    browser
        .wait_for("paused", &queue_cell("dash", ".pause"), "all".into())
        .await;
    assert_eq!(text(&cmd(&mut c, "PAUSE dash state").await), "all");
    browser
        .wait_for(
            "resume button",
            &queue_cell("dash", ".pause-button"),
            "Resume".into(),
        )
        .await;

    // Job lookup shows the SHOW fields.
    browser.eval(&format!(
        "document.getElementById('job-id').value = {id:?}; document.querySelector('#job-form button').click()"
    ));
    browser
        .wait_for(
            "the job's state",
            "document.querySelector('#job-result dd[data-field=\"state\"]')?.textContent ?? null",
            "queued".into(),
        )
        .await;
    assert_eq!(
        browser.eval("document.querySelector('#job-result dd[data-field=\"queue\"]').textContent"),
        Value::from("dash")
    );
    let shot = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("dashboard.png");
    browser.screenshot(&shot);
    eprintln!("dashboard screenshot: {}", shot.display());

    browser.eval(&format!(
        "{}.click()",
        queue_cell("dash", ".pause-button").replace(".textContent", "")
    ));
    browser
        .wait_for("resumed", &queue_cell("dash", ".pause"), "none".into())
        .await;
    assert_eq!(text(&cmd(&mut c, "PAUSE dash state").await), "none");
}
