//! Rockchip's published RKLLM figures for RK3588, as data, and how a run is matched to them.
//!
//! Source: `benchmark.md` in airockchip/rknn-llm at the release commits in [`PUBLISHED`]. The
//! method (README since 1.2.0): pin the board's frequencies with `scripts/fix_freq_rk3588.sh`,
//! `RKLLM_LOG_LEVEL=1`, models converted with `optimization_level=0` and w8a8 quantization,
//! **128 input tokens, 64 new tokens**; the figures are the runtime's own log (prefill time,
//! generate rate, peak memory). The built-in `rockchip` suite reproduces the input side exactly
//! with token input; the statistics that compare a run with a row live in `stats::reference`.

/// Input length of Rockchip's method (tokens).
pub const METHOD_INPUT_TOKENS: u32 = 128;
/// New tokens of Rockchip's method.
pub const METHOD_NEW_TOKENS: u32 = 64;
/// Quantization Rockchip measured.
pub const METHOD_QUANT: &str = "w8a8";
/// Board Rockchip measured on.
pub const METHOD_PLATFORM: &str = "rk3588";
/// DDR frequency `fix_freq_rk3588.sh` pins (MHz).
pub const METHOD_DMC_MHZ: u32 = 2112;
/// Below this fraction of the published decode rate a report warns.
pub const DECODE_WARN_RATIO: f64 = 0.90;

/// What `suite show rockchip` prints: the method and what to do to the board first.
pub const METHOD_TEXT: &str = "\
Rockchip's method (benchmark.md in airockchip/rknn-llm, README since 1.2.0):
  - exactly 128 input tokens and 64 new tokens; rkbench feeds the 128 tokens as token ids
    (RKLLM_INPUT_TOKEN: no tokenizer, no chat template), so the prefill is exactly 128 long;
  - a w8a8 model converted with optimization_level=0 (a grouped w8a8_gN model is much slower);
  - the runtime's own figures: prefill time (TTFT), generate rate (decode tok/s), peak memory.
rkbench runs 2 warm-up requests (first-run costs: NPU wake-up, weights paged in) and then 10
measured ones, and compares the medians with Rockchip's row for the model (matched from the
model file name, or `rkbench report --reference-model NAME`) and the runtime release.

Before recording, pin the board as Rockchip's scripts/fix_freq_rk3588.sh does (as root):
  - cpuidle state1 off on cpu0-7;
  - CPU policy0 at 1.8 GHz, policy4 and policy6 at 2.352 GHz (governor userspace or performance);
  - NPU devfreq (fdab0000.npu) userspace at 1 GHz; GPU at 1 GHz;
  - DDR (devfreq dmc) at 2112 MHz; firmware without DMC DVFS cannot pin it and is slower;
  - nothing else on the NPU, and cooling: above ~85 C the SoC throttles.
`rkbench doctor` (or `rkbench info`) shows the governors and frequencies the board has now.
Then: rkbench record --suite rockchip --model <model>.rkllm";

/// One published row: one model on one runtime release.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Published {
    /// The model as Rockchip names it.
    pub model: &'static str,
    /// Runtime releases the row holds for (1.2.2's figures are the same in 1.2.3).
    pub releases: &'static [&'static str],
    /// airockchip/rknn-llm commit of the `benchmark.md` the figures come from.
    pub commit: &'static str,
    pub ttft_ms: f64,
    pub decode_tok_s: f64,
    pub memory_mb: f64,
}

const R121: &[&str] = &["1.2.1"];
const R122: &[&str] = &["1.2.2", "1.2.3"];
const R123: &[&str] = &["1.2.3"];
const R130: &[&str] = &["1.3.0"];
const C121: &str = "d546a0f";
const C122: &str = "04b51a3";
const C130: &str = "878f936";

const fn row(
    model: &'static str,
    releases: &'static [&'static str],
    commit: &'static str,
    ttft_ms: f64,
    decode_tok_s: f64,
    memory_mb: f64,
) -> Published {
    Published {
        model,
        releases,
        commit,
        ttft_ms,
        decode_tok_s,
        memory_mb,
    }
}

