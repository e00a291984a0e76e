//! Tools that drive real `disque-server` processes: the load generator
//! (`disque-benchmark`), the total-queue fault checker (`disque-faults`) and
//! its [`checker`] (what was added, what was delivered, what went wrong).
//! The fault checker starts, kills, pauses and restarts its nodes with the
//! process cluster the end-to-end tests use (`disque_testkit::Cluster`).

pub mod checker;
