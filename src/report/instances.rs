//! "How the instances shared the NPU" (`record --concurrency N` on the runtime): one sentence
//! and one table in Markdown and HTML, and the `load.instances` JSON object (docs/JSON.md,
//! docs/INSTANCES.md). The figures come from `stats::instances` through the analysis; this
//! module only words and formats them. Each renderer calls one function here; every one writes nothing for a trace
//! without several runtime instances.
use super::json_writer::JsonWriter;
use super::table::{Cell, Table};
use super::text::{html_escape, md_inline, num};
use crate::analysis::Analysis;
use crate::stats::instances::{InstanceSharing, Sharing};
use std::fmt::Write;

const TITLE: &str = "How the instances shared the NPU";

/// The sentence: how they shared it, with the figure it rests on.
pub(crate) fn sentence(s: &InstanceSharing) -> String {
    let k = s.compared.unwrap_or(2);
    let x = num(s.aggregate_speedup, 2);
    let head = format!("{} runtime instances in one process", s.instances);
    let mut t = match s.sharing {
        Sharing::Serial => format!(
            "{head} used the NPU in turn (serialised): their aggregate decode rate while {k} decoded together was {x}× that of one decoding alone."
        ),
        Sharing::Parallel => format!(
            "{head} used the NPU in parallel: their aggregate decode rate while {k} decoded together was {x}× that of one decoding alone."
        ),
        Sharing::Partial => format!(
            "{head} used the NPU partly in parallel: their aggregate decode rate while {k} decoded together was {x}× that of one decoding alone (1× = in turn, {k}× = in parallel)."
        ),
        Sharing::Unknown => format!(
            "{head}: how they shared the NPU cannot be told from this trace ({}).",
            s.why_unknown
        ),
    };
    let _ = write!(
        t,
        " Windows with a request in prefill ({} s) are left out; base_domain_id per instance: {}.",
        num(Some(s.prefill_s), 3),
        s.base_domain_ids.join(", ")
    );
    if let Some(m) = &s.simulated {
        let _ = write!(
            t,
            " This trace comes from the simulated runtime, whose stated contention model is {m}: the figure checks rkbench, not a board."
        );
    }
    t
}

fn table(s: &InstanceSharing) -> Table {
    let mut t = Table::grid(&[
        "#instances decoding",
        "#window s",
        "#decode tokens",
        "#aggregate tok/s",
        "#vs one alone",
    ]);
    for w in &s.windows {
        t.push(vec![
            Cell::num(w.decoding.to_string()),
            Cell::num(num(Some(w.seconds), 3)),
            Cell::num(num(Some(w.tokens), 1)),
            Cell::num(num(w.rate_tok_s, 2)),
            Cell::num(
                w.speedup
                    .map_or("-".into(), |x| format!("{}×", num(Some(x), 2))),
            ),
        ]);
    }
    t
}

/// The Markdown section (empty without several instances).
pub(crate) fn markdown(a: &Analysis) -> String {
    let Some(s) = &a.instances else {
        return String::new();
    };
    format!(
        "## {TITLE}\n\n{}\n\n{}Definition: docs/INSTANCES.md (windows cut at every prefill/decode boundary on the run clock; each decode token spread over the gap since its request's previous token).\n\n",
        md_inline(&sentence(s)),
        table(s).markdown()
    )
}

/// The HTML section (empty without several instances).
pub(crate) fn html(a: &Analysis) -> String {
    let Some(s) = &a.instances else {
        return String::new();
    };
    format!(
        "<section id=\"instances\">\n<h2>{TITLE}</h2>\n<p>{}</p>\n{}</section>\n",
        html_escape(&sentence(s)),
        table(s).html()
    )
}

/// `load.instances`: `null` for anything but several runtime instances.
pub(crate) fn json(w: &mut JsonWriter, s: Option<&InstanceSharing>) {
    w.key("instances");
    let Some(s) = s else {
        w.null();
        return;
    };
    w.begin_object();
    w.field_int("instances", s.instances);
    w.field_str("sharing", s.sharing.as_str());
    w.field_num("aggregate_speedup", s.aggregate_speedup, 3);
    w.field_opt_int("compared_instances", s.compared);
    w.key("windows").begin_array();
    for x in &s.windows {
        w.begin_object();
        w.field_int("decoding", x.decoding);
        w.field_num("window_s", Some(x.seconds), 6);
        w.field_num("decode_tokens", Some(x.tokens), 3);
        w.field_num("rate_tok_s", x.rate_tok_s, 3);
        w.field_num("speedup", x.speedup, 3);
        w.end_object();
    }
    w.end_array();
    w.field_num("prefill_excluded_s", Some(s.prefill_s), 6);
    w.key("base_domain_ids").begin_array();
    for d in &s.base_domain_ids {
        w.str(d);
    }
    w.end_array();
    w.field_opt_str("simulated_contention", s.simulated.as_deref());
    w.field_str("why_unknown", &s.why_unknown);
    w.field_str("text", &sentence(s));
    w.end_object();
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stats::instances::Windows;

    fn sharing(s: Sharing, x: Option<f64>, simulated: Option<&str>) -> InstanceSharing {
        InstanceSharing {
            instances: 2,
            sharing: s,
            compared: x.map(|_| 2),
            aggregate_speedup: x,
            windows: vec![Windows {
                decoding: 1,
                seconds: 1.5,
                tokens: 30.0,
                rate_tok_s: Some(20.0),
                speedup: Some(1.0),
            }],
            prefill_s: 0.25,
            why_unknown: "too little overlap".into(),
            simulated: simulated.map(String::from),
            base_domain_ids: vec!["0".into(), "1".into()],
        }
    }

    #[test]
    fn the_sentence_says_how_and_by_how_much() {
        let t = sentence(&sharing(Sharing::Serial, Some(1.0234), None));
        assert!(
            t.contains("in turn (serialised)") && t.contains("1.02×"),
            "{t}"
        );
        assert!(t.contains("(0.250 s) are left out; base_domain_id per instance: 0, 1."));
        assert!(
            !t.contains("simulated"),
            "a real library's trace says nothing of it"
        );
        let t = sentence(&sharing(Sharing::Parallel, Some(1.96), Some("parallel")));
        assert!(t.contains("in parallel: ") && t.contains("1.96×"), "{t}");
        assert!(t.contains("stated contention model is parallel"), "{t}");
        let t = sentence(&sharing(Sharing::Partial, Some(1.5), None));
        assert!(t.contains("partly in parallel") && t.contains("(1× = in turn, 2× = in parallel)"));
        let t = sentence(&sharing(Sharing::Unknown, None, None));
        assert!(
            t.contains("cannot be told from this trace (too little overlap)"),
            "{t}"
        );
        let md = table(&sharing(Sharing::Serial, Some(1.0), None)).markdown();
        assert!(md.contains("| 1 | 1.500 | 30.0 | 20.00 | 1.00× |"), "{md}");
    }
}
