//! Which RKLLM release a library is, from four independent pieces of evidence, without trusting
//! any one string. Order of trust (most trusted first):
//!
//! 1. **file** — the git blob id of the file, looked up in the table of official aarch64
//!    releases (`rkllm-abi.md`): names the exact release.
//! 2. **param-size** — how many bytes `rkllm_createDefaultParam` writes into a canary-filled
//!    buffer (200 / 208 / 184 for 1.1 / 1.2.x / 1.3.0), cross-checked with where the documented
//!    default `n_batch = 1` lands (byte 100 in 1.2.1+, byte 72 in 1.3.0): the layout itself.
//! 3. **symbols** — the exported symbol set: tells 1.1, 1.2.0 and "1.2.1 or later" apart.
//! 4. **banner** — `rkllm-runtime version: X.Y.Z` in the file, a string that may be absent
//!    (the real library may keep only a format string) or misleading.
//!
//! Each piece narrows the set of ABI generations; the answer is their intersection. If the
//! pieces disagree (empty intersection) or leave more than one generation, rkbench refuses and
//! shows every piece. `--runtime-abi` is accepted when the evidence allows it; contradicting the
//! evidence needs `--force-abi` as well. A file identified as an unsupported release (1.0.x) is
//! refused unless forced.
use super::library::AbiVersion;
use crate::error::{Error, Result};
use sha1::{Digest, Sha1};

/// What a known release file is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Family {
    Abi(AbiVersion),
    /// A release whose C ABI rkbench does not implement.
    Unsupported(&'static str),
}

/// One official aarch64 `librkllmrt.so`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KnownRelease {
    pub release: &'static str,
    pub git_blob: &'static str,
    pub family: Family,
}

const fn rel(release: &'static str, git_blob: &'static str, family: Family) -> KnownRelease {
    KnownRelease {
        release,
        git_blob,
        family,
    }
}

use AbiVersion::{V1_1, V1_2_0, V1_2_1, V1_3_0};
use Family::{Abi, Unsupported};

/// Git blob ids of every official aarch64 release (`shared/docs/rkllm-abi.md`).
pub const KNOWN_RELEASES: [KnownRelease; 14] = [
    rel(
        "1.0.0 beta",
        "53e00993ebbc7797df09673f806479e8642db946",
        Unsupported("1.0.0β"),
    ),
    rel(
        "1.0.1",
        "a026cbe60905af0ad6c07dfa2fcc339dd4b9fa10",
        Unsupported("1.0.x"),
    ),
    rel(
        "1.0.2 beta",
        "c913ab1569dfed48916c05fcd898f8d3f9dafe04",
        Unsupported("1.0.x"),
    ),
    rel(
        "1.1.0",
        "66dfdc7c25cdca9ccf9930798118e17abf7592ff",
        Abi(V1_1),
    ),
    rel(
        "1.1.1",
        "bfca051375287d0f5aa754a7b8681b4ede52e259",
        Abi(V1_1),
    ),
    rel(
        "1.1.2",
        "e8f4afc38c7394beeff83003dbc772412f649a44",
        Abi(V1_1),
    ),
    rel(
        "1.1.3",
        "68e79327e82f675413956be615f48c62ccd0f16e",
        Abi(V1_1),
    ),
    rel(
        "1.1.4",
        "3bb8cb6172c4c06e1c622c8f8c579888378784f4",
        Abi(V1_1),
    ),
    rel(
        "1.2.0",
        "d45ee9b8dcb9ef27d7dd875ce3be3d5e6dfb654d",
        Abi(V1_2_0),
    ),
    // 1.2.0 layout with a larger multimodal input; the text path rkbench uses is 1.2.0's.
    rel(
        "1.2.1 beta 1",
        "db041c01bba5e0e8f624bb2ff50d48825dde1bfc",
        Abi(V1_2_0),
    ),
    rel(
        "1.2.1",
        "6b9439d59f2fe4bb8ef5ee2b09c102f1bf993da9",
        Abi(V1_2_1),
    ),
    rel(
        "1.2.2",
        "8ed9cca16f8d5ad8f7cdd7d393de6561182b3395",
        Abi(V1_2_1),
    ),
    rel(
        "1.2.3",
        "0084abc34ab43359cfa9fd5d4c92ece34127dbd0",
        Abi(V1_2_1),
    ),
    rel(
        "1.3.0",
        "34167b32f99cb7ab19e21fb579fb750d96b878f1",
        Abi(V1_3_0),
    ),
];

