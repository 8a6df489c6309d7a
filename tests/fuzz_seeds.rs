//! The `trace_reader` fuzz target's seeds of every record kind (fuzz/seeds/every-kind-*.bin,
//! impossible-frames.bin), written here with the project's own writer so they never drift from
//! the format: this test rebuilds them and fails when a committed seed differs (run it with
//! `RKBENCH_WRITE_SEEDS=1` to rewrite them after a deliberate format change), and checks that
//! each reads as described in fuzz/seeds/README.md.
mod common;

use rkbench::trace::reader::parse_with_journal;
use rkbench::trace::server::{ChunkKind, ServerRequest, ServerRun};
use rkbench::trace::writer::create_run;
use rkbench::trace::{
    Fact, InputOptions, LoadRun, PowerSamples, PowerSource, PresetUsed, Record, RequestInput,
    RequestRecord, RequestSent, RunEnd, RunHeader, RuntimeIdentity, RuntimeObservation, Series,
    Status, TelemetryBatch, TemplateSent, TokenChunk, TokenColumns,
};
use std::path::Path;

fn header() -> RunHeader {
    RunHeader {
        hostname: "seed".into(),
        started_unix_ms: 1_764_460_800_000,
        command_line: vec!["rkbench".into(), "record".into()],
        board: vec![Fact {
            key: "board.compatible".into(),
            value: "rockchip,rk3588".into(),
        }],
        ..Default::default()
    }
}

fn server_request(index: u32, status: Status) -> ServerRequest {
    let mut r = ServerRequest {
        index,
        test_id: format!("s{index}"),
        status,
        max_new_tokens: 32,
        start_us: 10_000 * u64::from(index + 1),
        headers_us: Some(500),
        first_byte_us: Some(600),
        done_us: Some(4_000),
        close_us: Some(4_100),
        end_us: 4_200,
        finish_reason: "stop".into(),
        server_total: Some(3),
        server_total_field: "usage.completion_tokens".into(),
        ..Default::default()
    };
    r.push_chunk(600, 1, 90, ChunkKind::Role, None, b"");
    r.push_chunk(1_000, 2, 180, ChunkKind::Content, Some(1), b"He");
    r.push_chunk(2_000, 3, 270, ChunkKind::Reasoning, Some(2), b"y");
    r.push_chunk(3_000, 3, 360, ChunkKind::Content, Some(3), "你".as_bytes());
    r.push_chunk(4_000, 4, 460, ChunkKind::Usage, None, b"{\"usage\":{}}");
    r.chunk_tokens = vec![0, 1, 1, 1, 0];
    r
}

fn runtime_request(index: u32, status: Status) -> RequestRecord {
    let mut r = RequestRecord {
        index,
        test_id: format!("r{index}"),
        status,
        max_new_tokens: 32,
        start_us: 10_000 * u64::from(index + 1),
        end_us: 3_000,
        return_us: 3_100,
        final_state: 2,
        ..Default::default()
    };
    r.tokens.push(1_000, 7, b"Hi", false);
    r.tokens.push(1_000, 8, b"!", true);
    r
}

/// The trace's records (every kind a trace holds but the run end), and the journal's (every
/// kind a journal holds).
fn trace_records() -> Vec<Record> {
    vec![
        Record::Header(header()),
        Record::InputOptions(InputOptions {
            ignore_eos_token: true,
        }),
        Record::Identity(RuntimeIdentity {
            abi: "1.2.1".into(),
            version: "1.2.1".into(),
            param_size: 312,
            conclusion: "seed".into(),
            ..Default::default()
        }),
        Record::PresetUsed(PresetUsed {
            name: "seed".into(),
            ..Default::default()
        }),
        Record::TemplateSent(TemplateSent {
            index: 0,
            origin: "seed".into(),
            system: "You are a seed.".into(),
            ..Default::default()
        }),
        Record::Input(RequestInput {
            index: 0,
            input_type: 1,
            n_tokens: 4,
            first_id: 100,
            id_span: 1000,
        }),
        Record::Request(runtime_request(0, Status::Ok)),
        Record::RuntimeObs(RuntimeObservation {
            index: 0,
            finish_callbacks: 1,
            ..Default::default()
        }),
        Record::Telemetry(TelemetryBatch {
            t_us: vec![0, 5_000, 10_000],
            series: vec![Series {
                key: "npu.freq".into(),
                unit: "Hz".into(),
                values: vec![1_000_000_000, i64::MIN, 800_000_000],
            }],
        }),
        Record::ServerRun(ServerRun {
            url: "http://127.0.0.1:8080".into(),
            kind: "llama-server".into(),
            protocol: "openai-sse".into(),
            endpoint: "/v1/chat/completions".into(),
            ..Default::default()
        }),
        Record::ServerRequest(server_request(1, Status::Ok)),
        Record::PowerSource(PowerSource {
            spec: "hwmon:ina226".into(),
            kind: "hwmon".into(),
            device: "ina226 (hwmon0) power1_input".into(),
            interval_us: 100_000,
            idle_to_us: 200_000,
            ..Default::default()
        }),
        Record::PowerSamples(power_samples()),
        Record::LoadRun(LoadRun {
            mode: "concurrency".into(),
            concurrency: 2,
            seed: 7,
            start_us: 1_000,
            ..Default::default()
        }),
        Record::RequestSent(RequestSent {
            index: 1,
            stream: 1,
            scheduled_us: 1_000,
            sent_us: 1_020,
        }),
    ]
}

