//! A damaged trace gives a clean error or a recovered prefix, never a panic: random bit flips
//! and truncations over a real recorded trace, plus hostile model text in every report format.
mod common;
use common::*;
use rkbench::trace::reader::{parse, TraceError};

fn recorded_trace() -> Vec<u8> {
    let dir = tempdir("robust");
    let out = dir.join("t.rktrace");
    let o = record(
        &c_lib("1.2.1"),
        &out,
        &["--suite", "quick"],
        &[("C_RKLLM_TOKENS", "24")],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    std::fs::read(&out).unwrap()
}

struct XorShift(u64);
impl XorShift {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

#[test]
fn random_bit_flips_and_truncations_never_panic() {
    let good = recorded_trace();
    let clean = parse(&good, "t".into()).unwrap();
    assert!(clean.damage.is_none());
    let mut rng = XorShift(0x2545_F491_4F6C_DD1D);
    let (mut recovered, mut refused) = (0, 0);
    for case in 0..1500 {
        let mut b = good.clone();
        if case % 2 == 0 {
            for _ in 0..1 + rng.next() % 4 {
                let i = (rng.next() as usize) % b.len();
                b[i] ^= 1 << (rng.next() % 8);
            }
        } else {
            b.truncate((rng.next() as usize) % b.len());
        }
        let r = std::panic::catch_unwind(|| parse(&b, "t".into()));
        match r {
            Err(_) => panic!("case {case}: the reader panicked"),
            Ok(Ok(t)) => {
                recovered += 1;
                // Whatever was recovered is a prefix of the original requests.
                assert!(t.requests.len() <= clean.requests.len(), "case {case}");
                if b.len() < good.len() {
                    assert!(
                        t.damage.is_some()
                            || t.frames < clean.frames
                            || b.len() == t.valid_len as usize,
                        "case {case}"
                    );
                }
                // And every report format renders it.
                for f in [
                    rkbench::report::Format::Markdown,
                    rkbench::report::Format::Json,
                ] {
                    let _ = rkbench::report::render(&t, f);
                }
            }
            Ok(Err(
                TraceError::NotATrace { .. }
                | TraceError::NoHeader { .. }
                | TraceError::NewerFormat { .. }
                | TraceError::DamagedHeader { .. },
            )) => refused += 1,
            Ok(Err(e)) => panic!("case {case}: unexpected error {e}"),
        }
    }
    assert!(
        recovered > 100 && refused > 10,
        "recovered {recovered}, refused {refused}"
    );
}

#[test]
fn hostile_model_text_cannot_break_reports() {
    use rkbench::trace::*;
    let hostile = "``` fence\n</pre><script>alert(1)</script>\u{1b}[31m | pipe | \"q\",x\r\n<!-- c -->\u{0}\u{2028}";
    let req = RequestRecord {
        test_id: "t".into(),
        name: "<b>n</b>".into(),
        prompt: hostile.into(),
        tokens: TokenColumns {
            token_dt_us: vec![1000, 100],
            token_ids: vec![1, 2],
            text_len: vec![hostile.len() as u16, 0],
            text: hostile.as_bytes().to_vec(),
            ..TokenColumns::default()
        },
        end_us: 1200,
        ..Default::default()
    };
    let trace = Trace {
        path: "x.rktrace".into(),
        format_minor: 0,
        header: RunHeader::default(),
        requests: vec![req],
        telemetry: vec![],
        end: None,
        frames: 2,
        file_len: 0,
        damage: None,
        valid_len: 0,
        skipped_unknown: 0,
        journal_requests: 0,
        impossible: Vec::new(),
        server: None,
        inputs: vec![],
        templates: vec![],
        preset: None,
        input_options: None,
        runtime: Default::default(),
        power: Default::default(),
        load: Default::default(),
    };
    let md = rkbench::report::render(&trace, rkbench::report::Format::Markdown);
    // The response fence must be longer than any backtick run inside it.
    assert!(md.contains("````text\n``` fence"), "{md}");
    assert!(!md.contains('\u{1b}') && !md.contains('\u{0}'));
    assert!(md.contains("&lt;b&gt;n&lt;/b&gt;"));
    let json = rkbench::report::render(&trace, rkbench::report::Format::Json);
    let v: serde_json::Value = serde_json::from_str(&json).expect("valid JSON");
    assert_eq!(v["requests"][0]["response"], hostile);
    assert!(!json.contains("<script>"));
}
