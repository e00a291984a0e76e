//! The built-in help table and tab completion.

use disque_cli::help::{complete, find, help_text, COMMANDS, GROUPS};

#[test]
fn every_command_of_the_spec_has_help() {
    let spec = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../docs/commands.md"
    ))
    .unwrap();
    let table = spec.split("### 1.3 Command table").nth(1).unwrap();
    let table = table.split("###").next().unwrap();
    let names: Vec<&str> = table
        .lines()
        .filter_map(|l| l.strip_prefix("| "))
        .filter_map(|l| l.split(" |").next())
        .filter(|n| n.chars().all(|c| c.is_ascii_uppercase()))
        .collect();
    assert_eq!(names.len(), 32);
    for name in names {
        let entry = find(&name.to_ascii_lowercase()).unwrap_or_else(|| panic!("{name}"));
        assert!(GROUPS.contains(&entry.group));
        assert!(!entry.summary.is_empty());
    }
    assert_eq!(COMMANDS.len(), 33, "the 32 commands and QUIT");
}

#[test]
fn help_topics() {
    let text = help_text("disque-cli 1.0-rc1", &["Nack".to_string()]);
    assert_eq!(
        text,
        "\n  NACK [DELAY sec] id [id ...]\n  summary: Put jobs back in their queue at once \
         (or after DELAY, extension D16), counting a negative acknowledgement\n  group: jobs\n\n"
    );
    let overview = help_text("disque-cli 1.0-rc1", &[]);
    assert!(overview.starts_with("disque-cli 1.0-rc1\n"));
    assert!(overview.contains("@jobs @queues @cluster @server"));
    let cluster = help_text("v", &["@cluster".to_string()]);
    assert_eq!(cluster.matches("group: cluster").count(), 2);
}

#[test]
fn completion_of_commands_and_topics() {
    assert_eq!(complete("ack", 3), (0, vec!["ackjob".to_string()]));
    assert_eq!(
        complete("Q", 1).1,
        ["QLEN", "QPEEK", "QSTAT", "QSCAN", "QUIT"]
    );
    assert_eq!(complete("help @q", 7), (5, vec!["@queues".to_string()]));
    assert_eq!(
        complete("help sh", 7),
        (5, vec!["show".to_string(), "shutdown".to_string()])
    );
    // Only the command word is completed, and only up to the cursor.
    assert_eq!(complete("addjob q", 8), (7, vec![]));
    assert_eq!(complete("getjob from", 3), (0, vec!["getjob".to_string()]));
    assert!(complete("", 0).1.contains(&"help".to_string()));
    assert_eq!(complete("héllo wörld", 4).1, Vec::<String>::new());
}
