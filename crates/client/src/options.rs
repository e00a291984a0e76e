//! Timeouts, reconnection and authentication settings shared by
//! [`Client`](crate::Client) and [`ClusterClient`](crate::ClusterClient).

use std::time::Duration;

use disque_proto::Reply;

/// How a client connects and how long it waits.
///
/// `Default` gives a client that never hangs on a silent node: 5 s to
/// connect, 30 s per command (plus the time a blocking command asks for),
/// and up to 5 reconnection attempts with exponential back-off.
///
/// ```
/// use std::time::Duration;
/// use disque_client::ClientOptions;
///
/// let options = ClientOptions {
///     command_timeout: Some(Duration::from_secs(2)),
///     password: Some("secret".into()),
///     ..ClientOptions::default()
/// };
/// assert_eq!(options.connect_timeout, Some(Duration::from_secs(5)));
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClientOptions {
    /// Longest wait for a TCP connection (and the AUTH that follows); `None`
    /// waits as long as the system does.
    pub connect_timeout: Option<Duration>,
    /// Longest wait for a reply, counted from sending the command; `None`
    /// waits forever. A command that blocks on purpose (`GETJOB` with
    /// `TIMEOUT`, `ADDJOB` with a replication timeout) gets its own time on
    /// top; one that blocks without limit (`GETJOB` without `TIMEOUT` or
    /// `NOHANG`, `ADDJOB` with timeout 0) is not bounded. When the time is
    /// up the call fails with [`ClientError::Timeout`](crate::ClientError)
    /// and the connection is dropped (a late reply would answer the next
    /// command).
    pub command_timeout: Option<Duration>,
    /// Reconnection after a broken connection; `None` never reconnects.
    pub reconnect: Option<Backoff>,
    /// Sent with `AUTH` after every (re)connection.
    pub password: Option<String>,
}

impl Default for ClientOptions {
    fn default() -> ClientOptions {
        ClientOptions {
            connect_timeout: Some(Duration::from_secs(5)),
            command_timeout: Some(Duration::from_secs(30)),
            reconnect: Some(Backoff::default()),
            password: None,
        }
    }
}

impl ClientOptions {
    /// No command timeout and no reconnection: what [`Client::connect`]
    /// uses, for tools that block on purpose (a CLI, MONITOR, benchmarks).
    ///
    /// [`Client::connect`]: crate::Client::connect
    pub fn unbounded() -> ClientOptions {
        ClientOptions {
            command_timeout: None,
            reconnect: None,
            ..ClientOptions::default()
        }
    }

    /// The time to wait for the reply to `args`: the command timeout plus
    /// what the command itself may block for; `None` for no limit.
    pub fn reply_timeout<A: AsRef<[u8]>>(&self, args: &[A]) -> Option<Duration> {
        let base = self.command_timeout?;
        match blocking_time(args) {
            Blocking::No => Some(base),
            Blocking::For(extra) => Some(base.saturating_add(extra)),
            Blocking::Forever => None,
        }
    }
}

/// Exponential back-off between reconnection attempts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Backoff {
    /// Attempts after the first failure (0 = fail at once).
    pub attempts: u32,
    /// Wait before the first retry; doubled after each failure.
    pub initial: Duration,
    /// Longest wait between two attempts.
    pub max: Duration,
}

impl Default for Backoff {
    fn default() -> Backoff {
        Backoff {
            attempts: 5,
            initial: Duration::from_millis(50),
            max: Duration::from_secs(2),
        }
    }
}

impl Backoff {
    /// The wait before retry number `n` (0-based): `initial * 2^n`, capped
    /// at `max`.
    ///
    /// ```
    /// use std::time::Duration;
    /// let backoff = disque_client::Backoff::default();
    /// assert_eq!(backoff.delay(0), Duration::from_millis(50));
    /// assert_eq!(backoff.delay(2), Duration::from_millis(200));
    /// assert_eq!(backoff.delay(20), Duration::from_secs(2));
    /// ```
    pub fn delay(&self, n: u32) -> Duration {
        self.initial
            .saturating_mul(2u32.saturating_pow(n.min(31)))
            .min(self.max)
    }
}

/// How long a command may block on the server by its own request.
enum Blocking {
    No,
    For(Duration),
    Forever,
}

fn blocking_time<A: AsRef<[u8]>>(args: &[A]) -> Blocking {
    let word = |i: usize| args.get(i).map(|a| a.as_ref());
    let ms = |v: Option<&[u8]>| {
        v.and_then(|v| std::str::from_utf8(v).ok())
            .and_then(|v| v.parse::<u64>().ok())
    };
    let Some(name) = word(0) else {
        return Blocking::No;
    };
    if name.eq_ignore_ascii_case(b"GETJOB") {
        let mut timeout = None;
        for (i, arg) in args.iter().enumerate() {
            let arg = arg.as_ref();
            if arg.eq_ignore_ascii_case(b"FROM") {
                break;
            }
            if arg.eq_ignore_ascii_case(b"NOHANG") {
                return Blocking::No;
            }
            if arg.eq_ignore_ascii_case(b"TIMEOUT") {
                timeout = ms(word(i + 1));
            }
        }
        match timeout {
            Some(0) | None => Blocking::Forever,
            Some(t) => Blocking::For(Duration::from_millis(t)),
        }
    } else if name.eq_ignore_ascii_case(b"ADDJOB") {
        match ms(word(3)) {
            Some(0) => Blocking::Forever,
            Some(t) => Blocking::For(Duration::from_millis(t)),
            None => Blocking::No,
        }
    } else {
        Blocking::No
    }
}

/// True when the reply says the node is leaving the cluster (`-LEAVING`):
/// the command had no effect and may go to another node.
pub(crate) fn is_leaving(reply: &Reply) -> bool {
    matches!(reply, Reply::Error(text) if text.starts_with(b"LEAVING"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reply_timeouts_follow_blocking_commands() {
        let o = ClientOptions {
            command_timeout: Some(Duration::from_secs(1)),
            ..ClientOptions::default()
        };
        let s = Duration::from_secs;
        assert_eq!(o.reply_timeout(&["PING"]), Some(s(1)));
        assert_eq!(o.reply_timeout(&["getjob", "from", "q"]), None);
        assert_eq!(
            o.reply_timeout(&["GETJOB", "TIMEOUT", "2000", "FROM", "q"]),
            Some(s(3))
        );
        assert_eq!(
            o.reply_timeout(&["GETJOB", "NOHANG", "FROM", "q"]),
            Some(s(1))
        );
        // Queue names after FROM are not options.
        assert_eq!(o.reply_timeout(&["GETJOB", "FROM", "NOHANG"]), None);
        assert_eq!(
            o.reply_timeout(&["ADDJOB", "q", "b", "500"]),
            Some(s(1) + Duration::from_millis(500))
        );
        assert_eq!(o.reply_timeout(&["ADDJOB", "q", "b", "0"]), None);
        assert_eq!(ClientOptions::unbounded().reply_timeout(&["PING"]), None);
    }

    #[test]
    fn backoff_doubles_up_to_max() {
        let b = Backoff {
            attempts: 9,
            initial: Duration::from_millis(100),
            max: Duration::from_millis(350),
        };
        let ms = |n| b.delay(n).as_millis();
        assert_eq!([ms(0), ms(1), ms(2), ms(40)], [100, 200, 350, 350]);
    }
}
