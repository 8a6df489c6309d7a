//! The JSON report: the complete record of a run's recomputed figures (schema in docs/JSON.md).
use super::json_writer::JsonWriter;
use super::tables::{aggregate_stats, SUMMARY_AGGREGATES};
use super::text::utc;
use super::{DEFINITIONS, ORIGINAL_DEFINITIONS};
use crate::analysis::{Analysis, ParamValue, Section};
use crate::analysis::{Observation, Span};
use crate::stats::energy::{Energy, RequestEnergy, WindowEnergy};
use crate::stats::load::{LoadLevel, RequestLoad, Saturation, Trio};
use crate::stats::original::{OutputCount, Spread};
use crate::stats::prefill::PrefillScaling;
use crate::stats::reference::{Figures, Reference};
use crate::stats::telemetry::{MinMax, RequestTelemetry};
use crate::stats::{Aggregate, RequestMetrics};
use crate::trace::{RequestInput, RequestRecord};

fn figures(w: &mut JsonWriter, key: &str, f: &Figures, d: usize) {
    w.key(key).begin_object();
    w.field_num("ttft_ms", f.ttft_ms, d);
    w.field_num("decode_tok_s", f.decode_tok_s, d);
    w.field_num("memory_mb", f.memory_mb, d);
    w.end_object();
}

/// `reference`: this run beside Rockchip's published row (present only when there is one).
fn reference(w: &mut JsonWriter, r: &Reference) {
    let p = &r.published;
    w.key("reference").begin_object();
    w.field_str("model", p.model);
    w.field_str("release", &r.release);
    w.key("source").begin_object();
    w.field_str("repository", "airockchip/rknn-llm");
    w.field_str("file", "benchmark.md");
    w.field_str("commit", p.commit);
    w.end_object();
    w.field_str("matched_from", &r.matched_from);
    w.key("method").begin_object();
    w.field_int(
        "input_tokens",
        i64::from(crate::reference::METHOD_INPUT_TOKENS),
    );
    w.field_int("new_tokens", i64::from(crate::reference::METHOD_NEW_TOKENS));
    w.field_str("quantization", crate::reference::METHOD_QUANT);
    w.end_object();
    w.field_int("requests", r.requests);
    w.field_str("measured_by", r.measured_by);
    figures(
        w,
        "published",
        &Figures {
            ttft_ms: Some(p.ttft_ms),
            decode_tok_s: Some(p.decode_tok_s),
            memory_mb: Some(p.memory_mb),
        },
        2,
    );
    figures(w, "measured", &r.measured, 3);
    figures(w, "rkbench_timing", &r.rkbench, 3);
    figures(w, "ratio", &r.ratio, 4);
    w.field_bool("approximate", !r.approximate.is_empty());
    w.key("approximate_because").begin_array();
    for why in &r.approximate {
        w.str(why);
    }
    w.end_array();
    w.field_opt_str("decode_warning", r.decode_warning.as_deref());
    w.end_object();
}

/// `prefill_scaling`: TTFT against exact input length, the fit, and decode per length.
fn prefill_scaling(w: &mut JsonWriter, s: &PrefillScaling) {
    w.key("prefill_scaling").begin_object();
    w.key("points").begin_array();
    for p in &s.points {
        w.begin_object();
        w.field_int("index", i64::from(p.index));
        w.field_int("input_tokens", i64::from(p.input_tokens));
        w.field_num("ttft_ms", Some(p.ttft_ms), 3);
        w.end_object();
    }
    w.end_array();
    let f = s.fit;
    w.field_num("ms_per_token", f.map(|f| f.ms_per_token), 6);
    w.field_num("fixed_ms", f.map(|f| f.fixed_ms), 3);
    w.field_num(
        "attention_ms_per_token2",
        f.map(|f| f.attention_ms_per_token2),
        12,
    );
    w.field_opt_str("model", f.map(|f| f.model));
    w.field_num("r_squared", f.map(|f| f.r_squared), 6);
    w.field_num("rms_residual_ms", f.map(|f| f.rms_residual_ms), 3);
    w.key("by_length").begin_array();
    for l in &s.lengths {
        w.begin_object();
        w.field_int("input_tokens", i64::from(l.input_tokens));
        w.field_int("requests", l.requests);
        w.field_num("ttft_ms_median", Some(l.ttft_ms_median), 3);
        w.field_num("prefill_tok_s", l.prefill_tok_s, 3);
        w.field_num("runtime_prefill_ms_median", l.runtime_prefill_ms_median, 3);
        w.field_num("decode_tok_s_median", l.decode_tok_s_median, 3);
        w.end_object();
    }
    w.end_array();
    w.end_object();
}

