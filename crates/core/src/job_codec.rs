//! The job serialization used by AOF `LOADJOB` records and by bus messages
//! (persistence.md §2.3): a 68-byte fixed header, queue, body and nodes-delivered.

use crate::ids::{JobId, NodeId, ID_LEN};
use crate::job::{Body, Job, JobState, FLAG_DELIVERED};
use bytes::{BufMut, Bytes, BytesMut};

const HEADER_LEN: usize = 68;

/// Which variant of the serialization: they differ only in `etime` and flags.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Form {
    /// AOF: absolute expire time, flags as they are.
    Storage,
    /// Bus: remaining seconds + 1, DELIVERED cleared.
    Message,
}

/// A decoded job before the receiver fills in its local fields (qtime, awake).
#[derive(Debug)]
pub struct Decoded {
    /// The job; `qtime` and `awake` are 0, `gc_retry` 0.
    pub job: Job,
    /// Node ids listed in the record (the caller keeps the ones it knows).
    pub nodes: Vec<NodeId>,
}

/// Appends the serialized job to `out`. `now_s` is used by the message form.
pub fn encode(job: &Job, form: Form, now_s: u64, out: &mut BytesMut) {
    let queue = job.queue.as_deref().unwrap_or(b"");
    let body = job.body.as_deref().unwrap_or(b"");
    let len =
        HEADER_LEN + 4 + queue.len() + 4 + body.len() + 4 + ID_LEN * job.nodes_delivered.len();
    out.reserve(len + 4);
    out.put_u32_le(len as u32);
    out.extend_from_slice(job.id.as_bytes());
    out.put_u8((job.state.code() & 0x0f) | (job.gc_retry.min(15) << 4));
    let (etime, flags) = match form {
        Form::Storage => (job.etime, job.flags),
        Form::Message => (
            job.etime.saturating_sub(now_s) + 1,
            job.flags & !FLAG_DELIVERED,
        ),
    };
    out.put_u8(flags);
    out.put_u16_le(job.repl);
    out.put_u32_le(etime.min(u32::MAX as u64) as u32);
    out.put_u64_le(job.ctime);
    out.put_u32_le(job.delay);
    out.put_u32_le(job.retry);
    out.put_u16_le(job.nacks);
    out.put_u16_le(job.additional_deliveries);
    out.put_u32_le(queue.len() as u32);
    out.extend_from_slice(queue);
    out.put_u32_le(body.len() as u32);
    out.extend_from_slice(body);
    out.put_u32_le(job.nodes_delivered.len() as u32);
    for node in &job.nodes_delivered {
        out.extend_from_slice(node.as_bytes());
    }
}

/// Why a serialized job was refused.
#[derive(Debug, PartialEq, Eq)]
pub struct CorruptJob;

/// Decodes one serialized job that fills `data` exactly. Zero-copy for queue and body.
pub fn decode(data: &Bytes, form: Form, now_s: u64) -> Result<Decoded, CorruptJob> {
    let mut r = Reader { data, pos: 0 };
    let len = r.u32()? as usize;
    if len != data.len() - 4 || len < HEADER_LEN {
        return Err(CorruptJob);
    }
    let id = JobId::parse(r.take(ID_LEN)?).ok_or(CorruptJob)?;
    let state = JobState::from_code(r.u8()? & 0x0f).ok_or(CorruptJob)?;
    let flags = r.u8()?;
    let repl = r.u16()?;
    let etime = r.u32()? as u64;
    let ctime = r.u64()?;
    let delay = r.u32()?;
    let retry = r.u32()?;
    let nacks = r.u16()?;
    let additional_deliveries = r.u16()?;
    let queue = r.bytes()?;
    let body = r.bytes()?;
    let count = r.u32()? as usize;
    if count > (data.len() - r.pos) / ID_LEN {
        return Err(CorruptJob);
    }
    let mut nodes = Vec::with_capacity(count);
    for _ in 0..count {
        nodes.push(NodeId::parse(r.take(ID_LEN)?).ok_or(CorruptJob)?);
    }
    if r.pos != data.len() {
        return Err(CorruptJob);
    }
    let etime = match form {
        Form::Storage => etime,
        Form::Message => now_s.saturating_add(etime),
    };
    let job = Job {
        id,
        state,
        gc_retry: 0,
        flags,
        repl,
        etime,
        ctime,
        delay,
        retry,
        nacks,
        additional_deliveries,
        queue: Some(queue),
        body: Some(Body::new(&body)),
        nodes_delivered: Vec::new(),
        nodes_confirmed: None,
        qtime: 0,
        local: Default::default(),
    };
    Ok(Decoded { job, nodes })
}

