//! RESP2, the Redis wire protocol that Disque speaks to clients.
//!
//! * [`reply`]: the [`Reply`] value and its encoder (server side).
//! * [`request`]: the incremental request parser with the protocol limits
//!   and error texts of Disque ([`RequestParser`], [`ProtocolError`]), the
//!   inline/config-file word splitter [`split_args`], and the request
//!   encoder [`encode_request`] (client side).
//! * [`decode`]: the incremental reply decoder [`ReplyDecoder`] and its
//!   one-shot form [`parse_reply`] (client side).

pub mod decode;
pub mod quote;
pub mod reply;
pub mod request;

pub use decode::{parse_reply, DecodeError, ReplyDecoder};
pub use quote::quote;
pub use reply::Reply;
pub use request::{encode_request, split_args, ProtocolError, RequestParser};