/// Bumped whenever a field changes meaning or is removed (additions keep it).
pub(crate) const SCHEMA_VERSION: i64 = 1;

fn aggregate(w: &mut JsonWriter, key: &str, a: Option<Aggregate>, d: usize) {
    w.key(key);
    match a {
        None => {
            w.null();
        }
        Some(a) => {
            w.begin_object();
            w.field_int("n", a.n);
            for (k, v) in aggregate_stats(&a) {
                w.field_num(k, Some(v), d);
            }
            w.end_object();
        }
    }
}

pub(crate) fn render(a: &Analysis) -> String {
    let (trace, s) = (a.trace, &a.summary);
    let h = &trace.header;
    let mut w = JsonWriter::new();
    w.begin_object();
    w.field_int("schema_version", SCHEMA_VERSION);
    w.key("trace").begin_object();
    w.field_str("file", &a.file_name);
    w.field_str(
        "format",
        &format!("{}.{}", crate::trace::FORMAT_MAJOR, trace.format_minor),
    );
    w.field_int("frames", i64::from(trace.frames));
    w.field_opt_str(
        "damage",
        trace.damage.as_ref().map(|d| d.to_string()).as_deref(),
    );
    w.end_object();

    w.key("run").begin_object();
    w.field_str("started_utc", &utc(h.started_unix_ms));
    w.field_str("hostname", &h.hostname);
    w.key("command_line").begin_array();
    for a in &h.command_line {
        w.str(a);
    }
    w.end_array();
    w.key("rkbench").begin_object();
    w.field_str("version", &h.rkbench.version);
    w.field_str("git_commit", &h.rkbench.git_commit);
    w.field_str("git_state", &h.rkbench.git_state);
    w.field_str("target", &h.rkbench.target);
    w.field_str("profile", &h.rkbench.profile);
    w.field_str("rustc", &h.rkbench.rustc);
    w.end_object();
    w.key("runtime").begin_object();
    w.field_str("lib_path", &h.runtime.lib_path);
    w.field_int("lib_size", h.runtime.lib_size);
    w.field_str("lib_sha256", &h.runtime.lib_sha256);
    w.field_str("abi", &h.runtime.abi);
    w.field_str("version", &h.runtime.version);
    w.field_str("evidence", &h.runtime.evidence);
    w.end_object();
    w.key("model").begin_object();
    w.field_str("path", &h.model.path);
    w.field_str("file_name", &h.model.file_name);
    w.field_int("size", h.model.size);
    w.field_str("fingerprint", &h.model.fingerprint);
    w.end_object();
    w.key("params").begin_object();
    for p in a.params.iter().filter(|p| p.section == Section::Runtime) {
        w.key(&p.name);
        param_value(&mut w, &p.value);
    }
    w.end_object();
    w.key("suite").begin_object();
    w.field_str("name", &h.suite.name);
    w.field_str("source", &h.suite.source);
    w.field_str("sha256", &h.suite.sha256);
    w.field_int("tests", i64::from(h.suite.tests));
    w.end_object();
    w.key("board").begin_object();
    for f in &h.board {
        w.field_str(&f.key, &f.value);
    }
    w.end_object();
    w.key("end");
    match &trace.end {
        Some(e) => {
            w.begin_object();
            w.field_str("status", e.status.as_str());
            w.field_str("detail", &e.detail);
            w.end_object();
        }
        None => {
            w.null();
        }
    }
    w.end_object();

    w.key("parameters").begin_array();
    for p in &a.params {
        w.begin_object();
        w.field_str("name", &p.name);
        w.key("value");
        param_value(&mut w, &p.value);
        w.field_str("unit", p.unit);
        w.field_str("meaning", p.meaning);
        w.field_str("section", p.section.as_str());
        w.end_object();
    }
    w.end_array();

    let v = &a.verdict;
    w.key("verdict").begin_object();
    w.field_str("result", if v.valid { "VALID" } else { "INVALID" });
    w.key("reasons").begin_array();
    for r in &v.reasons {
        w.str(r);
    }
    w.end_array();
    w.end_object();
    w.field_opt_str("peer_metrics_note", a.peers_note.as_deref());
    w.key("peer_metrics").begin_array();
    for m in &a.peers {
        w.begin_object();
        w.field_str("tool", m.tool);
        w.field_str("metric", m.metric);
        w.field_str("unit", m.unit);
        w.field_str("definition", m.definition);
        w.field_str("population", m.population);
        w.field_int("n", m.n);
        w.field_num("mean", m.mean, 3);
        w.field_num("median", m.median, 3);
        w.field_num("p99", m.p99, 3);
        w.field_num("std", m.std, 3);
        w.field_str("sigma", m.sigma.label());
        w.field_str("percentiles", m.percentiles.label());
        w.end_object();
    }
    w.end_array();
    throughput(&mut w, a);
    load(&mut w, &[&a.load], &a.saturation, a.instances.as_ref());
    w.key("summary").begin_object();
    w.field_int("requests", s.requests);
    w.field_int("warmup", s.warmup);
    w.field_int("ok", s.ok);
    w.field_int("partial", s.partial);
    w.field_int("failed", s.failed);
    w.field_int("input_tokens", s.input_tokens);
    w.field_int("output_tokens", s.output_tokens);
    let bound = a.output_bound();
    w.field_bool(
        "output_tokens_exact",
        bound == crate::stats::server::CountBound::Exact,
    );
    w.field_str("output_tokens_count", bound.as_str());
    w.field_str(
        "decode_rate_lead",
        if a.leads_with_median_gap() {
            "decode_tok_s_median_gap"
        } else {
            "decode_tok_s"
        },
    );
    w.field_num("duration_ms", Some(s.duration_ms), 3);
    for g in &SUMMARY_AGGREGATES {
        // The token-weighted decode rate (one figure, not an aggregate) keeps its place in
        // the schema, just before the pooled ITL.
        if g.key == "itl_ms_pooled" {
            w.field_num(
                "decode_tok_s_token_weighted",
                s.decode_tok_s_token_weighted,
                3,
            );
        }
        aggregate(&mut w, g.key, (g.of)(s), 3);
    }
    w.field_num("peak_memory_mb", s.peak_memory_mb, 1);
    w.end_object();

    warnings(&mut w, a);
    if let Some(r) = &a.reference {
        reference(&mut w, r);
    }
    if let Some(p) = &a.prefill_scaling {
        prefill_scaling(&mut w, p);
    }
    runtime_conformance(&mut w, a);
    w.key("observations").begin_array();
    for ob in &a.observations {
        w.begin_object();
        w.field_str("code", ob.code);
        w.field_str("text", &ob.text());
        w.end_object();
    }
    w.end_array();

    original(&mut w, a);

    w.key("server");
    match &a.server {
        Some(x) => super::server::json(&mut w, x, a.trace.server.as_ref()),
        None => {
            w.null();
        }
    }

    if let Some(e) = &a.energy {
        energy(&mut w, e);
    }

    w.key("requests").begin_array();
    for (r, m, tele) in a.requests() {
        request(&mut w, r, m, tele, a.trace.input_of(r.index));
        request_load(&mut w, a.load.request(r.index));
        if let Some(e) = a.energy.as_ref() {
            let re = e.requests.iter().find(|x| x.index == r.index);
            request_energy(&mut w, re);
        }
        w.end_object();
    }
    w.end_array();

    w.key("definitions").begin_object();
    for (k, v) in DEFINITIONS {
        w.field_str(k, v);
    }
    w.end_object();
    w.key("original_definitions").begin_object();
    for (k, v) in ORIGINAL_DEFINITIONS {
        w.field_str(k, v);
    }
    w.end_object();
    w.end_object();
    w.finish()
}

