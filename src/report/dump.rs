//! `rkbench dump`'s lines: one trace frame as one line of JSON, every field of its record as
//! stored (schema: docs/DUMP.md). Every struct is destructured field by field, so a field added
//! to the trace schema does not compile until it is dumped (and documented).
//!
//! Values are written raw: sentinels stay as stored (`-1`, `i32::MIN`), except a telemetry value
//! that was not read (`i64::MIN`), which is `null`. Floats have a fixed 6 decimals (f32 fields
//! widened to f64), as every rkbench report prints fixed decimals. Byte strings are written as
//! text and, when they are not valid UTF-8, also exactly as hex (`<field>_hex`).
use super::json_writer::JsonWriter;
use crate::trace::plan_extras::{kind as pk, PresetUsed, TemplateSent};
use crate::trace::power::{kind as wk, PowerSamples, PowerSource};
use crate::trace::schema::{
    kind as k, BuildInfo, CapSource, Fact, IdentityEvidence, InputOptions, JournalBinding,
    ModelInfo, PerfStat, Record, RequestInput, RequestRecord, RunEnd, RunHeader, RunParams,
    RuntimeIdentity, RuntimeInfo, RuntimeObservation, Series, SuiteInfo, TelemetryBatch,
    TokenChunk, TokenColumns,
};
use crate::trace::server::{kind as sk, ServerRequest, ServerRun, ServerTiming};
use crate::trace::NOT_READ;

/// Decimals of every float in a dump.
const DECIMALS: usize = 6;

/// The name of each record kind this rkbench reads, by frame kind code (`--kinds` takes these).
pub(crate) const KINDS: [(u8, &str); 20] = [
    (k::HEADER, "header"),
    (k::REQUEST, "request"),
    (k::PARTIAL, "partial"),
    (k::TELEMETRY, "telemetry"),
    (k::END, "end"),
    (k::TOKENS, "tokens"),
    (k::BINDING, "binding"),
    (k::IDENTITY, "identity"),
    (k::RUNTIME_OBS, "runtime-obs"),
    (pk::TEMPLATE_SENT, "template-sent"),
    (pk::PRESET_USED, "preset-used"),
    (k::INPUT, "input"),
    (k::INPUT_OPTIONS, "input-options"),
    (sk::SERVER_RUN, "server-run"),
    (sk::SERVER_REQUEST, "server-request"),
    (sk::SERVER_PARTIAL, "server-partial"),
    (wk::POWER_SOURCE, "power-source"),
    (wk::POWER_SAMPLES, "power-samples"),
    (crate::trace::load::kind::LOAD_RUN, "load-run"),
    (crate::trace::load::kind::REQUEST_SENT, "request-sent"),
];

/// The name of frames whose kind (or layout) this rkbench does not know.
pub(crate) const UNKNOWN_KIND: &str = "unknown";

/// The `kind` name of a frame kind code.
pub(crate) fn kind_name(code: u8) -> &'static str {
    KINDS
        .iter()
        .find(|(c, _)| *c == code)
        .map_or(UNKNOWN_KIND, |(_, n)| n)
}

/// Where a frame lies, as the frame header says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct FramePlace<'a> {
    /// `trace` or `journal`.
    pub file: &'a str,
    pub seq: u32,
    /// Byte offset of the frame header in its file.
    pub offset: u64,
    pub kind_code: u8,
    pub payload_len: u32,
}

/// The first line of a file's dump: its 16-byte file header.
pub(crate) fn file_line(file: &str, name: &str, bytes: &[u8]) -> String {
    let mut w = JsonWriter::compact();
    w.begin_object();
    w.field_str("line", "file");
    w.field_str("file", file);
    w.field_str("name", name);
    w.key("file_len").uint(bytes.len() as u64);
    w.field_str(
        "magic",
        &String::from_utf8_lossy(bytes.get(..8).unwrap_or(&[])),
    );
    let u16_at = |i: usize| {
        bytes
            .get(i..i + 2)
            .map_or(0, |b| u16::from_le_bytes([b[0], b[1]]))
    };
    w.field_int("format_major", i64::from(u16_at(8)));
    w.field_int("format_minor", i64::from(u16_at(10)));
    let flags = bytes
        .get(12..16)
        .map_or(0, |b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]));
    w.field_int("flags", i64::from(flags));
    w.end_object();
    w.finish()
}

