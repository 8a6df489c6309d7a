//! The exports load as they are in the tools people analyse with: DuckDB (from PyPI) reads the
//! request CSV, the token CSV, the JSON report, the fleet CSV and the compare JSON with no
//! options, with the row counts and values rkbench itself reads from the trace.
//!
//! `scripts/test.sh` installs DuckDB into a venv under `target/py-duckdb` (CI runs it) and sets
//! `RKBENCH_REQUIRE_DUCKDB=1`, so there the test fails rather than skips when DuckDB is missing.
//! Locally without that venv it prints a note and passes. `RKBENCH_DUCKDB_PYTHON` names
//! another interpreter that has `duckdb`.
mod common;
use common::*;
use std::path::PathBuf;
use std::process::Command;

fn python() -> Option<PathBuf> {
    let p = match std::env::var_os("RKBENCH_DUCKDB_PYTHON") {
        Some(p) => PathBuf::from(p),
        None => PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
            .parent()?
            .join("py-duckdb/bin/python"),
    };
    let ok = Command::new(&p)
        .args(["-c", "import duckdb"])
        .output()
        .is_ok_and(|o| o.status.success());
    ok.then_some(p)
}

/// Checks run inside Python; prints one `name=value` line per figure.
const SCRIPT: &str = r#"
import duckdb, sys
req, tok, rep, fleet, cmp, chk, cmpcsv = sys.argv[1:8]
q = lambda s: duckdb.sql(s).fetchall()
print("request_rows=%d" % q(f"select count(*) from read_csv_auto('{req}')")[0])
print("request_output_tokens=%d" % q(f"select sum(output_tokens) from read_csv_auto('{req}')")[0])
print("request_decode_type=%s" % [t for (c, t, *_) in q(f"describe select * from read_csv_auto('{req}')") if c == "decode_tok_s"][0])
print("token_rows=%d" % q(f"select count(*) from read_csv_auto('{tok}')")[0])
print("json_rows=%d" % q(f"select count(*) from read_json_auto('{rep}')")[0])
print("json_requests=%d" % q(f"select len(requests) from read_json_auto('{rep}')")[0])
# Both CSVs agree per request, and model text with line breaks, commas and quotes survives.
print("requests_matching_tokens=%d" % q(f"select count(*) from read_csv_auto('{req}') r join (select request_index, count(*) as n from read_csv_auto('{tok}') group by request_index) t on r.index = t.request_index where r.output_tokens = t.n")[0])
print("newline_tokens=%d" % q(f"select count(*) from read_csv_auto('{tok}') where contains(text, chr(10))")[0])
print("comma_tokens=%d" % q(f"select count(*) from read_csv_auto('{tok}') where text = ','")[0])
print("fleet_rows=%d" % q(f"select count(*) from read_csv_auto('{fleet}')")[0])
print("chunk_rows=%d" % q(f"select count(*) from read_csv_auto('{chk}')")[0])
print("chunk_tokens=%d" % q(f"select sum(tokens) from read_csv_auto('{chk}')")[0])
print("compare_candidates=%d" % q(f"select len(candidates) from read_json_auto('{cmp}')")[0])
print("compare_csv_rows=%d" % q(f"select count(*) from read_csv_auto('{cmpcsv}')")[0])
print("compare_csv_overall=%d" % q(f"select count(*) from read_csv_auto('{cmpcsv}') where scope = 'overall' and ratio = 1.0")[0])
"#;

