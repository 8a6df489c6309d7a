//! The fleet view: many traces, from any boards and runs, in one table grouped by what makes
//! their figures comparable — board model, SoC, runtime release, model and settings.
//!
//! Traces stream through: each is read, reduced to its group's per-request figures, and dropped
//! ([`Fleet::add`]), so memory grows with the number of requests kept for the medians, never with
//! the traces' tokens. Copies of one trace (one run header) count once. Partial fleets (one per reading thread) [`Fleet::merge`]; every figure is
//! taken from sorted values, so the result does not depend on the order traces arrive in.
use super::aggregate::percentile;
use super::request::RequestMetrics;
use crate::trace::{RunHeader, Status, Trace};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

/// What a group shares. Ordered field by field, which is also the table's row order.
#[derive(Debug, Clone, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct GroupKey {
    /// The device-tree model, e.g. `Radxa ROCK 5B`.
    pub board: String,
    /// From the device-tree `compatible` list, e.g. `RK3588`.
    pub soc: String,
    /// The runtime's version banner, or `ABI x` when the library had none (`unknown` when
    /// neither was recorded).
    pub runtime: String,
    /// The model's file name and the first 12 hex digits of its fingerprint.
    pub model: String,
    /// The run parameters that change the figures, and the suite.
    pub settings: String,
}

/// An unreadable or missing board fact.
fn known(v: Option<&str>) -> String {
    match v {
        Some(v) if !v.is_empty() && !v.starts_with("unavailable") => v.to_string(),
        _ => "unknown".into(),
    }
}

/// The SoC named in a device-tree `compatible` list (`radxa,rock-5b rockchip,rk3588` → `RK3588`):
/// the list runs from the most specific entry to the most general, so the last `rockchip,rk…`
/// entry is the chip; without one, the last entry's part after the comma.
pub fn soc(compatible: &str) -> Option<String> {
    let entries: Vec<&str> = compatible.split_whitespace().collect();
    let pick = entries
        .iter()
        .rev()
        .find(|e| e.starts_with("rockchip,rk"))
        .or(entries.last())?;
    let chip = pick.split_once(',').map_or(*pick, |(_, c)| c);
    (!chip.is_empty()).then(|| chip.to_ascii_uppercase())
}

/// The run parameters that change the figures, and the suite, as one readable line. Sampling
/// options at their neutral value (penalties 0, mirostat off) are left out.
fn settings(h: &RunHeader) -> String {
    let p = &h.params;
    let mut s = format!(
        "ctx {}, max new {}, top-k {} top-p {:.3} temp {:.3} repeat {:.3}",
        p.max_context_len, p.max_new_tokens, p.top_k, p.top_p, p.temperature, p.repeat_penalty
    );
    if p.frequency_penalty != 0.0 || p.presence_penalty != 0.0 {
        s += &format!(
            " frequency {:.3} presence {:.3}",
            p.frequency_penalty, p.presence_penalty
        );
    }
    if p.mirostat != 0 {
        s += &format!(
            " mirostat {} tau {:.3} eta {:.3}",
            p.mirostat, p.mirostat_tau, p.mirostat_eta
        );
    }
    s += &format!(
        ", cpus 0x{:X}×{}, batch {}, think {}",
        p.enabled_cpus_mask,
        p.enabled_cpus_num,
        p.n_batch,
        if p.think { "on" } else { "off" }
    );
    if p.keep_history {
        s += ", keep history";
    }
    s += &format!(", embed flash {}", p.embed_flash);
    let sha = &h.suite.sha256;
    s + &format!(", suite {} {}", h.suite.name, &sha[..sha.len().min(12)])
}

impl GroupKey {
    pub fn of(h: &RunHeader) -> GroupKey {
        let fact = |k: &str| {
            h.board
                .iter()
                .find(|f| f.key == k)
                .map(|f| f.value.as_str())
        };
        let fp = &h.model.fingerprint;
        GroupKey {
            board: known(fact("board.model")),
            soc: fact("board.compatible")
                .filter(|c| !c.starts_with("unavailable"))
                .and_then(soc)
                .unwrap_or_else(|| "unknown".into()),
            runtime: match (h.runtime.version.as_str(), h.runtime.abi.as_str()) {
                ("", "") => "unknown".into(),
                // A server run records how it was reached (`http:<server kind>`), not an ABI.
                ("", abi) if abi.starts_with("http") => abi.to_string(),
                ("", abi) => format!("ABI {abi}"),
                (v, _) => v.to_string(),
            },
            model: format!("{} {}", h.model.file_name, &fp[..fp.len().min(12)])
                .trim()
                .to_string(),
            settings: settings(h),
        }
    }
}

