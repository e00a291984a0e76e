//! The cluster: membership and failure detection ([`membership`]), the bus
//! messages ([`message`]), and how the shell's bus transport talks to the core
//! ([`BusAction`], [`Origin`]).

pub mod membership;
pub mod message;

/// An outbound link to a node, allocated by the core.
pub type LinkId = u64;
/// An inbound bus connection, allocated by the shell.
pub type ConnId = u64;

/// What the shell's bus transport must do.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BusAction {
    /// Open outbound link `link` to `ip:port` (the bus port); report with
    /// [`crate::Node::on_link_up`] / [`crate::Node::on_link_down`].
    Connect {
        /// The link's id.
        link: LinkId,
        /// Address to connect to.
        ip: String,
        /// Bus port (client port + 10000).
        port: u16,
    },
    /// Close an outbound link (no report expected).
    Close(LinkId),
    /// Send an encoded frame on an outbound link (dropped if it is not up).
    Send {
        /// The link.
        link: LinkId,
        /// The encoded frame.
        frame: bytes::Bytes,
    },
    /// Send an encoded frame back on an inbound connection.
    Reply {
        /// The connection.
        conn: ConnId,
        /// The encoded frame.
        frame: bytes::Bytes,
    },
}

/// Where a frame arrived.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Origin {
    /// On an outbound link this node opened.
    Outbound(LinkId),
    /// On a connection another node opened.
    Inbound {
        /// The connection.
        conn: ConnId,
        /// The peer's IP address (shared by every frame of the connection:
        /// no copy per frame).
        peer_ip: std::rc::Rc<str>,
        /// This node's IP address on that connection.
        local_ip: std::rc::Rc<str>,
    },
}
