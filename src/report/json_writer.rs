//! A small JSON writer with deterministic output: keys in the order written, two-space
//! indentation, numbers in fixed precision (no shortest-round-trip surprises across builds).
use std::fmt::Write;

/// An integer JSON prints as itself: each type's own decimal digits, never cast to `i64`
/// first (a `u64` count above `i64::MAX` would print negative).
pub(crate) trait Integer: std::fmt::Display {}
macro_rules! integers {
    ($($t:ty),*) => { $(impl Integer for $t {})* };
}
integers!(u8, u16, u32, u64, u128, usize, i8, i16, i32, i64, i128, isize);

pub(crate) struct JsonWriter {
    out: String,
    /// Per open container: whether it already has an element.
    stack: Vec<bool>,
    pending_key: bool,
    /// One line, no spaces (`rkbench dump`'s JSON Lines); otherwise indented.
    compact: bool,
}

impl Default for JsonWriter {
    fn default() -> Self {
        Self::new()
    }
}

impl JsonWriter {
    pub(crate) fn new() -> Self {
        JsonWriter {
            out: String::new(),
            stack: Vec::new(),
            pending_key: false,
            compact: false,
        }
    }

    /// A writer of one-line JSON (no newline inside; [`JsonWriter::finish`] ends the line).
    pub(crate) fn compact() -> Self {
        JsonWriter {
            compact: true,
            ..Self::new()
        }
    }

    pub(crate) fn finish(mut self) -> String {
        self.out.push('\n');
        self.out
    }

    fn indent(&mut self) {
        if self.compact {
            return;
        }
        self.out.push('\n');
        for _ in 0..self.stack.len() {
            self.out.push_str("  ");
        }
    }

    fn before_value(&mut self) {
        if self.pending_key {
            self.pending_key = false;
            return;
        }
        if let Some(has) = self.stack.last_mut() {
            let comma = *has;
            *has = true;
            if comma {
                self.out.push(',');
            }
            self.indent();
        }
    }

    pub(crate) fn key(&mut self, k: &str) -> &mut Self {
        self.before_value();
        self.string_raw(k);
        self.out.push_str(if self.compact { ":" } else { ": " });
        self.pending_key = true;
        self
    }

    pub(crate) fn begin_object(&mut self) -> &mut Self {
        self.before_value();
        self.out.push('{');
        self.stack.push(false);
        self
    }

    pub(crate) fn end_object(&mut self) -> &mut Self {
        self.close('}')
    }

    pub(crate) fn begin_array(&mut self) -> &mut Self {
        self.before_value();
        self.out.push('[');
        self.stack.push(false);
        self
    }

    pub(crate) fn end_array(&mut self) -> &mut Self {
        self.close(']')
    }

    fn close(&mut self, c: char) -> &mut Self {
        let had = self.stack.pop().unwrap_or(false);
        if had {
            self.indent();
        }
        self.out.push(c);
        self
    }

    fn string_raw(&mut self, s: &str) {
        self.out.push('"');
        for c in s.chars() {
            match c {
                '"' => self.out.push_str("\\\""),
                '\\' => self.out.push_str("\\\\"),
                '\n' => self.out.push_str("\\n"),
                '\r' => self.out.push_str("\\r"),
                '\t' => self.out.push_str("\\t"),
                // Also escape characters that break JSON embedded in HTML/JS.
                c if (c as u32) < 0x20
                    || c == '\u{2028}'
                    || c == '\u{2029}'
                    || c == '<'
                    || c == '>' =>
                {
                    let _ = write!(self.out, "\\u{:04x}", c as u32);
                }
                c => self.out.push(c),
            }
        }
        self.out.push('"');
    }

    pub(crate) fn str(&mut self, s: &str) -> &mut Self {
        self.before_value();
        self.string_raw(s);
        self
    }

    pub(crate) fn int(&mut self, v: impl Integer) -> &mut Self {
        self.before_value();
        let _ = write!(self.out, "{v}");
        self
    }