/// The per-request figures of a group, as collected.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Figures {
    pub decode_tok_s: Vec<f64>,
    pub ttft_ms: Vec<f64>,
    pub prefill_tok_s: Vec<f64>,
    pub e2e_ms: Vec<f64>,
    pub output_tokens: Vec<f64>,
    /// Output tokens per joule of each request whose energy is resolved (`record --power`).
    pub tokens_per_j: Vec<f64>,
}

impl Figures {
    fn push(&mut self, m: &RequestMetrics) {
        let put = |v: &mut Vec<f64>, x: Option<f64>| {
            if let Some(x) = x.filter(|x| x.is_finite()) {
                v.push(x);
            }
        };
        put(&mut self.decode_tok_s, m.decode_tok_s);
        put(&mut self.ttft_ms, m.ttft_ms);
        put(&mut self.prefill_tok_s, m.prefill_tok_s);
        put(&mut self.e2e_ms, Some(m.e2e_ms));
        put(&mut self.output_tokens, Some(m.output_tokens as f64));
    }

    fn shrink_to_fit(&mut self) {
        self.decode_tok_s.shrink_to_fit();
        self.ttft_ms.shrink_to_fit();
        self.prefill_tok_s.shrink_to_fit();
        self.e2e_ms.shrink_to_fit();
        self.output_tokens.shrink_to_fit();
    }

    fn append(&mut self, o: Figures) {
        self.decode_tok_s.extend(o.decode_tok_s);
        self.ttft_ms.extend(o.ttft_ms);
        self.prefill_tok_s.extend(o.prefill_tok_s);
        self.e2e_ms.extend(o.e2e_ms);
        self.output_tokens.extend(o.output_tokens);
        self.tokens_per_j.extend(o.tokens_per_j);
    }
}

/// One group while traces stream in.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Group {
    pub traces: usize,
    /// Traces read with damage or with frames dropped as impossible (the rest is included).
    pub damaged: usize,
    /// Measured requests, and those that completed.
    pub requests: usize,
    pub ok: usize,
    /// Host names seen, sorted and unique.
    pub hosts: Vec<String>,
    /// Over successful measured requests.
    pub figures: Figures,
}

/// The saturation point of a family's load levels (`stats::load::saturation`, no SLO): the
/// groups that differ only in their level (each level is a row of its own) share it.
#[derive(Debug, Clone, PartialEq)]
pub struct GroupSaturation {
    /// Levels under load in the group.
    pub levels: usize,
    /// The label of the highest level that held with every lower one holding (`None`: the
    /// lowest did not hold).
    pub point: Option<String>,
    /// What ended it, or that every level held.
    pub rule: String,
}

/// Median and spread of one figure over a group's requests.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Spread {
    pub n: usize,
    pub median: f64,
    /// Quartiles (type 7): the interquartile range is the spread shown.
    pub p25: f64,
    pub p75: f64,
    pub min: f64,
    pub max: f64,
}

impl Spread {
    pub fn of(mut v: Vec<f64>) -> Option<Spread> {
        if v.is_empty() {
            return None;
        }
        v.sort_unstable_by(f64::total_cmp);
        Some(Spread {
            n: v.len(),
            median: percentile(&v, 50.0),
            p25: percentile(&v, 25.0),
            p75: percentile(&v, 75.0),
            min: v[0],
            max: v[v.len() - 1],
        })
    }

    /// Interquartile range relative to the median, in % (`None` for a zero median).
    pub fn iqr_pct(&self) -> Option<f64> {
        (self.median != 0.0).then(|| 100.0 * (self.p75 - self.p25) / self.median.abs())
    }
}

/// A finished group: its key, counts, and the spread of each figure.
#[derive(Debug, Clone, PartialEq)]
pub struct GroupRow {
    pub key: GroupKey,
    pub traces: usize,
    pub damaged: usize,
    pub requests: usize,
    pub ok: usize,
    pub hosts: Vec<String>,
    pub decode_tok_s: Option<Spread>,
    pub ttft_ms: Option<Spread>,
    pub prefill_tok_s: Option<Spread>,
    pub e2e_ms: Option<Spread>,
    pub output_tokens: Option<Spread>,
    /// `None` for a group without power samples.
    pub tokens_per_j: Option<Spread>,
    /// `None` for a group without a trace under load.
    pub saturation: Option<GroupSaturation>,
}