/// `git hash-object FILE`: SHA-1 of `"blob <size>\0"` followed by the bytes.
pub fn git_blob_id(bytes: &[u8]) -> String {
    let mut h = Sha1::new();
    h.update(format!("blob {}\0", bytes.len()).as_bytes());
    h.update(bytes);
    super::library::hex(&h.finalize())
}

pub fn known_release(git_blob: &str) -> Option<&'static KnownRelease> {
    KNOWN_RELEASES.iter().find(|r| r.git_blob == git_blob)
}

/// What probing `rkllm_createDefaultParam` with a canary-filled buffer showed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ParamProbe {
    /// Bytes written (highest changed byte + 1), if the call could be made.
    pub written: Option<u32>,
    /// Byte 100 (`n_batch` in 1.2.1–1.2.3) and byte 72 (`n_batch` in 1.3.0) after the call.
    pub byte100: u8,
    pub byte72: u8,
    /// Why the probe could not be made (no symbol, unsupported CPU architecture).
    pub skipped: Option<&'static str>,
}

/// A set of ABI generations (bit i = `AbiVersion::ALL[i]`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AbiSet(u8);

impl AbiSet {
    pub const ALL: AbiSet = AbiSet(0b1111);
    pub const NONE: AbiSet = AbiSet(0);

    pub fn of(abis: &[AbiVersion]) -> AbiSet {
        AbiSet(abis.iter().fold(0, |m, a| m | Self::bit(*a)))
    }
    fn bit(a: AbiVersion) -> u8 {
        1 << AbiVersion::ALL.iter().position(|x| *x == a).unwrap_or(0)
    }
    pub fn contains(self, a: AbiVersion) -> bool {
        self.0 & Self::bit(a) != 0
    }
    pub fn and(self, o: AbiSet) -> AbiSet {
        AbiSet(self.0 & o.0)
    }
    pub fn members(self) -> Vec<AbiVersion> {
        AbiVersion::ALL
            .into_iter()
            .filter(|a| self.contains(*a))
            .collect()
    }
    pub fn describe(self) -> String {
        match self.members().as_slice() {
            [] => "none".into(),
            m => m
                .iter()
                .map(|a| a.as_str())
                .collect::<Vec<_>>()
                .join(" or "),
        }
    }
}

/// One piece of evidence: what was observed and which ABI generations it allows
/// (`None` = inconclusive, allows any).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Evidence {
    /// `file`, `param-size`, `symbols` or `banner`.
    pub source: &'static str,
    pub observed: String,
    pub allows: Option<AbiSet>,
}

impl Evidence {
    pub fn verdict(&self) -> String {
        match self.allows {
            None => "inconclusive".into(),
            Some(s) if s == AbiSet::NONE => "no supported ABI".into(),
            Some(s) => format!("ABI {}", s.describe()),
        }
    }
}

/// Which optional symbols a library exports.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SymbolSet {
    pub set_chat_template: bool,
    pub get_kv_cache_size: bool,
    pub set_function_tools: bool,
}

/// Everything observed about a library, before deciding.
#[derive(Debug, Clone)]
pub struct Observations {
    pub git_blob: String,
    pub probe: ParamProbe,
    pub symbols: SymbolSet,
    pub banner: Option<String>,
}

/// The decision and the evidence behind it (shown by `info`, stored in the trace).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    pub abi: AbiVersion,
    /// The release if the file is a known one, else the banner's version, else empty.
    pub version: String,
    pub evidence: Vec<Evidence>,
    /// One line: how the ABI was chosen.
    pub conclusion: String,
    /// `--runtime-abi` was used against (or without support from) the evidence.
    pub forced: bool,
    /// Bytes `rkllm_createDefaultParam` wrote, if probed.
    pub param_size: Option<u32>,
}

impl Identity {
    /// All evidence on one line.
    pub fn evidence_line(&self) -> String {
        line(&self.evidence)
    }
}