/// One frame's line: where it lies, its kind, and its record (`null` if this rkbench cannot
/// decode it: a kind or layout from a newer rkbench).
pub(crate) fn frame_line(at: FramePlace<'_>, record: Option<&Record>) -> String {
    let mut w = JsonWriter::compact();
    w.begin_object();
    w.field_str("line", "frame");
    w.field_str("file", at.file);
    w.field_int("seq", i64::from(at.seq));
    w.key("offset").uint(at.offset);
    w.field_str(
        "kind",
        if record.is_some() {
            kind_name(at.kind_code)
        } else {
            UNKNOWN_KIND
        },
    );
    w.field_int("kind_code", i64::from(at.kind_code));
    w.field_int("payload_len", i64::from(at.payload_len));
    w.key("record");
    match record {
        Some(r) => self::record(&mut w, r),
        None => {
            w.null();
        }
    }
    w.end_object();
    w.finish()
}

/// A line saying what is wrong with a file: `error` names the kind of problem, `message` says
/// it as `verify` does, `fields` add its figures.
pub(crate) fn error_line(file: &str, error: &str, message: &str, fields: &[(&str, u64)]) -> String {
    let mut w = JsonWriter::compact();
    w.begin_object();
    w.field_str("line", "error");
    w.field_str("file", file);
    w.field_str("error", error);
    w.field_str("message", message);
    for (k, v) in fields {
        w.key(k).uint(*v);
    }
    w.end_object();
    w.finish()
}

fn record(w: &mut JsonWriter, r: &Record) {
    match r {
        Record::Header(h) => header(w, h),
        Record::Request(r) | Record::Partial(r) => request(w, r),
        Record::Telemetry(t) => telemetry(w, t),
        Record::End(e) => end(w, e),
        Record::Tokens(c) => tokens(w, c),
        Record::ServerRun(s) => server_run(w, s),
        Record::ServerRequest(r) | Record::ServerPartial(r) => server_request(w, r),
        Record::Binding(b) => binding(w, b),
        Record::Input(i) => input(w, i),
        Record::TemplateSent(t) => template(w, t),
        Record::PresetUsed(p) => preset(w, p),
        Record::InputOptions(o) => input_options(w, o),
        Record::Identity(i) => identity(w, i),
        Record::RuntimeObs(o) => observation(w, o),
        Record::PowerSource(p) => power_source(w, p),
        Record::PowerSamples(p) => power_samples(w, p),
        Record::LoadRun(l) => load_run(w, l),
        Record::RequestSent(l) => request_sent(w, l),
    }
}

fn f32_field(w: &mut JsonWriter, key: &str, v: f32) {
    w.field_num(key, Some(f64::from(v)), DECIMALS);
}

fn u64_field(w: &mut JsonWriter, key: &str, v: u64) {
    w.key(key).uint(v);
}

