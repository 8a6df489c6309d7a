//! The gap-cluster threshold of a Rockchip character stream, chosen from the stream's own gaps.
//!
//! Rockchip's servers send one character per chunk and no token count. The gaps between
//! characters are bimodal: characters of one token leave µs to a few ms apart (the server drains
//! its queue, or polls it every few ms), tokens a decode interval apart (tens to hundreds of
//! ms). A fixed threshold fails one server or the other (1 ms splits the 1.2.3 server's tokens,
//! whose characters leave 2–4 ms apart; 10 ms merges tokens across a stall), so by default each
//! request's threshold is chosen from its own recorded chunk times ([`choose`]): a pure function
//! of the trace, so the analysis derives the same threshold the recording attributed by.
use super::server::{GapRule, ServerRequest};

/// No threshold below this (µs): gaps this short are always one token's characters (the old
/// fixed default, and the fallback when a stream's gaps are not bimodal).
pub const FLOOR_US: u64 = 1000;

/// Fewer gaps than this give no distribution to choose from: the fallback.
pub const MIN_GAPS: usize = 8;

/// The two modes must be at least this factor apart (an empty stretch of the log axis).
pub const MIN_RATIO: u64 = 2;

/// Each side of the split must hold at least this many gaps, and 1/`MIN_SHARE_DIV` of them, so
/// a few stalls (one long within-token gap, one long pause between tokens) cannot be a mode.
const MIN_SIDE: usize = 2;
const MIN_SHARE_DIV: usize = 20;

/// The threshold a request was counted with, and where it came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GapChoice {
    pub threshold_us: u64,
    /// `adaptive`, `fixed`, `--token-gap`, or `fallback: <why>`.
    pub from: String,
}

/// The gaps between consecutive text chunks of `r`, µs, in stream order.
pub fn text_gaps(r: &ServerRequest) -> Vec<u64> {
    let t: Vec<u64> = (0..r.chunks())
        .filter(|&i| r.kind(i).carries_tokens() && r.has_text(i))
        .map(|i| r.chunk_us[i])
        .collect();
    t.windows(2).map(|w| w[1].saturating_sub(w[0])).collect()
}

/// The threshold `rule` gives request `r`.
pub fn threshold_for(r: &ServerRequest, rule: GapRule) -> GapChoice {
    match rule {
        GapRule::Fixed { us, flag } => GapChoice {
            threshold_us: us,
            from: if flag { "--token-gap" } else { "fixed" }.into(),
        },
        GapRule::Adaptive => choose(&text_gaps(r)),
    }
}

/// The rule: sort the gaps; among the splits into a lower and an upper group (each holding at
/// least [`MIN_SIDE`] gaps and 1/20 of them, the upper one starting at [`FLOOR_US`] or more),
/// take the widest gap in log-space, i.e. the largest ratio upper/lower of the two gaps either
/// side of it (the first on a tie). Its ratio must be at least [`MIN_RATIO`]; the threshold is
/// their geometric mean (rounded up; at least the floor), which keeps both modes as far from it
/// as possible. Otherwise (fewer than [`MIN_GAPS`] gaps, or no such split) the floor, with a
/// note why. Integer arithmetic only: the same gaps give the same threshold everywhere.
pub fn choose(gaps: &[u64]) -> GapChoice {
    let fallback = |why: &str| GapChoice {
        threshold_us: FLOOR_US,
        from: format!("fallback: {why}"),
    };
    if gaps.len() < MIN_GAPS {
        return fallback(&format!(
            "{} gap(s) between characters, fewer than {MIN_GAPS} to choose from",
            gaps.len()
        ));
    }
    let mut g = gaps.to_vec();
    g.sort_unstable();
    let side = MIN_SIDE.max(g.len() / MIN_SHARE_DIV);
    // (lower, upper) of the widest split so far.
    let mut best: Option<(u64, u64)> = None;
    for i in (side - 1)..(g.len() - side) {
        let (lo, hi) = (g[i].max(1), g[i + 1]);
        if hi < FLOOR_US {
            continue;
        }
        let wider = best.map_or(true, |(bl, bh)| {
            u128::from(hi) * u128::from(bl) > u128::from(bh) * u128::from(lo)
        });
        if wider {
            best = Some((lo, hi));
        }
    }
    match best {
        Some((lo, hi)) if u128::from(hi) >= u128::from(lo) * u128::from(MIN_RATIO) => {
            let t = ceil_sqrt(u128::from(lo) * u128::from(hi));
            GapChoice {
                threshold_us: (t as u64).max(FLOOR_US),
                from: "adaptive".into(),
            }
        }
        _ => fallback(&format!(
            "the gaps between characters are not bimodal (no two groups a factor {MIN_RATIO} apart)"
        )),
    }
}