/// vLLM's run-level figures; `goodput` is null unless SLOs were given.
fn throughput(w: &mut JsonWriter, a: &Analysis) {
    let t = &a.throughput;
    w.key("throughput").begin_object();
    w.field_str("tool", "vLLM");
    w.key("duration_s");
    w.num(t.duration_us.map(|d| d as f64 / 1e6), 6);
    w.field_int("completed", t.completed);
    w.field_int("failed", t.failed);
    w.field_opt_int("total_input_tokens", t.total_input);
    w.field_int("total_output_tokens", t.total_output);
    w.field_num("request_throughput", t.request_per_s, 6);
    w.field_num("output_throughput", t.output_tok_per_s, 3);
    w.field_num("total_token_throughput", t.total_tok_per_s, 3);
    w.key("goodput");
    match &t.goodput {
        None => {
            w.null();
        }
        Some(g) => {
            w.begin_object();
            w.key("slos_ms").begin_object();
            for slo in g.slos.iter() {
                w.field_num(slo.metric.key(), Some(slo.ms), 3);
            }
            w.end_object();
            w.field_int("good_requests", g.good);
            w.field_num("request_goodput", g.per_s, 6);
            w.end_object();
        }
    }
    w.end_object();
}

/// `{mean, median, p99}` of one latency, or null.
fn trio(w: &mut JsonWriter, key: &str, t: Option<Trio>) {
    w.key(key);
    match t {
        None => {
            w.null();
        }
        Some(t) => {
            w.begin_object();
            w.field_num("mean", t.mean, 3);
            w.field_num("median", t.median, 3);
            w.field_num("p99", t.p99, 3);
            w.end_object();
        }
    }
}

