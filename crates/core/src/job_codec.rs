//! The job serialization used by AOF `LOADJOB` records and by bus messages
//! (docs/persistence.md §2.3): a 68-byte fixed header, queue, body and nodes-delivered,
//! then, only for jobs that use PRIORITY, DEADLETTER or NACK DELAY (decisions
//! D16–D18), an extension section of tagged fields that older records lack.

use crate::ids::{JobId, NodeId, ID_LEN};
use crate::job::{
    Body, DeadLetter, Job, JobSpec, JobState, QueueName, DEFAULT_PRIORITY, FLAG_DELIVERED,
    FLAG_NACK_DELAY,
};
use bytes::{BufMut, Bytes, BytesMut};
use smallvec::SmallVec;

const HEADER_LEN: usize = 68;

/// Extension field: the priority, one byte 0–9 (D18).
const EXT_PRIORITY: u8 = 1;
/// Extension field: DEADLETTER, u32 LE max-deliveries then the queue name (D17).
const EXT_DEAD_LETTER: u8 = 2;
/// Extension field: the end of a NACK DELAY, u64 LE (D16): absolute Unix ms in
/// the storage form, ms from now in the message form.
const EXT_NACK_DELAY: u8 = 3;
/// Bytes before an extension field's value: tag and u32 LE length.
const EXT_FIELD_HEADER: usize = 5;

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
    /// Node ids listed in the record (the caller keeps the ones it knows);
    /// on the stack for the usual few.
    pub nodes: SmallVec<[NodeId; 8]>,
    /// End of a NACK DELAY in this node's ms clock (D16), 0 when none.
    pub nack_delay_until: u64,
}

/// The extension fields a job needs, as `(tag, value)`: none for a job that
/// uses no D16–D18 option, so its record is the original's byte for byte.
fn extension(job: &Job, form: Form, now_ms: u64) -> Vec<(u8, Vec<u8>)> {
    let mut fields = Vec::new();
    if job.priority() != DEFAULT_PRIORITY {
        fields.push((EXT_PRIORITY, vec![job.priority()]));
    }
    if let Some(d) = &job.dead_letter() {
        let mut v = d.max_deliveries.to_le_bytes().to_vec();
        v.extend_from_slice(&d.queue);
        fields.push((EXT_DEAD_LETTER, v));
    }
    if job.has(FLAG_NACK_DELAY) {
        let at = match form {
            Form::Storage => job.qtime(),
            Form::Message => job.qtime().saturating_sub(now_ms),
        };
        fields.push((EXT_NACK_DELAY, at.to_le_bytes().to_vec()));
    }
    fields
}

/// Appends the serialized job to `out`. `now_ms` is used by the message form.
pub fn encode(job: &Job, form: Form, now_ms: u64, out: &mut BytesMut) {
    let now_s = now_ms / 1000;
    let queue: &[u8] = job.queue_bytes().map_or(b"", |q| q);
    let body = job.body().map(|b| &b[..]).unwrap_or(b"");
    let ext = extension(job, form, now_ms);
    let ext_len: usize = ext.iter().map(|(_, v)| EXT_FIELD_HEADER + v.len()).sum();
    let len = HEADER_LEN
        + 4
        + queue.len()
        + 4
        + body.len()
        + 4
        + ID_LEN * job.nodes_delivered().len()
        + ext_len;
    out.reserve(len + 4);
    out.put_u32_le(len as u32);
    out.extend_from_slice(job.id().as_bytes());
    out.put_u8((job.state().code() & 0x0f) | (job.gc_retry().min(15) << 4));
    let (etime, flags) = match form {
        Form::Storage => (job.etime(), job.flags()),
        Form::Message => (
            job.etime().saturating_sub(now_s) + 1,
            job.flags() & !FLAG_DELIVERED,
        ),
    };
    out.put_u8(flags & !FLAG_NACK_DELAY);
    out.put_u16_le(job.repl());
    out.put_u32_le(etime.min(u32::MAX as u64) as u32);
    out.put_u64_le(job.ctime());
    out.put_u32_le(job.delay());
    out.put_u32_le(job.retry());
    out.put_u16_le(job.nacks());
    out.put_u16_le(job.additional_deliveries());
    out.put_u32_le(queue.len() as u32);
    out.extend_from_slice(queue);
    out.put_u32_le(body.len() as u32);
    out.extend_from_slice(body);
    out.put_u32_le(job.nodes_delivered().len() as u32);
    for node in job.nodes_delivered() {
        out.extend_from_slice(node.as_bytes());
    }
    for (tag, value) in ext {
        out.put_u8(tag);
        out.put_u32_le(value.len() as u32);
        out.extend_from_slice(&value);
    }
}

