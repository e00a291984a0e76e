//! docs/behaviour-scenarios.md A and B on the core state machine with a fake
//! clock: the scenarios of `disque_testkit::scenarios`, which also run on a
//! real server (`crates/server/tests/e2e/scenarios.rs`).

mod harness;

disque_testkit::scenario_tests!(harness::on_core);
