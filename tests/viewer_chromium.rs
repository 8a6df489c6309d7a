//! The browser viewer (`make viewer`, docs/VIEWER.md) in headless Chromium: every committed
//! trace, fed through `window.rkbench` in the built page opened from `file://`, must give the
//! CLI's bytes in every report format the CLI knows (perfetto when the CLI has it), its verify
//! text, its comparison and fleet table, and its error lines for a truncated, corrupt or
//! foreign file. The page's own file input must show the CLI's HTML report. The page must log
//! nothing (its Content-Security-Policy forbids every network request: a request would be a
//! console message) and stay within its size budget.
//!
//! The page is built by `scripts/viewer.sh` (scripts/test.sh runs it first and sets
//! RKBENCH_REQUIRE_VIEWER=1); without it, or without Chromium, the browser test prints a note
//! and passes.
use common::chromium::{self, page_problems};
use rkbench::replay::{self, TraceFile};
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::process::Command;

mod common;

const BUDGET: u64 = 4 * 1024 * 1024;

fn page() -> Option<PathBuf> {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| common::root().join("target"));
    let p = common::root()
        .join(target)
        .join("viewer/rkbench-viewer.html");
    if p.exists() {
        return Some(p);
    }
    assert!(
        std::env::var_os("RKBENCH_REQUIRE_VIEWER").is_none(),
        "{} is missing: scripts/viewer.sh (make viewer) did not build it",
        p.display()
    );
    println!(
        "note: {} not built; skipping the viewer check (run `make viewer`)",
        p.display()
    );
    None
}

/// The two tests that run every case take turns: the one that starts the CLI a hundred times
/// would otherwise load the machine the browser test is timed on.
static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// The committed traces (those of sweep directories too), by path under traces/, sorted.
fn traces() -> Vec<String> {
    fn walk(dir: &Path, under: &str, v: &mut Vec<String>) {
        for e in std::fs::read_dir(dir).unwrap() {
            let e = e.unwrap();
            let name = format!("{under}{}", e.file_name().to_string_lossy());
            if e.file_type().unwrap().is_dir() {
                walk(&e.path(), &format!("{name}/"), v);
            } else if name.ends_with(".rktrace") {
                v.push(name);
            }
        }
    }
    let mut v = Vec::new();
    walk(&common::root().join("traces"), "", &mut v);
    v.sort();
    assert!(v.len() >= 5, "committed traces: {v:?}");
    v
}

/// What the CLI did: exit code, stdout, stderr.
#[derive(Debug, PartialEq)]
struct Outcome {
    code: i64,
    stdout: String,
    stderr: String,
}

fn cli(cwd: &Path, args: &[&str]) -> Outcome {
    let o = Command::new(common::bin())
        .args(args)
        .current_dir(cwd)
        .output()
        .unwrap();
    Outcome {
        code: o.status.code().unwrap().into(),
        stdout: String::from_utf8(o.stdout).unwrap(),
        stderr: String::from_utf8(o.stderr).unwrap(),
    }
}

/// One call through `window.rkbench`, with the CLI command that must print the same.
struct Case {
    label: String,
    command: &'static str,
    format: String,
    /// (index into the embedded files, the name the CLI prints for it)
    files: Vec<(usize, String)>,
    /// The first file's checkpoint journal (index into the embedded files), beside it for the CLI.
    journal: Option<usize>,
    want: Outcome,
}

fn base64(bytes: &[u8]) -> String {
    const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut s = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for c in bytes.chunks(3) {
        let n = (u32::from(c[0]) << 16)
            | (u32::from(*c.get(1).unwrap_or(&0)) << 8)
            | u32::from(*c.get(2).unwrap_or(&0));
        for (i, shift) in [18, 12, 6, 0].into_iter().enumerate() {
            s.push(if i <= c.len() {
                A[(n >> shift) as usize & 63] as char
            } else {
                '='
            });
        }
    }
    s
}

fn unbase64(s: &str) -> Vec<u8> {
    let val = |c: u8| match c {
        b'A'..=b'Z' => c - b'A',
        b'a'..=b'z' => c - b'a' + 26,
        b'0'..=b'9' => c - b'0' + 52,
        b'+' => 62,
        b'/' => 63,
        _ => panic!("not base64: {c}"),
    };
    let mut out = Vec::new();
    for q in s.trim().as_bytes().chunks(4) {
        let n = q
            .iter()
            .take_while(|&&c| c != b'=')
            .fold((0u32, 0u32), |(n, k), &c| {
                (n | u32::from(val(c)) << (18 - 6 * k), k + 1)
            });
        for i in 0..n.1.saturating_sub(1) {
            out.push((n.0 >> (16 - 8 * i)) as u8);
        }
    }
    out
}

