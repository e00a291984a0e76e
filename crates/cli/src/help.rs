//! The prompt's built-in `help`, as `redis-cli` has it: `help` alone,
//! `help <command>` (syntax, summary, group) and `help @<group>`, answered
//! by the client without asking the server. The same table gives the
//! command names that tab completion offers.

/// One command's help entry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CommandHelp {
    /// Name in upper case.
    pub name: &'static str,
    /// Arguments, as the syntax line shows them.
    pub params: &'static str,
    /// One-line description.
    pub summary: &'static str,
    /// Group name, without the `@`.
    pub group: &'static str,
}

/// The command groups, in the order `help` lists them.
pub const GROUPS: [&str; 4] = ["jobs", "queues", "cluster", "server"];

const fn entry(
    name: &'static str,
    params: &'static str,
    summary: &'static str,
    group: &'static str,
) -> CommandHelp {
    CommandHelp {
        name,
        params,
        summary,
        group,
    }
}

/// Every command the server knows, with the syntax of docs/commands.md.
/// `NACK DELAY`, `DEADLETTER` and `PRIORITY` are this project's extensions
/// (docs/DECISIONS.md D16 to D18): a server without them refuses them.
pub const COMMANDS: &[CommandHelp] = &[
    entry("ADDJOB", "queue body ms-timeout [REPLICATE count] [DELAY sec] [RETRY sec] [TTL sec] [MAXLEN count] [ASYNC] [DEADLETTER queue max-deliveries] [PRIORITY 0-9]", "Add a job to a queue, replicated to REPLICATE nodes before the reply (DEADLETTER, PRIORITY: extensions D17, D18)", "jobs"),
    entry("GETJOB", "[NOHANG] [TIMEOUT ms] [COUNT count] [WITHCOUNTERS] FROM queue [queue ...]", "Take jobs from the first queues that have some, blocking until one arrives", "jobs"),
    entry("ACKJOB", "id [id ...]", "Acknowledge jobs: they are done and deleted cluster-wide", "jobs"),
    entry("FASTACK", "id [id ...]", "Acknowledge and delete jobs cluster-wide, best effort", "jobs"),
    entry("NACK", "[DELAY sec] id [id ...]", "Put jobs back in their queue at once (or after DELAY, extension D16), counting a negative acknowledgement", "jobs"),
    entry("WORKING", "id", "Postpone the next requeue of a job being worked on; returns the seconds until it", "jobs"),
    entry("ENQUEUE", "id [id ...]", "Queue jobs that are not queued", "jobs"),
    entry("DEQUEUE", "id [id ...]", "Remove jobs from their queue without deleting them", "jobs"),
    entry("DELJOB", "id [id ...]", "Delete jobs from this node only", "jobs"),
    entry("SHOW", "id", "Describe a job: state, queue, counters, holders, body", "jobs"),
    entry("JSCAN", "[cursor] [COUNT count] [BUSYLOOP] [QUEUE queue] [STATE state ...] [REPLY all|id]", "Iterate over the jobs of this node", "jobs"),
    entry("LOADJOB", "serialized-job", "Load a job from its AOF serialization (used by the AOF)", "jobs"),
    entry("QLEN", "queue", "Number of jobs queued in a queue on this node", "queues"),
    entry("QPEEK", "queue count", "Look at the oldest (count > 0) or newest (count < 0) queued jobs without taking them", "queues"),
    entry("QSTAT", "queue", "A queue's length, age, rates, blocked clients and pause state", "queues"),
    entry("QSCAN", "[cursor] [COUNT count] [BUSYLOOP] [MINLEN len] [MAXLEN len] [IMPORTRATE rate]", "Iterate over the queues of this node", "queues"),
    entry("PAUSE", "queue in|out|all|none|state|bcast ...", "Pause or resume a queue's input or output, here or cluster-wide", "queues"),
    entry("HELLO", "", "This node's id and every node it knows, with the priority clients use to choose one", "cluster"),
    entry("CLUSTER", "MEET ip port|MYID|NODES|INFO|SAVECONFIG|FORGET id|RESET [SOFT|HARD]|LEAVING [yes|no]", "Join, inspect and leave the cluster", "cluster"),
    entry("INFO", "[section]", "Information and statistics about the node", "server"),
    entry("PING", "[message]", "Check the connection", "server"),
    entry("TIME", "", "The node's clock: seconds and microseconds", "server"),
    entry("AUTH", "password", "Authenticate with the node's requirepass", "server"),
    entry("QUIT", "", "Close the connection", "server"),
    entry("COMMAND", "[COUNT|INFO name ...]", "The node's command table", "server"),
    entry("CONFIG", "GET pattern|SET directive value|REWRITE|RESETSTAT", "Read, change and save the configuration at run time", "server"),
    entry("CLIENT", "LIST|KILL ...|GETNAME|SETNAME name|PAUSE ms|REPLY ON|OFF|SKIP", "Inspect and manage client connections", "server"),
    entry("MONITOR", "", "Print every command the node runs, as it runs it", "server"),
    entry("SLOWLOG", "GET [count]|LEN|RESET", "The commands that took longer than slowlog-log-slower-than", "server"),
    entry("LATENCY", "LATEST|HISTORY event|RESET [event ...]|DOCTOR|GRAPH event", "Latency spikes recorded above latency-monitor-threshold", "server"),
    entry("DEBUG", "FLUSHALL|SLEEP sec|ERROR text|LOADAOF|RESTART|...", "Debugging commands", "server"),
    entry("SHUTDOWN", "[REWRITE-AOF]", "Write what must be written and stop the node", "server"),
    entry("BGREWRITEAOF", "", "Rewrite the append-only file in the background", "server"),
];