/// A run's identity: the sha256 of its trace's run-header frame ([`crate::trace::reader::Checked`]),
/// which holds host, start time and command line, so every copy of one trace has the same one.
pub type RunId = [u8; 32];

/// One trace file reduced to what its group needs.
#[derive(Debug, Clone, Default)]
struct Copy {
    file: String,
    /// Shared by the copies of a group (interned in [`Fleet::keys`]): thousands of traces of a
    /// few groups hold a few keys.
    key: Arc<GroupKey>,
    /// The key without the load level: the levels of one family (a sweep, or levels recorded
    /// apart with the same settings) give the family's saturation point.
    family: Arc<GroupKey>,
    damaged: bool,
    host: String,
    /// Measured requests, and those that completed.
    requests: usize,
    ok: usize,
    frames: u32,
    figures: Figures,
    /// The trace's level, when it ran under load (its per-request parts dropped).
    level: Option<crate::stats::load::LoadLevel>,
}

impl Copy {
    /// Of two copies of one run, the one counted: the most requests, then the most frames (a
    /// whole copy rather than one taken mid-run or torn), then the first file name — an order
    /// that does not depend on the order the files were read in.
    fn better_than(&self, o: &Copy) -> bool {
        (o.requests, o.frames, &self.file) < (self.requests, self.frames, &o.file)
    }
}

/// A run while traces stream in: the copy counted, and the files that are copies of it.
#[derive(Debug, Clone)]
struct Run {
    kept: Copy,
    others: Vec<String>,
}

impl Run {
    fn add(&mut self, c: Copy) {
        if c.better_than(&self.kept) {
            let old = std::mem::replace(&mut self.kept, c);
            self.others.push(old.file);
        } else {
            self.others.push(c.file);
        }
    }
}

/// A trace's level, when it ran under load (a level record beyond sequential); kept without its
/// per-request parts, which the saturation point does not use.
fn level_under_load(t: &Trace) -> Option<crate::stats::load::LoadLevel> {
    use crate::stats::throughput::{self, Slos};
    if t.load.run.as_ref()?.is_sequential() {
        return None;
    }
    let th = throughput::of(&t.requests, t.server.as_ref(), &Slos::default());
    let peers = crate::stats::peers::of(&t.requests);
    let mut l = crate::stats::load::of(t, &th, &peers);
    l.requests = Vec::new();
    l.in_flight = Vec::new();
    Some(l)
}

/// Traces reduced as they stream in: one entry per run, so copies of one trace count once.
#[derive(Debug, Clone, Default)]
pub struct Fleet {
    runs: BTreeMap<RunId, Run>,
    keys: BTreeSet<Arc<GroupKey>>,
    /// Files that could not be read at all: (name, why).
    pub unreadable: Vec<(String, String)>,
    /// Reused for the ITL selection of every request.
    scratch: Vec<u32>,
}

/// The fleet table, ready to render.
#[derive(Debug, Clone, PartialEq)]
pub struct FleetTable {
    pub rows: Vec<GroupRow>,
    /// Runs counted (copies of one run count once).
    pub traces: usize,
    pub unreadable: Vec<(String, String)>,
    /// Files not counted because they are copies of a run counted: (file, the file counted),
    /// sorted.
    pub duplicates: Vec<(String, String)>,
}