/// `load`: each level and the saturation point (docs/JSON.md "load"); one level per trace, so
/// a sweep's report passes every level of the sweep.
pub(crate) fn load(
    w: &mut JsonWriter,
    levels: &[&LoadLevel],
    sat: &Saturation,
    instances: Option<&crate::stats::instances::InstanceSharing>,
) {
    w.key("load").begin_object();
    w.key("levels").begin_array();
    for l in levels {
        w.begin_object();
        w.field_str("mode", &l.mode);
        w.field_int("concurrency", i64::from(l.concurrency));
        w.field_num("rate_rps", l.rate_rps, 6);
        w.field_opt_str("arrivals", l.arrivals.as_deref());
        w.field_num("burstiness", l.burstiness, 6);
        w.field_opt_int("seed", l.seed);
        w.field_int("instances", i64::from(l.instances));
        w.field_int("completed", l.completed);
        w.field_int("failed", l.failed);
        w.field_int("rejected", l.rejected);
        w.field_num("duration_s", l.duration_s, 6);
        w.field_num("request_throughput", l.request_throughput, 6);
        w.field_num("output_throughput", l.output_throughput, 3);
        w.field_num("total_token_throughput", l.total_token_throughput, 3);
        w.field_num("goodput", l.goodput, 6);
        trio(w, "ttft_ms", Some(l.ttft_ms));
        trio(w, "tpot_ms", Some(l.tpot_ms));
        trio(w, "itl_ms", Some(l.itl_ms));
        trio(w, "e2el_ms", Some(l.e2el_ms));
        w.field_num("in_flight_mean", l.in_flight_mean, 3);
        w.field_int("in_flight_max", i64::from(l.in_flight_max));
        // The step line of the HTML chart: [ms since the level started, count from then on].
        w.key("in_flight_over_time").begin_array();
        for &(t_us, n) in &l.in_flight {
            // One pair a line.
            let mut pair = JsonWriter::compact();
            pair.begin_array()
                .num(Some(t_us as f64 / 1000.0), 3)
                .int(n)
                .end_array();
            w.raw(pair.finish().trim_end());
        }
        w.end_array();
        w.key("send_lateness_ms").begin_object();
        w.field_num("p50", l.send_lateness_p50_ms, 3);
        w.field_num("p99", l.send_lateness_p99_ms, 3);
        w.end_object();
        trio(w, "ttft_from_scheduled_ms", l.ttft_from_scheduled_ms);
        trio(w, "e2el_from_scheduled_ms", l.e2el_from_scheduled_ms);
        trio(w, "queue_ms", l.queue_ms);
        w.field_num("client_cpu_ms", l.client_cpu_ms, 3);
        w.end_object();
    }
    w.end_array();
    w.key("saturation").begin_object();
    w.field_opt_int("level", sat.level);
    let at = sat.at(levels);
    w.field_opt_int("concurrency", at.map(|l| l.concurrency));
    w.field_num("rate_rps", at.and_then(|l| l.rate_rps), 6);
    w.field_str("rule", &sat.rule);
    w.field_str("offered_basis", &sat.offered_basis);
    w.key("offered_rps").begin_array();
    for o in &sat.offered_rps {
        w.num(*o, 6);
    }
    w.end_array();
    w.key("holds").begin_array();
    for h in &sat.holds {
        w.bool(*h);
    }
    w.end_array();
    w.end_object();
    super::instances::json(w, instances);
    w.end_object();
}