/// The entry of a command, whatever the case of `name`.
pub fn find(name: &str) -> Option<&'static CommandHelp> {
    COMMANDS.iter().find(|c| c.name.eq_ignore_ascii_case(name))
}

/// The text `help` prints for the words that follow it (none, a command, or
/// `@group`), including the final newline.
pub fn help_text(version_line: &str, topic: &[String]) -> String {
    let Some(first) = topic.first() else {
        return format!(
            "{version_line}\n\
             To get help about Disque commands type:\n\
             \x20     \"help @<group>\" to get a list of commands in <group>\n\
             \x20     \"help <command>\" for help on <command>\n\
             \x20     \"help <tab>\" to get a list of possible help topics\n\
             \x20     \"quit\" to exit\n\
             \n\
             Groups: {}\n",
            GROUPS.map(|g| format!("@{g}")).join(" ")
        );
    };
    let mut out = String::new();
    if let Some(group) = first.strip_prefix('@') {
        let group = group.to_ascii_lowercase();
        for command in COMMANDS.iter().filter(|c| c.group == group) {
            describe(command, &mut out);
        }
    } else if let Some(command) = find(first) {
        describe(command, &mut out);
    }
    if out.is_empty() {
        // redis-cli prints nothing for an unknown topic; say so instead.
        out = format!(
            "No help for '{}'. Try \"help @<group>\" with a group among {}.\n",
            topic.join(" "),
            GROUPS.map(|g| format!("@{g}")).join(" ")
        );
    }
    out
}

fn describe(command: &CommandHelp, out: &mut String) {
    let syntax = if command.params.is_empty() {
        command.name.to_string()
    } else {
        format!("{} {}", command.name, command.params)
    };
    out.push_str(&format!(
        "\n  {syntax}\n  summary: {}\n  group: {}\n\n",
        command.summary, command.group
    ));
}

/// Completions for the word being typed: command names for the first word,
/// and help topics (commands and `@groups`) after `help`. Returns the byte
/// offset where the word starts and the candidates, in the case the user
/// typed (upper case when the word so far is upper case).
pub fn complete(line: &str, pos: usize) -> (usize, Vec<String>) {
    let line = line.get(..pos).unwrap_or(line);
    let start = line.rfind(' ').map_or(0, |i| i + 1);
    let word = &line[start..];
    let before: Vec<&str> = line[..start].split_whitespace().collect();
    let upper = !word.is_empty() && word.chars().all(|c| !c.is_ascii_lowercase());
    let case = |name: &str| {
        if upper {
            name.to_string()
        } else {
            name.to_ascii_lowercase()
        }
    };
    let mut topics: Vec<String> = Vec::new();
    match before.as_slice() {
        [] => {
            topics.extend(COMMANDS.iter().map(|c| case(c.name)));
            topics.extend(["help", "exit", "connect", "clear"].map(case));
        }
        [help] if help.eq_ignore_ascii_case("help") => {
            topics.extend(GROUPS.map(|g| format!("@{g}")));
            topics.extend(COMMANDS.iter().map(|c| case(c.name)));
        }
        _ => {}
    }
    let matches = topics
        .into_iter()
        .filter(|t| t.len() >= word.len() && t[..word.len()].eq_ignore_ascii_case(word))
        .collect();
    (start, matches)
}