fn line(ev: &[Evidence]) -> String {
    ev.iter()
        .map(|e| format!("{}: {} → {}", e.source, e.observed, e.verdict()))
        .collect::<Vec<_>>()
        .join("; ")
}

fn file_evidence(git_blob: &str) -> (Evidence, Option<&'static KnownRelease>) {
    match known_release(git_blob) {
        Some(k) => {
            let allows = match k.family {
                Family::Abi(a) => AbiSet::of(&[a]),
                Family::Unsupported(_) => AbiSet::NONE,
            };
            (
                Evidence {
                    source: "file",
                    observed: format!("git blob {git_blob} = official RKLLM {}", k.release),
                    allows: Some(allows),
                },
                Some(k),
            )
        }
        None => (
            Evidence {
                source: "file",
                observed: format!("git blob {git_blob}, not an official aarch64 release"),
                allows: None,
            },
            None,
        ),
    }
}

fn probe_evidence(p: &ParamProbe) -> Evidence {
    let Some(n) = p.written else {
        return Evidence {
            source: "param-size",
            observed: format!(
                "not probed ({})",
                p.skipped.unwrap_or("rkllm_createDefaultParam not called")
            ),
            allows: None,
        };
    };
    let by_size = match n {
        200 => Some(AbiSet::of(&[V1_1])),
        208 => Some(AbiSet::of(&[V1_2_0, V1_2_1])),
        184 => Some(AbiSet::of(&[V1_3_0])),
        _ => None,
    };
    // The documented default n_batch = 1 lands at byte 100 (1.2.1+) or 72 (1.3.0); every other
    // layout has zero (reserved bytes or a NULL pointer) at both.
    let by_default = match (p.byte100, p.byte72) {
        (1, 0) => Some(AbiSet::of(&[V1_2_1])),
        (0, 1) => Some(AbiSet::of(&[V1_3_0])),
        (0, 0) => Some(AbiSet::of(&[V1_1, V1_2_0])),
        _ => None,
    };
    let allows = match (by_size, by_default) {
        (Some(a), Some(b)) if a.and(b) != AbiSet::NONE => Some(a.and(b)),
        // The size is the direct measurement; the defaults only refine it.
        (Some(a), _) => Some(a),
        // Size not recognisable (e.g. the library left trailing reserved bytes unwritten).
        (None, b) => b,
    };
    Evidence {
        source: "param-size",
        observed: format!(
            "rkllm_createDefaultParam wrote {n} bytes (n_batch default at byte 100: {}, at byte 72: {})",
            p.byte100, p.byte72
        ),
        allows,
    }
}

fn symbol_evidence(s: SymbolSet, lenient: bool) -> Evidence {
    let yes = |b: bool| if b { "present" } else { "absent" };
    let observed = format!(
        "rkllm_set_chat_template {}, rkllm_get_kv_cache_size {}",
        yes(s.set_chat_template),
        yes(s.get_kv_cache_size)
    );
    let allows = if !s.set_chat_template {
        AbiSet::of(&[V1_1])
    } else if !s.get_kv_cache_size {
        if lenient {
            AbiSet::of(&[V1_1, V1_2_0])
        } else {
            AbiSet::of(&[V1_2_0])
        }
    } else if lenient {
        // A known release file may export more than its ABI needs (1.2.1 beta 1).
        AbiSet::ALL
    } else {
        AbiSet::of(&[V1_2_1, V1_3_0])
    };
    Evidence {
        source: "symbols",
        observed,
        allows: Some(allows),
    }
}

fn banner_evidence(banner: Option<&str>) -> Evidence {
    match banner {
        None => Evidence {
            source: "banner",
            observed: "no \"rkllm-runtime version: X.Y.Z\" text in the file".into(),
            allows: None,
        },
        Some(v) => match AbiVersion::from_version(v) {
            Some(a) => Evidence {
                source: "banner",
                observed: format!("\"rkllm-runtime version: {v}\""),
                allows: Some(AbiSet::of(&[a])),
            },
            None => Evidence {
                source: "banner",
                observed: format!(
                    "\"rkllm-runtime version: {v}\" (version {v} is unknown to this rkbench)"
                ),
                allows: Some(AbiSet::NONE),
            },
        },
    }
}