/// A byte string: as text, and exactly as hex when it is not valid UTF-8.
fn bytes_field(w: &mut JsonWriter, key: &str, b: &[u8]) {
    let text = String::from_utf8_lossy(b);
    w.field_str(key, &text);
    if std::str::from_utf8(b).is_err() {
        w.field_str(&format!("{key}_hex"), &hex(b));
    }
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn strings(w: &mut JsonWriter, key: &str, v: &[String]) {
    w.key(key).begin_array();
    for s in v {
        w.str(s);
    }
    w.end_array();
}

fn ints<T: Copy + Into<i64>>(w: &mut JsonWriter, key: &str, v: &[T]) {
    w.key(key).begin_array();
    for &x in v {
        w.int(x.into());
    }
    w.end_array();
}

fn uints(w: &mut JsonWriter, key: &str, v: &[u64]) {
    w.key(key).begin_array();
    for &x in v {
        w.uint(x);
    }
    w.end_array();
}

/// `(key, value)` facts in stored order (duplicates kept), as `[{key, value}]`.
fn facts(w: &mut JsonWriter, key: &str, v: &[Fact]) {
    w.key(key).begin_array();
    for Fact { key, value } in v {
        w.begin_object();
        w.field_str("key", key);
        w.field_str("value", value);
        w.end_object();
    }
    w.end_array();
}

fn header(w: &mut JsonWriter, h: &RunHeader) {
    let RunHeader {
        rkbench,
        command_line,
        hostname,
        started_unix_ms,
        runtime,
        model,
        params,
        suite,
        board,
    } = h;
    let BuildInfo {
        version,
        git_commit,
        git_state,
        target,
        profile,
        rustc,
    } = rkbench;
    w.begin_object();
    w.key("rkbench").begin_object();
    w.field_str("version", version);
    w.field_str("git_commit", git_commit);
    w.field_str("git_state", git_state);
    w.field_str("target", target);
    w.field_str("profile", profile);
    w.field_str("rustc", rustc);
    w.end_object();
    strings(w, "command_line", command_line);
    w.field_str("hostname", hostname);
    u64_field(w, "started_unix_ms", *started_unix_ms);
    let RuntimeInfo {
        lib_path,
        lib_size,
        lib_sha256,
        abi,
        version,
        evidence,
    } = runtime;
    w.key("runtime").begin_object();
    w.field_str("lib_path", lib_path);
    u64_field(w, "lib_size", *lib_size);
    w.field_str("lib_sha256", lib_sha256);
    w.field_str("abi", abi);
    w.field_str("version", version);
    w.field_str("evidence", evidence);
    w.end_object();
    let ModelInfo {
        path,
        file_name,
        size,
        fingerprint,
    } = model;
    w.key("model").begin_object();
    w.field_str("path", path);
    w.field_str("file_name", file_name);
    u64_field(w, "size", *size);
    w.field_str("fingerprint", fingerprint);
    w.end_object();
    run_params(w, params);
    let SuiteInfo {
        name,
        source,
        sha256,
        tests,
    } = suite;
    w.key("suite").begin_object();
    w.field_str("name", name);
    w.field_str("source", source);
    w.field_str("sha256", sha256);
    w.field_int("tests", i64::from(*tests));
    w.end_object();
    facts(w, "board", board);
    w.end_object();
}

fn run_params(w: &mut JsonWriter, p: &RunParams) {
    let RunParams {
        max_context_len,
        max_new_tokens,
        top_k,
        top_p,
        temperature,
        repeat_penalty,
        frequency_penalty,
        presence_penalty,
        mirostat,
        mirostat_tau,
        mirostat_eta,
        n_keep,
        skip_special_token,
        base_domain_id,
        embed_flash,
        enabled_cpus_num,
        enabled_cpus_mask,
        n_batch,
        think,
        timeout_ms,
        keep_history,
    } = p;
    w.key("params").begin_object();
    w.field_int("max_context_len", i64::from(*max_context_len));
    w.field_int("max_new_tokens", i64::from(*max_new_tokens));
    w.field_int("top_k", i64::from(*top_k));
    f32_field(w, "top_p", *top_p);
    f32_field(w, "temperature", *temperature);
    f32_field(w, "repeat_penalty", *repeat_penalty);
    f32_field(w, "frequency_penalty", *frequency_penalty);
    f32_field(w, "presence_penalty", *presence_penalty);
    w.field_int("mirostat", i64::from(*mirostat));
    f32_field(w, "mirostat_tau", *mirostat_tau);
    f32_field(w, "mirostat_eta", *mirostat_eta);
    w.field_int("n_keep", i64::from(*n_keep));
    w.field_bool("skip_special_token", *skip_special_token);
    w.field_int("base_domain_id", i64::from(*base_domain_id));
    w.field_int("embed_flash", i64::from(*embed_flash));
    w.field_int("enabled_cpus_num", i64::from(*enabled_cpus_num));
    w.field_int("enabled_cpus_mask", i64::from(*enabled_cpus_mask));
    w.field_int("n_batch", i64::from(*n_batch));
    w.field_bool("think", *think);
    u64_field(w, "timeout_ms", *timeout_ms);
    w.field_bool("keep_history", *keep_history);
    w.end_object();
}

fn cap_source(c: CapSource) -> &'static str {
    match c {
        CapSource::Runtime => "runtime",
        CapSource::RuntimePerRun => "runtime-per-run",
        CapSource::Rkbench => "rkbench",
    }
}