/// Every published RK3588 row (TTFT ms / decode tok/s / memory MB).
pub const PUBLISHED: &[Published] = &[
    row("Qwen2 0.5B", R121, C121, 372.54, 40.26, 639.72),
    row("Qwen2 0.5B", R122, C122, 143.83, 42.58, 654.26),
    row("Qwen2 0.5B", R130, C130, 145.90, 41.58, 669.56),
    row("MiniCPM4 0.5B", R121, C121, 156.01, 43.93, 507.45),
    row("MiniCPM4 0.5B", R122, C122, 128.46, 45.13, 524.55),
    row("MiniCPM4 0.5B", R130, C130, 135.29, 45.34, 534.82),
    row("Qwen3 0.6B", R121, C121, 215.76, 29.52, 772.98),
    row("Qwen3 0.6B", R122, C122, 213.50, 32.16, 773.77),
    row("Qwen3 0.6B", R130, C130, 199.09, 32.91, 791.11),
    row("TinyLLAMA 1.1B", R121, C121, 294.6, 24.26, 1058.46),
    row("TinyLLAMA 1.1B", R122, C122, 239.00, 24.49, 1085.21),
    row("TinyLLAMA 1.1B", R130, C130, 243.93, 24.43, 1093.66),
    row("Qwen2.5 1.5B", R121, C121, 412.27, 16.32, 1659.15),
    row("Qwen2.5 1.5B", R122, C122, 412.27, 16.32, 1659.15),
    row("Qwen2.5 1.5B", R130, C130, 378.31, 16.69, 1689.21),
    row("InternLM2 1.8B", R121, C121, 419.47, 15.4, 1764.16),
    row("InternLM2 1.8B", R122, C122, 374.00, 15.58, 1765.71),
    row("InternLM2 1.8B", R130, C130, 380.14, 15.45, 1775.56),
    row("Gemma2 2B", R121, C121, 693.95, 9.65, 2764.42),
    row("Gemma2 2B", R122, C122, 679.90, 9.80, 2765.30),
    row("Gemma2 2B", R130, C130, 598.41, 10.37, 2779.22),
    row("Phi3 3.8B", R121, C121, 1049.66, 7.49, 3747.69),
    row("Phi3 3.8B", R122, C122, 1022.00, 7.50, 3747.73),
    row("Phi3 3.8B", R130, C130, 1017.28, 7.45, 3758.34),
    row("MiniCPM3 4B", R121, C121, 1432.4, 5.98, 4337.68),
    row("MiniCPM3 4B", R122, C122, 1385.92, 5.99, 4339.61),
    row("MiniCPM3 4B", R130, C130, 1408.49, 5.94, 4384.02),
    row("ChatGLM3 6B", R121, C121, 1451.8, 4.94, 5883.87),
    row("ChatGLM3 6B", R122, C122, 1395.34, 4.94, 5976.43),
    row("ChatGLM3 6B", R130, C130, 1352.94, 4.98, 5985.99),
    // Published for 1.2.3 only; the doc this table comes from gives no commit for it.
    row("Qwen3-VL 2B", R123, "", 391.0, 15.12, 1892.13),
    row("Qwen3-VL 2B", R130, C130, 383.62, 14.98, 1868.98),
    row("Qwen3.5 0.8B", R130, C130, 587.74, 27.05, 1039.66),
    row("Qwen3.5 2B", R130, C130, 776.95, 13.59, 2121.91),
    row("Qwen3.5 4B", R130, C130, 2068.88, 6.22, 4575.78),
    row("Gemma4 E2B", R130, C130, 599.06, 11.12, 2498.70),
    row("RWKV7 1.5B", R130, C130, 634.34, 13.82, 1486.19),
    row("Gemma3n 2B", R130, C130, 1124.51, 9.91, 2702.59),
    row("TeleChat2 3B", R130, C130, 618.48, 10.18, 2788.39),
    row("DeepSeekOCR 3B-A570M", R130, C130, 701.21, 31.60, 3066.66),
];