/// A request's place in the load: its stream and when it was meant to go and went (ms since
/// the level started).
fn request_load(w: &mut JsonWriter, l: Option<&RequestLoad>) {
    w.field_num("scheduled_ms", l.map(|l| l.scheduled_ms), 3);
    w.field_num("sent_ms", l.map(|l| l.sent_ms), 3);
    w.field_opt_int("stream", l.map(|l| l.stream));
}

fn spread(w: &mut JsonWriter, key: &str, s: Option<Spread>) {
    w.key(key);
    match s {
        None => {
            w.null();
        }
        Some(s) => {
            w.begin_object();
            w.field_int("n", s.n);
            for (k, v) in [
                ("mean", s.mean),
                ("median", s.median),
                ("min", s.min),
                ("max", s.max),
            ] {
                w.field_num(k, Some(v), 3);
            }
            w.end_object();
        }
    }
}

fn observation_list(w: &mut JsonWriter, key: &str, list: &[Observation]) {
    w.key(key).begin_array();
    for ob in list {
        w.begin_object();
        w.field_str("code", ob.code);
        w.field_str("text", &ob.text());
        w.end_object();
    }
    w.end_array();
}

/// The original report's figures with its definitions, its observations and conclusion.
fn original(w: &mut JsonWriter, a: &Analysis) {
    let o = &a.original;
    w.key("original").begin_object();
    w.key("hardware").begin_object();
    for (k, v) in [("board", &a.hardware.board), ("soc", &a.hardware.soc)] {
        w.field_opt_str(k, v.as_deref());
    }
    w.field_opt_int("npu_cores", a.hardware.npu_cores);
    w.end_object();
    w.field_int("total_requests", o.total_requests);
    w.field_int("successful_requests", o.successful_requests);
    w.field_num("success_rate_pct", o.success_rate_pct(), 3);
    w.field_num("duration_s", Some(o.duration_s), 3);
    spread(w, "tokens_per_second", o.tokens_per_second);
    spread(w, "ttft_ms", o.ttft_ms);
    spread(w, "input_tokens_per_second", o.input_tokens_per_second);
    spread(w, "total_time_ms", o.total_time_ms);
    spread(w, "memory_mb", o.memory_mb);
    w.field_int("total_input_tokens", o.total_input_tokens);
    w.field_int("total_output_tokens", o.total_output_tokens);
    w.field_str(
        "output_tokens_from",
        &crate::analysis::original::count_phrase(o),
    );
    w.field_int("total_tokens", o.total_tokens);
    w.field_num("avg_output_per_request", o.avg_output_per_request(), 3);
    w.key("requests").begin_array();
    for r in &o.requests {
        w.begin_object();
        w.field_int("index", i64::from(r.index));
        w.field_bool("success", r.success);
        w.field_str("error_message", &r.error_message);
        w.field_num("ttft_ms", Some(r.ttft_ms), 3);
        w.field_num("total_time_ms", Some(r.total_time_ms), 3);
        w.field_num("prefill_time_ms", Some(r.prefill_time_ms), 3);
        w.field_num("generate_time_ms", Some(r.generate_time_ms), 3);
        w.field_int("input_tokens", r.input_tokens);
        w.field_int("output_tokens", r.output_tokens);
        w.field_str(
            "output_tokens_from",
            &match &r.output_count {
                _ if !r.success => "none (failed: every figure zeroed)".to_string(),
                OutputCount::Runtime => "runtime generate_tokens".to_string(),
                OutputCount::Server(f) => format!("server {f}"),
                OutputCount::ServerWords(f) => format!("server word count {f}"),
                OutputCount::Estimate => "estimate len(text) // 4".to_string(),
            },
        );
        w.field_num("tokens_per_second", Some(r.tokens_per_second), 3);
        w.field_num(
            "input_tokens_per_second",
            Some(r.input_tokens_per_second),
            3,
        );
        w.field_num("memory_usage_mb", Some(r.memory_usage_mb), 3);
        w.end_object();
    }
    w.end_array();
    let t = &a.original_text;
    observation_list(w, "performance_analysis", &t.performance);
    observation_list(w, "quality_assessment", &t.quality);
    observation_list(w, "long_form_generation", &t.long_form);
    w.field_str(
        "conclusion_intro",
        &t.conclusion_intro
            .iter()
            .map(|s| match s {
                Span::Text(x) | Span::Name(x) => x.as_str(),
            })
            .collect::<String>(),
    );
    observation_list(w, "conclusion", &t.conclusion);
    w.end_object();
}