    /// An unsigned integer, exact over its whole range (`int` stops at `i64::MAX`).
    pub(crate) fn uint(&mut self, v: u64) -> &mut Self {
        self.before_value();
        let _ = write!(self.out, "{v}");
        self
    }

    /// A value another writer already rendered, inserted as is (e.g. a compact object as one
    /// element of an indented array: one event per line keeps a large export diffable).
    pub(crate) fn raw(&mut self, json: &str) -> &mut Self {
        self.before_value();
        self.out.push_str(json);
        self
    }

    pub(crate) fn bool(&mut self, v: bool) -> &mut Self {
        self.before_value();
        self.out.push_str(if v { "true" } else { "false" });
        self
    }

    pub(crate) fn null(&mut self) -> &mut Self {
        self.before_value();
        self.out.push_str("null");
        self
    }

    /// A number with `decimals` fixed decimals; `null` if absent or not finite.
    pub(crate) fn num(&mut self, v: Option<f64>, decimals: usize) -> &mut Self {
        match crate::analysis::fixed(v, decimals) {
            Some(s) => {
                self.before_value();
                self.out.push_str(&s);
                self
            }
            None => self.null(),
        }
    }

    pub(crate) fn field_str(&mut self, k: &str, v: &str) -> &mut Self {
        self.key(k).str(v)
    }
    pub(crate) fn field_int(&mut self, k: &str, v: impl Integer) -> &mut Self {
        self.key(k).int(v)
    }
    pub(crate) fn field_num(&mut self, k: &str, v: Option<f64>, d: usize) -> &mut Self {
        self.key(k).num(v, d)
    }
    pub(crate) fn field_bool(&mut self, k: &str, v: bool) -> &mut Self {
        self.key(k).bool(v)
    }
    /// `k` with the string, or `null` when there is none.
    pub(crate) fn field_opt_str(&mut self, k: &str, v: Option<&str>) -> &mut Self {
        self.key(k);
        match v {
            Some(v) => self.str(v),
            None => self.null(),
        }
    }
    /// `k` with the integer (exact, whatever its type), or `null` when there is none.
    pub(crate) fn field_opt_int(&mut self, k: &str, v: Option<impl Integer>) -> &mut Self {
        self.key(k);
        match v {
            Some(v) => self.int(v),
            None => self.null(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_valid_deterministic_json() {
        let mut w = JsonWriter::new();
        w.begin_object();
        w.field_str("a", "x\"<y>\n");
        w.field_num("b", Some(-0.0001), 2);
        w.field_num("c", None, 2);
        w.key("d").begin_array().int(1).int(2).end_array();
        w.key("e").begin_object().end_object();
        w.end_object();
        let s = w.finish();
        let v: serde_json::Value = serde_json::from_str(&s).unwrap();
        assert_eq!(v["a"], "x\"<y>\n");
        assert_eq!(v["b"], serde_json::json!(0.0));
        assert!(v["c"].is_null());
        let mut o = JsonWriter::compact();
        o.begin_object()
            .field_opt_str("s", Some("x"))
            .field_opt_str("n", None)
            .field_opt_int("u", Some(u64::MAX))
            .field_opt_int("i", None::<i64>)
            .end_object();
        assert_eq!(
            o.finish(),
            "{\"s\":\"x\",\"n\":null,\"u\":18446744073709551615,\"i\":null}\n"
        );
        let mut c = JsonWriter::compact();
        c.begin_object().field_str("a", "x\ny");
        c.key("d").begin_array().int(1).uint(u64::MAX).end_array();
        c.end_object();
        assert_eq!(
            c.finish(),
            "{\"a\":\"x\\ny\",\"d\":[1,18446744073709551615]}\n"
        );
        let mut r = JsonWriter::new();
        r.begin_array().raw("{\"x\":1}").raw("2").end_array();
        assert_eq!(r.finish(), "[\n  {\"x\":1},\n  2\n]\n");
        assert_eq!(s, "{\n  \"a\": \"x\\\"\\u003cy\\u003e\\n\",\n  \"b\": 0.00,\n  \"c\": null,\n  \"d\": [\n    1,\n    2\n  ],\n  \"e\": {}\n}\n");
    }
}
