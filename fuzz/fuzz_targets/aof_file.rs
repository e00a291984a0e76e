//! AOF files: the record reader reports records, a truncation or a bad offset
//! for any bytes, and replaying the records into a node never panics.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| disque_fuzz::aof_file(data));
