//! Sentences both the Markdown and the HTML report state, written once so they cannot drift.
//! Plain text: each renderer adds its own markup around them.
use crate::analysis::{Analysis, Span};

/// What a VALID verdict means (the condition `stats::verdict` checks).
pub(crate) const VERDICT_VALID_MEANS: &str =
    "every request completed, the trace is intact, and no board condition invalidates comparison.";

/// What the runtime conformance table is, before its `unknown` status is explained.
pub(crate) const CONFORMANCE_INTRO: &str =
    "Whether the runtime behaved as the RKLLM ABI facts say; every figure depends on it.";

/// The status a conformance check has when the trace holds nothing to judge it by.
pub(crate) const CONFORMANCE_UNKNOWN: (&str, &str) =
    ("unknown", "nothing in this trace to judge by.");

/// The tolerance the cap-enforcement table judges by.
pub(crate) fn cap_tolerance() -> String {
    format!(
        "(held: at most {} token(s) over):",
        crate::stats::conformance::CAP_TOLERANCE
    )
}

/// Why the peer table has several rows per figure name.
pub(crate) const PEERS_NOTE: &str = "\"ITL\" and \"TPOT\" mean different things in different tools; each row is computed exactly as that tool defines it (its own percentile method and σ).";

/// How to read the board-state table: the telemetry interval (as recorded) and each window.
pub(crate) fn board_state_note(a: &Analysis) -> Vec<Span> {
    let interval = a
        .trace
        .header
        .board
        .iter()
        .find(|f| f.key == "telemetry.interval_ms")
        .map(|f| format!(" every {} ms", f.value))
        .unwrap_or_default();
    vec![
        Span::Text(format!("Telemetry sampled{interval}; each request's window is t0 to t_end. NPU load is the mean over cores (whole request / decode only). ")),
        Span::Name("-".into()),
        Span::Text(": no sample in the window.".into()),
    ]
}

/// Whether goodput was computed, and how to have it computed.
pub(crate) fn goodput_note(a: &Analysis) -> Vec<Span> {
    if a.throughput.goodput.is_some() {
        vec![
            Span::Text(
                "Goodput counts the successful requests meeting every SLO given with ".into(),
            ),
            Span::Name("--goodput".into()),
            Span::Text(
                " (a limit is met when the value is ≤ it; TPOT is 0 for a one-token request)."
                    .into(),
            ),
        ]
    } else {
        vec![
            Span::Text("Goodput is computed when SLOs are given: ".into()),
            Span::Name("rkbench report --goodput ttft:500,tpot:350".into()),
            Span::Text(" (ms; vLLM's keys ttft, tpot, e2el).".into()),
        ]
    }
}
