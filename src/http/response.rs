//! The framing of one HTTP/1.1 response, socket-free: feed it the bytes of each `read()` as they
//! come and it yields the final head, the decoded body bytes and the end. Interim 1xx answers
//! (100 Continue, 103 Early Hints) are skipped; the body is `Content-Length`, chunked (with
//! trailers) or delimited by the server closing.
//!
//! Why its own module: every byte a server sends reaches it, so it is pure (fuzzed on its own,
//! `fuzz/fuzz_targets/http_response.rs`), each input byte is looked at once (no re-scanning of
//! a growing buffer), and everything it buffers is bounded: a line of the head, the heads
//! together, a chunk-size line, a trailer line and the trailers together. Body bytes are never
//! buffered here; they go straight to the caller.

/// All heads of one response together (interim 1xx heads included), and so any one line of them.
pub const MAX_HEAD: usize = 64 * 1024;
/// One chunk-size line (`1a3f;ext=…`).
pub const MAX_CHUNK_LINE: usize = 1024;
/// The trailers after the last chunk together (and so any one trailer line).
pub const MAX_TRAILER: usize = 64 * 1024;

/// Why a response cannot be read: one line for the user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecodeError(pub String);

impl std::fmt::Display for DecodeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

fn bad<T>(msg: impl Into<String>) -> Result<T, DecodeError> {
    Err(DecodeError(msg.into()))
}

/// How the body is delimited, and where the decoder is in it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Reading the status line (of an interim or the final head).
    Status,
    /// Reading header lines.
    Headers,
    /// `Content-Length` bytes left.
    Length(u64),
    /// Until the server closes.
    Close,
    ChunkSize,
    /// Bytes of the current chunk left.
    ChunkData(u64),
    /// The CRLF after a chunk's data.
    ChunkEnd,
    Trailer,
    Done,
}

/// What one [`ResponseDecoder::feed`] completed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Fed {
    /// The final head is complete (see [`ResponseDecoder::status`], [`ResponseDecoder::headers`]).
    pub head: bool,
    /// The body is complete (by its length or its last chunk and trailers).
    pub end: bool,
}

/// The state machine of one response.
#[derive(Debug)]
pub struct ResponseDecoder {
    state: State,
    /// The line being read (head, chunk-size or trailer line), without its `\n`.
    line: Vec<u8>,
    /// Bytes of heads (or trailers) so far, against [`MAX_HEAD`] (or [`MAX_TRAILER`]).
    section: usize,
    status: u16,
    headers: Vec<(String, String)>,
}

impl Default for ResponseDecoder {
    fn default() -> Self {
        Self::new()
    }
}

impl ResponseDecoder {
    pub fn new() -> Self {
        ResponseDecoder {
            state: State::Status,
            line: Vec::new(),
            section: 0,
            status: 0,
            headers: Vec::new(),
        }
    }

    /// The final status (0 until the final head is complete).
    pub fn status(&self) -> u16 {
        self.status
    }

    /// The final head's headers, names lower-cased, in order.
    pub fn headers(&self) -> &[(String, String)] {
        &self.headers
    }

    /// The value of header `name` (lower-case), if present.
    pub fn header(&self, name: &str) -> Option<&str> {
        header(&self.headers, name)
    }

    /// The final head has been read.
    pub fn has_head(&self) -> bool {
        !matches!(self.state, State::Status | State::Headers)
    }

    /// The body is complete.
    pub fn is_done(&self) -> bool {
        self.state == State::Done
    }

    /// Decode the bytes of one read: body bytes are appended to `body` (also those before an
    /// error); bytes after the end of the response are ignored.
    pub fn feed(&mut self, mut input: &[u8], body: &mut Vec<u8>) -> Result<Fed, DecodeError> {
        let mut fed = Fed::default();
        while !input.is_empty() {
            match self.state {
                State::Done => break,
                State::Close => {
                    body.extend_from_slice(input);
                    break;
                }
                State::Length(n) | State::ChunkData(n) => {
                    let k = usize::try_from(n).unwrap_or(usize::MAX).min(input.len());
                    body.extend_from_slice(&input[..k]);
                    input = &input[k..];
                    let left = n - k as u64;
                    self.state = match self.state {
                        State::Length(_) if left == 0 => State::Done,
                        State::Length(_) => State::Length(left),
                        _ if left == 0 => State::ChunkEnd,
                        _ => State::ChunkData(left),
                    };
                    fed.end |= self.state == State::Done;
                }
                State::Status | State::Headers => {
                    let Some(line) = self.take_line(&mut input, MAX_HEAD, "response head")? else {
                        break;
                    };
                    self.head_line(&line, &mut fed)?;
                }
                State::ChunkSize => {
                    let Some(line) =
                        self.take_line(&mut input, MAX_CHUNK_LINE, "chunk-size line")?
                    else {
                        break;
                    };
                    let text = String::from_utf8_lossy(&line);
                    let hex = text.split(';').next().unwrap_or("").trim();
                    let size = u64::from_str_radix(hex, 16)
                        .ok()
                        .filter(|_| !hex.starts_with('+'))
                        .ok_or_else(|| {
                            DecodeError(format!("chunked body: bad chunk size {:?}", cut(hex)))
                        })?;
                    self.section = 0;
                    self.state = if size == 0 {
                        State::Trailer
                    } else {
                        State::ChunkData(size)
                    };
                }
                State::ChunkEnd => {
                    let Some(line) = self.take_line(&mut input, 2, "chunk")? else {
                        break;
                    };
                    if !line.is_empty() {
                        return bad("chunked body: missing CRLF after chunk data");
                    }
                    self.state = State::ChunkSize;
                }
                State::Trailer => {
                    let Some(line) = self.take_line(&mut input, MAX_TRAILER, "trailers")? else {
                        break;
                    };
                    if line.is_empty() {
                        self.state = State::Done;
                        fed.end = true;
                    }
                }
            }
        }
        Ok(fed)
    }

