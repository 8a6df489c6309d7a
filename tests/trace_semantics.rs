//! Frames written by the project's own writer (valid crc32, valid layout) whose contents cannot
//! be true: `verify` names each as "corrupt: frame N at byte B (kind): fact" with exit 5, and
//! `report` drops that frame with the same line, reads every other frame, and calls the run
//! INVALID. One crafted trace per fact, for every record kind that states a checkable fact.
mod common;

use rkbench::trace::server::{ChunkKind, ServerRequest, ServerRun};
use rkbench::trace::writer::create_run;
use rkbench::trace::{
    Record, RequestInput, RequestRecord, RunEnd, RunHeader, RuntimeObservation, Series,
    TelemetryBatch, TokenChunk, TokenColumns, TraceWriter,
};
use std::path::{Path, PathBuf};

/// A server request as recorded: role, two text chunks, finish; 1 ms to 9 ms after t0.
fn server_request(index: u32) -> ServerRequest {
    let mut r = ServerRequest {
        index,
        test_id: format!("t{index}"),
        start_us: 100_000 * u64::from(index + 1),
        headers_us: Some(900),
        first_byte_us: Some(1_000),
        done_us: Some(9_000),
        close_us: Some(9_000),
        end_us: 9_500,
        finish_reason: "stop".into(),
        ..Default::default()
    };
    r.push_chunk(1_000, 1, 40, ChunkKind::Role, None, b"");
    r.push_chunk(2_000, 2, 80, ChunkKind::Content, None, b"Hel");
    r.push_chunk(3_000, 3, 120, ChunkKind::Content, None, b"lo");
    r.push_chunk(9_000, 4, 200, ChunkKind::Finish, None, b"{}");
    r.chunk_tokens = vec![0, 1, 1, 0];
    r
}

/// A runtime request as recorded: two tokens, FINISH at 5 ms.
fn runtime_request(index: u32) -> RequestRecord {
    let mut r = RequestRecord {
        index,
        test_id: format!("r{index}"),
        start_us: 100_000 * u64::from(index + 1),
        end_us: 5_000,
        return_us: 5_100,
        final_state: 2,
        ..Default::default()
    };
    r.tokens.push(3_000, 1, b"Hi", false);
    r.tokens.push(1_000, 2, b"!", true);
    r
}

fn telemetry() -> TelemetryBatch {
    TelemetryBatch {
        t_us: vec![0, 500_000, 1_000_000],
        series: vec![Series {
            key: "npu.freq".into(),
            unit: "Hz".into(),
            values: vec![1, 2, 3],
        }],
    }
}

fn end() -> Record {
    Record::End(RunEnd {
        end_us: 2_000_000,
        requests: 2,
        ..Default::default()
    })
}

/// Byte offset of every frame of a trace or journal file.
fn frame_offsets(bytes: &[u8]) -> Vec<u64> {
    let mut at = 16usize;
    let mut out = Vec::new();
    while at + 16 <= bytes.len() {
        out.push(at as u64);
        let len = u32::from_le_bytes(bytes[at..at + 4].try_into().unwrap()) as usize;
        at += 16 + ((len + 15) & !15);
    }
    out
}

fn write(dir: &Path, name: &str, records: &[Record]) -> PathBuf {
    let p = dir.join(name);
    let mut w = TraceWriter::create(&p).unwrap();
    for r in records {
        w.append(r).unwrap();
    }
    w.sync().unwrap();
    p
}

/// `verify` and `report` on `p`: verify exits 5 naming frame `frame` (and its byte offset)
/// and `fact`; report drops it with the same line and calls the run INVALID.
fn assert_dropped(p: &Path, frame: usize, journal: bool, kind: &str, fact: &str) {
    let file = if journal {
        rkbench::trace::journal_path(p)
    } else {
        p.to_path_buf()
    };
    let at = frame_offsets(&std::fs::read(&file).unwrap())[frame];
    let line = format!(
        "corrupt: {}frame {frame} at byte {at} ({kind}): ",
        if journal { "journal " } else { "" }
    );
    let o = common::run(&["verify", p.to_str().unwrap()], &[]);
    let out = common::stdout(&o);
    assert_eq!(o.status.code(), Some(5), "{out}");
    assert!(
        out.contains(&line) && out.contains(fact) && out.contains("that frame was dropped"),
        "want {line}…{fact}\n{out}"
    );
    let o = common::run(&["report", "--format", "json", p.to_str().unwrap()], &[]);
    assert!(o.status.success(), "{}", common::stderr(&o));
    let err = common::stderr(&o);
    assert!(err.contains(&line) && err.contains(fact), "{err}");
    let j: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(j["verdict"]["result"], "INVALID");
    assert!(
        j["verdict"]["reasons"].as_array().unwrap().iter().any(|r| r
            .as_str()
            .unwrap()
            .contains("cannot be true and were dropped")),
        "{}",
        j["verdict"]
    );
}

