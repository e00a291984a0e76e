//! Small reply payloads (job ids, short bodies) copied into shared chunks
//! instead of an allocation each.
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

/// Size of one chunk.
const CHUNK: usize = 4096;
/// Largest payload copied into a chunk.
const LARGEST: usize = 256;

/// The chunk replies are cut from (owned by the node; used by the commands
/// and the blocking module, which build replies).
#[derive(Debug, Default)]
pub(crate) struct ReplyBytes {
    chunk: BytesMut,
}

impl ReplyBytes {
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