struct Reader<'a> {
    data: &'a Bytes,
    pos: usize,
}

impl Reader<'_> {
    fn take(&mut self, n: usize) -> Result<&[u8], CorruptJob> {
        let end = self
            .pos
            .checked_add(n)
            .filter(|&e| e <= self.data.len())
            .ok_or(CorruptJob)?;
        let slice = &self.data[self.pos..end];
        self.pos = end;
        Ok(slice)
    }
    fn u8(&mut self) -> Result<u8, CorruptJob> {
        Ok(self.take(1)?[0])
    }
    fn u16(&mut self) -> Result<u16, CorruptJob> {
        Ok(u16::from_le_bytes(
            self.take(2)?.try_into().map_err(|_| CorruptJob)?,
        ))
    }
    fn u32(&mut self) -> Result<u32, CorruptJob> {
        Ok(u32::from_le_bytes(
            self.take(4)?.try_into().map_err(|_| CorruptJob)?,
        ))
    }
    fn u64(&mut self) -> Result<u64, CorruptJob> {
        Ok(u64::from_le_bytes(
            self.take(8)?.try_into().map_err(|_| CorruptJob)?,
        ))
    }
    fn bytes(&mut self) -> Result<Bytes, CorruptJob> {
        let n = self.u32()? as usize;
        let start = self.pos;
        self.take(n)?;
        Ok(self.data.slice(start..start + n))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Job {
        Job {
            id: JobId::parse(b"D-00000000-AAAAAAAAAAAAAAAAAAAAAAAA-0001").unwrap(),
            state: JobState::Queued,
            gc_retry: 3,
            flags: FLAG_DELIVERED | 1,
            repl: 3,
            etime: 1000,
            ctime: 42,
            delay: 1,
            retry: 2,
            nacks: 3,
            additional_deliveries: 4,
            queue: Some(Bytes::from_static(b"q")),
            body: Some(Body::new(b"body")),
            nodes_delivered: vec![NodeId([b'a'; 40])],
            nodes_confirmed: None,
            qtime: 0,
            local: Default::default(),
        }
    }

    #[test]
    fn round_trip_both_forms() {
        let job = sample();
        let mut out = BytesMut::new();
        encode(&job, Form::Storage, 0, &mut out);
        let d = decode(&out.freeze(), Form::Storage, 0).unwrap();
        assert_eq!(d.job.etime, 1000);
        assert_eq!(d.job.flags, job.flags);
        assert_eq!(d.job.body.as_deref(), Some(&b"body"[..]));
        assert_eq!(d.nodes, job.nodes_delivered);

        let mut out = BytesMut::new();
        encode(&job, Form::Message, 990, &mut out);
        let d = decode(&out.freeze(), Form::Message, 2000).unwrap();
        assert_eq!(d.job.etime, 2011);
        assert_eq!(d.job.flags & FLAG_DELIVERED, 0);
    }

    #[test]
    fn every_truncation_is_refused() {
        let mut out = BytesMut::new();
        encode(&sample(), Form::Storage, 0, &mut out);
        let full = out.freeze();
        for cut in 0..full.len() {
            assert!(decode(&full.slice(..cut), Form::Storage, 0).is_err());
        }
    }
}
