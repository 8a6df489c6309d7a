//! Incremental framing of a streamed body into events: Server-Sent Events (OpenAI-compatible
//! servers), newline-delimited JSON (Ollama, rkllama's `/api/*`) or blank-line-separated JSON
//! (Rockchip's `/rkllm_chat`). Bytes arrive in arbitrary pieces; an event is emitted when its
//! last byte arrives, with the body offset where it ended.
//!
//! What it buffers is bounded ([`MAX_EVENT`]): a server sending an endless line or event ends
//! the stream with an error instead of growing memory without bound.

/// The longest line, and the longest event (an SSE event's `data:` lines together, a
/// blank-line object). Events are small JSON objects, except the cumulative messages of
/// Rockchip's `/rkllm_chat`, which repeat the whole answer so far at ~110 bytes a character:
/// 8 MiB holds the message of a 70,000-character answer, far past its 4096-token cap.
pub const MAX_EVENT: usize = 8 << 20;

/// The body's framing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Framing {
    Sse,
    Ndjson,
    /// Objects each followed by an empty line, no `data:` (Rockchip's `/rkllm_chat` writes
    /// `json.dumps(obj) + "\n\n"`; `json.dumps` never puts a raw newline inside).
    BlankLine,
}

/// One framed event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Frame {
    /// SSE `data:` payload (lines joined by `\n`) or one NDJSON line.
    Data(String),
    /// SSE comment line (`: ping`), the server's keep-alive.
    Comment(String),
    /// SSE `data: [DONE]`.
    Done,
}

/// The splitter: feed bytes, collect `(frame, end offset)`.
#[derive(Debug)]
pub struct Splitter {
    framing: Framing,
    line: Vec<u8>,
    offset: u64,
    data: Option<String>,
    /// An event passed [`MAX_EVENT`]: nothing more is framed.
    over: bool,
}

impl Splitter {
    pub fn new(framing: Framing) -> Self {
        Splitter {
            framing,
            line: Vec::new(),
            offset: 0,
            data: None,
            over: false,
        }
    }

    /// Body bytes consumed so far.
    pub fn offset(&self) -> u64 {
        self.offset
    }

    /// Frame `bytes`. An error (one line) when a line or an event passes [`MAX_EVENT`]: the
    /// frames before it are in `out`, and nothing after it is framed.
    pub fn feed(&mut self, bytes: &[u8], out: &mut Vec<(Frame, u64)>) -> Result<(), String> {
        if self.over {
            return Err(self.too_large());
        }
        for &b in bytes {
            self.offset += 1;
            if b == b'\n' {
                let mut line = std::mem::take(&mut self.line);
                if line.last() == Some(&b'\r') {
                    line.pop();
                }
                self.line_done(&line, out);
            } else {
                self.line.push(b);
            }
            // The event so far and the line being read: both wait in memory.
            if self.line.len() + self.data.as_ref().map_or(0, String::len) > MAX_EVENT {
                self.over = true;
                self.line = Vec::new();
                self.data = None;
                return Err(self.too_large());
            }
        }
        Ok(())
    }

    fn too_large(&self) -> String {
        let what = match self.framing {
            Framing::Sse => "SSE event",
            Framing::Ndjson => "NDJSON line",
            Framing::BlankLine => "/rkllm_chat message",
        };
        format!(
            "one {what} is larger than the {} MiB limit for one event (not a stream rkbench can time); the chunks before it are kept: check the server",
            MAX_EVENT >> 20
        )
    }

    /// The stream ended: an unterminated last line or event still counts. Returns whether there
    /// was one (the body was cut inside an event: for blank-line framing, where the server ends
    /// every object with an empty line, that is a stream cut short).
    pub fn finish(&mut self, out: &mut Vec<(Frame, u64)>) -> bool {
        if self.over {
            return true;
        }
        let mut torn = false;
        if !self.line.is_empty() {
            let line = std::mem::take(&mut self.line);
            self.line_done(&line, out);
            torn = true;
        }
        if self.framing != Framing::Ndjson {
            torn |= self.data.is_some();
            self.dispatch(out);
        }
        torn
    }

    fn line_done(&mut self, line: &[u8], out: &mut Vec<(Frame, u64)>) {
        let text = String::from_utf8_lossy(line);
        match self.framing {
            Framing::Ndjson => {
                if !text.trim().is_empty() {
                    out.push((Frame::Data(text.into_owned()), self.offset));
                }
            }
            Framing::BlankLine => {
                if line.is_empty() {
                    self.dispatch(out);
                } else {
                    match &mut self.data {
                        Some(d) => {
                            d.push('\n');
                            d.push_str(&text);
                        }
                        None => self.data = Some(text.into_owned()),
                    }
                }
            }
            Framing::Sse => {
                if line.is_empty() {
                    self.dispatch(out);
                } else if let Some(c) = text.strip_prefix(':') {
                    out.push((Frame::Comment(c.trim().to_string()), self.offset));
                } else {
                    let (field, value) = match text.split_once(':') {
                        Some((f, v)) => (f, v.strip_prefix(' ').unwrap_or(v)),
                        None => (text.as_ref(), ""),
                    };
                    if field == "data" {
                        match &mut self.data {
                            Some(d) => {
                                d.push('\n');
                                d.push_str(value);
                            }
                            None => self.data = Some(value.to_string()),
                        }
                    }
                    // `event:`, `id:`, `retry:` carry nothing rkbench times.
                }
            }
        }
    }