/// Decide the ABI from the observations and the `--runtime-abi` / `--force-abi` flags.
pub fn identify(
    obs: &Observations,
    flag: Option<AbiVersion>,
    force: bool,
    shown: &str,
) -> Result<Identity> {
    let (file, known) = file_evidence(&obs.git_blob);
    let evidence = vec![
        file,
        probe_evidence(&obs.probe),
        symbol_evidence(obs.symbols, known.is_some()),
        banner_evidence(obs.banner.as_deref()),
    ];
    let agreed = evidence
        .iter()
        .filter_map(|e| e.allows)
        .fold(AbiSet::ALL, AbiSet::and);
    let version = match (known, &obs.banner) {
        (Some(k), _) => k.release.to_string(),
        (None, Some(b)) => b.clone(),
        (None, None) => String::new(),
    };
    let all = line(&evidence);
    if let Some(k) = known {
        if let (Family::Unsupported(fam), false) = (k.family, force && flag.is_some()) {
            return Err(Error::runtime(format!(
                "{shown} is the official RKLLM {} runtime (ABI {fam}), which rkbench does not support; install librkllmrt.so 1.1.x or later from airockchip/rknn-llm ({all})",
                k.release
            )));
        }
    }
    let make = |abi: AbiVersion, conclusion: String, forced: bool| Identity {
        abi,
        version: version.clone(),
        evidence: evidence.clone(),
        conclusion,
        forced,
        param_size: obs.probe.written,
    };
    if let Some(f) = flag {
        if agreed.contains(f) {
            let how = if agreed.members().len() == 1 {
                "agrees with the evidence"
            } else {
                "chosen among what the evidence allows"
            };
            return Ok(make(f, format!("--runtime-abi {f} ({how})"), false));
        }
        if force {
            return Ok(make(
                f,
                format!(
                    "--runtime-abi {f} --force-abi, against the evidence (it allows {})",
                    agreed.describe()
                ),
                true,
            ));
        }
        return Err(Error::runtime(format!(
            "{shown}: --runtime-abi {f} contradicts the evidence ({all}); a wrong ABI shifts every parameter or crashes, so add --force-abi only if you are sure"
        )));
    }
    match agreed.members().as_slice() {
        [abi] => {
            let basis: Vec<&str> = evidence
                .iter()
                .filter(|e| e.allows.is_some())
                .map(|e| e.source)
                .collect();
            Ok(make(*abi, format!("ABI {abi} from {}", basis.join(" + ")), false))
        }
        [] => Err(Error::runtime(format!(
            "{shown}: the evidence disagrees about its RKLLM version ({all}); if you know the version, pass --runtime-abi VERSION --force-abi"
        ))),
        many => Err(Error::runtime(format!(
            "{shown}: cannot tell RKLLM {} apart ({all}); pass --runtime-abi {}",
            many.iter().map(|a| a.as_str()).collect::<Vec<_>>().join(" from "),
            many.iter().map(|a| a.as_str()).collect::<Vec<_>>().join(" or --runtime-abi ")
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn obs(
        blob: &str,
        written: Option<u32>,
        b100: u8,
        b72: u8,
        syms: u8,
        banner: Option<&str>,
    ) -> Observations {
        Observations {
            git_blob: blob.into(),
            probe: ParamProbe {
                written,
                byte100: b100,
                byte72: b72,
                skipped: written.is_none().then_some("test"),
            },
            symbols: SymbolSet {
                set_chat_template: syms >= 1,
                get_kv_cache_size: syms >= 2,
                set_function_tools: syms >= 2,
            },
            banner: banner.map(String::from),
        }
    }
    const UNKNOWN: &str = "0000000000000000000000000000000000000000";

    #[test]
    fn blob_id_is_git_hash_object() {
        // `printf 'hello\n' | git hash-object --stdin`
        assert_eq!(
            git_blob_id(b"hello\n"),
            "ce013625030ba8dba906f756967f9e9ca394464a"
        );
        assert_eq!(git_blob_id(b""), "e69de29bb2d1d6434b8b29ae775ad8c2e48c5391");
    }

    #[test]
    fn strings_are_not_needed() {
        // 1.2.1 and 1.3.0 without banner: told apart by the probe.
        let a = identify(&obs(UNKNOWN, Some(208), 1, 0, 2, None), None, false, "l").unwrap();
        assert_eq!(a.abi, V1_2_1);
        assert_eq!(a.conclusion, "ABI 1.2.1 from param-size + symbols");
        let b = identify(&obs(UNKNOWN, Some(184), 0, 1, 2, None), None, false, "l").unwrap();
        assert_eq!(b.abi, V1_3_0);
        // 1.2.0 and 1.1 by probe + symbols.
        assert_eq!(
            identify(&obs(UNKNOWN, Some(208), 0, 0, 1, None), None, false, "l")
                .unwrap()
                .abi,
            V1_2_0
        );
        assert_eq!(
            identify(&obs(UNKNOWN, Some(200), 0, 0, 0, None), None, false, "l")
                .unwrap()
                .abi,
            V1_1
        );
        // Only the defaults, if the size is not one of the known ones (tail bytes left unwritten).
        assert_eq!(
            identify(&obs(UNKNOWN, Some(150), 0, 1, 2, None), None, false, "l")
                .unwrap()
                .abi,
            V1_3_0
        );
    }

    #[test]
    fn the_file_names_the_release() {
        let o = obs(
            "8ed9cca16f8d5ad8f7cdd7d393de6561182b3395",
            None,
            0,
            0,
            2,
            None,
        );
        let id = identify(&o, None, false, "l").unwrap();
        assert_eq!((id.abi, id.version.as_str()), (V1_2_1, "1.2.2"));
        assert!(id.conclusion.contains("file"));
        // 1.0.x: refused, with the release named.
        let o = obs(
            "a026cbe60905af0ad6c07dfa2fcc339dd4b9fa10",
            Some(208),
            0,
            0,
            2,
            None,
        );
        let e = identify(&o, None, false, "l").unwrap_err().msg;
        assert!(
            e.contains("official RKLLM 1.0.1") && e.contains("does not support"),
            "{e}"
        );
        assert!(identify(&o, Some(V1_2_0), false, "l").is_err());
        assert!(identify(&o, Some(V1_2_0), true, "l").unwrap().forced);
    }

    #[test]
    fn disagreement_is_refused_with_every_piece_shown() {
        // Banner says 1.2.1, the probe measures the 1.3.0 layout.
        let o = obs(UNKNOWN, Some(184), 0, 1, 2, Some("1.2.1"));
        let e = identify(&o, None, false, "l").unwrap_err().msg;
        for piece in ["file:", "param-size:", "symbols:", "banner:", "--force-abi"] {
            assert!(e.contains(piece), "{piece} in {e}");
        }
        assert!(!e.contains('\n'));
        // A flag contradicting the evidence needs --force-abi.
        let o = obs(UNKNOWN, Some(208), 1, 0, 2, Some("1.2.1"));
        let e = identify(&o, Some(V1_3_0), false, "l").unwrap_err().msg;
        assert!(
            e.contains("contradicts") && e.contains("--force-abi"),
            "{e}"
        );
        let f = identify(&o, Some(V1_3_0), true, "l").unwrap();
        assert!(f.forced && f.abi == V1_3_0);
        // A flag the evidence supports is fine without --force-abi.
        assert!(!identify(&o, Some(V1_2_1), false, "l").unwrap().forced);
        // An unknown version string is evidence too: refused until forced.
        let o = obs(UNKNOWN, None, 0, 0, 2, Some("9.9.9"));
        let e = identify(&o, None, false, "l").unwrap_err().msg;
        assert!(e.contains("9.9.9") && e.contains("--runtime-abi"), "{e}");
    }

    #[test]
    fn ambiguity_asks_for_the_flag() {
        let o = obs(UNKNOWN, None, 0, 0, 2, None);
        let e = identify(&o, None, false, "l").unwrap_err().msg;
        assert!(
            e.contains("cannot tell RKLLM 1.2.1 from 1.3.0")
                && e.contains("--runtime-abi 1.2.1 or --runtime-abi 1.3.0"),
            "{e}"
        );
        let id = identify(&o, Some(V1_3_0), false, "l").unwrap();
        assert!(!id.forced && id.conclusion.contains("chosen among"));
    }
}