/// ⌈√p⌉, exact (the float estimate is corrected in integers).
fn ceil_sqrt(p: u128) -> u128 {
    let mut t = (p as f64).sqrt() as u128;
    while t > 0 && t * t >= p {
        t -= 1;
    }
    while t * t < p {
        t += 1;
    }
    t
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A deterministic jitter in [0, span): a small LCG, so the test needs no random crate.
    struct Jitter(u64);
    impl Jitter {
        fn next(&mut self, span: u64) -> u64 {
            self.0 = self
                .0
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (self.0 >> 33) % span
        }
    }

    /// A stream of `tokens` tokens of 1–5 characters: within-token gaps 2–4 ms, token gaps
    /// 30 ± 5 ms; `stall` replaces one within-token gap. Returns (gaps, true token count).
    fn stream(tokens: usize, seed: u64, stall: Option<u64>) -> (Vec<u64>, usize) {
        let mut j = Jitter(seed);
        let mut gaps = Vec::new();
        let mut stalled = false;
        for k in 0..tokens {
            if k > 0 {
                gaps.push(25_000 + j.next(10_001));
            }
            for _ in 1..(1 + j.next(5)) {
                match stall {
                    Some(s) if !stalled && k > tokens / 2 => {
                        gaps.push(s);
                        stalled = true;
                    }
                    _ => gaps.push(2_000 + j.next(2_001)),
                }
            }
        }
        (gaps, tokens)
    }

    fn count(gaps: &[u64], t: u64) -> usize {
        1 + gaps.iter().filter(|&&g| g >= t).count()
    }

    fn close_calls(gaps: &[u64], t: u64) -> usize {
        gaps.iter()
            .filter(|&&g| g.saturating_mul(2) >= t && g < t.saturating_mul(2))
            .count()
    }

    /// Bimodal gaps with jitter: the chosen threshold gives exactly the true token count, for
    /// every seed, where the old fixed 1 ms splits every multi-character token.
    #[test]
    fn adaptive_threshold_counts_jittered_bimodal_gaps_exactly() {
        for seed in 0..50 {
            let (gaps, tokens) = stream(35, seed, None);
            let c = choose(&gaps);
            assert_eq!(c.from, "adaptive", "seed {seed}");
            assert!(
                (4_001..25_000).contains(&c.threshold_us),
                "seed {seed}: {c:?}"
            );
            assert_eq!(count(&gaps, c.threshold_us), tokens, "seed {seed}");
            assert_eq!(close_calls(&gaps, c.threshold_us), 0, "seed {seed}");
            assert!(
                count(&gaps, FLOOR_US) > tokens,
                "1 ms overcounts (seed {seed})"
            );
        }
    }

    /// One within-token stall of 12 ms: the count stays right, or the stall is a close call
    /// (the report names it); a stall can never become a mode of its own.
    #[test]
    fn a_stall_counts_right_or_is_a_close_call() {
        for seed in 0..50 {
            let (gaps, tokens) = stream(35, seed, Some(12_000));
            let c = choose(&gaps);
            assert_eq!(c.from, "adaptive", "seed {seed}");
            let n = count(&gaps, c.threshold_us);
            assert!(
                n == tokens || close_calls(&gaps, c.threshold_us) > 0,
                "seed {seed}: {n} for {tokens}, {c:?}"
            );
            assert!(n.abs_diff(tokens) <= 1, "seed {seed}");
        }
        // One long pause between tokens is no mode: the threshold stays between the modes.
        let (mut gaps, tokens) = stream(35, 7, None);
        let between = gaps.iter().position(|&g| g >= 25_000).unwrap();
        gaps[between] = 900_000;
        let c = choose(&gaps);
        assert_eq!(count(&gaps, c.threshold_us), tokens, "{c:?}");
    }

    /// A unimodal stream (one character per token, or too few gaps) falls back to the floor,
    /// with a note saying why; sub-millisecond modes never put the threshold below the floor.
    #[test]
    fn unimodal_or_short_streams_fall_back_with_a_note() {
        let mut j = Jitter(3);
        let uni: Vec<u64> = (0..40).map(|_| 25_000 + j.next(10_001)).collect();
        let c = choose(&uni);
        assert_eq!(c.threshold_us, FLOOR_US);
        assert!(
            c.from.starts_with("fallback: ") && c.from.contains("not bimodal"),
            "{c:?}"
        );
        let c = choose(&[30_000, 2_000, 30_000]);
        assert_eq!(c.threshold_us, FLOOR_US);
        assert!(c.from.contains("3 gap(s)"), "{c:?}");
        // Characters µs apart (one write per token) and tokens 20 ms apart: adaptive, ≥ floor.
        let mut g = Vec::new();
        for k in 0..30u64 {
            g.extend([10 + k % 3, 12, 20_000 + k * 7]);
        }
        let c = choose(&g);
        assert_eq!(c.from, "adaptive");
        assert!(c.threshold_us >= FLOOR_US && c.threshold_us < 20_000);
        assert_eq!(count(&g, c.threshold_us), 31);
        // Two modes both below the floor (10 µs and 200 µs): never a sub-ms threshold.
        let sub: Vec<u64> = (0..20).map(|k| if k % 2 == 0 { 10 } else { 200 }).collect();
        assert_eq!(choose(&sub).threshold_us, FLOOR_US);
    }

    /// `--token-gap` wins over the stream's own choice; the fixed default of old traces holds.
    #[test]
    fn the_override_wins() {
        let (gaps, tokens) = stream(35, 5, None);
        let mut r = ServerRequest::default();
        let mut t = 0;
        r.push_chunk(
            0,
            0,
            0,
            super::super::server::ChunkKind::Content,
            None,
            b"x",
        );
        for (i, g) in gaps.iter().enumerate() {
            t += g;
            r.push_chunk(
                t,
                i as u32 + 1,
                0,
                super::super::server::ChunkKind::Content,
                None,
                b"x",
            );
        }
        assert_eq!(text_gaps(&r), gaps);
        let own = threshold_for(&r, GapRule::Adaptive);
        assert_eq!(count(&gaps, own.threshold_us), tokens);
        let flag = threshold_for(
            &r,
            GapRule::Fixed {
                us: 1000,
                flag: true,
            },
        );
        assert_eq!(
            flag,
            GapChoice {
                threshold_us: 1000,
                from: "--token-gap".into()
            }
        );
        assert_eq!(threshold_for(&r, GapRule::fixed(700)).from, "fixed");
    }

    #[test]
    fn ceil_sqrt_is_exact() {
        for p in [
            0u128,
            1,
            2,
            3,
            4,
            15,
            16,
            17,
            8_000_000,
            u128::from(u64::MAX) * 3,
        ] {
            let t = ceil_sqrt(p);
            assert!(t * t >= p && (t == 0 || (t - 1) * (t - 1) < p), "{p}");
        }
    }

    /// Same gaps in any order, same threshold (it depends only on the recorded times).
    #[test]
    fn the_choice_depends_only_on_the_gaps() {
        let (mut gaps, _) = stream(35, 11, None);
        let a = choose(&gaps);
        gaps.reverse();
        assert_eq!(choose(&gaps), a);
    }
}
