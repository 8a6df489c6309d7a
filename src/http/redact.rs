//! The server's API key (`RKBENCH_API_KEY`): read and checked once, and its exact bytes kept
//! out of everything rkbench records or prints. A server or a proxy may echo the key in an error
//! body, a stream or a probe answer; each such place gets [`MARKER`] instead, and the request
//! says where. Redaction works on assembled units (a whole request's chunk texts, a detail, a
//! probe answer), never on raw socket reads, so a key split across two reads is still found.
use crate::error::{Error, Result};
use crate::trace::server::{ChunkKind, ServerRequest};
use crate::trace::Fact;

/// The environment variable holding a server's API key (sent as a bearer token).
pub const API_KEY_VAR: &str = "RKBENCH_API_KEY";

/// What stands where the key was.
pub const MARKER: &str = "[REDACTED:RKBENCH_API_KEY]";

/// The key from the environment (`None`: unset or empty). A key holding a control character
/// (CR, LF, NUL, …) would end the `Authorization` header line and inject headers of its own,
/// and one that is not UTF-8 cannot be a header value: both are refused, without printing it.
pub fn api_key_from_env() -> Result<Option<String>> {
    let Some(raw) = std::env::var_os(API_KEY_VAR) else {
        return Ok(None);
    };
    let Some(key) = raw.to_str() else {
        return Err(Error::usage(format!(
            "{API_KEY_VAR} is not valid UTF-8; set it to the key exactly as the server expects it (printable text)"
        )));
    };
    if key.chars().any(char::is_control) {
        return Err(Error::usage(format!(
            "{API_KEY_VAR} holds a control character (CR, LF, tab or another); it is sent as an HTTP header, so set it to the key alone, without line breaks"
        )));
    }
    Ok(Some(key.to_string()).filter(|k| !k.is_empty()))
}

/// The key to keep out of the record (`None`: no key, nothing to do).
#[derive(Debug, Clone, Default)]
pub struct Secret(Option<String>);

impl Secret {
    pub fn new(key: Option<&str>) -> Secret {
        Secret(key.filter(|k| !k.is_empty()).map(str::to_string))
    }

    /// `text` with every occurrence of the key replaced by [`MARKER`]; whether there was one.
    pub fn text(&self, text: &mut String) -> bool {
        match &self.0 {
            Some(k) if text.contains(k.as_str()) => {
                *text = text.replace(k.as_str(), MARKER);
                true
            }
            _ => false,
        }
    }

    /// Facts (probe answers, evidence) with the key redacted; whether it was in any.
    pub fn facts(&self, facts: &mut [Fact]) -> bool {
        let mut found = false;
        for f in facts {
            found |= self.text(&mut f.key);
            found |= self.text(&mut f.value);
        }
        found
    }

    /// Every text field of `req` that holds what the server sent, and its chunk texts (as one
    /// byte stream, so a key split between two chunks is found too). Returns where the key
    /// was: `chunk 3`, `detail`, … (chunk numbers 0-based, as in the chunk CSV).
    pub fn request(&self, req: &mut ServerRequest) -> Vec<String> {
        let Some(k) = &self.0 else {
            return Vec::new();
        };
        let mut wh: Vec<String> =
            chunk_texts(&mut req.chunk_text_len, &mut req.chunk_text, k.as_bytes())
                .into_iter()
                .map(|i| match req.kind(i) {
                    ChunkKind::Error => format!("error body (chunk {i})"),
                    _ => format!("chunk {i}"),
                })
                .collect();
        let fields = [
            ("detail", &mut req.detail),
            ("idle wait", &mut req.idle_wait),
            ("finish_reason", &mut req.finish_reason),
            ("count field", &mut req.server_total_field),
        ];
        for (name, f) in fields {
            if self.text(f) {
                wh.push(name.into());
            }
        }
        let mut timings = false;
        for t in &mut req.timings {
            timings |= self.text(&mut t.field);
        }
        if timings {
            wh.push("timings".into());
        }
        wh
    }
}

/// Replaces each occurrence of `key` in `text` (the chunks' bytes, back to back; chunk `i` is
/// `lens[i]` bytes long) by [`MARKER`], in the chunk where the occurrence starts; bytes of it
/// in later chunks are removed from them. Returns the chunks where an occurrence started.
fn chunk_texts(lens: &mut [u32], text: &mut Vec<u8>, key: &[u8]) -> Vec<usize> {
    let hits: Vec<usize> = find_all(text, key);
    if hits.is_empty() {
        return Vec::new();
    }
    let mut out = Vec::with_capacity(text.len());
    let mut new_lens = vec![0u32; lens.len()];
    let mut found = Vec::new();
    let (mut chunk, mut chunk_end) = (0usize, lens.first().map_or(0, |&l| l as usize));
    let mut next_hit = hits.iter().peekable();
    let mut at = 0usize;
    while at < text.len() {
        while chunk_end <= at && chunk + 1 < lens.len() {
            chunk += 1;
            chunk_end += lens[chunk] as usize;
        }
        if next_hit.peek() == Some(&&at) {
            next_hit.next();
            out.extend_from_slice(MARKER.as_bytes());
            if let Some(l) = new_lens.get_mut(chunk) {
                *l = l.saturating_add(MARKER.len() as u32);
            }
            if found.last() != Some(&chunk) {
                found.push(chunk);
            }
            at += key.len();
            continue;
        }
        out.push(text[at]);
        if let Some(l) = new_lens.get_mut(chunk) {
            *l = l.saturating_add(1);
        }
        at += 1;
    }
    lens.copy_from_slice(&new_lens);
    *text = out;
    found
}

/// Start offsets of the non-overlapping occurrences of `key` in `text`, left to right.
fn find_all(text: &[u8], key: &[u8]) -> Vec<usize> {
    let mut v = Vec::new();
    let mut at = 0;
    while at + key.len() <= text.len() {
        if text[at..].starts_with(key) {
            v.push(at);
            at += key.len();
        } else {
            at += 1;
        }
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_split_between_chunks_is_redacted_in_the_chunk_where_it_starts() {
        let s = Secret::new(Some("sk-123"));
        let mut r = ServerRequest::default();
        for t in ["ab sk-", "12", "3 cd", "sk-123"] {
            r.push_chunk(
                0,
                0,
                0,
                crate::trace::server::ChunkKind::Content,
                None,
                t.as_bytes(),
            );
        }
        r.detail = "HTTP 401: bad key sk-123".into();
        let wh = s.request(&mut r);
        assert_eq!(wh, ["chunk 0", "chunk 3", "detail"]);
        let texts: Vec<&[u8]> = (0..4).map(|i| r.chunk_text(i)).collect();
        assert_eq!(
            texts,
            [
                format!("ab {MARKER}").as_bytes(),
                b"",
                b" cd",
                MARKER.as_bytes()
            ]
        );
        assert_eq!(r.detail, format!("HTTP 401: bad key {MARKER}"));
        // No key: nothing changes.
        assert!(Secret::new(None).request(&mut r).is_empty());
    }

    #[test]
    fn facts_and_texts_are_redacted() {
        let s = Secret::new(Some("k"));
        let mut f = vec![Fact {
            key: "probe GET /".into(),
            value: "HTTP 401: k".into(),
        }];
        assert!(s.facts(&mut f));
        assert_eq!(f[0].value, format!("HTTP 401: {MARKER}"));
        let mut t = "nothing".to_string();
        assert!(!Secret::new(Some("zz")).text(&mut t));
    }
}
