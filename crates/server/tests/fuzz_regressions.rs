//! Replays the inputs kept in `fuzz/regressions/<target>/` (inputs that once
//! crashed a fuzz target, see `scripts/fuzz`) and the committed corpus
//! `fuzz/corpus/<target>/` through that target's checks (`fuzz/checks.rs`,
//! shared with the targets): each must pass now.

#[path = "../../../fuzz/checks.rs"]
mod checks;

use std::path::{Path, PathBuf};

/// A fuzz target's check: panics when the input breaks a rule.
type Check = fn(&[u8]);

/// Every fuzz target and its check.
const TARGETS: [(&str, Check); 7] = [
    ("resp_request", checks::resp_request),
    ("resp_reply", checks::resp_reply),
    ("commands", checks::commands),
    ("aof_job", checks::aof_job),
    ("aof_file", checks::aof_file),
    ("bus_frame", checks::bus_frame),
    ("bus_handshake", checks::bus_handshake),
];

fn fuzz_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz")
}

/// The names of the entries of `dir` (none when it does not exist), sorted,
/// with their paths.
fn entries(dir: &Path) -> Vec<(String, PathBuf)> {
    let Ok(read) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut entries: Vec<(String, PathBuf)> = read
        .map(|e| {
            let e = e.expect("directory entry");
            (e.file_name().to_string_lossy().into_owned(), e.path())
        })
        .collect();
    entries.sort();
    entries
}

#[test]
fn every_fuzz_target_has_its_check_here() {
    let targets: Vec<String> = entries(&fuzz_dir().join("fuzz_targets"))
        .into_iter()
        .filter_map(|(name, _)| name.strip_suffix(".rs").map(str::to_string))
        .collect();
    let mut known: Vec<&str> = TARGETS.iter().map(|(name, _)| *name).collect();
    known.sort_unstable();
    assert_eq!(targets, known);
}

/// Runs every input of `fuzz/<kind>/<target>/` through its target's check.
fn replay(kind: &str) {
    for (target, dir) in entries(&fuzz_dir().join(kind)) {
        let check = TARGETS
            .iter()
            .find(|(name, _)| *name == target)
            .unwrap_or_else(|| panic!("fuzz/{kind}/{target}: no such fuzz target"))
            .1;
        for (name, path) in entries(&dir) {
            let input = std::fs::read(&path).expect("fuzz input");
            eprintln!("replaying fuzz/{kind}/{target}/{name}");
            check(&input);
        }
    }
}

#[test]
fn kept_crash_inputs_pass_their_target() {
    replay("regressions");
}

/// The committed corpus (what the fuzzer found reaching new code) passes
/// too: a change that breaks one of those inputs fails here, not only
/// under the fuzzer.
#[test]
fn the_corpus_passes_its_target() {
    replay("corpus");
}