/// Why a serialized job was refused.
#[derive(Debug, PartialEq, Eq)]
pub struct CorruptJob;

/// Decodes one serialized job that fills `data` exactly, its queue name a
/// copy of its own. Unknown extension fields are skipped; a known one with a
/// bad value is corrupt.
pub fn decode(data: &Bytes, form: Form, now_ms: u64) -> Result<Decoded, CorruptJob> {
    decode_named(data, form, now_ms, QueueName::new)
}

/// [`decode`] with the job's queue name given by `queue_name` (a node shares
/// the name it already holds, allocating nothing).
pub fn decode_named(
    data: &Bytes,
    form: Form,
    now_ms: u64,
    queue_name: impl FnOnce(&[u8]) -> QueueName,
) -> Result<Decoded, CorruptJob> {
    let now_s = now_ms / 1000;
    let mut r = Reader { data, pos: 0 };
    let len = r.u32()? as usize;
    if len != data.len() - 4 || len < HEADER_LEN {
        return Err(CorruptJob);
    }
    let id = JobId::parse(r.take(ID_LEN)?).ok_or(CorruptJob)?;
    let state = JobState::from_code(r.u8()? & 0x0f).ok_or(CorruptJob)?;
    let flags = r.u8()? & !FLAG_NACK_DELAY;
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
    let mut nodes = SmallVec::with_capacity(count);
    for _ in 0..count {
        nodes.push(NodeId::parse(r.take(ID_LEN)?).ok_or(CorruptJob)?);
    }
    let (mut priority, mut dead_letter, mut nack_delay_until) = (DEFAULT_PRIORITY, None, 0);
    while r.pos != data.len() {
        let tag = r.u8()?;
        let value = r.bytes()?;
        match tag {
            EXT_PRIORITY if value.len() == 1 && value[0] <= 9 => priority = value[0],
            EXT_DEAD_LETTER if value.len() >= 4 => {
                let max_deliveries = u32::from_le_bytes([value[0], value[1], value[2], value[3]]);
                // ADDJOB's rules: a positive count, a queue other than the
                // job's own (a peer or a damaged file could send what ADDJOB
                // refuses).
                if max_deliveries == 0 || value[4..] == *queue {
                    return Err(CorruptJob);
                }
                // A copy: the name must not keep a bus frame or AOF buffer alive.
                dead_letter = Some(Box::new(DeadLetter {
                    queue: Bytes::copy_from_slice(&value[4..]),
                    max_deliveries,
                }));
            }
            EXT_NACK_DELAY if value.len() == 8 => {
                let at = u64::from_le_bytes(value[..].try_into().map_err(|_| CorruptJob)?);
                nack_delay_until = match form {
                    Form::Storage => at,
                    Form::Message => now_ms.saturating_add(at),
                }
                .max(1);
            }
            EXT_PRIORITY | EXT_DEAD_LETTER | EXT_NACK_DELAY => return Err(CorruptJob),
            _ => {}
        }
    }
    let etime = match form {
        Form::Storage => etime,
        Form::Message => now_s.saturating_add(etime),
    };
    let job = Job::new(JobSpec {
        id,
        state,
        flags,
        repl,
        etime,
        ctime,
        delay,
        retry,
        priority,
        nacks,
        additional_deliveries,
        queue: Some(queue_name(queue)),
        body: Some(Body::new(body)),
        nodes_delivered: Default::default(),
        dead_letter,
        qtime: 0,
    });
    Ok(Decoded {
        job,
        nodes,
        nack_delay_until,
    })
}