/// The five token columns, as stored (`waiting` holds token indices).
fn token_columns(w: &mut JsonWriter, c: &TokenColumns) {
    let TokenColumns {
        token_dt_us,
        token_ids,
        waiting,
        text_len,
        text,
    } = c;
    ints(w, "token_dt_us", token_dt_us);
    ints(w, "token_ids", token_ids);
    ints(w, "waiting", waiting);
    ints(w, "text_len", text_len);
    bytes_field(w, "text", text);
}

fn request(w: &mut JsonWriter, r: &RequestRecord) {
    let RequestRecord {
        index,
        test_id,
        name,
        category,
        prompt,
        repeat_index,
        warmup,
        think,
        max_new_tokens,
        cap_source: cap,
        status,
        run_return,
        detail,
        start_us,
        end_us,
        return_us,
        tokens,
        final_state,
        perf,
    } = r;
    w.begin_object();
    w.field_int("index", i64::from(*index));
    w.field_str("test_id", test_id);
    w.field_str("name", name);
    w.field_str("category", category);
    w.field_str("prompt", prompt);
    w.field_int("repeat_index", i64::from(*repeat_index));
    w.field_bool("warmup", *warmup);
    w.field_bool("think", *think);
    w.field_int("max_new_tokens", i64::from(*max_new_tokens));
    w.field_str("cap_source", cap_source(*cap));
    w.field_str("status", status.as_str());
    w.field_int("run_return", i64::from(*run_return));
    w.field_str("detail", detail);
    u64_field(w, "start_us", *start_us);
    u64_field(w, "end_us", *end_us);
    u64_field(w, "return_us", *return_us);
    w.key("tokens").begin_object();
    token_columns(w, tokens);
    w.end_object();
    w.field_int("final_state", i64::from(*final_state));
    w.key("perf");
    match perf {
        Some(PerfStat {
            prefill_time_ms,
            prefill_tokens,
            generate_time_ms,
            generate_tokens,
            memory_usage_mb,
        }) => {
            w.begin_object();
            f32_field(w, "prefill_time_ms", *prefill_time_ms);
            w.field_int("prefill_tokens", i64::from(*prefill_tokens));
            f32_field(w, "generate_time_ms", *generate_time_ms);
            w.field_int("generate_tokens", i64::from(*generate_tokens));
            f32_field(w, "memory_usage_mb", *memory_usage_mb);
            w.end_object();
        }
        None => {
            w.null();
        }
    }
    w.end_object();
}

fn telemetry(w: &mut JsonWriter, t: &TelemetryBatch) {
    let TelemetryBatch { t_us, series } = t;
    w.begin_object();
    uints(w, "t_us", t_us);
    w.key("series").begin_array();
    for Series { key, unit, values } in series {
        w.begin_object();
        w.field_str("key", key);
        w.field_str("unit", unit);
        w.key("values").begin_array();
        for &v in values {
            if v == NOT_READ {
                w.null();
            } else {
                w.int(v);
            }
        }
        w.end_array();
        w.end_object();
    }
    w.end_array();
    w.end_object();
}