#[test]
fn base64_round_trips() {
    for n in 0..7 {
        let b: Vec<u8> = (0..n).map(|i| (i * 97 + 3) as u8).collect();
        assert_eq!(unbase64(&base64(&b)), b, "{n}");
    }
    assert_eq!(base64(b"rkbench"), "cmtiZW5jaA==");
}

#[test]
fn viewer_page_is_one_offline_file_within_budget() {
    let Some(p) = page() else { return };
    let size = std::fs::metadata(&p).unwrap().len();
    assert!(
        size <= BUDGET,
        "{}: {size} bytes, budget {BUDGET}",
        p.display()
    );
    let html = std::fs::read_to_string(&p).unwrap();
    assert!(html.contains("Content-Security-Policy") && html.contains("connect-src 'none'"));
    assert!(html.contains("never leave this machine"));
    // Everything is inline: no element loads anything, no script asks the network.
    for bad in [
        " src=",
        "href=\"http",
        "<link",
        "fetch(",
        "XMLHttpRequest",
        "WebSocket",
        "import(",
        "sendBeacon",
    ] {
        assert!(!html.contains(bad), "the page contains {bad:?}");
    }
}

/// Every case the viewer must answer as the CLI does, with the files they read.
struct Cases {
    /// Trace bytes, the committed traces first (sorted by name), then damaged and foreign ones.
    files: Vec<Vec<u8>>,
    cases: Vec<Case>,
    /// The CLI's report formats.
    formats: Vec<&'static str>,
    traces: Vec<String>,
    /// Index of the default trace in `traces`.
    default: usize,
    /// Index of the thinking trace (the candidate of the comparisons).
    think: usize,
}