struct Reader<'a> {
    data: &'a Bytes,
    pos: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], CorruptJob> {
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
    /// A u32 length, then that many bytes, borrowed (every field the
    /// decoder keeps is copied into the job's own allocations).
    fn bytes(&mut self) -> Result<&'a [u8], CorruptJob> {
        let n = self.u32()? as usize;
        self.take(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample_spec() -> JobSpec {
        JobSpec {
            id: JobId::parse(b"D-00000000-AAAAAAAAAAAAAAAAAAAAAAAA-0001").unwrap(),
            state: JobState::Queued,
            flags: FLAG_DELIVERED | 1,
            repl: 3,
            etime: 1000,
            ctime: 42,
            delay: 1,
            retry: 2,
            priority: DEFAULT_PRIORITY,
            nacks: 3,
            additional_deliveries: 4,
            queue: Some(QueueName::new(b"q")),
            body: Some(Body::new(b"body")),
            nodes_delivered: vec![NodeId([b'a'; 40])].into(),
            dead_letter: None,
            qtime: 0,
        }
    }

    fn sample() -> Job {
        let mut job = Job::new(sample_spec());
        for _ in 0..3 {
            job.count_gc_attempt();
        }
        job
    }

    fn extended() -> Job {
        let mut spec = sample_spec();
        spec.priority = 9;
        spec.dead_letter = Some(Box::new(DeadLetter {
            queue: Bytes::from_static(b"dead"),
            max_deliveries: 3,
        }));
        spec.flags |= FLAG_NACK_DELAY;
        spec.qtime = 5_000_000;
        Job::new(spec)
    }

    #[test]
    fn round_trip_both_forms() {
        let job = sample();
        let mut out = BytesMut::new();
        encode(&job, Form::Storage, 0, &mut out);
        let d = decode(&out.freeze(), Form::Storage, 0).unwrap();
        assert_eq!(d.job.etime(), 1000);
        assert_eq!(d.job.flags(), job.flags());
        assert_eq!(d.job.body().map(|b| &b[..]), Some(&b"body"[..]));
        assert_eq!(job.nodes_delivered()[..], d.nodes[..]);

        let mut out = BytesMut::new();
        encode(&job, Form::Message, 990_000, &mut out);
        let d = decode(&out.freeze(), Form::Message, 2_000_000).unwrap();
        assert_eq!(d.job.etime(), 2011);
        assert_eq!(d.job.flags() & FLAG_DELIVERED, 0);
    }

    #[test]
    fn every_truncation_is_refused() {
        for job in [sample(), extended()] {
            let mut out = BytesMut::new();
            encode(&job, Form::Storage, 0, &mut out);
            let full = out.freeze();
            for cut in 0..full.len() {
                assert!(decode(&full.slice(..cut), Form::Storage, 0).is_err());
            }
        }
    }

    #[test]
    fn a_job_without_the_new_options_has_no_extension() {
        let job = sample();
        let mut out = BytesMut::new();
        encode(&job, Form::Storage, 0, &mut out);
        let nodes_end = 4 + HEADER_LEN + 4 + 1 + 4 + 4 + 4 + ID_LEN;
        assert_eq!(out.len(), nodes_end);
    }

    #[test]
    fn the_extension_round_trips_in_both_forms() {
        let job = extended();
        let mut out = BytesMut::new();
        encode(&job, Form::Storage, 0, &mut out);
        assert_eq!(
            out[4 + 41] & FLAG_NACK_DELAY,
            0,
            "never in the header flags"
        );
        let d = decode(&out.freeze(), Form::Storage, 0).unwrap();
        assert_eq!(d.job.priority(), 9);
        assert_eq!(d.job.dead_letter(), job.dead_letter());
        assert_eq!(d.nack_delay_until, 5_000_000);
        assert_eq!(d.job.flags() & FLAG_NACK_DELAY, 0);

        let mut out = BytesMut::new();
        encode(&job, Form::Message, 4_000_000, &mut out);
        let d = decode(&out.freeze(), Form::Message, 7_000_000).unwrap();
        assert_eq!(d.nack_delay_until, 8_000_000);
    }

    #[test]
    fn bad_extension_values_are_refused_and_unknown_fields_skipped() {
        let mut out = BytesMut::new();
        encode(&sample(), Form::Storage, 0, &mut out);
        let with = |field: &[u8]| {
            let mut rec = out.to_vec();
            rec.extend_from_slice(field);
            let len = (rec.len() - 4) as u32;
            rec[..4].copy_from_slice(&len.to_le_bytes());
            decode(&Bytes::from(rec), Form::Storage, 0)
        };
        assert!(with(&[EXT_PRIORITY, 1, 0, 0, 0, 10]).is_err());
        assert!(with(&[EXT_PRIORITY, 2, 0, 0, 0, 1, 1]).is_err());
        assert!(with(&[EXT_DEAD_LETTER, 5, 0, 0, 0, 0, 0, 0, 0, b'q']).is_err());
        assert!(with(&[EXT_NACK_DELAY, 1, 0, 0, 0, 1]).is_err());
        // A dead-letter queue equal to the job's own ("q"), as ADDJOB refuses.
        assert!(with(&[EXT_DEAD_LETTER, 5, 0, 0, 0, 3, 0, 0, 0, b'q']).is_err());
        assert!(with(&[EXT_DEAD_LETTER, 5, 0, 0, 0, 3, 0, 0, 0, b'd']).is_ok());
        assert_eq!(
            with(&[EXT_PRIORITY, 1, 0, 0, 0, 0]).unwrap().job.priority(),
            0
        );
        assert_eq!(with(&[99, 2, 0, 0, 0, 1, 2]).unwrap().job.priority(), 5);
    }
}