    /// The server closed the connection: whether the body ended cleanly there (it is
    /// close-delimited, or already complete). An error if no final head came.
    pub fn eof(&mut self) -> Result<bool, DecodeError> {
        let clean = match self.state {
            State::Status | State::Headers => {
                return bad(if self.section == 0 && self.line.is_empty() {
                    "the server closed the connection before sending a response"
                } else {
                    "the server closed the connection inside the response head"
                })
            }
            State::Close | State::Done => true,
            _ => false,
        };
        self.state = State::Done;
        Ok(clean)
    }

    /// Take one line (to `\n`, a `\r` before it dropped) from `input`, or keep its start for the
    /// next feed; `limit` bounds the line and the section it belongs to (`what`).
    fn take_line(
        &mut self,
        input: &mut &[u8],
        limit: usize,
        what: &str,
    ) -> Result<Option<Vec<u8>>, DecodeError> {
        let (part, rest, done) = match input.iter().position(|&b| b == b'\n') {
            Some(i) => (&input[..i], &input[i + 1..], true),
            None => (*input, &input[input.len()..], false),
        };
        let consumed = input.len() - rest.len();
        if self.section + self.line.len() + consumed > limit {
            return bad(match what {
                "chunk" => "chunked body: missing CRLF after chunk data".to_string(),
                _ => format!("{what} larger than {}", size(limit)),
            });
        }
        self.line.extend_from_slice(part);
        *input = rest;
        if !done {
            return Ok(None);
        }
        // Head and trailer lines count against their section, not only their own length.
        if matches!(self.state, State::Status | State::Headers | State::Trailer) {
            self.section += self.line.len() + 1;
        }
        let mut line = std::mem::take(&mut self.line);
        if line.last() == Some(&b'\r') {
            line.pop();
        }
        Ok(Some(line))
    }

    fn head_line(&mut self, line: &[u8], fed: &mut Fed) -> Result<(), DecodeError> {
        let text = String::from_utf8_lossy(line);
        if self.state == State::Status {
            let mut parts = text.splitn(3, ' ');
            if !parts.next().unwrap_or("").starts_with("HTTP/1.") {
                return bad(format!("not an HTTP/1.x response: {:?}", cut(&text)));
            }
            self.status = parts
                .next()
                .filter(|c| c.len() == 3)
                .and_then(|c| c.parse::<u16>().ok())
                .filter(|c| (100..=999).contains(c))
                .ok_or_else(|| DecodeError(format!("bad status line {:?}", cut(&text))))?;
            self.headers.clear();
            self.state = State::Headers;
            return Ok(());
        }
        if !line.is_empty() {
            if let Some((k, v)) = text.split_once(':') {
                self.headers
                    .push((k.trim().to_ascii_lowercase(), v.trim().to_string()));
            }
            return Ok(());
        }
        // The blank line: the head is complete.
        match self.status {
            101 => {
                return bad(
                    "HTTP 101 Switching Protocols: rkbench asked for no protocol upgrade and speaks only HTTP/1.1",
                )
            }
            100..=199 => {
                // Interim (100 Continue, 103 Early Hints): the final answer follows.
                self.state = State::Status;
                self.status = 0;
                self.headers.clear();
                return Ok(());
            }
            _ => {}
        }
        self.state = self.body_framing()?;
        self.section = 0;
        fed.head = true;
        fed.end = self.state == State::Done;
        Ok(())
    }