fn server_trace(dir: &Path, name: &str, bad: ServerRequest) -> PathBuf {
    write(
        dir,
        name,
        &[
            Record::Header(RunHeader::default()),
            Record::ServerRun(ServerRun {
                kind: "generic".into(),
                ..Default::default()
            }),
            Record::ServerRequest(server_request(0)),
            Record::ServerRequest(bad),
            end(),
        ],
    )
}

#[test]
fn an_intact_crafted_trace_verifies_ok() {
    let dir = common::tempdir("sem-ok");
    let p = server_trace(&dir, "ok.rktrace", server_request(1));
    let o = common::run(&["verify", p.to_str().unwrap()], &[]);
    assert_eq!(o.status.code(), Some(0), "{}", common::stdout(&o));
    assert!(common::stdout(&o).contains(": ok ("));
    let p = write(
        &dir,
        "rt.rktrace",
        &[
            Record::Header(RunHeader::default()),
            Record::Request(runtime_request(0)),
            Record::Telemetry(telemetry()),
            end(),
        ],
    );
    let o = common::run(&["verify", p.to_str().unwrap()], &[]);
    assert_eq!(o.status.code(), Some(0), "{}", common::stdout(&o));
}

/// One field changed in a recorded request.
type Change = Box<dyn Fn(&mut ServerRequest)>;

/// Server requests: each impossible fact on its own, in frame 3 of an otherwise sound trace;
/// the report still has request 0.
#[test]
fn impossible_server_requests_are_named_and_dropped() {
    let dir = common::tempdir("sem-server");
    let cases: Vec<(&str, Change, &str)> = vec![
        (
            "ttft-after-e2e",
            Box::new(|r| r.end_us = 1_500),
            "its end of stream at 9000 µs is after it ended at 1500 µs",
        ),
        (
            "ttft-after-e2e-chunks",
            Box::new(|r| {
                r.first_byte_us = None;
                r.done_us = None;
                r.close_us = None;
                r.end_us = 2_500
            }),
            "its last chunk at 9000 µs is after it ended at 2500 µs",
        ),
        (
            "584000-years",
            // 584,000 years after a start 200 ms into the run.
            Box::new(|r| r.end_us = u64::MAX - 200_000),
            "request 1 ends at 18446744073709551615 µs on the run's clock, after the run ended at 2000000 µs",
        ),
        (
            "past-the-run",
            Box::new(|r| r.end_us = 1 << 50),
            "after the run ended at 2000000 µs",
        ),
        (
            "columns",
            Box::new(|r| {
                r.chunk_kind.pop();
            }),
            "per-chunk columns of different lengths (chunk_us 4, chunk_kind 3)",
        ),
        (
            "text-lengths",
            Box::new(|r| r.chunk_text_len[1] = 40),
            "the chunk text lengths add up to 44 bytes, the text holds 7",
        ),
        (
            "times-go-back",
            Box::new(|r| r.chunk_us[2] = 500),
            "chunk 2 arrived at 500 µs, before chunk 1 at 2000 µs",
        ),
        (
            "73M-tok-s",
            Box::new(|r| r.chunk_tokens[2] = 70_000_000),
            "70000001 tokens attributed to 2 token chunk(s), more than 16 per chunk",
        ),
    ];
    for (name, change, fact) in cases {
        let mut bad = server_request(1);
        change(&mut bad);
        let p = server_trace(&dir, &format!("{name}.rktrace"), bad);
        assert_dropped(&p, 3, false, "server request", fact);
        let t = common::read_trace(&p);
        let s = t.server.as_ref().unwrap();
        assert_eq!(s.requests.len(), 1, "{name}: request 0 kept, 1 dropped");
        assert!(t.end.is_some(), "{name}: the frames after it are read");
    }
}

/// The u64::MAX end: start + end wraps, which is past any clock (checked before the run's end).
#[test]
fn a_request_past_any_clock_is_named() {
    let dir = common::tempdir("sem-clock");
    let mut bad = server_request(1);
    bad.end_us = u64::MAX;
    let p = server_trace(&dir, "clock.rktrace", bad);
    assert_dropped(&p, 3, false, "server request", "is past any clock");
}

