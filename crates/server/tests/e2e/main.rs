//! The end-to-end tests of `disque-server`: real processes on free loopback
//! ports, driven over RESP (and HTTP, TLS, the bus). One test binary, one
//! module per subject, so the tests are compiled and linked once.

mod common;
mod counting;

mod admin;
mod allocations;
mod bus_auth;
mod cli;
mod client_library;
mod cluster;
mod cluster_decisions;
mod cluster_failures;
mod contrib_config;
mod durability;
mod extensions;
mod http;
mod log_format;
mod output_buffer_limit;
mod persistence;
mod protocol;
mod rereplication;
mod resource_limits;
mod safe_defaults;
mod scenarios;
mod tls;