/// A parameter's value as JSON: numbers and booleans typed, masks as hex strings.
fn param_value(w: &mut JsonWriter, v: &ParamValue) {
    match v {
        ParamValue::Int(i) => w.int(*i),
        ParamValue::Num(x, d) => w.num(Some(*x), *d),
        ParamValue::Bool(b) => w.bool(*b),
        ParamValue::Hex(_) | ParamValue::Text(_) => w.str(&v.display()),
    };
}

/// What a request is and how it ended, as every export that lists requests names it (the
/// JSON report's `requests[]`, the perfetto slices' args).
pub(crate) fn request_head(w: &mut JsonWriter, r: &RequestRecord) {
    w.field_int("index", r.index);
    w.field_str("id", &r.test_id);
    w.field_str("name", &r.name);
    w.field_str("category", &r.category);
    w.field_str("status", r.status.as_str());
    w.field_str("detail", &r.detail);
    w.field_bool("warmup", r.warmup);
}

fn request(
    w: &mut JsonWriter,
    r: &RequestRecord,
    m: &RequestMetrics,
    tele: Option<&RequestTelemetry>,
    input: Option<&RequestInput>,
) {
    w.begin_object();
    request_head(w, r);
    w.field_bool("think_requested", r.think);
    w.field_int("max_new_tokens", i64::from(r.max_new_tokens));
    w.field_str(
        "cap_enforced_by",
        match r.cap_source {
            crate::trace::CapSource::Runtime => "runtime (init)",
            crate::trace::CapSource::RuntimePerRun => "runtime (per run)",
            crate::trace::CapSource::Rkbench => "rkbench",
        },
    );
    w.field_bool("hit_cap", m.hit_cap);
    w.field_int("run_return", i64::from(r.run_return));
    w.field_opt_int("input_tokens", m.input_tokens);
    // Traces from format 1.1 say what was fed; older ones (all text prompts) have no `input`.
    if let Some(i) = input {
        w.key("input").begin_object();
        w.field_str(
            "kind",
            if i.is_exact_tokens() {
                "tokens"
            } else {
                "prompt"
            },
        );
        w.key("exact_tokens");
        if i.is_exact_tokens() {
            w.int(i64::from(i.n_tokens));
        } else {
            w.null();
        }
        w.end_object();
    }
    w.field_int("output_tokens", m.output_tokens);
    w.field_int("waiting_tokens", r.tokens.waiting.len());
    w.field_num("start_ms", Some(r.start_us as f64 / 1e3), 3);
    w.field_num("ttft_ms", m.ttft_ms, 3);
    w.field_num("e2e_ms", Some(m.e2e_ms), 3);
    w.field_num("prefill_tok_s", m.prefill_tok_s, 3);
    w.field_num("decode_tok_s", m.decode_tok_s, 3);
    w.field_num("decode_tok_s_median_gap", m.decode_tok_s_median_gap, 3);
    w.field_num("generation_speed_tok_s", m.generation_speed_tok_s, 3);
    w.key("itl_ms");
    match m.itl {
        Some(i) => {
            w.begin_object();
            w.field_num("p50", Some(i.p50), 3);
            w.field_num("p90", Some(i.p90), 3);
            w.field_num("p99", Some(i.p99), 3);
            w.field_num("max", Some(i.max), 3);
            w.end_object();
        }
        None => {
            w.null();
        }
    }
    w.field_int("stalls", m.stalls);
    w.field_num("context_slope_ms_per_1k", m.context_slope_ms_per_1k, 3);
    w.key("runtime_perf");
    match m.runtime {
        Some(p) => {
            w.begin_object();
            w.field_num("prefill_time_ms", Some(p.prefill_ms()), 3);
            w.field_int("prefill_tokens", i64::from(p.prefill_tokens));
            w.field_num("generate_time_ms", Some(p.generate_ms()), 3);
            w.field_int("generate_tokens", i64::from(p.generate_tokens));
            w.field_num("memory_usage_mb", Some(p.memory_mb()), 1);
            w.field_num("prefill_tok_s", p.prefill_tok_s(), 3);
            w.field_num("decode_tok_s", p.decode_tok_s(), 3);
            w.end_object();
        }
        None => {
            w.null();
        }
    }
    w.field_bool("token_count_mismatch", m.token_count_mismatch);
    w.key("think");
    match m.think {
        Some(t) => {
            w.begin_object();
            w.field_int("think_tokens", t.think_tokens);
            w.field_int("answer_tokens", t.answer_tokens);
            w.field_num("time_to_answer_ms", t.time_to_answer_ms, 3);
            w.field_bool("unterminated", t.unterminated);
            w.end_object();
        }
        None => {
            w.null();
        }
    }
    request_telemetry(w, tele);
    w.field_str("prompt", &r.prompt);
    w.field_str("response", &r.response());
}

