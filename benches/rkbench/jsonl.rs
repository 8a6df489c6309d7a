//! The same per-token data as JSON Lines, the way a straightforward tool would log it: one
//! object per token with request id, token index, time, token id, state and text.
use rkbench::trace::RequestRecord;
use std::io::{self, Write};

/// Bytes written: the whole file, and the part that is token text (the escaped string contents).
#[derive(Clone, Copy, Default, Debug)]
pub struct Written {
    pub bytes: u64,
    pub text_bytes: u64,
    pub tokens: u64,
}

impl Written {
    pub fn add(&mut self, o: Written) {
        self.bytes += o.bytes;
        self.text_bytes += o.text_bytes;
        self.tokens += o.tokens;
    }
}

/// Write every token of `reqs`. `t_us` is µs since the request's t0, multiplied by `time_mul`
/// (to restore board-speed values for a trace recorded with a time-scaled simulator).
pub fn write(reqs: &[RequestRecord], time_mul: u64, w: &mut impl Write) -> io::Result<Written> {
    let mut out = Written::default();
    let mut line = String::with_capacity(256);
    for r in reqs {
        let (mut t, mut off, mut wi) = (0u64, 0usize, 0usize);
        for k in 0..r.tokens.token_dt_us.len() {
            t += u64::from(r.tokens.token_dt_us[k]);
            let len = usize::from(r.tokens.text_len[k]);
            let text = String::from_utf8_lossy(r.tokens.text.get(off..off + len).unwrap_or(&[]));
            off += len;
            let waiting = r.tokens.waiting.get(wi) == Some(&(k as u32));
            if waiting {
                wi += 1;
            }
            let text = serde_json::to_string(&text).expect("string to JSON");
            line.clear();
            use std::fmt::Write as _;
            let _ = writeln!(
                line,
                "{{\"request\":{},\"token\":{},\"t_us\":{},\"token_id\":{},\"state\":{},\"text\":{}}}",
                r.index,
                k,
                t * time_mul,
                r.tokens.token_ids[k],
                u8::from(waiting),
                text
            );
            w.write_all(line.as_bytes())?;
            out.bytes += line.len() as u64;
            out.text_bytes += text.len() as u64 - 2;
            out.tokens += 1;
        }
    }
    Ok(out)
}