/// Runtime records: requests, telemetry, inputs, runtime observations.
#[test]
fn impossible_runtime_records_are_named_and_dropped() {
    let dir = common::tempdir("sem-runtime");
    let header = Record::Header(RunHeader::default());
    let req = |f: &dyn Fn(&mut RequestRecord)| {
        let mut r = runtime_request(1);
        f(&mut r);
        Record::Request(r)
    };
    let cases: Vec<(&str, Record, &str, &str)> = vec![
        (
            "ttft-after-e2e",
            req(&|r| r.end_us = 2_000),
            "request",
            "its first token at 3000 µs is after its end at 2000 µs (TTFT longer than E2E)",
        ),
        (
            "columns",
            req(&|r| {
                r.tokens.token_ids.pop();
            }),
            "request",
            "per-token columns of different lengths (times 2, ids 1, text lengths 2)",
        ),
        (
            "text",
            req(&|r| r.tokens.text.push(b'x')),
            "request",
            "the token text lengths add up to 3 bytes, the text holds 4",
        ),
        (
            "waiting",
            req(&|r| r.tokens.waiting = vec![7]),
            "request",
            "waiting token index 7 is out of order or outside tokens 0..2",
        ),
        (
            "past-the-run",
            req(&|r| r.end_us = 1 << 40),
            "request",
            "after the run ended at 2000000 µs",
        ),
        (
            "telemetry-lengths",
            Record::Telemetry(TelemetryBatch {
                series: vec![Series {
                    key: "npu.freq".into(),
                    values: vec![1],
                    ..Default::default()
                }],
                ..telemetry()
            }),
            "telemetry",
            "telemetry series \"npu.freq\" has 1 values for 3 sample times",
        ),
        (
            "telemetry-back",
            Record::Telemetry(TelemetryBatch {
                t_us: vec![0, 9, 3],
                ..telemetry()
            }),
            "telemetry",
            "telemetry sample times go back, from 9 µs to 3 µs",
        ),
        (
            "input",
            Record::Input(RequestInput {
                index: 1,
                input_type: 1,
                n_tokens: 8,
                first_id: 5,
                id_span: 0,
            }),
            "request input",
            "token ids cycle over a span of 0 ids",
        ),
        (
            "observation",
            Record::RuntimeObs(RuntimeObservation {
                index: 1,
                abort_us: -7,
                ..Default::default()
            }),
            "runtime observation",
            "abort at -7 µs",
        ),
    ];
    for (name, bad, kind, fact) in cases {
        let p = write(
            &dir,
            &format!("{name}.rktrace"),
            &[
                header.clone(),
                Record::Request(runtime_request(0)),
                bad,
                end(),
            ],
        );
        assert_dropped(&p, 2, false, kind, fact);
        let t = common::read_trace(&p);
        assert_eq!(t.requests.len(), 1, "{name}");
        assert!(t.end.is_some(), "{name}");
    }
}

/// Journal frames of a run that did not end: token checkpoints and server checkpoints.
#[test]
fn impossible_journal_frames_are_named_and_dropped() {
    let dir = common::tempdir("sem-journal");
    let mut bad_server = server_request(1);
    bad_server.chunk_read.pop();
    let cases: Vec<(&str, Record, &str, &str)> = vec![
        (
            "tokens",
            Record::Tokens(TokenChunk {
                index: 1,
                first: 0,
                tokens: TokenColumns {
                    token_dt_us: vec![10, 10],
                    token_ids: vec![1, 2],
                    waiting: vec![],
                    text_len: vec![1],
                    text: b"a".to_vec(),
                },
            }),
            "token checkpoint",
            "per-token columns of different lengths (times 2, ids 2, text lengths 1)",
        ),
        (
            "server-partial",
            Record::ServerPartial(bad_server),
            "server request checkpoint",
            "per-chunk columns of different lengths (chunk_us 4, chunk_read 3)",
        ),
    ];
    for (name, bad, kind, fact) in cases {
        let p = dir.join(format!("{name}.rktrace"));
        let (mut w, mut j) = create_run(&p).unwrap();
        let header = RunHeader::default();
        w.append(&Record::Header(header.clone())).unwrap();
        w.append(&Record::Request(runtime_request(0))).unwrap();
        w.sync().unwrap();
        j.bind(&p, &header).unwrap();
        j.append(&Record::Partial(RequestRecord {
            index: 1,
            status: rkbench::trace::Status::InFlight,
            ..Default::default()
        }))
        .unwrap();
        j.append(&bad).unwrap();
        j.sync().unwrap();
        drop((w, j));
        assert_dropped(&p, 2, true, kind, fact);
    }
}