/// `energy` (only in reports of traces with power samples; docs/JSON.md "energy").
fn energy(w: &mut JsonWriter, e: &Energy) {
    w.key("energy").begin_object();
    w.field_str("source", &e.source);
    w.field_str("spec", &e.spec);
    w.field_str("device", &e.device);
    w.field_opt_str("method", e.run.method.map(|m| m.as_str()));
    w.field_num("interval_ms", Some(e.interval_ms), 1);
    w.field_num("source_update_ms", e.source_update_ms, 1);
    w.field_int("samples", e.samples as i64);
    w.field_num("idle_w", e.idle_w, 3);
    w.field_int("idle_samples", e.idle_samples as i64);
    w.field_num("idle_after_w", e.idle_after_w, 3);
    w.field_num("run_s", Some(e.run_s), 3);
    w.field_num("run_j", e.run.j, 3);
    w.field_num("run_above_idle_j", e.run.above_idle_j, 3);
    w.field_num("run_error_j", e.run.error_j, 3);
    w.field_num("run_mean_w", e.run.mean_w, 3);
    w.field_num("peak_w", e.peak_w, 3);
    w.field_int("output_tokens", e.output_tokens as i64);
    w.field_num("j_per_output_token", e.j_per_output_token, 6);
    w.field_num("tokens_per_j", e.tokens_per_j, 6);
    w.field_num("run_integration_j", e.run_integration_j, 3);
    w.field_num("run_counter_j", e.run_counter_j, 3);
    w.field_num("counter_resolution_j", e.counter_resolution_j, 6);
    w.field_opt_str("run_reason", e.run.reason.as_deref());
    let f = &e.faults;
    w.key("faults").begin_object();
    w.field_int("unanswered", f.unanswered as i64);
    w.field_int("refused", f.refused as i64);
    w.field_int("counter_backwards", f.backwards as i64);
    w.field_int("gaps", f.gaps as i64);
    w.field_int("rejected_batches", i64::from(f.rejected_batches));
    w.end_object();
    w.end_object();
}