fn cases(dir: &Path) -> Cases {
    let root = common::root();
    let traces = traces();
    let mut files: Vec<Vec<u8>> = traces
        .iter()
        .map(|t| std::fs::read(root.join("traces").join(t)).unwrap())
        .collect();
    let named = |i: usize| (i, format!("traces/{}", traces[i]));
    // The CLI's formats: perfetto only when this rkbench has it.
    let mut formats = vec!["md", "json", "csv", "html"];
    let probe = cli(&root, &["report", "--format", "perfetto", &named(0).1]);
    if probe.code == 0 {
        formats.push("perfetto");
    } else {
        assert!(probe.stderr.contains("unknown report format"), "{probe:?}");
        println!("note: this rkbench has no perfetto format; checking md, json, csv and html");
    }
    let mut cases = Vec::new();
    for i in 0..traces.len() {
        let (_, name) = named(i);
        for f in &formats {
            cases.push(Case {
                label: format!("report {f} {name}"),
                command: "report",
                format: f.to_string(),
                files: vec![named(i)],
                journal: None,
                want: cli(&root, &["report", "--format", f, &name]),
            });
        }
        cases.push(Case {
            label: format!("verify {name}"),
            command: "verify",
            format: String::new(),
            files: vec![named(i)],
            journal: None,
            want: cli(&root, &["verify", &name]),
        });
    }
    // Damaged and foreign files, named as the CLI names them from their directory.
    let context = traces
        .iter()
        .position(|t| t == "qwen3-0.6b-sim-context.rktrace")
        .unwrap();
    let good = files[context].clone();
    let mut corrupt = good.clone();
    corrupt[good.len() / 2] ^= 0x5a;
    let bad: [(&str, Vec<u8>); 4] = [
        ("truncated.rktrace", good[..good.len() * 3 / 5].to_vec()),
        ("corrupt.rktrace", corrupt),
        ("notes.txt", b"these are my notes, not a trace\n".to_vec()),
        ("empty.rktrace", Vec::new()),
    ];
    for (name, bytes) in bad {
        std::fs::write(dir.join(name), &bytes).unwrap();
        files.push(bytes);
        let i = files.len() - 1;
        for f in ["md", "html"] {
            cases.push(Case {
                label: format!("report {f} {name}"),
                command: "report",
                format: f.into(),
                files: vec![(i, name.into())],
                journal: None,
                want: cli(dir, &["report", "--format", f, name]),
            });
        }
        cases.push(Case {
            label: format!("verify {name}"),
            command: "verify",
            format: String::new(),
            files: vec![(i, name.into())],
            journal: None,
            want: cli(dir, &["verify", name]),
        });
    }
    // Unfinished runs with the checkpoint journal beside them (merged, damaged, another run's).
    for seed in [
        "every-kind-in-flight.bin",
        "journal-corrupt-frame.bin",
        "journal-foreign.bin",
        "journal-flag-cleared.bin",
    ] {
        let bytes = common::fuzz_seed(seed);
        let at = common::journal_start(&bytes).unwrap_or_else(|| panic!("{seed} has no journal"));
        let name = seed.replace(".bin", ".rktrace");
        std::fs::write(dir.join(&name), &bytes[..at]).unwrap();
        std::fs::write(dir.join(format!("{name}.journal")), &bytes[at..]).unwrap();
        files.push(bytes[..at].to_vec());
        files.push(bytes[at..].to_vec());
        let (i, j) = (files.len() - 2, files.len() - 1);
        cases.push(Case {
            label: format!("report md {name} + journal"),
            command: "report",
            format: "md".into(),
            files: vec![(i, name.clone())],
            journal: Some(j),
            want: cli(dir, &["report", &name]),
        });
        cases.push(Case {
            label: format!("verify {name} + journal"),
            command: "verify",
            format: String::new(),
            files: vec![(i, name.clone())],
            journal: Some(j),
            want: cli(dir, &["verify", &name]),
        });
    }
    // A sweep directory (`report DIR` reads DIR/index.json and the traces it lists; one is
    // missing) and one whose index is not an index.
    let rockchip = traces
        .iter()
        .position(|t| t == "qwen3-0.6b-sim-rockchip.rktrace")
        .unwrap();
    let index = json!({
        "sweep_index_version": 1,
        "axes": ["max-context-len"],
        "runs": [
            {"trace": "ctx-1024.rktrace", "params": {"max-context-len": "1024"}, "exit_code": 0},
            {"trace": "ctx-2048.rktrace", "params": {"max-context-len": "2048"}, "exit_code": 0},
            {"trace": "ctx-4096.rktrace", "params": {"max-context-len": "4096"}, "exit_code": 3},
        ],
        "status": "complete",
        "combinations": 3,
    })
    .to_string()
    .into_bytes();
    for (sweep, index) in [("sweep", index), ("not-a-sweep", b"{\"runs\": 3}".to_vec())] {
        std::fs::create_dir_all(dir.join(sweep)).unwrap();
        std::fs::write(dir.join(sweep).join("index.json"), &index).unwrap();
        files.push(index);
        let mut listed = vec![(files.len() - 1, format!("{sweep}/index.json"))];
        for (name, i) in [
            ("ctx-1024.rktrace", context),
            ("ctx-2048.rktrace", rockchip),
        ] {
            std::fs::write(dir.join(sweep).join(name), &files[i]).unwrap();
            listed.push((i, format!("{sweep}/{name}")));
        }
        for f in ["md", "json", "html"] {
            cases.push(Case {
                label: format!("sweep {f} {sweep}"),
                command: "sweep",
                format: f.into(),
                files: listed.clone(),
                journal: None,
                want: cli(dir, &["report", "--format", f, sweep]),
            });
        }
    }
    cases.push(Case {
        label: "an unknown format".into(),
        command: "report",
        format: "pdf".into(),
        files: vec![named(0)],
        journal: None,
        want: cli(&root, &["report", "--format", "pdf", &named(0).1]),
    });
    let default = traces
        .iter()
        .position(|t| t == "qwen3-4b-sim-default.rktrace")
        .unwrap();
    let think = traces
        .iter()
        .position(|t| t == "qwen3-4b-sim-think.rktrace")
        .unwrap();
    for f in ["md", "json", "csv"] {
        cases.push(Case {
            label: format!("compare {f}"),
            command: "compare",
            format: f.into(),
            files: vec![named(default), named(think)],
            journal: None,
            want: cli(
                &root,
                &["compare", "--format", f, &named(default).1, &named(think).1],
            ),
        });
    }
    // Perfetto too: a fleet table has no timeline, refused with the CLI's words.
    for f in &formats {
        cases.push(Case {
            label: format!("fleet {f}"),
            command: "fleet",
            format: f.to_string(),
            // `report --fleet traces/` names each file relative to traces/.
            files: (0..traces.len()).map(|i| (i, traces[i].clone())).collect(),
            journal: None,
            want: cli(&root, &["report", "--fleet", "--format", f, "traces/"]),
        });
    }

    // The cases exercise errors, damage, warnings and journals, not only intact traces.
    let any = |f: &dyn Fn(&Case) -> bool| cases.iter().any(f);
    assert!(any(
        &|c| c.want.code == 3 && c.want.stderr.contains("not an rkbench trace")
    ));
    assert!(any(
        &|c| c.want.code == 5 && c.want.stdout.contains("truncated at byte")
    ));
    assert!(any(
        &|c| c.want.code == 0 && c.want.stderr.contains("reporting the valid part")
    ));
    assert!(any(&|c| c
        .want
        .stdout
        .contains("recovered from its journal")));
    assert!(any(&|c| c.want.stdout.contains("not merged")));
    assert!(any(&|c| c.command == "sweep"
        && c.want.code == 0
        && c.want.stdout.contains("No such file or directory")));
    assert!(any(
        &|c| c.command == "sweep" && c.want.stderr.contains("not a sweep index")
    ));
    Cases {
        files,
        cases,
        formats,
        traces,
        default,
        think,
    }
}

