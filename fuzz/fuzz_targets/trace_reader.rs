//! Fuzz the trace reader (validated rkyv access only) and every renderer over what it recovers:
//! any byte string must give a clean error or a recovered prefix, never a panic or UB.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(trace) = rkbench::trace::reader::parse(data, "fuzz.rktrace".into()) {
        let _ = rkbench::report::render(&trace, rkbench::report::Format::Json);
        let _ = rkbench::report::render(&trace, rkbench::report::Format::Markdown);
    }
});
