//! `logformat json`: one JSON object per log line, from the config file,
//! readable and changeable with CONFIG GET/SET, kept by CONFIG REWRITE;
//! `logformat text` (the default) is the original's line.

use crate::common::*;

/// True for the original's line: `pid:M 21 Nov 12:00:00.000 * text`.
fn is_text_line(line: &str, pid: u32) -> bool {
    let Some(rest) = line.strip_prefix(&format!("{pid}:M ")) else {
        return false;
    };
    let bytes = rest.as_bytes();
    rest.len() > 21
        && bytes[..2].iter().all(u8::is_ascii_digit)
        && bytes[2] == b' '
        && bytes[9] == b':'
        && bytes[19] == b' '
        && [b'.', b'-', b'*', b'#'].contains(&bytes[20])
}

#[tokio::test]
async fn json_log_lines_from_the_config_file_then_text_after_config_set() {
    let (mut s, file, _dir) = start_with_config("# logs for the shipper\nlogformat json\n").await;
    let mut c = s.client().await;
    // CONFIG GET * lists it after the original's parameters.
    let all = cmd(&mut c, "CONFIG GET *").await;
    let all = items(&all);
    let at = all
        .iter()
        .position(|v| text(v) == "logformat")
        .expect("logformat listed");
    assert_eq!(text(&all[at + 1]), "json");
    assert_eq!(text(&all[at - 2]), "rereplicate");

    let log = s.log_text();
    let lines: Vec<&str> = log.lines().filter(|l| !l.is_empty()).collect();
    assert!(!lines.is_empty(), "the startup is logged");
    for line in &lines {
        let value: serde_json::Value =
            serde_json::from_str(line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}"));
        let object = value.as_object().expect("an object per line");
        assert_eq!(object["pid"].as_u64(), Some(u64::from(s.pid())), "{line}");
        let time = object["time"].as_str().unwrap();
        assert!(time.len() == 24 && time.ends_with('Z'), "{line}");
        let level = object["level"].as_str().unwrap();
        assert!(["debug", "verbose", "notice", "warning"].contains(&level));
        assert!(object["message"].is_string(), "{line}");
    }
    assert!(
        lines.iter().any(|l| l.contains("\"level\":\"notice\"")),
        "{log}"
    );

    // Back to the original's line at run time; REWRITE keeps the choice.
    assert_eq!(cmd(&mut c, "CONFIG SET logformat text").await, status("OK"));
    assert_eq!(
        cmd(&mut c, "CONFIG SET logformat xml").await,
        error("ERR Invalid argument 'xml' for CONFIG SET 'logformat'")
    );
    assert_eq!(cmd(&mut c, "CONFIG REWRITE").await, status("OK"));
    let conf = std::fs::read_to_string(&file).unwrap();
    assert!(!conf.contains("logformat json"), "{conf}");
    let before = lines.len();
    let _ = c.call(&["SHUTDOWN"]).await;
    s.wait_exit(secs(10)).await.expect("the server exits");
    let log = s.log_text();
    let after: Vec<&str> = log.lines().filter(|l| !l.is_empty()).skip(before).collect();
    assert!(!after.is_empty(), "the shutdown is logged");
    for line in after {
        assert!(
            is_text_line(line, s.pid()),
            "not the original's line: {line}"
        );
    }
}

#[tokio::test]
async fn json_log_lines_after_config_set_and_rewrite() {
    let (mut s, file, _dir) = start_with_config("hz 10\n").await;
    let mut c = s.client().await;
    assert_eq!(
        cmd(&mut c, "CONFIG GET logformat").await,
        arr(vec![bulk("logformat"), bulk("text")])
    );
    let first = s.log_text();
    assert!(
        first
            .lines()
            .all(|l| l.is_empty() || is_text_line(l, s.pid())),
        "{first}"
    );
    assert_eq!(cmd(&mut c, "CONFIG SET logformat json").await, status("OK"));
    assert_eq!(cmd(&mut c, "CONFIG REWRITE").await, status("OK"));
    let conf = std::fs::read_to_string(&file).unwrap();
    assert!(conf.contains("\nlogformat json\n"), "{conf}");
    let _ = c.call(&["SHUTDOWN"]).await;
    s.wait_exit(secs(10)).await.expect("the server exits");
    let log = s.log_text();
    let last = log.lines().rfind(|l| !l.is_empty()).unwrap();
    let value: serde_json::Value = serde_json::from_str(last).unwrap();
    assert_eq!(value["message"], "Disque is now ready to exit, bye bye...");
    assert_eq!(value["level"], "warning");
}
