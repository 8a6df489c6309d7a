//! Fuzz the HTTP/1.1 response decoder (status line, headers, interim 1xx heads, Content-Length,
//! chunked framing, trailers, close-delimited bodies): any bytes, split into reads anywhere,
//! must give a head, body bytes, an end or one error line — never a panic, a hang or more
//! buffered than its bounds.
//!
//! An input is a response; its first byte picks the read size (1..=256 bytes), so the same
//! response is also decoded torn at every kind of boundary.
#![no_main]
use libfuzzer_sys::fuzz_target;
use rkbench::http::response::{ResponseDecoder, MAX_HEAD};

fuzz_target!(|data: &[u8]| {
    let Some((&first, rest)) = data.split_first() else {
        return;
    };
    let step = usize::from(first) + 1;
    let mut d = ResponseDecoder::new();
    let mut body = Vec::new();
    let mut failed = false;
    for read in rest.chunks(step) {
        let before = body.len();
        match d.feed(read, &mut body) {
            Ok(fed) => {
                if fed.head {
                    assert!((200..=999).contains(&d.status()), "interim heads are skipped");
                }
                if fed.end {
                    assert!(d.is_done());
                }
            }
            Err(e) => {
                assert!(!e.0.contains('\n'), "one line: {e}");
                failed = true;
            }
        }
        // Body bytes come only from input bytes.
        assert!(body.len() - before <= read.len());
        if failed || d.is_done() {
            break;
        }
    }
    assert!(body.len() <= rest.len());
    if !failed {
        let _ = d.eof();
    }
    let head: usize = d.headers().iter().map(|(k, v)| k.len() + v.len()).sum();
    assert!(head <= MAX_HEAD);
});
