//! Cluster bus frames: any byte stream, in any chunking, is decoded into frames
//! or refused; a decoded frame re-encodes to the same bytes; never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| disque_fuzz::bus_frame(data));
