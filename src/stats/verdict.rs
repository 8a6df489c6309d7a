//! The verdict, in MLPerf LoadGen's spirit: a run is VALID only when every condition for a fair,
//! comparable number holds, and the reasons are listed when it is not. Printed first in reports.
use super::summary::Summary;
use super::warnings::Warning;
use crate::trace::{RunStatus, Status, Trace};

/// Fewest inter-token samples for which a p99 means something (≥ 1 value beyond it).
pub(crate) const MIN_ITL_FOR_P99: usize = 100;

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Verdict {
    pub valid: bool,
    pub reasons: Vec<String>,
}

pub(crate) fn of(trace: &Trace, s: &Summary, warnings: &[Warning]) -> Verdict {
    let mut reasons = Vec::new();
    if let Some(d) = &trace.damage {
        reasons.push(format!("the trace is damaged ({d})"));
    }
    if let Some(first) = trace.impossible.first() {
        reasons.push(format!(
            "{} frame(s) of the trace cannot be true and were dropped (first: {first})",
            trace.impossible.len()
        ));
    }
    match &trace.end {
        None => reasons.push(
            "the trace has no end record (the recorder was killed or is still running)".into(),
        ),
        Some(e) if e.status != RunStatus::Complete => {
            reasons.push(format!("the run ended {}", e.status.as_str()))
        }
        _ => {}
    }
    if s.requests == 0 {
        reasons.push("no measured requests".into());
    } else if s.ok == 0 {
        reasons.push("no request completed".into());
    }
    for m in s
        .metrics
        .iter()
        .filter(|m| !m.warmup && m.status != Status::Ok)
    {
        reasons.push(format!(
            "request {} ({}) ended {} after {} tokens",
            m.index,
            m.id,
            m.status.as_str(),
            m.output_tokens
        ));
    }
    let mism = s.metrics.iter().filter(|m| m.token_count_mismatch).count();
    if mism > 0 {
        reasons.push(format!("{mism} request(s) where the runtime's generate_tokens differs from the token callbacks"));
    }
    let itl_n = s.itl_ms.map(|a| a.n).unwrap_or(0);
    if itl_n < MIN_ITL_FOR_P99 {
        reasons.push(format!(
            "only {itl_n} inter-token samples: a p99 needs at least {MIN_ITL_FOR_P99}"
        ));
    }
    for w in warnings.iter().filter(|w| w.invalidates_comparison) {
        reasons.push(format!("warning {}: {}", w.code, w.message));
    }
    Verdict {
        valid: reasons.is_empty(),
        reasons,
    }
}
