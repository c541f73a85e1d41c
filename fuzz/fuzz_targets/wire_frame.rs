#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| zgnode::tools::fuzz::wire_frame(data));
