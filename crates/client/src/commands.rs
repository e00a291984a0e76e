//! The typed command methods, written once for [`Client`] and
//! [`ClusterClient`].
//!
//! Every method sends one command (a [`ClusterClient`] may split ACKJOB and
//! NACK by the node that created each job) and turns the reply into a Rust
//! value; an error reply becomes [`ClientError::Server`]. Commands without
//! a method here (CLIENT, DEBUG, SLOWLOG, LATENCY, MONITOR, SHUTDOWN,
//! BGREWRITEAOF, COMMAND, TIME, LOADJOB) are sent with `call`.

#[cfg(doc)]
use crate::ClientError;
use crate::{Client, ClusterClient};

/// The typed methods; the type needs `call(&args)`, `call_for_job(id,
/// &args)` and `count_for_jobs(name, delay, ids)`.
macro_rules! typed_commands {
    () => {
        /// `ADDJOB queue body timeout_ms [options]`: adds a job and returns
        /// its ID. `timeout_ms` bounds the wait for synchronous replication
        /// (0 = wait forever).
        pub async fn add_job(
            &mut self,
            queue: impl AsRef<[u8]>,
            body: impl AsRef<[u8]>,
            timeout_ms: u64,
            options: &$crate::AddJobOptions,
        ) -> Result<String, $crate::ClientError> {
            let args =
                $crate::jobs::addjob_args(queue.as_ref(), body.as_ref(), timeout_ms, options);
            $crate::jobs::expect_text(self.call(&args).await?)
        }

        /// `GETJOB [options] FROM queue...`: takes jobs; an empty vector
        /// when none was available (NOHANG or timeout).
        pub async fn get_job<Q: AsRef<[u8]>>(
            &mut self,
            queues: &[Q],
            options: &$crate::GetJobOptions,
        ) -> Result<Vec<$crate::Job>, $crate::ClientError> {
            $crate::jobs::expect_jobs(
                self.call(&$crate::jobs::getjob_args(queues, options))
                    .await?,
            )
        }

        /// `ACKJOB id...`: acknowledges jobs; returns how many were known
        /// and not yet acknowledged.
        pub async fn ack_job<I: AsRef<[u8]>>(
            &mut self,
            ids: &[I],
        ) -> Result<i64, $crate::ClientError> {
            self.count_for_jobs("ACKJOB", None, ids).await
        }

        /// `NACK id...`: puts jobs back in their queue at once, counting a
        /// negative acknowledgement; returns how many were queued.
        pub async fn nack<I: AsRef<[u8]>>(
            &mut self,
            ids: &[I],
        ) -> Result<i64, $crate::ClientError> {
            self.count_for_jobs("NACK", None, ids).await
        }

        /// `NACK DELAY seconds id...`: like [`nack`](Self::nack) but the
        /// jobs are queued again only after `seconds`. An extension of this
        /// project (docs/DECISIONS.md D16): it needs a server that
        /// implements it; others answer `-BADID Invalid Job ID format.`.
        pub async fn nack_with_delay<I: AsRef<[u8]>>(
            &mut self,
            seconds: u64,
            ids: &[I],
        ) -> Result<i64, $crate::ClientError> {
            self.count_for_jobs("NACK", Some(seconds), ids).await
        }

        /// `FASTACK id...`: acknowledges and deletes jobs cluster-wide, best
        /// effort; returns how many were deleted here.
        pub async fn fast_ack<I: AsRef<[u8]>>(
            &mut self,
            ids: &[I],
        ) -> Result<i64, $crate::ClientError> {
            $crate::jobs::expect_integer(
                self.call(&$crate::jobs::command_args("FASTACK", ids))
                    .await?,
            )
        }

        /// `ENQUEUE id...`: queues active jobs; returns how many were queued.
        pub async fn enqueue<I: AsRef<[u8]>>(
            &mut self,
            ids: &[I],
        ) -> Result<i64, $crate::ClientError> {
            $crate::jobs::expect_integer(
                self.call(&$crate::jobs::command_args("ENQUEUE", ids))
                    .await?,
            )
        }

        /// `DEQUEUE id...`: removes queued jobs from their queue; returns how
        /// many were removed.
        pub async fn dequeue<I: AsRef<[u8]>>(
            &mut self,
            ids: &[I],
        ) -> Result<i64, $crate::ClientError> {
            $crate::jobs::expect_integer(
                self.call(&$crate::jobs::command_args("DEQUEUE", ids))
                    .await?,
            )
        }

        /// `DELJOB id...`: deletes jobs from this node only; returns how many
        /// were deleted.
        pub async fn del_job<I: AsRef<[u8]>>(
            &mut self,
            ids: &[I],
        ) -> Result<i64, $crate::ClientError> {
            $crate::jobs::expect_integer(
                self.call(&$crate::jobs::command_args("DELJOB", ids))
                    .await?,
            )
        }

        /// `WORKING id`: postpones the job's next requeue; returns the
        /// seconds until it (the job's RETRY).
        pub async fn working(&mut self, id: impl AsRef<[u8]>) -> Result<i64, $crate::ClientError> {
            let id = id.as_ref();
            let ids = [id];
            let args = $crate::jobs::command_args("WORKING", &ids);
            $crate::jobs::expect_integer(self.call_for_job(id, &args).await?)
        }

        /// `SHOW id`: the job's description, or `None` for an unknown job.
        pub async fn show(
            &mut self,
            id: impl AsRef<[u8]>,
        ) -> Result<Option<$crate::jobs::JobInfo>, $crate::ClientError> {
            let id = id.as_ref();
            let ids = [id];
            let args = $crate::jobs::command_args("SHOW", &ids);
            $crate::jobs::JobInfo::from_reply(self.call_for_job(id, &args).await?)
        }

        /// `QLEN queue`: number of jobs queued in it on this node.
        pub async fn qlen(&mut self, queue: impl AsRef<[u8]>) -> Result<i64, $crate::ClientError> {
            $crate::jobs::expect_integer(
                self.call(&$crate::jobs::command_args("QLEN", &[queue]))
                    .await?,
            )
        }

        /// `QPEEK queue count`: up to |count| queued jobs without taking
        /// them, oldest first (newest first when `count` is negative).
        pub async fn qpeek(
            &mut self,
            queue: impl AsRef<[u8]>,
            count: i64,
        ) -> Result<Vec<$crate::Job>, $crate::ClientError> {
            let count = count.to_string();
            let args = [b"QPEEK".as_slice(), queue.as_ref(), count.as_bytes()];
            $crate::jobs::expect_jobs(self.call(&args).await?)
        }

        /// `QSTAT queue`: the queue's counters, or `None` when this node
        /// has no such queue.
        pub async fn qstat(
            &mut self,
            queue: impl AsRef<[u8]>,
        ) -> Result<Option<$crate::queues::QueueStat>, $crate::ClientError> {
            let queue = [queue];
            let args = $crate::jobs::command_args("QSTAT", &queue);
            $crate::queues::QueueStat::from_reply(self.call(&args).await?)
        }

        /// `QSCAN cursor [options]`: one page of this node's queue names.
        pub async fn qscan(
            &mut self,
            cursor: u64,
            scan: &$crate::queues::QueueScan,
        ) -> Result<$crate::queues::ScanPage<bytes::Bytes>, $crate::ClientError> {
            let reply = self.call(&$crate::queues::qscan_args(cursor, scan)).await?;
            $crate::queues::expect_page(reply, $crate::queues::queue_name)
        }

        /// `JSCAN cursor [options] REPLY id`: one page of this node's job IDs.
        pub async fn jscan(
            &mut self,
            cursor: u64,
            scan: &$crate::queues::JobScan,
        ) -> Result<$crate::queues::ScanPage<String>, $crate::ClientError> {
            let reply = self
                .call(&$crate::queues::jscan_args(cursor, scan, false))
                .await?;
            $crate::queues::expect_page(reply, $crate::jobs::text)
        }

        /// `JSCAN cursor [options] REPLY all`: one page of this node's jobs,
        /// described as by SHOW.
        pub async fn jscan_all(
            &mut self,
            cursor: u64,
            scan: &$crate::queues::JobScan,
        ) -> Result<$crate::queues::ScanPage<$crate::jobs::JobInfo>, $crate::ClientError> {
            let reply = self
                .call(&$crate::queues::jscan_args(cursor, scan, true))
                .await?;
            $crate::queues::expect_page(reply, $crate::queues::job_info)
        }

        /// `PAUSE queue <state> [bcast]`: sets the queue's pause state
        /// (`None` only reads it), on every node when `broadcast`; returns
        /// the state after the command.
        pub async fn pause(
            &mut self,
            queue: impl AsRef<[u8]>,
            set: Option<$crate::queues::Pause>,
            broadcast: bool,
        ) -> Result<$crate::queues::Pause, $crate::ClientError> {
            let state = set.map_or("state", $crate::queues::Pause::as_str);
            let mut args = vec![b"PAUSE".as_slice(), queue.as_ref(), state.as_bytes()];
            if broadcast {
                args.push(b"bcast");
            }
            let reply = self.call(&args).await?;
            $crate::jobs::text(&reply)
                .filter(|_| !reply.is_error())
                .and_then(|t| $crate::queues::Pause::parse(&t))
                .ok_or_else(|| $crate::jobs::unexpected(reply))
        }

        /// `HELLO`: the node's ID and the nodes it knows.
        pub async fn hello(&mut self) -> Result<$crate::Hello, $crate::ClientError> {
            $crate::Hello::from_reply(self.call(&["HELLO"]).await?)
        }

        /// `PING`: `PONG` from a live node.
        pub async fn ping(&mut self) -> Result<String, $crate::ClientError> {
            let reply = self.call(&["PING"]).await?;
            $crate::jobs::expect_text(reply)
        }

        /// `INFO [section]`: the node's information text.
        pub async fn info(&mut self, section: Option<&str>) -> Result<String, $crate::ClientError> {
            let reply = match section {
                Some(section) => self.call(&["INFO", section]).await?,
                None => self.call(&["INFO"]).await?,
            };
            $crate::jobs::expect_text(reply)
        }

        /// `CONFIG GET pattern`: `(directive, value)` pairs.
        pub async fn config_get(
            &mut self,
            pattern: &str,
        ) -> Result<Vec<(String, String)>, $crate::ClientError> {
            let reply = self.call(&["CONFIG", "GET", pattern]).await?;
            let pairs = match &reply {
                $crate::Reply::Array(items) => $crate::jobs::field_pairs(items).and_then(|pairs| {
                    pairs
                        .into_iter()
                        .map(|(name, value)| Some((name, $crate::jobs::text(value)?)))
                        .collect::<Option<Vec<_>>>()
                }),
                _ => None,
            };
            pairs.ok_or_else(|| $crate::jobs::unexpected(reply))
        }

        /// `CONFIG SET directive value`.
        pub async fn config_set(
            &mut self,
            directive: &str,
            value: &str,
        ) -> Result<(), $crate::ClientError> {
            $crate::jobs::expect_ok(self.call(&["CONFIG", "SET", directive, value]).await?)
        }

        /// `CLUSTER MEET ip port`: joins the node at that address.
        pub async fn cluster_meet(
            &mut self,
            ip: &str,
            port: u16,
        ) -> Result<(), $crate::ClientError> {
            let port = port.to_string();
            $crate::jobs::expect_ok(self.call(&["CLUSTER", "MEET", ip, port.as_str()]).await?)
        }

        /// `CLUSTER LEAVING yes|no`: starts (or stops) draining this node.
        pub async fn cluster_leaving(&mut self, leaving: bool) -> Result<(), $crate::ClientError> {
            let flag = if leaving { "yes" } else { "no" };
            $crate::jobs::expect_ok(self.call(&["CLUSTER", "LEAVING", flag]).await?)
        }
    };
}

impl Client {
    typed_commands!();

    /// Sends a command about job `id` (here, to this node).
    pub(crate) async fn call_for_job(
        &mut self,
        _id: &[u8],
        args: &crate::jobs::Args<'_>,
    ) -> Result<crate::Reply, crate::ClientError> {
        self.call(args).await
    }

    /// `NAME [DELAY d] id...` on this node; the integer reply.
    pub(crate) async fn count_for_jobs<I: AsRef<[u8]>>(
        &mut self,
        name: &'static str,
        delay: Option<u64>,
        ids: &[I],
    ) -> Result<i64, crate::ClientError> {
        crate::jobs::expect_integer(self.call(&crate::jobs::job_args(name, delay, ids)).await?)
    }
}

impl ClusterClient {
    typed_commands!();
}
