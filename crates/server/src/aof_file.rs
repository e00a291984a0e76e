//! Reading AOF files record by record, with the file offset of every record, for
//! the loader and for `disque-check-aof`. What the bytes mean is decided by the
//! core's [`RecordSplitter`], which the simulator uses too.

pub use disque_core::files::Next;
use disque_core::files::RecordSplitter;
use std::io::{self, Read};

/// Bytes read from the file at a time.
const CHUNK: usize = 1 << 20;

/// Reads records from an AOF.
pub struct RecordReader<R: Read> {
    source: R,
    records: RecordSplitter,
    chunk: Vec<u8>,
    eof: bool,
}

impl<R: Read> RecordReader<R> {
    /// A reader at the start of `source`.
    pub fn new(source: R) -> RecordReader<R> {
        RecordReader {
            source,
            records: RecordSplitter::new(),
            chunk: Vec::new(),
            eof: false,
        }
    }

    /// Offset in the file of the next record.
    pub fn offset(&self) -> u64 {
        self.records.offset()
    }

    /// The next record, or why there is none.
    pub fn next_record(&mut self) -> io::Result<Next> {
        loop {
            if let Some(next) = self.records.next_record(self.eof) {
                return Ok(next);
            }
            self.chunk.resize(CHUNK, 0);
            let n = self.source.read(&mut self.chunk)?;
            self.records.feed(&self.chunk[..n]);
            self.eof = n == 0;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A source that hands out one byte per read.
    struct Trickle<'a>(&'a [u8]);

    impl Read for Trickle<'_> {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            let Some((first, rest)) = self.0.split_first() else {
                return Ok(0);
            };
            buf[0] = *first;
            self.0 = rest;
            Ok(1)
        }
    }

    #[test]
    fn reads_records_from_a_source_in_pieces() {
        let rec = b"*2\r\n$6\r\nDELJOB\r\n$3\r\nabc\r\n*1\r\n$2";
        let mut reader = RecordReader::new(Trickle(rec));
        assert!(matches!(
            reader.next_record().unwrap(),
            Next::Record { offset: 0, .. }
        ));
        assert_eq!(reader.offset(), 25);
        assert!(matches!(
            reader.next_record().unwrap(),
            Next::Truncated { offset: 25 }
        ));
    }
}