fn power_source(w: &mut JsonWriter, p: &PowerSource) {
    let PowerSource {
        spec,
        kind,
        device,
        interval_us,
        idle_from_us,
        idle_to_us,
        idle_after_from_us,
        idle_after_to_us,
    } = p;
    w.begin_object();
    w.field_str("spec", spec);
    w.field_str("kind", kind);
    w.field_str("device", device);
    u64_field(w, "interval_us", *interval_us);
    u64_field(w, "idle_from_us", *idle_from_us);
    u64_field(w, "idle_to_us", *idle_to_us);
    u64_field(w, "idle_after_from_us", *idle_after_from_us);
    u64_field(w, "idle_after_to_us", *idle_after_to_us);
    w.end_object();
}

fn load_run(w: &mut JsonWriter, l: &crate::trace::LoadRun) {
    let crate::trace::LoadRun {
        mode,
        concurrency,
        rate_rps,
        arrivals,
        burstiness,
        seed,
        start_us,
        instances,
        facts: level_facts,
    } = l;
    w.begin_object();
    w.field_str("mode", mode);
    u64_field(w, "concurrency", u64::from(*concurrency));
    w.field_num("rate_rps", Some(*rate_rps), DECIMALS);
    w.field_str("arrivals", arrivals);
    w.field_num("burstiness", Some(*burstiness), DECIMALS);
    u64_field(w, "seed", *seed);
    u64_field(w, "start_us", *start_us);
    u64_field(w, "instances", u64::from(*instances));
    facts(w, "facts", level_facts);
    w.end_object();
}

fn request_sent(w: &mut JsonWriter, l: &crate::trace::RequestSent) {
    let crate::trace::RequestSent {
        index,
        stream,
        scheduled_us,
        sent_us,
    } = l;
    w.begin_object();
    u64_field(w, "index", u64::from(*index));
    u64_field(w, "stream", u64::from(*stream));
    u64_field(w, "scheduled_us", *scheduled_us);
    u64_field(w, "sent_us", *sent_us);
    w.end_object();
}

/// Floats as stored, NaN (no value) as `null`.
fn floats(w: &mut JsonWriter, key: &str, v: &[f64]) {
    w.key(key).begin_array();
    for &x in v {
        w.num(Some(x), DECIMALS);
    }
    w.end_array();
}

fn power_samples(w: &mut JsonWriter, p: &PowerSamples) {
    let PowerSamples {
        requested_us,
        received_us,
        value,
        unit,
        counter,
        counter_unit,
        error,
    } = p;
    w.begin_object();
    uints(w, "requested_us", requested_us);
    uints(w, "received_us", received_us);
    floats(w, "value", value);
    w.field_str("unit", unit);
    floats(w, "counter", counter);
    w.field_str("counter_unit", counter_unit);
    strings(w, "error", error);
    w.end_object();
}

fn end(w: &mut JsonWriter, e: &RunEnd) {
    let RunEnd {
        status,
        detail,
        end_us,
        requests,
    } = e;
    w.begin_object();
    w.field_str("status", status.as_str());
    w.field_str("detail", detail);
    u64_field(w, "end_us", *end_us);
    w.field_int("requests", i64::from(*requests));
    w.end_object();
}

fn tokens(w: &mut JsonWriter, c: &TokenChunk) {
    let TokenChunk {
        index,
        first,
        tokens,
    } = c;
    w.begin_object();
    w.field_int("index", i64::from(*index));
    w.field_int("first", i64::from(*first));
    w.key("tokens").begin_object();
    token_columns(w, tokens);
    w.end_object();
    w.end_object();
}

fn server_run(w: &mut JsonWriter, s: &ServerRun) {
    let ServerRun {
        url,
        kind,
        kind_source,
        protocol,
        endpoint,
        model,
        version,
        evidence,
        local,
        server_pid,
        server_pid_source,
        idle_method,
    } = s;
    w.begin_object();
    w.field_str("url", url);
    w.field_str("kind", kind);
    w.field_str("kind_source", kind_source);
    w.field_str("protocol", protocol);
    w.field_str("endpoint", endpoint);
    w.field_str("model", model);
    w.field_str("version", version);
    facts(w, "evidence", evidence);
    w.field_bool("local", *local);
    w.field_int("server_pid", i64::from(*server_pid));
    w.field_str("server_pid_source", server_pid_source);
    w.field_str("idle_method", idle_method);
    w.end_object();
}

