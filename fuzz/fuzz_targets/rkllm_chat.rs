//! Fuzz the parser of Rockchip's cumulative `/rkllm_chat` messages (each message repeats every
//! earlier choice; only those beyond the ones seen are new): any sequence of messages must give
//! a chunk per message and a `seen` count that follows the messages — never a panic.
//!
//! An input is messages separated by blank lines, as the server frames them.
#![no_main]
use libfuzzer_sys::fuzz_target;
use rkbench::http::chunk::rkllm_chat;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let mut seen = 0usize;
    for message in text.split("\n\n") {
        let before = seen;
        let p = rkllm_chat(message, &mut seen);
        assert!(p.kind.is_some());
        // `seen` only moves to a list's length, which a message's bytes bound.
        assert!(seen == before || seen <= message.len());
    }
});