/// The same cases through `rkbench::replay` natively: what the module runs, without a browser.
#[test]
fn replay_in_memory_gives_the_clis_bytes() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let dir = common::tempdir("viewer-replay");
    let all = cases(&dir);
    for c in &all.cases {
        let mut files: Vec<TraceFile<'_>> = c
            .files
            .iter()
            .map(|(i, name)| TraceFile {
                name,
                bytes: &all.files[*i],
                journal: None,
            })
            .collect();
        files[0].journal = c.journal.map(|j| &all.files[j][..]);
        let got = match c.command {
            "report" => replay::report(&files[0], &c.format),
            "verify" => replay::verify(&files),
            "compare" => replay::compare(&files, &c.format),
            "sweep" => replay::sweep(&files, &c.format),
            _ => replay::fleet(&files, &c.format),
        };
        let got = Outcome {
            code: got.code.into(),
            stdout: got.stdout,
            stderr: got.stderr,
        };
        assert!(
            got == c.want,
            "{}: replay differs from the CLI\nreplay: {} {:?}\ncli:    {} {:?}",
            c.label,
            got.code,
            got.stderr,
            c.want.code,
            c.want.stderr
        );
    }
}

#[test]
fn viewer_gives_the_clis_bytes_for_every_committed_trace() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let Some(page) = page() else { return };
    if !chromium::available() {
        return;
    }
    let root = common::root();
    let dir = common::tempdir("viewer-chromium");
    let Cases {
        files,
        cases,
        formats,
        traces,
        default,
        think,
    } = cases(&dir);
    let sweep_dir: Vec<Value> = cases
        .iter()
        .find(|c| c.label == "sweep md sweep")
        .unwrap()
        .files
        .iter()
        .map(|(i, n)| json!([i, n]))
        .collect();
    let spec = json!({
        "cases": cases.iter().map(|c| json!({
            "command": c.command,
            "format": c.format,
            "files": c.files.iter().map(|(i, n)| json!({"index": i, "name": n})).collect::<Vec<_>>(),
            "journal": c.journal,
        })).collect::<Vec<_>>(),
        "ui": { "index": default, "name": traces[default], "pair": [think, default] },
        "names": traces,
        // traces/ as a directory (with a file the walk skips), and the sweep directory.
        "dir": traces.iter().enumerate().map(|(i, t)| json!([i, format!("traces/{t}")]))
            .chain([json!([files.len() - 1, "traces/README.md"])]).collect::<Vec<_>>(),
        "sweep": sweep_dir,
    });
    let files_b64: Vec<String> = files.iter().map(|b| base64(b)).collect();
    let driver = format!(
        "<script>\nconst TEST_FILES = {};\nconst TEST_SPEC = {};\n{}</script>\n</body>",
        serde_json::to_string(&files_b64).unwrap(),
        spec,
        DRIVER
    );
    let html = std::fs::read_to_string(&page).unwrap();
    assert_eq!(html.matches("</body>").count(), 1);
    let test_page = dir.join("viewer-test.html");
    std::fs::write(&test_page, html.replace("</body>", &driver)).unwrap();

    let out = chromium::run(
        &dir.join("profile"),
        &["--virtual-time-budget=600000", "--dump-dom"],
        &format!("file://{}", test_page.display()),
    );
    let dom = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "chromium failed: {stderr}");
    let result = dom
        .split("<pre id=\"rkbench-test-result\">")
        .nth(1)
        .and_then(|r| r.split("</pre>").next())
        .unwrap_or_else(|| panic!("the test driver left no result; browser log:\n{stderr}"));
    assert!(
        !result.starts_with("ERROR"),
        "{result}\nbrowser log:\n{stderr}"
    );
    let got: Value = serde_json::from_slice(&unbase64(result)).unwrap();
    let stale = format!(
        "(is {} older than the sources? rebuild it with `make viewer`)",
        page.display()
    );

    let results = got["results"].as_array().unwrap();
    assert_eq!(results.len(), cases.len());
    for (c, r) in cases.iter().zip(results) {
        let run = Outcome {
            code: r["run"]["code"].as_i64().unwrap(),
            stdout: r["run"]["stdout"].as_str().unwrap().into(),
            stderr: r["run"]["stderr"].as_str().unwrap().into(),
        };
        assert!(
            run == c.want,
            "{}: the viewer's code/stdout/stderr differ from the CLI's {stale}\nviewer: {} {:?}\ncli:    {} {:?}",
            c.label,
            run.code,
            run.stderr,
            c.want.code,
            c.want.stderr
        );
        // The documented calls: the CLI's stdout as a string, or an Error whose message is the
        // CLI's error line (verify: a damaged trace is a result, exit code 5).
        let ok = c.want.code == 0 || (c.command == "verify" && c.want.code == 5);
        if ok {
            assert_eq!(
                r["api"]["ok"].as_str(),
                Some(c.want.stdout.as_str()),
                "{}",
                c.label
            );
        } else {
            let line = c.want.stderr.trim_end().lines().last().unwrap();
            assert_eq!(r["api"]["error"].as_str(), Some(line), "{}", c.label);
            assert_eq!(r["api"]["code"].as_i64(), Some(c.want.code), "{}", c.label);
        }
    }

    let shown: Vec<&str> = got["formats"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f.as_str().unwrap())
        .collect();
    assert_eq!(shown, formats, "window.rkbench.formats");

    // The page itself: traces given to its file input (as a user picks them: bare file names)
    // show the CLI's verify, HTML report, comparison (baseline = first by name) and fleet table.
    let traces_dir = root.join("traces");
    let name = &traces[default];
    let ui = &got["ui"];
    let want = |args: &[&str]| cli(&traces_dir, args).stdout;
    assert_eq!(
        ui["one"]["report-frame"].as_str(),
        Some(want(&["report", "--format", "html", name]).as_str()),
        "the page's report frame {stale}"
    );
    assert_eq!(
        ui["one"]["verify"].as_str(),
        Some(want(&["verify", name]).as_str()),
        "the page's verify"
    );
    let (a, b) = (&traces[default], &traces[think]);
    assert!(a < b, "the page takes the first by name as the baseline");
    assert_eq!(
        ui["two"]["compare"].as_str(),
        Some(want(&["compare", a, b]).as_str()),
        "the page's comparison"
    );
    assert_eq!(
        ui["two"]["verify"].as_str(),
        Some(want(&["verify", a, b]).as_str())
    );
    let fleet = cli(&root, &["report", "--format", "html", "traces"]).stdout;
    assert_eq!(
        ui["dir"].as_str(),
        Some(fleet.as_str()),
        "the page's directory view"
    );
    let sweep = cli(&dir, &["report", "sweep"]).stdout;
    assert_eq!(
        ui["sweep"].as_str(),
        Some(sweep.as_str()),
        "the page's sweep view"
    );
    let mut fleet_args = vec!["report", "--fleet", "--format", "html"];
    fleet_args.extend(traces.iter().map(String::as_str));
    assert_eq!(
        ui["all"]["fleet-frame"].as_str(),
        Some(want(&fleet_args).as_str()),
        "the page's fleet table"
    );
    let problems = page_problems(&stderr);
    assert!(problems.is_empty(), "browser console: {problems:#?}");
    println!(
        "viewer: {} cases identical to the CLI, and the page's own views",
        cases.len()
    );
}