impl Fleet {
    /// Reduce trace `t`, read from `file`, of run `run`.
    pub fn add(&mut self, file: &str, run: RunId, t: &Trace) {
        let level = level_under_load(t);
        let family = GroupKey::of(&t.header);
        // Each level its own row: figures of 1 and 8 streams are not one population.
        let mut key = family.clone();
        if let Some(l) = &level {
            key.settings
                .push_str(&format!(", under load {}", l.label()));
        }
        let mut intern = |k: GroupKey| match self.keys.get(&k) {
            Some(k) => Arc::clone(k),
            None => {
                let k = Arc::new(k);
                self.keys.insert(Arc::clone(&k));
                k
            }
        };
        let (key, family) = (intern(key), intern(family));
        let mut c = Copy {
            file: file.to_string(),
            key,
            family,
            damaged: t.damage.is_some() || !t.impossible.is_empty(),
            host: t.header.hostname.clone(),
            frames: t.frames,
            ..Copy::default()
        };
        let energy = crate::stats::energy::of(t);
        c.figures.tokens_per_j.extend(
            energy
                .iter()
                .flat_map(|e| &e.requests)
                .filter(|r| !r.warmup && r.output_tokens > 0)
                .filter_map(|r| {
                    r.total
                        .j
                        .filter(|j| *j > 0.0)
                        .map(|j| r.output_tokens as f64 / j)
                }),
        );
        for r in t.requests.iter().filter(|r| !r.warmup) {
            c.requests += 1;
            if r.status == Status::Ok {
                c.ok += 1;
                let input = crate::stats::request::input_tokens(r, t.server.as_ref());
                c.figures
                    .push(&RequestMetrics::of_input(r, input, &mut self.scratch));
            }
        }
        c.figures.shrink_to_fit();
        c.level = level;
        self.add_copy(run, c);
    }

    fn add_copy(&mut self, run: RunId, c: Copy) {
        match self.runs.entry(run) {
            std::collections::btree_map::Entry::Vacant(e) => {
                e.insert(Run {
                    kept: c,
                    others: Vec::new(),
                });
            }
            std::collections::btree_map::Entry::Occupied(mut e) => e.get_mut().add(c),
        }
    }

    /// A file that is not a readable trace: listed, not fatal.
    pub fn add_unreadable(&mut self, name: String, why: String) {
        self.unreadable.push((name, why));
    }

    /// Combine with a fleet read from other files.
    pub fn merge(&mut self, other: Fleet) {
        for (id, r) in other.runs {
            self.add_copy(id, r.kept);
            if let Some(mine) = self.runs.get_mut(&id) {
                mine.others.extend(r.others);
            }
        }
        self.unreadable.extend(other.unreadable);
    }

    /// The table: one row per group in key order; unreadable files and duplicates sorted by
    /// name.
    pub fn finish(self) -> FleetTable {
        let mut unreadable = self.unreadable;
        unreadable.sort();
        let mut duplicates = Vec::new();
        let mut groups: BTreeMap<Arc<GroupKey>, Group> = BTreeMap::new();
        let mut families: BTreeMap<Arc<GroupKey>, Vec<(String, crate::stats::load::LoadLevel)>> =
            BTreeMap::new();
        let mut family_of: BTreeMap<Arc<GroupKey>, Arc<GroupKey>> = BTreeMap::new();
        let runs = self.runs.len();
        for (_, r) in self.runs {
            let c = r.kept;
            duplicates.extend(r.others.into_iter().map(|f| (f, c.file.clone())));
            if let Some(l) = &c.level {
                families
                    .entry(Arc::clone(&c.family))
                    .or_default()
                    .push((c.file.clone(), l.clone()));
                family_of.insert(Arc::clone(&c.key), Arc::clone(&c.family));
            }
            let g = groups.entry(c.key).or_default();
            g.traces += 1;
            g.damaged += usize::from(c.damaged);
            g.requests += c.requests;
            g.ok += c.ok;
            if let Err(i) = g.hosts.binary_search(&c.host) {
                g.hosts.insert(i, c.host);
            }
            g.figures.append(c.figures);
        }
        duplicates.sort();
        let saturation: BTreeMap<Arc<GroupKey>, Option<GroupSaturation>> = families
            .into_iter()
            .map(|(f, levels)| (f, group_saturation(levels)))
            .collect();
        let rows: Vec<GroupRow> = groups
            .into_iter()
            .map(|(key, g)| GroupRow {
                saturation: family_of
                    .get(&key)
                    .and_then(|f| saturation.get(f))
                    .cloned()
                    .flatten(),
                key: Arc::unwrap_or_clone(key),
                traces: g.traces,
                damaged: g.damaged,
                requests: g.requests,
                ok: g.ok,
                hosts: g.hosts,
                decode_tok_s: Spread::of(g.figures.decode_tok_s),
                ttft_ms: Spread::of(g.figures.ttft_ms),
                prefill_tok_s: Spread::of(g.figures.prefill_tok_s),
                e2e_ms: Spread::of(g.figures.e2e_ms),
                output_tokens: Spread::of(g.figures.output_tokens),
                tokens_per_j: Spread::of(g.figures.tokens_per_j),
            })
            .collect();
        FleetTable {
            traces: runs,
            rows,
            unreadable,
            duplicates,
        }
    }
}

