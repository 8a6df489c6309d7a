//! Figure 2: trace bytes per token, and a realistic run's file beside the same data as JSON Lines.
use crate::jsonl;
use crate::util::{thousands, Env, Report};
use rkbench::trace::{kind, reader, ArchivedRequestRecord, ArchivedTokenChunk};
use serde_json::json;
use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

/// The simulator's time scale for the recorded run, and the checkpoint interval that gives the
/// same checkpoint cadence per token as the default 1 s at board speed.
const SCALE: f64 = 0.001;
const CHECKPOINT_AT_SCALE: &str = "1ms";

/// Record the default suite with the real binary; returns the trace path.
fn record(env: &Env, out_tokens: u32, name: &str, checkpoint: Option<&str>) -> std::path::PathBuf {
    let path = env.scratch.join(format!("{name}.rktrace"));
    let mut c = Command::new(&env.rkbench);
    c.arg("record")
        .arg("--lib")
        .arg(&env.fake_lib)
        .arg("--model")
        .arg(&env.model)
        .args(["--suite", "default", "-q", "--out"])
        .arg(&path);
    if let Some(i) = checkpoint {
        c.args(["--checkpoint-interval", i]);
    }
    for (k, _) in crate::callback::ZERO_DELAY {
        c.env_remove(k);
    }
    let o = c
        .env_remove("RKLLM_LIB")
        .env("FAKE_RKLLM_TIME_SCALE", SCALE.to_string())
        .env("FAKE_RKLLM_OUTPUT_TOKENS", out_tokens.to_string())
        .output()
        .expect("run rkbench record");
    assert!(
        o.status.success(),
        "rkbench record failed: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    path
}

/// Bytes of the file by record kind (frame header + payload + padding), and token text bytes in
/// each kind.
#[derive(Default, Debug)]
struct Kind {
    frames: u64,
    bytes: u64,
    text: u64,
}

fn breakdown(path: &Path, text_in_requests: u64) -> BTreeMap<&'static str, Kind> {
    let bytes = std::fs::read(path).expect("read trace");
    let mut kinds: BTreeMap<&'static str, Kind> = BTreeMap::new();
    kinds.entry("file header").or_default().bytes = 16;
    let mut off = 16;
    while off + 16 <= bytes.len() {
        let len = u32::from_le_bytes(bytes[off..off + 4].try_into().unwrap()) as usize;
        let frame = 16 + ((len + 15) & !15);
        let name = match bytes[off + 10] {
            kind::HEADER => "header",
            kind::REQUEST => "request (final)",
            kind::PARTIAL => "partial (checkpoint)",
            kind::TOKENS => "tokens (checkpoint)",
            kind::TELEMETRY => "telemetry",
            kind::END => "end",
            _ => "unknown",
        };
        let k = kinds.entry(name).or_default();
        k.frames += 1;
        k.bytes += frame as u64;
        off += frame;
    }
    assert_eq!(off, bytes.len(), "whole file parsed");
    kinds.entry("request (final)").or_default().text = text_in_requests;
    kinds
}

