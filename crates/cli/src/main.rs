//! The `disque` binary: see the `disque_cli` library for how it works.

fn main() {
    std::process::exit(disque_cli::run(std::env::args_os().skip(1)));
}
