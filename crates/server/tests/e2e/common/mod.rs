//! Helpers of the end-to-end tests: the process harness of
//! `disque_testkit` (servers, clusters, raw sockets, reply readers,
//! polling), plus what only these tests need: persistence nodes and AOF
//! records ([`persist`]), TLS certificates ([`tls`]).

pub mod persist;
pub mod tls;

pub use disque_testkit::*;

/// The server binary cargo built for these tests.
pub fn server_bin() -> &'static str {
    env!("CARGO_BIN_EXE_disque-server")
}
