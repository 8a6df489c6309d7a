//! `rkbench report DIR` over any traces (not a sweep): traces recorded on the two fixture boards
//! (`fixtures/sysfs/*` through `--sysfs-root`) land in one table that names both boards; every
//! format renders it, the same bytes for any `--jobs`, and a file that is not a trace is listed,
//! not fatal.
mod common;
use common::*;
use std::path::Path;

fn record_on(board: &str, out: &Path, extra: &[&str]) {
    let sysfs = root().join("fixtures/sysfs").join(board);
    let sysfs = sysfs.display().to_string();
    let mut args = vec![
        "--suite",
        "quick",
        "--max-new-tokens",
        "8",
        "--sysfs-root",
        &sysfs,
        "--sample-interval",
        "20ms",
    ];
    args.extend_from_slice(extra);
    let o = record(
        &fake_lib("1.2.1"),
        out,
        &args,
        &[("FAKE_RKLLM_TIME_SCALE", "0.002")],
    );
    assert!(o.status.success(), "record on {board}: {}", stderr(&o));
}

#[test]
fn report_dir_puts_two_boards_in_one_table() {
    let dir = tempdir("fleet");
    let traces = dir.join("traces");
    std::fs::create_dir_all(traces.join("rock")).unwrap();
    record_on("rk3588-healthy", &traces.join("opi-1.rktrace"), &[]);
    record_on("rk3588-healthy", &traces.join("opi-2.rktrace"), &[]);
    record_on(
        "rk3588-throttling",
        &traces.join("rock/rock-1.rktrace"),
        &[],
    );
    // Another setting on the same board is another group.
    record_on(
        "rk3588-throttling",
        &traces.join("rock/rock-topk.rktrace"),
        &["--top-k", "20"],
    );
    std::fs::write(traces.join("rock/notes.rktrace"), b"not a trace at all").unwrap();
    std::fs::write(traces.join("README.txt"), b"ignored: not *.rktrace").unwrap();
    let t = traces.display().to_string();

    let o = run(&["report", &t], &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    let md = stdout(&o);
    assert!(md.starts_with("# rkbench fleet\n"), "{md}");
    assert!(md.contains("4 traces in 3 groups."), "{md}");
    let rows: Vec<&str> = md.lines().filter(|l| l.contains("| RK3588 |")).collect();
    assert_eq!(rows.len(), 3, "{md}");
    assert!(
        rows[0].starts_with("| Orange Pi 5 Max | RK3588 | 1.2.1 | Qwen3-4B-sim.rkllm "),
        "{md}"
    );
    assert!(
        rows[0].contains(" | 2 | 6/6 | "),
        "two traces of 3 requests: {}",
        rows[0]
    );
    assert!(
        rows[1].starts_with("| Radxa ROCK 5B | RK3588 | 1.2.1 |"),
        "{md}"
    );
    assert!(
        rows[1].contains("top-k 1 ") && rows[2].contains("top-k 20 "),
        "{md}"
    );
    assert!(
        md.contains("## Not read\n\n- `rock/notes.rktrace`: "),
        "{md}"
    );
    assert!(
        !md.contains(&dir.display().to_string()),
        "no machine paths: {md}"
    );

    // Every format, and the same bytes whatever --jobs.
    let (a, b) = (dir.join("a"), dir.join("b"));
    for (out, jobs) in [(&a, "1"), (&b, "3")] {
        let o = run(
            &[
                "report",
                &t,
                "--format",
                "md,json,csv,html",
                "--jobs",
                jobs,
                "-o",
                &out.display().to_string(),
            ],
            &[],
        );
        assert!(o.status.success(), "{}", stderr(&o));
    }
    for ext in ["md", "json", "csv", "html"] {
        let name = format!("fleet.{ext}");
        let x = std::fs::read(a.join(&name)).unwrap();
        assert_eq!(
            x,
            std::fs::read(b.join(&name)).unwrap(),
            "{name} depends on --jobs"
        );
    }
    let j: serde_json::Value =
        serde_json::from_slice(&std::fs::read(a.join("fleet.json")).unwrap()).unwrap();
    let boards: Vec<&str> = j["groups"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["board"].as_str().unwrap())
        .collect();
    assert_eq!(
        boards,
        ["Orange Pi 5 Max", "Radxa ROCK 5B", "Radxa ROCK 5B"]
    );
    assert_eq!(j["groups"][0]["hosts"].as_array().unwrap().len(), 1);
    assert_eq!(j["groups"][0]["decode_tok_s"]["n"], 6);
    assert_eq!(j["unreadable"][0]["file"], "rock/notes.rktrace");
    let csv = std::fs::read_to_string(a.join("fleet.csv")).unwrap();
    assert_eq!(csv.split("\r\n").filter(|l| !l.is_empty()).count(), 4);
    let html = std::fs::read_to_string(a.join("fleet.html")).unwrap();
    assert!(html.contains("<td>Orange Pi 5 Max</td>") && html.contains("<td>Radxa ROCK 5B</td>"));

    // Files given on the command line, with --fleet: the same table over those files.
    let o = run(
        &[
            "report",
            "--fleet",
            &traces.join("opi-1.rktrace").display().to_string(),
            &traces.join("rock/rock-1.rktrace").display().to_string(),
        ],
        &[],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stdout(&o).contains("2 traces in 2 groups."),
        "{}",
        stdout(&o)
    );

    // Nothing to report is an input error naming the directory.
    let empty = dir.join("empty");
    std::fs::create_dir_all(&empty).unwrap();
    let o = run(&["report", &empty.display().to_string()], &[]);
    assert_eq!(o.status.code(), Some(3));
    assert!(
        stderr(&o).contains("is a directory with no *.rktrace files"),
        "{}",
        stderr(&o)
    );
    let o = run(&["report", &t, "--format", "md,json"], &[]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    let o = run(&["report", &t, "--format", "csv", "--per", "token"], &[]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
}

#[test]
fn copies_of_one_run_count_once_and_an_unreadable_file_is_named_plainly() {
    // #21 G18: two copies of one trace counted as two runs; a file the reader could not open
    // was listed as "cannot read trace the file: …".
    let dir = tempdir("fleet-dups");
    let traces = dir.join("traces");
    std::fs::create_dir_all(traces.join("backup")).unwrap();
    record_on("rk3588-healthy", &traces.join("opi-1.rktrace"), &[]);
    record_on("rk3588-healthy", &traces.join("opi-2.rktrace"), &[]);
    std::fs::copy(
        traces.join("opi-1.rktrace"),
        traces.join("backup/opi-1.rktrace"),
    )
    .unwrap();
    std::fs::copy(traces.join("opi-1.rktrace"), traces.join("zz-copy.rktrace")).unwrap();
    std::os::unix::fs::symlink(traces.join("gone.bin"), traces.join("dangling.rktrace")).unwrap();
    let t = traces.display().to_string();
    for jobs in ["1", "3"] {
        let o = run(&["report", &t, "--jobs", jobs], &[]);
        assert!(o.status.success(), "{}", stderr(&o));
        let md = stdout(&o);
        assert!(md.contains("2 traces in 1 groups."), "{md}");
        let row = md.lines().find(|l| l.contains("| RK3588 |")).unwrap();
        assert!(row.contains(" | 2 | 6/6 | "), "{row}");
        // The copy kept is the first by name; the others are named with it.
        assert!(
            md.contains("2 duplicate file(s) of one run counted once: `opi-1.rktrace` (same run as `backup/opi-1.rktrace`), `zz-copy.rktrace` (same run as `backup/opi-1.rktrace`)."),
            "{md}"
        );
        assert!(
            md.contains("- `dangling.rktrace`: cannot read it: No such file or directory"),
            "{md}"
        );
        assert!(!md.contains("the file:"), "{md}");
    }
    let o = run(&["report", &t, "--format", "json"], &[]);
    let j: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(j["traces"], 2);
    assert_eq!(
        j["duplicates"],
        serde_json::json!([
            {"file": "opi-1.rktrace", "same_run_as": "backup/opi-1.rktrace"},
            {"file": "zz-copy.rktrace", "same_run_as": "backup/opi-1.rktrace"}
        ])
    );
}