pub fn run(env: &Env, out: &mut Report) {
    let per_request = env.size(300, 60);
    out.section(&format!(
        "2. Trace bytes per token (default suite, 10 requests × {per_request} tokens, simulated text)"
    ));
    out.line(
        "size.fixed_bytes_per_token",
        "fixed per-token arrays: dt u32 + id i32",
        json!(8),
        "8 B/token (+ text_len u16 = 2 B/token indexing the text)",
    );
    out.goal(
        "Fixed per-token arrays (dt + id)",
        "8 B (10 B with text_len)".into(),
        "≤ 8 B/token",
        Some(true),
    );
    // Each frame's payload is the archived root of its own kind (no enum padding).
    let chunk = std::mem::size_of::<ArchivedTokenChunk>();
    let request = std::mem::size_of::<ArchivedRequestRecord>();
    out.line(
        "size.archived_root_bytes",
        "fixed part of the archived roots",
        json!({"token_chunk": chunk, "request": request}),
        &format!("a Tokens chunk (journal) {chunk} B, a Request {request} B, plus their arrays"),
    );
    for (name, checkpoint, label) in [(
        "board_cadence",
        Some(CHECKPOINT_AT_SCALE),
        "checkpoints at a board run's cadence go to the journal, deleted at the clean end",
    )] {
        let path = record(env, per_request, name, checkpoint);
        let trace = reader::read(&path).expect("read trace");
        assert!(trace.damage.is_none() && trace.end.is_some(), "clean trace");
        let tokens: u64 = trace
            .requests
            .iter()
            .map(|r| r.tokens.token_dt_us.len() as u64)
            .sum();
        let file = std::fs::metadata(&path).unwrap().len();
        let text_in_requests: u64 = trace
            .requests
            .iter()
            .map(|r| r.tokens.text.len() as u64)
            .sum();
        let kinds = breakdown(&path, text_in_requests);
        let text_all: u64 = kinds.values().map(|k| k.text).sum();
        let final_kind = &kinds["request (final)"];
        let checkpoint_bytes: u64 = kinds
            .iter()
            .filter(|(k, _)| k.contains("checkpoint"))
            .map(|(_, v)| v.bytes)
            .sum();
        let non_text = (file - text_all) as f64 / tokens as f64;
        let final_non_text = (final_kind.bytes - final_kind.text) as f64 / tokens as f64;
        let mut jl = Vec::new();
        let board_time = (1.0 / SCALE) as u64;
        let w = jsonl::write(&trace.requests, board_time, &mut jl).unwrap();
        let w_raw = jsonl::write(&trace.requests, 1, &mut std::io::sink()).unwrap();
        let j_non_text = (w.bytes - w.text_bytes) as f64 / tokens as f64;
        println!("   -- {name} trace ({label})");
        out.line(
            &format!("size.{name}.file_bytes"),
            "trace file",
            json!({"bytes": file, "tokens": tokens, "text_bytes": text_all, "checkpoint_bytes": checkpoint_bytes}),
            &format!(
                "{} B for {} tokens ({} B of it token text, {} B checkpoints)",
                thousands(file),
                thousands(tokens),
                thousands(text_all),
                thousands(checkpoint_bytes)
            ),
        );
        for (k, v) in &kinds {
            let frames = if *k == "file header" {
                "-".to_string()
            } else {
                v.frames.to_string()
            };
            out.note(&format!(
                "     {k:<22} {frames:>4} frames {:>9} B  ({} B text)",
                thousands(v.bytes),
                thousands(v.text)
            ));
        }
        out.line(
            &format!("size.{name}.non_text_bytes_per_token"),
            "(file − text) / tokens",
            json!(non_text),
            &format!("{non_text:.2} B/token"),
        );
        out.line(
            &format!("size.{name}.request_frames_non_text_bytes_per_token"),
            "final request frames only: (bytes − text) / tokens",
            json!(final_non_text),
            &format!("{final_non_text:.2} B/token"),
        );
        out.line(
            &format!("size.{name}.jsonl_bytes"),
            "same data as JSON Lines",
            json!({"bytes": w.bytes, "text_bytes": w.text_bytes, "bytes_at_scaled_times": w_raw.bytes}),
            &format!(
                "{} B ({j_non_text:.1} B/token without text; {} B with the 1000× scaled times)",
                thousands(w.bytes),
                thousands(w_raw.bytes)
            ),
        );
        let ratio_total = w.bytes as f64 / file as f64;
        let ratio_non_text = j_non_text / non_text;
        out.line(
            &format!("size.{name}.ratio_total"),
            "JSON Lines / trace, whole file",
            json!(ratio_total),
            &format!("{ratio_total:.1}×"),
        );
        out.line(
            &format!("size.{name}.ratio_non_text"),
            "JSON Lines / trace, without text",
            json!(ratio_non_text),
            &format!("{ratio_non_text:.1}×"),
        );
        if name == "board_cadence" {
            out.goal(
                "Trace B/token w/o text (board cadence)",
                format!("{non_text:.2} B"),
                "≤ 8 B/token",
                Some(non_text <= 8.0),
            );
            out.goal(
                "JSON Lines / trace size (board cadence)",
                format!("{ratio_total:.1}×"),
                "≥ 10×",
                Some(ratio_total >= 10.0),
            );
        } else {
            out.goal(
                "Trace B/token w/o text (no chunks)",
                format!("{non_text:.2} B"),
                "≤ 8 B/token",
                Some(non_text <= 8.0),
            );
            out.goal(
                "JSON Lines / trace size (no chunks)",
                format!("{ratio_total:.1}×"),
                "≥ 10×",
                Some(ratio_total >= 10.0),
            );
        }
    }
    out.note(
        "JSON t_us are restored to board time (recorded at FAKE_RKLLM_TIME_SCALE=0.001, × 1000).",
    );
}
