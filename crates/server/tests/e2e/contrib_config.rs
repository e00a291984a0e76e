//! `contrib/disque.conf` lists every directive with its default: a node
//! started with it reports the same CONFIG GET * as a node started without
//! a file, and every directive the parser knows appears in it.

use crate::common::*;

fn contrib_conf() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../contrib/disque.conf")
}

/// `CONFIG GET *` without the values that differ between two test nodes.
async fn settings(s: &Server) -> Vec<(String, String)> {
    let mut c = s.client().await;
    let all = cmd(&mut c, "CONFIG GET *").await;
    items(&all)
        .chunks(2)
        .map(|p| (text(&p[0]), text(&p[1])))
        .filter(|(name, _)| name != "port" && name != "dir")
        .collect()
}

#[tokio::test]
async fn the_contrib_config_file_holds_the_defaults() {
    let with_file = ServerOptions {
        config_file: Some(contrib_conf()),
        ..ServerOptions::default()
    }
    .start()
    .await;
    let without = Server::start().await;
    assert_eq!(settings(&with_file).await, settings(&without).await);
}

#[test]
fn every_directive_is_in_the_contrib_config_file() {
    let conf = std::fs::read_to_string(contrib_conf()).unwrap();
    let parser = include_str!("../../src/config/parse.rs");
    let directives: Vec<&str> = parser
        .split("(b\"")
        .skip(1)
        .filter_map(|rest| rest.split_once("\", ").map(|(name, _)| name))
        .filter(|name| name.chars().all(|c| c.is_ascii_lowercase() || c == '-'))
        .collect();
    assert!(directives.len() >= 40, "{directives:?}");
    for name in directives {
        let listed = conf.lines().any(|line| {
            let line = line.trim_start_matches("# ");
            line.split_whitespace().next() == Some(name)
        });
        assert!(listed, "{name} is not in contrib/disque.conf");
    }
}