/// Other spellings of a model in file names, as token sequences (see [`tokens`]); the model's
/// own name always matches too.
const ALIASES: &[(&str, &[&str])] = &[
    ("Qwen2 0.5B", &["qwen2-0.5b"]),
    ("MiniCPM4 0.5B", &["minicpm4-0.5b"]),
    ("Qwen3 0.6B", &["qwen3-0.6b"]),
    ("TinyLLAMA 1.1B", &["tinyllama-1.1b", "tinyllama-v1.1"]),
    ("Qwen2.5 1.5B", &["qwen2.5-1.5b"]),
    (
        "InternLM2 1.8B",
        &[
            "internlm2-chat-1.8b",
            "internlm2-1.8b",
            "internlm2-chat-1.8b-sft",
        ],
    ),
    ("Gemma2 2B", &["gemma-2-2b", "gemma2-2b"]),
    (
        "Phi3 3.8B",
        &["phi-3-mini", "phi3-mini", "phi-3-3.8b", "phi3-3.8b"],
    ),
    ("MiniCPM3 4B", &["minicpm3-4b"]),
    ("ChatGLM3 6B", &["chatglm3-6b"]),
    ("Qwen3-VL 2B", &["qwen3-vl-2b"]),
    ("Qwen3.5 0.8B", &["qwen3.5-0.8b"]),
    ("Qwen3.5 2B", &["qwen3.5-2b"]),
    ("Qwen3.5 4B", &["qwen3.5-4b"]),
    ("Gemma4 E2B", &["gemma-4-e2b", "gemma4-e2b"]),
    (
        "RWKV7 1.5B",
        &[
            "rwkv7-1.5b",
            "rwkv-7-1.5b",
            "rwkv7-g1-1.5b",
            "rwkv7-g1a-1.5b",
        ],
    ),
    ("Gemma3n 2B", &["gemma-3n-e2b", "gemma3n-e2b", "gemma3n-2b"]),
    ("TeleChat2 3B", &["telechat2-3b", "telechat2-3b"]),
    ("DeepSeekOCR 3B-A570M", &["deepseek-ocr", "deepseekocr"]),
];

/// Lower-case words of a name, split at `-`, `_`, spaces and brackets (dots stay: `qwen2.5`,
/// `0.6b`). A digit-only word followed by a size word is joined with a dot (`1_8b` → `1.8b`),
/// and `.rkllm` is dropped.
pub fn tokens(name: &str) -> Vec<String> {
    let lower = name.to_ascii_lowercase();
    let stem = lower.strip_suffix(".rkllm").unwrap_or(&lower);
    let raw: Vec<&str> = stem
        .split(['-', '_', ' ', '(', ')', '/', ','])
        .filter(|w| !w.is_empty())
        .collect();
    let mut out: Vec<String> = Vec::with_capacity(raw.len());
    let mut i = 0;
    while i < raw.len() {
        let w = raw[i];
        let next = raw.get(i + 1).copied();
        let is_size = |s: &str| {
            s.strip_suffix('b')
                .is_some_and(|d| !d.is_empty() && d.bytes().all(|b| b.is_ascii_digit()))
        };
        if w.bytes().all(|b| b.is_ascii_digit()) && next.is_some_and(is_size) {
            out.push(format!("{w}.{}", next.unwrap_or_default()));
            i += 2;
        } else {
            out.push(w.to_string());
            i += 1;
        }
    }
    out
}

/// Whether `needle` occurs as consecutive words of `hay`.
fn contains_words(hay: &[String], needle: &[String]) -> bool {
    !needle.is_empty() && hay.windows(needle.len()).any(|w| w == needle)
}