fn server_request(w: &mut JsonWriter, r: &ServerRequest) {
    let ServerRequest {
        index,
        test_id,
        name,
        category,
        prompt,
        repeat_index,
        warmup,
        think,
        max_new_tokens,
        status,
        detail,
        endpoint,
        body,
        http_status,
        idle_wait_us,
        idle_wait,
        start_us,
        headers_us,
        first_byte_us,
        done_us,
        close_us,
        end_us,
        chunk_us,
        chunk_read,
        chunk_end_byte,
        chunk_kind,
        chunk_server_n,
        chunk_tokens,
        chunk_text_len,
        chunk_text,
        count_source,
        server_total,
        server_total_field,
        unattributed,
        prompt_tokens,
        finish_reason,
        timings,
        process,
    } = r;
    w.begin_object();
    w.field_int("index", i64::from(*index));
    w.field_str("test_id", test_id);
    w.field_str("name", name);
    w.field_str("category", category);
    w.field_str("prompt", prompt);
    w.field_int("repeat_index", i64::from(*repeat_index));
    w.field_bool("warmup", *warmup);
    w.field_bool("think", *think);
    w.field_int("max_new_tokens", i64::from(*max_new_tokens));
    w.field_str("status", status.as_str());
    w.field_str("detail", detail);
    w.field_str("endpoint", endpoint);
    w.field_str("body", body);
    w.field_int("http_status", i64::from(*http_status));
    u64_field(w, "idle_wait_us", *idle_wait_us);
    w.field_str("idle_wait", idle_wait);
    u64_field(w, "start_us", *start_us);
    w.field_opt_int("headers_us", *headers_us);
    w.field_opt_int("first_byte_us", *first_byte_us);
    w.field_opt_int("done_us", *done_us);
    w.field_opt_int("close_us", *close_us);
    u64_field(w, "end_us", *end_us);
    uints(w, "chunk_us", chunk_us);
    ints(w, "chunk_read", chunk_read);
    uints(w, "chunk_end_byte", chunk_end_byte);
    ints(w, "chunk_kind", chunk_kind);
    ints(w, "chunk_server_n", chunk_server_n);
    ints(w, "chunk_tokens", chunk_tokens);
    ints(w, "chunk_text_len", chunk_text_len);
    bytes_field(w, "chunk_text", chunk_text);
    w.field_str("count_source", count_source.as_str());
    w.field_opt_int("server_total", *server_total);
    w.field_str("server_total_field", server_total_field);
    w.field_int("unattributed", *unattributed);
    w.field_opt_int("prompt_tokens", *prompt_tokens);
    w.field_str("finish_reason", finish_reason);
    w.key("timings").begin_array();
    for ServerTiming { field, raw, unit } in timings {
        w.begin_object();
        w.field_str("field", field);
        w.field_num("raw", Some(*raw), DECIMALS);
        w.field_str("unit", unit);
        w.end_object();
    }
    w.end_array();
    facts(w, "process", process);
    w.end_object();
}

fn binding(w: &mut JsonWriter, b: &JournalBinding) {
    let JournalBinding {
        header_sha256,
        trace_name,
    } = b;
    w.begin_object();
    w.field_str("header_sha256", &hex(header_sha256));
    w.field_str("trace_name", trace_name);
    w.end_object();
}

fn input(w: &mut JsonWriter, i: &RequestInput) {
    let RequestInput {
        index,
        input_type,
        n_tokens,
        first_id,
        id_span,
    } = i;
    w.begin_object();
    w.field_int("index", i64::from(*index));
    w.field_int("input_type", i64::from(*input_type));
    w.field_int("n_tokens", i64::from(*n_tokens));
    w.field_int("first_id", i64::from(*first_id));
    w.field_int("id_span", i64::from(*id_span));
    w.end_object();
}