/// Three power readings, the second failed (NaN, with why).
fn power_samples() -> PowerSamples {
    PowerSamples {
        requested_us: vec![0, 100_000, 200_000],
        received_us: vec![900, 101_000, 200_800],
        value: vec![2_000_000.0, f64::NAN, 5_000_000.0],
        unit: "uW".into(),
        counter: vec![f64::NAN; 3],
        counter_unit: String::new(),
        error: vec![String::new(), "no answer".into(), String::new()],
    }
}

fn journal_records() -> Vec<Record> {
    vec![
        Record::Partial(RequestRecord {
            status: Status::InFlight,
            ..runtime_request(2, Status::InFlight)
        }),
        Record::Tokens(TokenChunk {
            index: 2,
            first: 2,
            tokens: TokenColumns {
                token_dt_us: vec![500],
                token_ids: vec![9],
                waiting: vec![],
                text_len: vec![1],
                text: b"?".to_vec(),
            },
        }),
        Record::ServerPartial(server_request(3, Status::InFlight)),
    ]
}

/// The bytes of a trace (and of its journal, if `journal` is given), written by the writer.
fn written(name: &str, trace: &[Record], journal: Option<&[Record]>) -> Vec<u8> {
    let dir = common::tempdir(&format!("seed-{name}"));
    let p = dir.join("seed.rktrace");
    let (mut w, mut j) = create_run(&p).unwrap();
    for r in trace {
        w.append(r).unwrap();
    }
    w.sync().unwrap();
    if let Some(records) = journal {
        j.bind(&p, &header()).unwrap();
        for r in records {
            j.append(r).unwrap();
        }
        j.sync().unwrap();
    }
    drop((w, j));
    let mut bytes = std::fs::read(&p).unwrap();
    if journal.is_some() {
        bytes.extend(std::fs::read(rkbench::trace::journal_path(&p)).unwrap());
    }
    bytes
}

/// The committed seed `name` is `bytes` (or is rewritten to it with RKBENCH_WRITE_SEEDS=1).
fn committed(name: &str, bytes: &[u8]) {
    let p = common::root().join("fuzz/seeds").join(name);
    if std::env::var_os("RKBENCH_WRITE_SEEDS").is_some() {
        std::fs::write(&p, bytes).unwrap();
    }
    let have = std::fs::read(&p).unwrap_or_default();
    assert!(
        have == bytes,
        "{} differs from what the writer makes now: RKBENCH_WRITE_SEEDS=1 cargo test --test fuzz_seeds",
        p.display()
    );
}

/// Split a seed as the fuzz target does: the journal starts at the second magic.
fn read(bytes: &[u8]) -> rkbench::trace::reader::Checked {
    match common::journal_start(bytes) {
        Some(at) => parse_with_journal(&bytes[..at], &bytes[at..]),
        None => parse_with_journal(bytes, &[]),
    }
    .unwrap()
}

