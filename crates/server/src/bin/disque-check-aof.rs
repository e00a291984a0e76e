//! `disque-check-aof [--fix [--yes]] <file.aof>`: checks an append-only file and
//! reports the first bad offset; `--fix` truncates a bad tail after asking.

use disque_core::ids::JobId;
use disque_core::job_codec::{decode, Form};
use disque_server::aof_file::{Next, RecordReader};
use std::io::{BufRead, BufReader, Write};

/// The first problem found in a file.
struct Problem {
    offset: u64,
    what: String,
}

fn check(path: &str) -> std::io::Result<(u64, Option<Problem>)> {
    let file = std::fs::File::open(path)?;
    let mut reader = RecordReader::new(BufReader::new(file));
    let mut records = 0;
    loop {
        let problem = match reader.next_record()? {
            Next::End => return Ok((records, None)),
            Next::Truncated { offset } => Problem {
                offset,
                what: "unexpected end of file".into(),
            },
            Next::Bad { offset, reason } => Problem {
                offset,
                what: reason.into(),
            },
            Next::Record { offset, args, .. } => match check_record(&args) {
                Ok(()) => {
                    records += 1;
                    continue;
                }
                Err(what) => Problem { offset, what },
            },
        };
        return Ok((records, Some(problem)));
    }
}

fn check_record(args: &[bytes::Bytes]) -> Result<(), String> {
    let name = String::from_utf8_lossy(&args[0]).to_ascii_lowercase();
    match (name.as_str(), args.len()) {
        ("loadjob", 2) => decode(&args[1], Form::Storage, 0)
            .map(|_| ())
            .map_err(|_| "corrupted LOADJOB data".into()),
        ("deljob", 2) => JobId::parse(&args[1])
            .map(|_| ())
            .ok_or_else(|| "bad job id in DELJOB".into()),
        ("aofmeta", 2) => Ok(()),
        _ => Err(format!("unknown command '{name}'")),
    }
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let fix = args.iter().any(|a| a == "--fix");
    let yes = args.iter().any(|a| a == "--yes");
    let files: Vec<&String> = args.iter().filter(|a| !a.starts_with("--")).collect();
    let [path] = files.as_slice() else {
        eprintln!("Usage: disque-check-aof [--fix [--yes]] <file.aof>");
        std::process::exit(1);
    };
    let (records, problem) = match check(path) {
        Ok(result) => result,
        Err(e) => {
            eprintln!("Cannot read {path}: {e}");
            std::process::exit(1);
        }
    };
    let Some(problem) = problem else {
        println!("AOF is valid: {records} records");
        return;
    };
    let size = std::fs::metadata(path).map_or(0, |m| m.len());
    println!(
        "AOF analyzed: size={size}, ok_up_to={}, diff={}: {} at offset {}",
        problem.offset,
        size - problem.offset,
        problem.what,
        problem.offset
    );
    if !fix {
        println!("AOF is not valid. Use the --fix option to try fixing it.");
        std::process::exit(1);
    }
    if !yes {
        print!("This will shrink the AOF from {size} bytes, with {} bytes, to {} bytes\nContinue? [y/N]: ", size - problem.offset, problem.offset);
        let _ = std::io::stdout().flush();
        let mut answer = String::new();
        let _ = std::io::stdin().lock().read_line(&mut answer);
        if !answer.trim().eq_ignore_ascii_case("y") {
            println!("Aborting...");
            std::process::exit(1);
        }
    }
    let result = std::fs::OpenOptions::new()
        .write(true)
        .open(path)
        .and_then(|f| f.set_len(problem.offset).and_then(|()| f.sync_all()));
    match result {
        Ok(()) => println!("Successfully truncated AOF"),
        Err(e) => {
            eprintln!("Failed to truncate AOF: {e}");
            std::process::exit(1);
        }
    }
}