fn template(w: &mut JsonWriter, t: &TemplateSent) {
    let TemplateSent {
        index,
        origin,
        system,
        prefix,
        postfix,
    } = t;
    w.begin_object();
    w.field_int("index", i64::from(*index));
    w.field_str("origin", origin);
    w.field_str("system", system);
    w.field_str("prefix", prefix);
    w.field_str("postfix", postfix);
    w.end_object();
}

fn preset(w: &mut JsonWriter, p: &PresetUsed) {
    let PresetUsed {
        name,
        values,
        overridden,
    } = p;
    w.begin_object();
    w.field_str("name", name);
    facts(w, "values", values);
    strings(w, "overridden", overridden);
    w.end_object();
}

fn input_options(w: &mut JsonWriter, o: &InputOptions) {
    let InputOptions { ignore_eos_token } = o;
    w.begin_object();
    w.field_bool("ignore_eos_token", *ignore_eos_token);
    w.end_object();
}

fn identity(w: &mut JsonWriter, i: &RuntimeIdentity) {
    let RuntimeIdentity {
        abi,
        version,
        git_blob,
        param_size,
        conclusion,
        forced,
        evidence,
    } = i;
    w.begin_object();
    w.field_str("abi", abi);
    w.field_str("version", version);
    w.field_str("git_blob", git_blob);
    w.field_int("param_size", i64::from(*param_size));
    w.field_str("conclusion", conclusion);
    w.field_bool("forced", *forced);
    w.key("evidence").begin_array();
    for IdentityEvidence {
        source,
        observed,
        verdict,
    } in evidence
    {
        w.begin_object();
        w.field_str("source", source);
        w.field_str("observed", observed);
        w.field_str("verdict", verdict);
        w.end_object();
    }
    w.end_array();
    w.end_object();
}