/// The test driver appended to a copy of the page: runs every case through window.rkbench,
/// then gives the default trace to the page's file input, and leaves the results (base64 of
/// UTF-8 JSON, so no markup escaping is involved) in `<pre id="rkbench-test-result">`.
const DRIVER: &str = r##"
(async () => {
  const out = document.createElement("pre");
  out.id = "rkbench-test-result";
  const unb64 = (s) => { const b = atob(s); const u = new Uint8Array(b.length); for (let i = 0; i < b.length; i++) u[i] = b.charCodeAt(i); return u; };
  const b64 = (s) => { const u = new TextEncoder().encode(s); let b = ""; for (let i = 0; i < u.length; i += 0x8000) b += String.fromCharCode(...u.subarray(i, i + 0x8000)); return btoa(b); };
  // Headless Chromium's virtual clock jumps to its budget whenever no timer is pending, also
  // while the module compiles or the page reads a picked file (work done off the page's
  // thread): a chain of 1 ms timers keeps it stepping, each step a task the page's thread runs
  // in real time, until the driver is done.
  let busy = true;
  const tick = () => { if (busy) setTimeout(tick, 1); };
  tick();
  try {
    await window.rkbench.ready;
    const files = TEST_FILES.map(unb64);
    const results = [];
    for (const c of TEST_SPEC.cases) {
      const fs = c.files.map((f) => ({ bytes: files[f.index], fileName: f.name }));
      if (c.journal !== null) fs[0].journal = files[c.journal];
      const run = window.rkbench.run(c.command, c.format, fs);
      let api;
      try {
        const ok = c.command === "report" ? window.rkbench.report(fs[0].bytes, c.format, fs[0].fileName, fs[0].journal)
          : c.command === "verify" ? window.rkbench.verify(fs[0].bytes, fs[0].fileName, fs[0].journal)
          : c.command === "compare" ? window.rkbench.compare(fs[0], fs.slice(1), c.format)
          : c.command === "sweep" ? window.rkbench.sweep(fs.slice().reverse(), c.format)
          : window.rkbench.fleet(fs, c.format);
        api = { ok };
      } catch (e) {
        api = { error: e.message, code: e.code };
      }
      results.push({ run, api });
    }
    const ui = TEST_SPEC.ui;
    // Resolves when element `id` is in the page: no timers, which virtual time would race
    // through while the page reads its files.
    const appear = (id) => new Promise((resolve) => {
      if (document.getElementById(id)) return resolve();
      const mo = new MutationObserver(() => {
        if (document.getElementById(id)) { mo.disconnect(); resolve(); }
      });
      mo.observe(document.body, { childList: true, subtree: true });
    });
    // The page's own file input, as a user's pick: one trace, two, all of them.
    const input = document.getElementById("pick-files");
    const pick = async (indexes, want) => {
      const dt = new DataTransfer();
      for (const i of indexes) dt.items.add(new File([files[i]], TEST_SPEC.names[i]));
      document.getElementById("out").replaceChildren();
      input.files = dt.files;
      input.dispatchEvent(new Event("change"));
      await appear(want);
      const text = (id) => { const e = document.getElementById(id); return e && (e.srcdoc || e.textContent); };
      return { verify: text("verify"), [want]: text(want) };
    };
    // A directory, as the directory picker or a drop gives it: paths under its name.
    const openDir = async (entries, want) => {
      document.getElementById("out").replaceChildren();
      await window.rkbenchPage.open(entries.map(([i, path]) => ({ file: new Blob([files[i]]), path })), true);
      const e = document.getElementById(want);
      return e && (e.srcdoc || e.textContent);
    };
    const uiResult = {
      one: await pick([ui.index], "report-frame"),
      two: await pick(ui.pair, "compare"),
      all: await pick(TEST_SPEC.names.map((_, i) => i), "fleet-frame"),
      dir: await openDir(TEST_SPEC.dir, "fleet-frame"),
      sweep: await openDir(TEST_SPEC.sweep, "sweep"),
    };
    out.textContent = b64(JSON.stringify({
      results,
      formats: window.rkbench.formats,
      ui: uiResult,
    }));
  } catch (e) {
    out.textContent = "ERROR " + (e && e.stack || e);
  }
  busy = false;
  document.body.append(out);
})();
"##;