/// The published model a name (a model file name, or `--reference-model`) refers to. When
/// several match, the longest spelling wins (`Qwen3-VL 2B` over nothing, `Qwen3.5 2B` never
/// confused with `Qwen3`, because words must match whole).
pub fn match_model(name: &str) -> Option<&'static str> {
    let hay = tokens(name);
    let mut best: Option<(&'static str, usize)> = None;
    for (model, aliases) in ALIASES {
        let own = tokens(model);
        let spellings = std::iter::once(own).chain(aliases.iter().map(|a| tokens(a)));
        for s in spellings {
            if contains_words(&hay, &s) && best.map_or(true, |(_, n)| s.len() > n) {
                best = Some((model, s.len()));
            }
        }
    }
    best.map(|(m, _)| m)
}

/// Every model that has a published row, in table order (for error messages).
pub fn models() -> Vec<&'static str> {
    let mut v: Vec<&'static str> = Vec::new();
    for p in PUBLISHED {
        if !v.contains(&p.model) {
            v.push(p.model);
        }
    }
    v
}

/// The published row for `model` on runtime `release` (e.g. `1.2.1`).
pub fn lookup(model: &str, release: &str) -> Option<&'static Published> {
    PUBLISHED
        .iter()
        .find(|p| p.model == model && p.releases.contains(&release))
}

/// The releases with a row for `model`.
pub fn releases_of(model: &str) -> Vec<&'static str> {
    PUBLISHED
        .iter()
        .filter(|p| p.model == model)
        .flat_map(|p| p.releases.iter().copied())
        .collect()
}

/// Quantization words in a model file name (`w8a8`, `w8a8_g128` → `w8a8-g128`, `w4a16`).
pub fn quantization(name: &str) -> Option<String> {
    let words = tokens(name);
    let i = words.iter().position(|w| is_quant(w))?;
    let group = words.get(i + 1).filter(|g| {
        g.len() > 1 && g.starts_with('g') && g[1..].bytes().all(|b| b.is_ascii_digit())
    });
    Some(match group {
        Some(g) => format!("{}-{g}", words[i]),
        None => words[i].clone(),
    })
}

fn is_quant(w: &str) -> bool {
    let Some(rest) = w.strip_prefix('w') else {
        return false;
    };
    let Some((a, b)) = rest.split_once('a') else {
        return false;
    };
    !a.is_empty()
        && !b.is_empty()
        && a.bytes().all(|c| c.is_ascii_digit())
        && b.bytes().all(|c| c.is_ascii_digit())
}