fn observation(w: &mut JsonWriter, o: &RuntimeObservation) {
    let RuntimeObservation {
        index,
        finish_callbacks,
        error_callbacks,
        end_after_return,
        stop_requested_at,
        tokens_after_stop,
        abort_us,
        abort_reason,
        abort_at_token,
        callbacks_on_run_thread,
        callbacks_on_other_threads,
        clear_kv_return,
    } = o;
    w.begin_object();
    w.field_int("index", i64::from(*index));
    w.field_int("finish_callbacks", i64::from(*finish_callbacks));
    w.field_int("error_callbacks", i64::from(*error_callbacks));
    w.field_bool("end_after_return", *end_after_return);
    w.field_int("stop_requested_at", i64::from(*stop_requested_at));
    w.field_int("tokens_after_stop", i64::from(*tokens_after_stop));
    w.field_int("abort_us", *abort_us);
    w.field_str("abort_reason", abort_reason);
    w.field_int("abort_at_token", i64::from(*abort_at_token));
    w.field_int(
        "callbacks_on_run_thread",
        i64::from(*callbacks_on_run_thread),
    );
    w.field_int(
        "callbacks_on_other_threads",
        i64::from(*callbacks_on_other_threads),
    );
    w.field_int("clear_kv_return", i64::from(*clear_kv_return));
    w.end_object();
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::trace::encode_record;
    use crate::trace::schema::TokenColumns;

    /// One record of every variant: each encodes to a kind the table names, and its line is one
    /// line of valid JSON.
    fn every_record() -> Vec<Record> {
        let req = RequestRecord {
            tokens: TokenColumns {
                token_dt_us: vec![5],
                token_ids: vec![7],
                waiting: vec![0],
                text_len: vec![2],
                text: vec![0xe4, 0xbd],
            },
            perf: Some(PerfStat::default()),
            ..Default::default()
        };
        let sreq = ServerRequest {
            body: "{\"stream\":true}".into(),
            headers_us: Some(3),
            ..Default::default()
        };
        vec![
            Record::Header(RunHeader::default()),
            Record::Request(req.clone()),
            Record::Partial(req),
            Record::Telemetry(TelemetryBatch {
                t_us: vec![1, 2],
                series: vec![Series {
                    key: "npu.freq".into(),
                    unit: "Hz".into(),
                    values: vec![NOT_READ, 5],
                }],
            }),
            Record::End(RunEnd::default()),
            Record::Tokens(TokenChunk::default()),
            Record::ServerRun(ServerRun::default()),
            Record::ServerRequest(sreq.clone()),
            Record::ServerPartial(sreq),
            Record::Binding(JournalBinding {
                header_sha256: vec![0xab, 1],
                trace_name: "t".into(),
            }),
            Record::Input(RequestInput::default()),
            Record::TemplateSent(TemplateSent::default()),
            Record::PresetUsed(PresetUsed::default()),
            Record::InputOptions(InputOptions::default()),
            Record::Identity(RuntimeIdentity::default()),
            Record::RuntimeObs(RuntimeObservation::default()),
            Record::PowerSource(PowerSource::default()),
            Record::PowerSamples(PowerSamples {
                requested_us: vec![1],
                received_us: vec![2],
                value: vec![f64::NAN],
                unit: "W".into(),
                counter: vec![1.5],
                counter_unit: "Wh".into(),
                error: vec!["timeout".into()],
            }),
            Record::LoadRun(crate::trace::LoadRun::default()),
            Record::RequestSent(crate::trace::RequestSent::default()),
        ]
    }

    #[test]
    fn every_record_kind_has_a_name_and_dumps_as_one_json_line() {
        let all = every_record();
        let mut names: Vec<&str> = Vec::new();
        for r in &all {
            let (code, payload) = encode_record(r).unwrap();
            let name = kind_name(code);
            assert_ne!(name, UNKNOWN_KIND, "{r:?}");
            names.push(name);
            let at = FramePlace {
                file: "trace",
                seq: 3,
                offset: 64,
                kind_code: code,
                payload_len: payload.len() as u32,
            };
            let line = frame_line(at, Some(r));
            assert!(line.ends_with('\n') && !line.trim_end().contains('\n'));
            let v: serde_json::Value = serde_json::from_str(&line).unwrap();
            assert_eq!(v["kind"], name);
            assert_eq!(v["kind_code"], code);
            assert_eq!(v["offset"], 64);
            assert!(v["record"].is_object());
        }
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), KINDS.len(), "one name per kind");
    }

    #[test]
    fn bytes_that_are_not_utf8_are_also_written_exactly_and_not_read_is_null() {
        let all = every_record();
        let line = frame_line(
            FramePlace {
                file: "trace",
                seq: 1,
                offset: 0,
                kind_code: k::REQUEST,
                payload_len: 0,
            },
            Some(&all[1]),
        );
        let v: serde_json::Value = serde_json::from_str(&line).unwrap();
        assert_eq!(v["record"]["tokens"]["text_hex"], "e4bd");
        assert_eq!(v["record"]["perf"]["prefill_time_ms"], 0.0);
        let line = frame_line(
            FramePlace {
                file: "trace",
                seq: 1,
                offset: 0,
                kind_code: k::TELEMETRY,
                payload_len: 0,
            },
            Some(&all[3]),
        );
        let v: serde_json::Value = serde_json::from_str(&line).unwrap();
        assert_eq!(
            v["record"]["series"][0]["values"],
            serde_json::json!([null, 5])
        );
        let v: serde_json::Value = serde_json::from_str(&frame_line(
            FramePlace {
                file: "journal",
                seq: 0,
                offset: 16,
                kind_code: 99,
                payload_len: 8,
            },
            None,
        ))
        .unwrap();
        assert_eq!(v["kind"], UNKNOWN_KIND);
        assert!(v["record"].is_null());
    }
}