#[test]
fn duckdb_reads_every_export_with_the_right_row_counts() {
    let Some(py) = python() else {
        assert!(
            std::env::var_os("RKBENCH_REQUIRE_DUCKDB").is_none(),
            "RKBENCH_REQUIRE_DUCKDB is set but no Python with duckdb was found"
        );
        eprintln!("note: DuckDB not installed (scripts/test.sh installs it into target/py-duckdb); skipping");
        return;
    };
    let dir = tempdir("duckdb");
    let traces = root().join("traces");
    let trace = traces.join("qwen3-4b-sim-default.rktrace");
    let t = trace.display().to_string();
    let out = |name: &str| dir.join(name).display().to_string();
    for args in [
        vec!["report", &t, "--format", "csv", "-o"],
        vec!["report", &t, "--format", "csv", "--per", "token", "-o"],
        vec!["report", &t, "--format", "json", "-o"],
    ] {
        let name = match (args.len(), args[3]) {
            (5, "csv") => "requests.csv",
            (5, _) => "report.json",
            _ => "tokens.csv",
        };
        let mut a = args.clone();
        let o = out(name);
        a.push(&o);
        let r = run(&a, &[]);
        assert!(r.status.success(), "{a:?}: {}", stderr(&r));
    }
    let traces_dir = traces.display().to_string();
    let fleet = out("fleet.csv");
    let r = run(
        &["report", &traces_dir, "--format", "csv", "-o", &fleet],
        &[],
    );
    assert!(r.status.success(), "{}", stderr(&r));
    let server_trace = traces.join("llama-cpp-python-tiny-quick.rktrace");
    let chunks = out("chunks.csv");
    let r = run(
        &[
            "report",
            &server_trace.display().to_string(),
            "--format",
            "csv",
            "--per",
            "chunk",
            "-o",
            &chunks,
        ],
        &[],
    );
    assert!(r.status.success(), "{}", stderr(&r));
    let cmp = out("compare.json");
    let r = run(
        &["compare", &t, &t, &t, "--format", "json", "-o", &cmp],
        &[],
    );
    assert!(r.status.success(), "{}", stderr(&r));
    let cmp_csv = out("compare.csv");
    let r = run(
        &["compare", &t, &t, &t, "--format", "csv", "-o", &cmp_csv],
        &[],
    );
    assert!(r.status.success(), "{}", stderr(&r));

    let o = Command::new(&py)
        .args(["-c", SCRIPT])
        .args(
            [
                "requests.csv",
                "tokens.csv",
                "report.json",
                "fleet.csv",
                "compare.json",
                "chunks.csv",
                "compare.csv",
            ]
            .map(out),
        )
        .output()
        .expect("run python");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let got = String::from_utf8_lossy(&o.stdout).into_owned();
    let get = |k: &str| -> String {
        got.lines()
            .find_map(|l| l.strip_prefix(&format!("{k}=")))
            .unwrap_or_else(|| panic!("{k} missing in:\n{got}"))
            .to_string()
    };

    // What rkbench itself reads from the trace.
    let tr = read_trace(&trace);
    let requests = tr.requests.len();
    let tokens: usize = tr.requests.iter().map(|r| r.output_tokens()).sum();
    assert!(requests == 10 && tokens > 1000, "{requests} {tokens}");
    assert_eq!(get("request_rows"), requests.to_string());
    assert_eq!(get("request_output_tokens"), tokens.to_string());
    assert_eq!(get("request_decode_type"), "DOUBLE");
    assert_eq!(get("token_rows"), tokens.to_string());
    assert_eq!(get("json_rows"), "1");
    assert_eq!(get("json_requests"), requests.to_string());
    assert_eq!(get("requests_matching_tokens"), requests.to_string());
    let count = |f: &dyn Fn(&[u8]) -> bool| -> usize {
        tr.requests
            .iter()
            .map(|r| {
                (0..r.output_tokens())
                    .filter(|&i| f(r.token_text(i)))
                    .count()
            })
            .sum()
    };
    let newlines = count(&|t| t.contains(&b'\n'));
    let commas = count(&|t| t == b",");
    assert!(newlines > 0 && commas > 0, "{newlines} {commas}");
    assert_eq!(get("newline_tokens"), newlines.to_string());
    // The server trace's chunks: every chunk a row, the attributed tokens summed.
    let st = read_trace(&server_trace);
    let sv = st.server.as_ref().expect("a server trace");
    let n_chunks: usize = sv.requests.iter().map(|r| r.chunks()).sum();
    let n_tokens: u64 = sv.requests.iter().map(|r| r.chunk_token_total()).sum();
    assert!(
        n_chunks > n_tokens as usize && n_tokens > 0,
        "{n_chunks} {n_tokens}"
    );
    assert_eq!(get("chunk_rows"), n_chunks.to_string());
    assert_eq!(get("chunk_tokens"), n_tokens.to_string());
    assert_eq!(get("comma_tokens"), commas.to_string());
    // Every committed trace, those of the load sweep's directory too (each level its own row).
    fn traces_in(dir: &std::path::Path) -> usize {
        std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .map(|p| {
                if p.is_dir() {
                    traces_in(&p)
                } else {
                    usize::from(p.extension().is_some_and(|x| x == "rktrace"))
                }
            })
            .sum()
    }
    let groups = traces_in(&traces);
    assert_eq!(get("fleet_rows"), groups.to_string()); // each committed trace is its own setup
    assert_eq!(get("compare_candidates"), "2");
    // One row per candidate × metric × (overall + each test); a trace against itself: ratio 1.
    let j: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&cmp).unwrap()).unwrap();
    let scopes: usize = j["candidates"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|c| c["metrics"].as_array().unwrap())
        .map(|m| 1 + m["per_test"].as_array().unwrap().len())
        .sum();
    assert_eq!(get("compare_csv_rows"), scopes.to_string());
    assert_eq!(
        get("compare_csv_overall"),
        "10",
        "2 candidates × 5 metrics, each 1.0"
    );
}