/// The `rkNNNN` platform word in a model file name, if any.
pub fn platform(name: &str) -> Option<String> {
    tokens(name)
        .into_iter()
        .find(|w| w.len() == 6 && w.starts_with("rk") && w[2..].bytes().all(|b| b.is_ascii_digit()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_published_name_and_alias_matches_its_own_model() {
        for p in PUBLISHED {
            assert_eq!(match_model(p.model), Some(p.model), "{}", p.model);
        }
        for (model, aliases) in ALIASES {
            assert!(PUBLISHED.iter().any(|p| p.model == *model), "{model}");
            for a in *aliases {
                assert_eq!(match_model(a), Some(*model), "{a}");
            }
        }
    }

    #[test]
    fn file_names_match() {
        let cases = [
            ("Qwen3-0.6B-w8a8-rk3588.rkllm", Some("Qwen3 0.6B")),
            ("qwen3_0.6b_w8a8_rk3588.rkllm", Some("Qwen3 0.6B")),
            (
                "Qwen3-0.6B-Instruct-rk3588-w8a8-opt-0.rkllm",
                Some("Qwen3 0.6B"),
            ),
            ("Qwen3-4B-w8a8-rk3588.rkllm", None),
            ("Qwen3-1.7B-w8a8_g128-rk3588.rkllm", None),
            (
                "Qwen2.5-1.5B-Instruct_w8a8_RK3588.rkllm",
                Some("Qwen2.5 1.5B"),
            ),
            ("Qwen2-0.5B-Instruct_w8a8.rkllm", Some("Qwen2 0.5B")),
            ("Qwen2.5-0.5B-w8a8.rkllm", None),
            ("qwen3.5-2b-rk3588-w8a8.rkllm", Some("Qwen3.5 2B")),
            (
                "Qwen3-VL-2B-Instruct_w8a8_rk3588.rkllm",
                Some("Qwen3-VL 2B"),
            ),
            (
                "TinyLlama-1.1B-Chat-v1.0-rk3588-w8a8.rkllm",
                Some("TinyLLAMA 1.1B"),
            ),
            ("internlm2-chat-1_8b-w8a8.rkllm", Some("InternLM2 1.8B")),
            ("gemma-2-2b-it-rk3588.rkllm", Some("Gemma2 2B")),
            ("Phi-3-mini-4k-instruct-w8a8.rkllm", Some("Phi3 3.8B")),
            ("chatglm3-6b_W8A8_RK3588.rkllm", Some("ChatGLM3 6B")),
            ("MiniCPM4-0.5B-w8a8.rkllm", Some("MiniCPM4 0.5B")),
            ("gemma-3n-E2B-it-w8a8.rkllm", Some("Gemma3n 2B")),
            ("Qwen3-4B-sim.rkllm", None),
            ("model.rkllm", None),
            ("", None),
        ];
        for (name, want) in cases {
            assert_eq!(match_model(name), want, "{name}");
        }
    }

    #[test]
    fn releases() {
        let p = lookup("Qwen3 0.6B", "1.2.1").map(|p| (p.ttft_ms, p.decode_tok_s, p.memory_mb));
        assert_eq!(p, Some((215.76, 29.52, 772.98)));
        assert_eq!(
            lookup("Qwen3 0.6B", "1.2.1").map(|p| p.commit),
            Some("d546a0f")
        );
        // 1.2.2's figures hold for 1.2.3.
        assert_eq!(
            lookup("Qwen3 0.6B", "1.2.3").map(|p| p.decode_tok_s),
            Some(32.16)
        );
        assert_eq!(lookup("Qwen3 0.6B", "1.2.0"), None);
        assert_eq!(lookup("Qwen3 0.6B", ""), None);
        assert_eq!(lookup("Qwen3.5 2B", "1.2.1"), None);
        assert_eq!(
            lookup("Qwen3-VL 2B", "1.2.3").map(|p| p.ttft_ms),
            Some(391.0)
        );
        assert_eq!(lookup("Qwen3-VL 2B", "1.2.2"), None);
        assert_eq!(releases_of("Qwen3.5 2B"), ["1.3.0"]);
        assert_eq!(models().len(), 19);
        // One row per (model, release).
        for (i, a) in PUBLISHED.iter().enumerate() {
            for b in &PUBLISHED[i + 1..] {
                assert!(
                    a.model != b.model || a.releases.iter().all(|r| !b.releases.contains(r)),
                    "{} twice",
                    a.model
                );
            }
        }
    }

    #[test]
    fn quantization_and_platform_words() {
        assert_eq!(
            quantization("Qwen3-0.6B-w8a8-rk3588.rkllm").as_deref(),
            Some("w8a8")
        );
        assert_eq!(
            quantization("Qwen3-1.7B-w8a8_g128-rk3588.rkllm").as_deref(),
            Some("w8a8-g128")
        );
        assert_eq!(quantization("x_W4A16.rkllm").as_deref(), Some("w4a16"));
        assert_eq!(quantization("Qwen3-4B-sim.rkllm"), None);
        assert_eq!(quantization("wa-w8-a8"), None);
        assert_eq!(
            platform("Qwen3-0.6B-w8a8-rk3588.rkllm").as_deref(),
            Some("rk3588")
        );
        assert_eq!(platform("x_RK3576.rkllm").as_deref(), Some("rk3576"));
        assert_eq!(platform("x.rkllm"), None);
    }

    #[test]
    fn words() {
        assert_eq!(
            tokens("Qwen3-0.6B_w8a8 (x).rkllm"),
            ["qwen3", "0.6b", "w8a8", "x"]
        );
        assert_eq!(tokens("internlm2-chat-1_8b"), ["internlm2", "chat", "1.8b"]);
        assert_eq!(tokens("rk-3588"), ["rk", "3588"]);
    }
}