fn window_energy(w: &mut JsonWriter, prefix: &str, x: Option<&WindowEnergy>) {
    w.field_num(&format!("{prefix}_j"), x.and_then(|x| x.j), 3);
    if prefix == "energy" {
        w.field_num("energy_above_idle_j", x.and_then(|x| x.above_idle_j), 3);
        w.field_num("energy_error_j", x.and_then(|x| x.error_j), 3);
        w.field_opt_str(
            "energy_method",
            x.and_then(|x| x.method).map(|m| m.as_str()),
        );
        w.field_opt_str("energy_reason", x.and_then(|x| x.reason.as_deref()));
    }
}

/// A request's energy fields (in reports of traces with power samples only).
fn request_energy(w: &mut JsonWriter, e: Option<&RequestEnergy>) {
    window_energy(w, "energy", e.map(|e| &e.total));
    window_energy(w, "prefill_energy", e.map(|e| &e.prefill));
    window_energy(w, "decode_energy", e.map(|e| &e.decode));
}

/// `runtime_conformance` (every check, fixed order) and `cap_enforcement` (capped requests).
fn runtime_conformance(w: &mut JsonWriter, a: &Analysis) {
    w.key("runtime_conformance").begin_array();
    for c in &a.conformance.checks {
        w.begin_object();
        w.field_str("check", c.check);
        w.field_str("status", c.status.as_str());
        w.field_str("evidence", &c.evidence);
        w.end_object();
    }
    w.end_array();
    w.key("cap_enforcement").begin_array();
    for c in &a.conformance.caps {
        w.begin_object();
        w.field_int("index", i64::from(c.index));
        w.field_str("id", &c.test_id);
        w.field_int("cap", c.cap);
        w.field_int("tokens", c.tokens);
        w.field_str("enforced", &c.how);
        w.field_bool("held", c.held);
        w.end_object();
    }
    w.end_array();
}

/// `warnings`: always present (empty when none), in `stats::warnings` order.
fn warnings(w: &mut JsonWriter, a: &Analysis) {
    w.key("warnings").begin_array();
    for x in &a.warnings {
        w.begin_object();
        w.field_str("code", x.code);
        w.field_str("message", &x.message);
        w.field_str("fix", &x.fix);
        w.field_bool("invalidates_comparison", x.invalidates_comparison);
        w.end_object();
    }
    w.end_array();
}

fn min_max(w: &mut JsonWriter, k: &str, r: Option<MinMax>) {
    w.key(k);
    match r {
        Some(r) => {
            w.begin_object();
            w.field_int("min", r.min);
            w.field_int("max", r.max);
            w.end_object();
        }
        None => {
            w.null();
        }
    }
}

/// Per-request `telemetry`: board state in the request's window, in the trace's units; `null`
/// when the trace has no telemetry at all.
fn request_telemetry(w: &mut JsonWriter, t: Option<&RequestTelemetry>) {
    w.key("telemetry");
    let Some(t) = t else {
        w.null();
        return;
    };
    w.begin_object();
    w.field_int("samples", t.samples);
    w.field_num("npu_load_pct", t.npu_load_pct, 1);
    w.field_num("npu_load_decode_pct", t.npu_load_decode_pct, 1);
    min_max(w, "npu_freq_hz", t.npu_freq_hz);
    min_max(w, "dmc_freq_hz", t.dmc_freq_hz);
    w.key("cpu_freq_khz").begin_object();
    for (p, r) in &t.cpu_freq_khz {
        min_max(w, p, Some(*r));
    }
    w.end_object();
    w.key("max_temp");
    match &t.max_temp_mc {
        Some((zone, mc)) => {
            w.begin_object();
            w.field_str("zone", zone);
            w.field_int("millicelsius", *mc);
            w.end_object();
        }
        None => {
            w.null();
        }
    }
    w.field_num("process_cpu_pct", t.process_cpu_pct, 1);
    w.field_opt_int("rss_max_kb", t.rss_max_kb);
    w.end_object();
}
