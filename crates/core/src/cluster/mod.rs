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

impl crate::Node {
    /// A job-level message from a known node, routed to the module that owns its rule.
    pub(crate) fn on_job_message(
        &mut self,
        env: &crate::Env,
        from: crate::ids::NodeId,
        message: message::Message,
        fx: &mut crate::Effects,
    ) {
        use message::Message as M;
        match message {
            M::ReplJob { job, no_reply } => self.on_repljob(env, from, &job, no_reply, fx),
            M::GotJob(id) => self.on_gotjob(env, from, &id, fx),
            M::Enqueue { id, delay } => self.on_enqueue_message(env, &id, delay, fx),
            M::Queued {
                id,
                nack,
                count,
                dead_letter,
            } => self.on_queued_or_working(
                env,
                from,
                &id,
                count.then_some(nack),
                false,
                dead_letter,
                fx,
            ),
            M::Working(id) => self.on_queued_or_working(env, from, &id, None, true, false, fx),
            M::NackDelay { id, delay_ms } => self.on_nack_delay(env, from, &id, delay_ms, fx),
            M::WillQueue(id) => self.on_willqueue(from, &id, fx),
            M::SetAck { id, holders } => self.on_setack(env, from, &id, &holders, fx),
            M::GotAck { id, known } => self.on_gotack(from, &id, known, fx),
            M::DelJob { id, holders } => self.on_deljob(from, &id, &holders, fx),
            M::NeedJobs { queue, count } => self.on_needjobs(env, from, &queue, count, fx),
            M::YourJobs(jobs) => self.on_yourjobs(env, from, &jobs, fx),
            M::Pause { queue, flags } => {
                let pause = crate::queue::Pause {
                    input: flags & 1 != 0,
                    output: flags & 2 != 0,
                };
                self.set_pause(env, &queue, pause);
            }
            M::Waiting { queue, waiting } => self.on_waiting(env, from, queue, waiting),
            M::Emptied => self.on_emptied(env, from),
            M::HasJob(id) => self.on_hasjob(from, &id, fx),
            M::Holders { id, nodes } => self.on_holders(env, from, &id, &nodes, fx),
            M::Ping(_) | M::Pong(_) | M::Meet(_) | M::Fail(_) => {}
        }
    }
}