    fn dispatch(&mut self, out: &mut Vec<(Frame, u64)>) {
        if let Some(d) = self.data.take() {
            let frame = if self.framing == Framing::Sse && d.trim() == "[DONE]" {
                Frame::Done
            } else {
                Frame::Data(d)
            };
            out.push((frame, self.offset));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split_all(framing: Framing, parts: &[&[u8]]) -> Vec<(Frame, u64)> {
        let mut s = Splitter::new(framing);
        let mut out = Vec::new();
        for p in parts {
            s.feed(p, &mut out).unwrap();
        }
        s.finish(&mut out);
        out
    }

    #[test]
    fn sse_events_comments_and_done() {
        let body = b": ping\r\n\r\ndata: {\"a\":1}\r\n\r\nevent: x\ndata: l1\ndata: l2\n\ndata: [DONE]\n\n";
        let got = split_all(Framing::Sse, &[body]);
        assert_eq!(
            got.iter().map(|(f, _)| f.clone()).collect::<Vec<_>>(),
            vec![
                Frame::Comment("ping".into()),
                Frame::Data("{\"a\":1}".into()),
                Frame::Data("l1\nl2".into()),
                Frame::Done
            ]
        );
        assert_eq!(got.last().unwrap().1, body.len() as u64);
        // Every split into two reads gives the same frames at the same offsets.
        for cut in 0..=body.len() {
            assert_eq!(
                split_all(Framing::Sse, &[&body[..cut], &body[cut..]]),
                got,
                "cut {cut}"
            );
        }
    }

    #[test]
    fn blank_line_objects_and_a_torn_tail() {
        let body = b"{\"a\":1}\n\n{\"b\":2}\n\n{\"c\"";
        let mut s = Splitter::new(Framing::BlankLine);
        let mut out = Vec::new();
        s.feed(body, &mut out).unwrap();
        assert_eq!(
            out,
            vec![
                (Frame::Data("{\"a\":1}".into()), 9),
                (Frame::Data("{\"b\":2}".into()), 18)
            ]
        );
        assert!(s.finish(&mut out), "cut inside the third object");
        assert_eq!(out[2], (Frame::Data("{\"c\"".into()), 22));
        // An object whose blank line never came is torn too; a whole body is not.
        let mut s = Splitter::new(Framing::BlankLine);
        s.feed(b"{\"a\":1}\n", &mut out).unwrap();
        assert!(s.finish(&mut out));
        let mut s = Splitter::new(Framing::BlankLine);
        s.feed(b"{\"a\":1}\n\n", &mut out).unwrap();
        assert!(!s.finish(&mut out));
    }

    #[test]
    fn ndjson_lines_and_unterminated_tail() {
        let body = b"{\"x\":1}\n\n{\"y\":2}";
        let got = split_all(Framing::Ndjson, &[body]);
        assert_eq!(
            got,
            vec![
                (Frame::Data("{\"x\":1}".into()), 8),
                (Frame::Data("{\"y\":2}".into()), 16)
            ]
        );
    }

    #[test]
    fn an_endless_line_or_event_stops_at_the_bound_keeping_the_frames_before() {
        let piece = vec![b'x'; 64 * 1024];
        for (framing, start) in [
            (Framing::Sse, &b"data: {}\n\ndata: "[..]),
            (Framing::Ndjson, &b"{}\n"[..]),
            (Framing::BlankLine, &b"{}\n\n"[..]),
        ] {
            let mut s = Splitter::new(framing);
            let mut out = Vec::new();
            s.feed(start, &mut out).unwrap();
            let err = (0..1000)
                .find_map(|_| s.feed(&piece, &mut out).err())
                .expect("bounded");
            assert!(
                err.contains("larger than the 8 MiB limit for one event"),
                "{err}"
            );
            assert_eq!(out.len(), 1, "{framing:?}: the frame before is kept");
            assert!(s.feed(b"\n\n", &mut out).is_err(), "nothing framed after");
            assert!(s.finish(&mut out));
            assert_eq!(out.len(), 1);
        }
        // An event of many short data lines is bounded as a whole.
        let mut s = Splitter::new(Framing::Sse);
        let mut out = Vec::new();
        let lines = b"data: xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\n".repeat(1000);
        let err = (0..1000).find_map(|_| s.feed(&lines, &mut out).err());
        assert!(err.is_some());
        assert!(out.is_empty());
    }
}