    /// How the final head delimits its body; a compressed body is refused by name (rkbench
    /// sends `Accept-Encoding: identity` and times the bytes as they come: it cannot time a
    /// body it would have to decompress first).
    fn body_framing(&self) -> Result<State, DecodeError> {
        let all = |name: &str| -> Vec<String> {
            self.headers
                .iter()
                .filter(|(k, _)| k == name)
                .flat_map(|(_, v)| v.split(','))
                .map(|c| c.trim().to_ascii_lowercase())
                .filter(|c| !c.is_empty())
                .collect()
        };
        let compressed = |name: &str, ok: &[&str]| -> Result<(), DecodeError> {
            match all(name).iter().find(|c| !ok.contains(&c.as_str())) {
                Some(_) => bad(format!(
                    "the server answered with {}: {} although rkbench asked for identity (Accept-Encoding: identity); rkbench does not decompress: turn compression off in the server or in the proxy in front of it",
                    name_case(name),
                    cut(&self
                        .headers
                        .iter()
                        .filter(|(k, _)| k == name)
                        .map(|(_, v)| v.as_str())
                        .collect::<Vec<_>>()
                        .join(", "))
                )),
                None => Ok(()),
            }
        };
        compressed("content-encoding", &["identity"])?;
        compressed("transfer-encoding", &["chunked", "identity"])?;
        let te = all("transfer-encoding");
        if te.last().is_some_and(|c| c == "chunked") {
            return Ok(State::ChunkSize);
        }
        if !te.is_empty() {
            return Ok(State::Close);
        }
        let mut length: Option<u64> = None;
        for (_, v) in self.headers.iter().filter(|(k, _)| k == "content-length") {
            for part in v.split(',') {
                let n = part
                    .trim()
                    .parse::<u64>()
                    .ok()
                    .filter(|_| part.trim().bytes().all(|b| b.is_ascii_digit()))
                    .ok_or_else(|| DecodeError(format!("bad Content-Length {:?}", cut(v))))?;
                if length.is_some_and(|l| l != n) {
                    return bad(format!("conflicting Content-Length values {:?}", cut(v)));
                }
                length = Some(n);
            }
        }
        Ok(match length {
            Some(0) => State::Done,
            Some(n) => State::Length(n),
            None if self.status == 204 || self.status == 304 => State::Done,
            None => State::Close,
        })
    }
}

/// The value of header `name` (lower-case) in `headers`.
pub fn header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

fn name_case(name: &str) -> &'static str {
    match name {
        "content-encoding" => "Content-Encoding",
        _ => "Transfer-Encoding",
    }
}

/// At most 80 characters of `s`, for a message.
fn cut(s: &str) -> String {
    let mut c: String = s.chars().take(80).collect();
    if c.len() < s.len() {
        c.push('…');
    }
    c
}

