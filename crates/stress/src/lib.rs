//! Tools that drive real `disque-server` processes: the load generator
//! (`disque-benchmark`), the total-queue fault checker (`disque-faults`) and
//! their pieces: [`cluster`] (start, stop, kill, pause nodes)
//! and [`checker`] (what was added, what was delivered, what went wrong).

pub mod checker;
pub mod cluster;
