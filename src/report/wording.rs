//! Sentences both the Markdown and the HTML report state, written once so they cannot drift.
//! Plain text: each renderer adds its own markup around them.

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
