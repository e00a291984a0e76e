//! Safe defaults (decision D14, Redis 7's rules): what a "local" client is,
//! protected mode, and who may run DEBUG or change a path with CONFIG SET.

use crate::config::Config;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// The error a client gets (then the connection is closed) when protected
/// mode refuses it: Redis's DENIED text, adapted to Disque.
pub const DENIED: &str = "-DENIED Disque is running in protected mode because protected mode \
is enabled, no bind address was specified, no authentication password is requested to clients. \
In this mode connections are only accepted from the loopback interface. If you want to connect \
from external computers to Disque you may adopt one of the following solutions: 1) Just disable \
protected mode sending the command 'CONFIG SET protected-mode no' from the loopback interface by \
connecting to Disque from the same host the server is running, however MAKE SURE Disque is not \
publicly accessible from internet if you do so. Use CONFIG REWRITE to make this change permanent. \
2) Alternatively you can just disable the protected mode by editing the Disque configuration \
file, and setting the protected mode option to 'no', and then restarting the server. 3) If you \
started the server manually just for testing, restart it with the '--protected-mode no' option. \
4) Setup a bind address or an authentication password. NOTE: You only need to do one of the \
above things in order for the server to start accepting connections from the outside.\r\n";

/// The error of a DEBUG that `enable-debug-command` does not allow
/// (Redis 7's text).
pub const DEBUG_DENIED: &str = "ERR DEBUG command not allowed. If the enable-debug-command option \
is set to \"local\", you can run it from a local connection, otherwise you need to set this \
option in the configuration file, and then restart the server.";

/// True for a TCP peer on 127.0.0.1 or ::1 and nothing else (127.0.0.2 is
/// not local, decision D14). Unix-socket clients are local too.
pub fn is_local_ip(ip: IpAddr) -> bool {
    ip == IpAddr::V4(Ipv4Addr::LOCALHOST) || ip == IpAddr::V6(Ipv6Addr::LOCALHOST)
}

/// Whether protected mode refuses a new connection: it is on, no
/// `requirepass` and no explicit `bind` are configured, and the client is
/// not local.
pub fn protected_mode_refuses(config: &Config, local: bool) -> bool {
    config.protected_mode && config.requirepass.is_none() && config.bind.is_empty() && !local
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_two_loopback_addresses_are_local() {
        assert!(is_local_ip("127.0.0.1".parse().unwrap()));
        assert!(is_local_ip("::1".parse().unwrap()));
        assert!(!is_local_ip("127.0.0.2".parse().unwrap()));
        assert!(!is_local_ip("::ffff:127.0.0.1".parse().unwrap()));
        assert!(!is_local_ip("10.0.0.1".parse().unwrap()));
    }

    #[test]
    fn protected_mode_needs_no_password_and_no_bind() {
        let mut c = Config::default();
        assert!(protected_mode_refuses(&c, false));
        assert!(!protected_mode_refuses(&c, true));
        c.bind = vec!["127.0.0.1".into()];
        assert!(!protected_mode_refuses(&c, false));
        c.bind.clear();
        c.requirepass = Some(b"x".to_vec());
        assert!(!protected_mode_refuses(&c, false));
        c.requirepass = None;
        c.protected_mode = false;
        assert!(!protected_mode_refuses(&c, false));
    }
}