/// The saturation point of a group's levels, in an order that does not depend on the order
/// the files were read in.
fn group_saturation(
    mut levels: Vec<(String, crate::stats::load::LoadLevel)>,
) -> Option<GroupSaturation> {
    if levels.is_empty() {
        return None;
    }
    levels.sort_by(|(fa, a), (fb, b)| a.key().cmp(&b.key()).then_with(|| fa.cmp(fb)));
    let refs: Vec<&crate::stats::load::LoadLevel> = levels.iter().map(|(_, l)| l).collect();
    let sat = crate::stats::load::saturation(&refs, &crate::stats::throughput::Slos::default());
    Some(GroupSaturation {
        levels: refs.len(),
        point: sat.at(&refs).map(|l| l.label()),
        rule: sat.rule,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::trace::TokenColumns;
    use crate::trace::{Fact, Record, RequestRecord};

    fn trace(board: &str, compatible: &str, runtime: &str, host: &str, itl_us: u32) -> Trace {
        let mut h = RunHeader {
            board: vec![
                Fact {
                    key: "board.compatible".into(),
                    value: compatible.into(),
                },
                Fact {
                    key: "board.model".into(),
                    value: board.into(),
                },
            ],
            hostname: host.into(),
            ..Default::default()
        };
        h.runtime.version = runtime.into();
        h.runtime.abi = "1.2.1".into();
        h.model.file_name = "m.rkllm".into();
        h.model.fingerprint = "0123456789abcdef".into();
        h.suite.name = "quick".into();
        let req = |i: u32, warmup: bool, status: Status| RequestRecord {
            index: i,
            test_id: format!("t{i}"),
            warmup,
            status,
            tokens: TokenColumns {
                token_dt_us: vec![100_000, itl_us, itl_us, itl_us, itl_us],
                token_ids: vec![0; 5],
                text_len: vec![0; 5],
                ..TokenColumns::default()
            },
            end_us: 100_000 + 4 * u64::from(itl_us),
            ..Default::default()
        };
        // Through the real framing and reader, so the test does not depend on Trace's fields.
        let mut bytes = crate::trace::file_header(0).to_vec();
        let records = [
            Record::Header(h),
            Record::Request(req(0, true, Status::Ok)),
            Record::Request(req(1, false, Status::Ok)),
            Record::Request(req(2, false, Status::Timeout)),
        ];
        for (seq, r) in records.iter().enumerate() {
            let (kind, payload) = crate::trace::encode_record(r).unwrap();
            crate::trace::encode_frame(seq as u32, kind, &payload, &mut bytes);
        }
        crate::trace::reader::parse(&bytes, format!("{host}.rktrace")).unwrap()
    }

    /// The run identity the reader gives `t`: the sha256 of its header frame's payload.
    fn id(t: &Trace) -> RunId {
        use sha2::{Digest, Sha256};
        let (_, payload) = crate::trace::encode_record(&Record::Header(t.header.clone())).unwrap();
        Sha256::digest(&payload).into()
    }

    /// Add `t` as file `name`.
    fn add(f: &mut Fleet, name: &str, t: &Trace) {
        f.add(name, id(t), t);
    }

    #[test]
    fn copies_of_one_run_count_once_whatever_the_order() {
        // #21 G18: two copies of one trace counted as two runs.
        let a = trace("Radxa ROCK 5B", "rockchip,rk3588", "1.2.1", "a", 100_000);
        let b = trace("Radxa ROCK 5B", "rockchip,rk3588", "1.2.1", "b", 200_000);
        // A copy taken mid-run: the same header, one request fewer.
        let mut early = a.clone();
        early.requests.pop();
        early.frames -= 1;
        let files = [
            ("a.rktrace", &a),
            ("copy/a.rktrace", &a),
            ("b.rktrace", &b),
            ("a-early.rktrace", &early),
        ];
        let mut one = Fleet::default();
        files.iter().for_each(|(n, t)| add(&mut one, n, t));
        let (mut p, mut q) = (Fleet::default(), Fleet::default());
        for (i, (n, t)) in files.iter().rev().enumerate() {
            add(if i % 2 == 0 { &mut p } else { &mut q }, n, t);
        }
        q.merge(p);
        let table = one.finish();
        assert_eq!(table, q.finish());
        assert_eq!(table.traces, 2);
        assert_eq!((table.rows[0].traces, table.rows[0].requests), (2, 4));
        assert_eq!(
            table.duplicates,
            [
                ("a-early.rktrace".to_string(), "a.rktrace".to_string()),
                ("copy/a.rktrace".to_string(), "a.rktrace".to_string()),
            ]
        );
    }

    #[test]
    fn soc_from_compatible() {
        assert_eq!(
            soc("radxa,rock-5b rockchip,rk3588").as_deref(),
            Some("RK3588")
        );
        assert_eq!(
            soc("rockchip,rk3576-evb rockchip,rk3576").as_deref(),
            Some("RK3576")
        );
        assert_eq!(soc("acme,board acme,x1").as_deref(), Some("X1"));
        assert_eq!(soc("  "), None);
    }

    #[test]
    fn groups_by_board_and_runtime_in_any_order() {
        let ts = [
            trace(
                "Radxa ROCK 5B",
                "radxa,rock-5b rockchip,rk3588",
                "1.2.1",
                "b",
                100_000,
            ),
            trace(
                "Orange Pi 5 Max",
                "xunlong,orangepi-5-max rockchip,rk3588",
                "1.2.1",
                "a",
                50_000,
            ),
            trace(
                "Radxa ROCK 5B",
                "radxa,rock-5b rockchip,rk3588",
                "1.2.1",
                "c",
                200_000,
            ),
            trace(
                "Radxa ROCK 5B",
                "radxa,rock-5b rockchip,rk3588",
                "",
                "d",
                100_000,
            ),
        ];
        let mut one = Fleet::default();
        ts.iter()
            .enumerate()
            .for_each(|(i, t)| add(&mut one, &format!("{i}.rktrace"), t));
        one.add_unreadable("x.rktrace".into(), "not a trace".into());
        // Two partial fleets in another order merge to the same table.
        let (mut p, mut q) = (Fleet::default(), Fleet::default());
        add(&mut p, "3.rktrace", &ts[3]);
        add(&mut p, "2.rktrace", &ts[2]);
        add(&mut q, "1.rktrace", &ts[1]);
        add(&mut q, "0.rktrace", &ts[0]);
        q.add_unreadable("x.rktrace".into(), "not a trace".into());
        p.merge(q);
        let table = one.finish();
        assert_eq!(table, p.finish());
        assert_eq!(table.traces, 4);
        let keys: Vec<(&str, &str, &str)> = table
            .rows
            .iter()
            .map(|r| {
                (
                    r.key.board.as_str(),
                    r.key.soc.as_str(),
                    r.key.runtime.as_str(),
                )
            })
            .collect();
        assert_eq!(
            keys,
            [
                ("Orange Pi 5 Max", "RK3588", "1.2.1"),
                ("Radxa ROCK 5B", "RK3588", "1.2.1"),
                ("Radxa ROCK 5B", "RK3588", "ABI 1.2.1"),
            ]
        );
        let rock = &table.rows[1];
        assert_eq!((rock.traces, rock.requests, rock.ok), (2, 4, 2));
        assert_eq!(rock.hosts, ["b", "c"]);
        // One ok request per trace: 4 tokens 100 ms apart → 10 tok/s; 200 ms → 5 tok/s.
        let d = rock.decode_tok_s.unwrap();
        assert_eq!((d.n, d.min, d.max), (2, 5.0, 10.0));
        assert!((d.median - 7.5).abs() < 1e-9);
        assert!((d.p25 - 6.25).abs() < 1e-9 && (d.p75 - 8.75).abs() < 1e-9);
        assert_eq!(rock.key.model, "m.rkllm 0123456789ab");
        assert!(
            rock.key.settings.contains("suite quick"),
            "{}",
            rock.key.settings
        );
        assert_eq!(table.unreadable.len(), 1);
    }

    #[test]
    fn unknown_board_facts() {
        let mut t = trace("x", "y", "1.2.1", "h", 1000);
        t.header.board = vec![Fact {
            key: "board.model".into(),
            value: "unavailable (not present)".into(),
        }];
        let k = GroupKey::of(&t.header);
        assert_eq!((k.board.as_str(), k.soc.as_str()), ("unknown", "unknown"));
        let s = Spread::of(vec![2.0, 4.0]).unwrap();
        assert!((s.iqr_pct().unwrap() - 33.333_333_333_333_336).abs() < 1e-9);
        assert!(Spread::of(vec![]).is_none());
    }
}
