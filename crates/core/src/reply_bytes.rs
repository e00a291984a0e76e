//! Small reply payloads (job ids, short bodies) copied into shared chunks
//! instead of an allocation each, and the arrays of replies given back by
//! the shell once encoded ([`ReplyBytes::recycle`]) reused by the next
//! replies.
//!
//! A reply leaves the core as [`Bytes`] that the shell encodes and drops.
//! [`ReplyBytes::copy`] appends the payload to a chunk of [`CHUNK`] bytes
//! and splits it off: copies share the chunk's one allocation, and once
//! every reply cut from a chunk has been dropped the chunk is reused in
//! place (`BytesMut::reserve` reclaims a buffer nothing else refers to). A
//! reply kept longer (a deferred reply waiting for a slow client) only
//! keeps its chunk alive. Payloads above [`LARGEST`] get their own
//! allocation, so a large body never pins a chunk nor a chunk a large body.

use bytes::{Bytes, BytesMut};
use disque_proto::Reply;

/// Size of one chunk.
const CHUNK: usize = 4096;
/// Largest payload copied into a chunk.
const LARGEST: usize = 256;
/// Arrays kept for reuse at most.
const ARRAYS_KEPT: usize = 64;
/// Largest array (in slots) kept for reuse.
const ARRAY_SLOTS: usize = 16;

/// The chunk replies are cut from, and the arrays kept for reuse (owned by
/// the node; used by the commands and the blocking module, which build
/// replies).
#[derive(Debug, Default)]
pub(crate) struct ReplyBytes {
    chunk: BytesMut,
    arrays: Vec<Vec<Reply>>,
}

impl ReplyBytes {
    /// An empty array for a reply: one given back earlier if any.
    pub(crate) fn array(&mut self) -> Vec<Reply> {
        self.arrays.pop().unwrap_or_default()
    }

    /// Takes back a reply the shell has encoded: its arrays (nested ones
    /// too), emptied, serve the next replies.
    pub(crate) fn recycle(&mut self, reply: Reply) {
        let Reply::Array(mut items) = reply else {
            return;
        };
        for item in items.drain(..) {
            self.recycle(item);
        }
        if items.capacity() <= ARRAY_SLOTS && self.arrays.len() < ARRAYS_KEPT {
            self.arrays.push(items);
        }
    }

    /// `data` as reply bytes of its own (a copy).
    pub(crate) fn copy(&mut self, data: &[u8]) -> Bytes {
        if data.len() > LARGEST {
            return Bytes::copy_from_slice(data);
        }
        if self.chunk.capacity() - self.chunk.len() < data.len() {
            self.chunk.reserve(CHUNK);
        }
        self.chunk.extend_from_slice(data);
        self.chunk.split().freeze()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn copies_are_exact_and_independent() {
        let mut replies = ReplyBytes::default();
        let kept: Vec<Bytes> = (0..1000u32)
            .map(|i| replies.copy(format!("reply-{i}").as_bytes()))
            .collect();
        for (i, b) in kept.iter().enumerate() {
            assert_eq!(&b[..], format!("reply-{i}").as_bytes());
        }
        let big = vec![7u8; LARGEST + 1];
        assert_eq!(&replies.copy(&big)[..], &big[..]);
        assert!(replies.copy(b"").is_empty());
    }

    #[test]
    fn arrays_given_back_are_reused_empty() {
        let mut replies = ReplyBytes::default();
        let mut inner = replies.array();
        inner.push(Reply::Integer(1));
        let mut outer = replies.array();
        outer.push(Reply::Array(inner));
        let outer_at = outer.as_ptr();
        replies.recycle(Reply::Array(outer));
        assert_eq!(replies.arrays.len(), 2);
        let again = replies.array();
        assert!(again.is_empty());
        assert_eq!(again.as_ptr(), outer_at);
        replies.recycle(Reply::Array(Vec::with_capacity(ARRAY_SLOTS + 1)));
        assert_eq!(replies.arrays.len(), 1);
    }

    #[test]
    fn a_chunk_is_reused_once_its_replies_are_dropped() {
        let mut replies = ReplyBytes::default();
        let first = replies.copy(b"x");
        let chunk = first.as_ptr();
        drop(first);
        // Filling well past one chunk with replies dropped at once never
        // needs a second chunk.
        for _ in 0..10 * CHUNK / 40 {
            let id = replies.copy(&[b'D'; 40]);
            assert!(id.as_ptr() >= chunk && id.as_ptr() < chunk.wrapping_add(CHUNK));
        }
    }
}