#[test]
fn seeds_of_every_record_kind_are_the_writers_and_read_whole() {
    // A run in flight: every kind of a trace but the end, and every kind of a journal.
    let in_flight = written("in-flight", &trace_records(), Some(&journal_records()));
    committed("every-kind-in-flight.bin", &in_flight);
    let c = read(&in_flight);
    let t = &c.trace;
    assert!(c.problems().is_empty(), "{:?}", c.problems());
    assert_eq!((t.damage.clone(), t.skipped_unknown), (None, 0));
    assert_eq!(t.frames, trace_records().len() as u32);
    assert!(t.end.is_none());
    assert_eq!(
        t.journal_requests, 2,
        "the runtime and the server checkpoint"
    );
    assert_eq!(t.requests.len(), 4);
    assert_eq!(t.requests[2].tokens.text, b"Hi!?");
    assert_eq!(t.server.as_ref().unwrap().requests.len(), 2);
    assert!(t.input_options.is_some() && t.preset.is_some() && t.runtime.identity.is_some());
    assert_eq!(
        (t.inputs.len(), t.templates.len(), t.telemetry.len()),
        (1, 1, 1)
    );
    assert_eq!(t.runtime.observations.len(), 1);
    assert!(t.power.source.is_some());
    assert_eq!(t.power.samples.len(), 1);
    assert!(t.load.run.is_some());
    assert_eq!(t.load.stream_of(1), 1);

    // The same run ended: the run-end kind (and no journal: a finished run has none).
    let mut ended_records = trace_records();
    ended_records.push(Record::End(RunEnd {
        end_us: 1_000_000,
        requests: 2,
        ..Default::default()
    }));
    let ended = written("ended", &ended_records, None);
    committed("every-kind-ended.bin", &ended);
    let c = read(&ended);
    assert!(c.problems().is_empty() && c.trace.damage.is_none());
    assert!(c.trace.end.is_some());
    assert_eq!(c.trace.requests.len(), 2);

    // Frames whose contents cannot be true, one per checked kind: each dropped and named.
    let mut bad_server = server_request(1, Status::Ok);
    bad_server.chunk_kind.pop();
    let mut bad_request = runtime_request(0, Status::Ok);
    bad_request.end_us = 10;
    let mut bad_partial = runtime_request(2, Status::InFlight);
    bad_partial.tokens.text.clear();
    let mut bad_power = power_samples();
    bad_power.received_us[1] = 1;
    let impossible = written(
        "impossible",
        &[
            Record::Header(header()),
            Record::Request(bad_request),
            Record::Telemetry(TelemetryBatch {
                t_us: vec![5, 1],
                series: vec![],
            }),
            Record::Input(RequestInput {
                input_type: 1,
                ..Default::default()
            }),
            Record::RuntimeObs(RuntimeObservation {
                abort_us: -9,
                ..Default::default()
            }),
            Record::ServerRun(ServerRun::default()),
            Record::ServerRequest(bad_server),
            Record::PowerSamples(bad_power),
            Record::LoadRun(LoadRun {
                rate_rps: -1.0,
                ..Default::default()
            }),
            Record::RequestSent(RequestSent {
                sent_us: u64::MAX,
                ..Default::default()
            }),
        ],
        Some(&[
            Record::Partial(bad_partial),
            Record::Tokens(TokenChunk {
                index: 2,
                first: 0,
                tokens: TokenColumns {
                    token_dt_us: vec![1],
                    ..Default::default()
                },
            }),
        ]),
    );
    committed("impossible-frames.bin", &impossible);
    let c = read(&impossible);
    let kinds: Vec<&str> = c.trace.impossible.iter().map(|i| i.record).collect();
    assert_eq!(
        kinds,
        [
            "request",
            "telemetry",
            "request input",
            "runtime observation",
            "server request",
            "power samples",
            "load level",
            "request send",
            "request checkpoint",
            "token checkpoint"
        ]
    );
    assert!(c.trace.requests.is_empty());
}

#[test]
fn the_seeds_readme_names_every_seed() {
    let dir = common::root().join("fuzz/seeds");
    let readme = std::fs::read_to_string(dir.join("README.md")).unwrap();
    for e in std::fs::read_dir(&dir).unwrap() {
        let name = e.unwrap().file_name().to_string_lossy().into_owned();
        if Path::new(&name).extension().is_some_and(|x| x == "bin") {
            assert!(
                readme.contains(&format!("`{name}`")),
                "{name} is not in the README"
            );
        }
    }
}
