#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| zgnode::fuzz::rpc_request(data));
