#![no_main]

use libfuzzer_sys::fuzz_target;
use trackd_protocol::Protocol;

fuzz_target!(|data: &[u8]| trackd_protocol_fuzz::run(Protocol::H02, data));