fn size(n: usize) -> String {
    if n % 1024 == 0 {
        format!("{} KiB", n / 1024)
    } else {
        format!("{n} bytes")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Decode `reads` one after another: (status, body, ended, error).
    fn decode(reads: &[&[u8]]) -> (u16, Vec<u8>, bool, Option<String>) {
        let mut d = ResponseDecoder::new();
        let mut body = Vec::new();
        let mut end = false;
        for r in reads {
            match d.feed(r, &mut body) {
                Ok(f) => end |= f.end,
                Err(e) => return (d.status(), body, end, Some(e.0)),
            }
        }
        (d.status(), body, end, None)
    }

    #[test]
    fn every_split_of_a_chunked_response_decodes_the_same() {
        let all = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5;ext=1\r\nhello\r\n6\r\n world\r\n0\r\nX-T: 1\r\n\r\nextra";
        for a in 0..all.len() {
            for b in a..all.len() {
                let (status, body, end, err) = decode(&[&all[..a], &all[a..b], &all[b..]]);
                assert_eq!((status, end, err), (200, true, None), "{a} {b}");
                assert_eq!(body, b"hello world", "{a} {b}");
            }
        }
    }

    #[test]
    fn interim_answers_are_skipped_for_the_final_status() {
        let r = b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </style.css>; rel=preload\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
        let mut d = ResponseDecoder::new();
        let mut body = Vec::new();
        let fed = d.feed(r, &mut body).unwrap();
        assert!(fed.head && fed.end);
        assert_eq!((d.status(), body.as_slice()), (200, &b"ok"[..]));
        assert_eq!(
            d.header("link"),
            None,
            "the interim head's headers are not the answer's"
        );
        assert_eq!(d.header("content-length"), Some("2"));
        // 101 is not interim: nothing asked for an upgrade.
        let (_, _, _, err) = decode(&[b"HTTP/1.1 101 Switching Protocols\r\n\r\n"]);
        assert!(err.unwrap().contains("101"));
        // An endless run of interim heads stops at the head bound.
        let many = b"HTTP/1.1 103 Early Hints\r\n\r\n".repeat(MAX_HEAD / 20);
        let (_, _, _, err) = decode(&[&many]);
        assert!(err.unwrap().contains("response head larger than 64 KiB"));
    }

    #[test]
    fn compressed_answers_are_refused_by_name() {
        for (h, named) in [
            ("Content-Encoding: gzip", "Content-Encoding: gzip"),
            ("Content-Encoding: br", "Content-Encoding: br"),
            (
                "Transfer-Encoding: gzip, chunked",
                "Transfer-Encoding: gzip, chunked",
            ),
            ("Transfer-Encoding: deflate", "Transfer-Encoding: deflate"),
        ] {
            let r = format!("HTTP/1.1 200 OK\r\n{h}\r\n\r\n\x1f");
            let (_, body, _, err) = decode(&[r.as_bytes()]);
            let err = err.unwrap();
            assert!(err.contains(named), "{err}");
            assert!(err.contains("does not decompress"), "{err}");
            assert!(body.is_empty());
        }
        let (status, body, _, err) = decode(&[
            b"HTTP/1.1 200 OK\r\nContent-Encoding: identity\r\nContent-Length: 1\r\n\r\nx",
        ]);
        assert_eq!((status, body, err), (200, b"x".to_vec(), None));
    }

    #[test]
    fn every_line_is_bounded() {
        // An endless trailer line, an endless trailer section, an endless chunk-size line, an
        // endless header line and an endless status line: each an error at its bound.
        let head =
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nhi\r\n0\r\n".to_vec();
        let line = vec![b'a'; 4096];
        let mut d = ResponseDecoder::new();
        let mut body = Vec::new();
        d.feed(&head, &mut body).unwrap();
        let err = (0..100)
            .find_map(|_| d.feed(&line, &mut body).err())
            .unwrap();
        assert_eq!(err.0, "trailers larger than 64 KiB");
        assert_eq!(body, b"hi", "the data before is kept");
        let mut d = ResponseDecoder::new();
        d.feed(&head, &mut body).unwrap();
        let err = (0..20_000)
            .find_map(|_| d.feed(b"X: 1\r\n", &mut body).err())
            .unwrap();
        assert_eq!(err.0, "trailers larger than 64 KiB");
        let (_, _, _, err) = decode(&[
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n",
            &[b'0'; 2000],
        ]);
        assert_eq!(err.unwrap(), "chunk-size line larger than 1 KiB");
        let (_, _, _, err) = decode(&[b"HTTP/1.1 200 OK\r\nX: ", &[b'a'; 70_000]]);
        assert_eq!(err.unwrap(), "response head larger than 64 KiB");
        let (_, _, _, err) = decode(&[b"HTTP/1.1 200", &[b'a'; 70_000]]);
        assert_eq!(err.unwrap(), "response head larger than 64 KiB");
    }

    #[test]
    fn framing_errors_and_ends() {
        let (_, _, _, err) = decode(&[b"SSH-2.0-OpenSSH\r\n\r\n"]);
        assert!(err.unwrap().contains("not an HTTP/1.x response"));
        let (_, body, _, err) =
            decode(&[b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nab\r\nzz\r\n"]);
        assert!(err.unwrap().contains("bad chunk size"));
        assert_eq!(body, b"ab");
        let (_, _, _, err) =
            decode(&[b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nabX\r\n"]);
        assert!(err.unwrap().contains("missing CRLF"));
        let (_, _, _, err) = decode(&[b"HTTP/1.1 2000 OK\r\n\r\n"]);
        assert!(err.unwrap().contains("bad status line"));
        let (_, _, _, err) = decode(&[b"HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n"]);
        assert!(err.unwrap().contains("bad Content-Length"));
        let (_, _, _, err) =
            decode(&[b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n"]);
        assert!(err.unwrap().contains("conflicting Content-Length"));
        // A huge chunk size is only a number: the body is whatever arrives.
        let (_, body, end, err) = decode(&[
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nffffffffffffffff\r\nab",
        ]);
        assert_eq!((body.as_slice(), end, err), (&b"ab"[..], false, None));
        // Close-delimited: clean at EOF; a cut chunked body is not; no head is an error.
        let mut d = ResponseDecoder::new();
        d.feed(b"HTTP/1.0 200 OK\r\n\r\nxy", &mut Vec::new())
            .unwrap();
        assert_eq!(d.eof(), Ok(true));
        let mut d = ResponseDecoder::new();
        d.feed(
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhel",
            &mut Vec::new(),
        )
        .unwrap();
        assert_eq!(d.eof(), Ok(false));
        assert!(ResponseDecoder::new().eof().is_err());
        // 204 and Content-Length 0 end at the head.
        let mut d = ResponseDecoder::new();
        let f = d.feed(b"HTTP/1.1 204 No Content\r\n\r\n", &mut Vec::new());
        assert_eq!(
            f,
            Ok(Fed {
                head: true,
                end: true
            })
        );
    }
}
