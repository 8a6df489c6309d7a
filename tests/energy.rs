//! Energy on the token clock (`record --power`): each source kind against its fake, driven by
//! the simulated runtime's activity (`FAKE_RKLLM_ACTIVITY`: idle 2 W, 5 W while it generates),
//! so every request's energy above idle must be 3 W × its duration within the stated sampling
//! error; and sources that fail (dead, NaN, counter reset, unreachable) never cost a request or
//! invent energy.
mod common;
use common::http::{read_request, reply, serve};
use common::*;
use std::path::{Path, PathBuf};
use std::time::Instant;

const IDLE_W: f64 = 2.0;
const STEP_W: f64 = 3.0;

/// Requests of about a second (20 tokens), so a 100 ms poll resolves each.
fn env(activity: &Path, idle: &str, busy: &str) -> Vec<(String, String)> {
    vec![
        ("FAKE_RKLLM_TIME_SCALE".into(), "0.15".into()),
        ("FAKE_RKLLM_OUTPUT_TOKENS".into(), "20".into()),
        (
            "FAKE_RKLLM_ACTIVITY".into(),
            format!("{}:{idle}:{busy}", activity.display()),
        ),
    ]
}

/// `record` of the quick suite on the simulated runtime with `--power SPEC` polled every 100 ms
/// after a 1 s idle baseline; `env` holds the fake runtime's activity switch.
fn record_quick_power(out: &Path, spec: &str, env: &[(String, String)]) -> std::process::Output {
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    record(
        &fake_lib("1.2.1"),
        out,
        &[
            "--suite",
            "quick",
            "--no-telemetry",
            "--power-baseline",
            "1s",
            "--power",
            spec,
            "--power-interval",
            "100ms",
        ],
        &env,
    )
}

fn record_power(
    name: &str,
    dir: &Path,
    activity: &Path,
    idle: &str,
    busy: &str,
    power: &[&str],
) -> (PathBuf, serde_json::Value, String) {
    let out = dir.join("t.rktrace");
    let env = env(activity, idle, busy);
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let mut args = vec!["--suite", "quick", "--no-telemetry"];
    if !power.contains(&"--power-baseline") {
        args.extend(["--power-baseline", "1s"]);
    }
    args.extend_from_slice(power);
    let o = record(&fake_lib("1.2.1"), &out, &args, &env);
    assert!(o.status.success(), "{name}: {}", stderr(&o));
    let md = run(
        &["report", "--format", "md", &out.display().to_string()],
        &[],
    );
    (out.clone(), json_report(&out), stdout(&md))
}

/// Every measured request: energy above idle = 3 W × duration within the stated error (plus
/// 1 % for the few µs between the request's edges and the fake's switch).
fn assert_step_energy(j: &serde_json::Value) {
    let e = &j["energy"];
    assert!((e["idle_w"].as_f64().unwrap() - IDLE_W).abs() < 1e-9, "{e}");
    let reqs = j["requests"].as_array().unwrap();
    assert_eq!(reqs.len(), 3);
    for r in reqs {
        let dur_s = r["e2e_ms"].as_f64().unwrap() / 1e3;
        let above = r["energy_above_idle_j"].as_f64().unwrap_or_else(|| {
            panic!(
                "no energy: {} (faults {}, warnings {})",
                r["energy_reason"], e["faults"], j["warnings"]
            )
        });
        let err = r["energy_error_j"].as_f64().unwrap();
        let theory = STEP_W * dur_s;
        assert!(
            (above - theory).abs() <= err + 0.01 * theory,
            "request {}: {above} J above idle, theory {theory} J ± {err}",
            r["index"]
        );
    }
    let tokens = e["output_tokens"].as_f64().unwrap();
    let run_j = e["run_j"].as_f64().unwrap();
    assert_eq!(tokens, 60.0);
    // run_j is printed with 3 decimals, the ratios with 6.
    let close = |a: f64, b: f64| (a - b).abs() <= 1e-3 * b.abs();
    assert!(
        close(e["j_per_output_token"].as_f64().unwrap(), run_j / tokens),
        "{e}"
    );
    assert!(
        close(e["tokens_per_j"].as_f64().unwrap(), tokens / run_j),
        "{e}"
    );
    assert_eq!(
        j["warnings"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|w| w["code"].as_str().unwrap().starts_with("power"))
            .count(),
        0,
        "{}",
        j["warnings"]
    );
}

fn hwmon_tree(dir: &Path, chip: &str, files: &[(&str, &str)]) -> PathBuf {
    let root = dir.join("sys-root");
    let h = root.join("sys/class/hwmon/hwmon0");
    std::fs::create_dir_all(&h).unwrap();
    std::fs::write(h.join("name"), format!("{chip}\n")).unwrap();
    for (f, v) in files {
        std::fs::write(h.join(f), v).unwrap();
    }
    root
}

#[test]
fn hwmon_ina226_power_steps_up_while_the_runtime_generates() {
    let dir = tempdir("energy-ina226");
    let root = hwmon_tree(&dir, "ina226", &[("power1_input", "2000000\n")]);
    let file = root.join("sys/class/hwmon/hwmon0/power1_input");
    let (out, j, md) = record_power(
        "ina226",
        &dir,
        &file,
        "2000000",
        "5000000",
        &[
            "--sysfs-root",
            &root.display().to_string(),
            "--power",
            "hwmon:ina226",
        ],
    );
    assert_step_energy(&j);
    let e = &j["energy"];
    assert_eq!(e["source"], "hwmon");
    assert_eq!(e["method"], "integration");
    assert_eq!(e["interval_ms"], 100.0);
    assert!(e["device"].as_str().unwrap().contains("ina226"), "{e}");
    assert!(md.contains("## 🔋 Energy"), "{md}");
    let html = run(
        &["report", "--format", "html", &out.display().to_string()],
        &[],
    );
    let html = stdout(&html);
    assert!(html.contains("Power (W)"), "the power line on the timeline");
    assert!(html.contains("<section id=\"energy\">"));
    let csv = run(
        &["report", "--format", "csv", &out.display().to_string()],
        &[],
    );
    let csv = stdout(&csv);
    let head = csv.lines().next().unwrap();
    assert!(
        head.ends_with(
            ",energy_j,energy_above_idle_j,energy_error_j,prefill_energy_j,decode_energy_j"
        ),
        "{head}"
    );
    assert!(csv
        .lines()
        .skip(1)
        .all(|l| l.split(',').count() == head.split(',').count()));
    // Every format states the same figures: the JSON's run energy in the Markdown, each
    // request's energy in the CSV.
    let run_j = format!("{:.3}", e["run_j"].as_f64().unwrap());
    assert!(
        md.contains(&format!("| Run energy (J) | {run_j} |")),
        "{md}"
    );
    assert!(html.contains(&format!("<td class=\"num\">{run_j}</td>")));
    let col = head.split(',').position(|c| c == "energy_j").unwrap();
    for (line, r) in csv.lines().skip(1).zip(j["requests"].as_array().unwrap()) {
        let cell = line.split(',').nth(col).unwrap();
        assert_eq!(cell, format!("{:.3}", r["energy_j"].as_f64().unwrap()));
        let md_row = format!(
            "| {:.3} | {:.3} |",
            r["energy_j"].as_f64().unwrap(),
            r["energy_above_idle_j"].as_f64().unwrap()
        );
        assert!(md.contains(&md_row), "{md_row} in {md}");
    }
    // The raw samples are in the trace, in the sensor's unit.
    let t = read_trace(&out);
    assert_eq!(t.power.samples[0].unit, "uW");
    assert!(t.power.source.as_ref().unwrap().idle_to_us > 0);
}

#[test]
fn hwmon_ina3221_current_times_voltage_and_cmd_sources_agree_with_the_theory() {
    let dir = tempdir("energy-ina3221");
    // 400 mA × 5000 mV = 2 W; 1000 mA = 5 W.
    let root = hwmon_tree(
        &dir,
        "ina3221",
        &[
            ("curr2_input", "400\n"),
            ("in2_input", "5000\n"),
            ("in2_label", "VDD_5V\n"),
        ],
    );
    let file = root.join("sys/class/hwmon/hwmon0/curr2_input");
    let (_, j, _) = record_power(
        "ina3221",
        &dir,
        &file,
        "400",
        "1000",
        &[
            "--sysfs-root",
            &root.display().to_string(),
            "--power",
            "hwmon:ina3221:VDD_5V",
        ],
    );
    assert_step_energy(&j);

    let dir = tempdir("energy-cmd");
    let watts = dir.join("watts");
    std::fs::write(&watts, "2.0\n").unwrap();
    let cmd = format!("cmd:cat {}", watts.display());
    let (_, j, _) = record_power(
        "cmd",
        &dir,
        &watts,
        "2.0",
        "5.0",
        &["--power", &cmd, "--power-interval", "100ms"],
    );
    assert_step_energy(&j);
    assert_eq!(j["energy"]["source"], "cmd");
}

#[test]
fn an_energy_counter_and_integration_agree() {
    // The fake INA's energy1_input is the fake's own exact integral, written by a thread that
    // follows the activity file: the counter (µJ, fine) is then the method, and agrees.
    let dir = tempdir("energy-counter");
    let root = hwmon_tree(
        &dir,
        "ina226",
        &[("power1_input", "2000000\n"), ("energy1_input", "0\n")],
    );
    let h = root.join("sys/class/hwmon/hwmon0");
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let (hh, st) = (h.clone(), stop.clone());
    let integrator = std::thread::spawn(move || {
        let mut total = 0.0f64;
        let mut last = Instant::now();
        while !st.load(std::sync::atomic::Ordering::SeqCst) {
            std::thread::sleep(std::time::Duration::from_millis(5));
            let uw: f64 = std::fs::read_to_string(hh.join("power1_input"))
                .ok()
                .and_then(|s| s.trim().parse().ok())
                .unwrap_or(2e6);
            total += uw * last.elapsed().as_secs_f64();
            last = Instant::now();
            let tmp = hh.join("energy1_input.tmp");
            std::fs::write(&tmp, format!("{}\n", total as u64)).unwrap();
            std::fs::rename(&tmp, hh.join("energy1_input")).unwrap();
        }
    });
    let (_, j, _) = record_power(
        "counter",
        &dir,
        &h.join("power1_input"),
        "2000000",
        "5000000",
        &[
            "--sysfs-root",
            &root.display().to_string(),
            "--power",
            "hwmon",
        ],
    );
    stop.store(true, std::sync::atomic::Ordering::SeqCst);
    integrator.join().unwrap();
    let e = &j["energy"];
    assert_eq!(e["method"], "counter", "{e}");
    let (c, i) = (
        e["run_counter_j"].as_f64().unwrap(),
        e["run_integration_j"].as_f64().unwrap(),
    );
    // Both within the integration's sampling error of each other.
    let err = STEP_W * 0.1 * 6.0 + 0.02 * i;
    assert!((c - i).abs() <= err, "counter {c} J, integration {i} J");
}

/// A fake plug: reads the activity file (watts) on every poll and answers in its API.
struct Plug {
    api: &'static str,
    file: PathBuf,
    polls: u32,
    /// The plug's own energy counter, kept by [`integrate`] from the activity file.
    total_j: f64,
    /// Faults: answer NaN at this poll, reset the counter at this poll, die after this poll.
    nan_at: Option<u32>,
    reset_at: Option<u32>,
    dead_after: Option<u32>,
    /// Accept the connection and never answer after this poll (the reading must time out).
    hang_after: Option<u32>,
    /// Home Assistant's `unit_of_measurement`.
    ha_unit: &'static str,
}

fn plug(api: &'static str, file: &Path) -> Plug {
    Plug {
        api,
        file: file.to_path_buf(),
        polls: 0,
        total_j: 0.0,
        nan_at: None,
        reset_at: None,
        dead_after: None,
        hang_after: None,
        ha_unit: "W",
    }
}

/// What a plug's metering chip does: integrate its power finely (every 5 ms) into the counter.
fn integrate(st: std::sync::Arc<std::sync::Mutex<Plug>>) {
    std::thread::spawn(move || {
        let mut last = Instant::now();
        let end = last + std::time::Duration::from_secs(120);
        while last < end {
            std::thread::sleep(std::time::Duration::from_millis(5));
            let mut p = st.lock().unwrap();
            let w: f64 = std::fs::read_to_string(&p.file)
                .ok()
                .and_then(|s| s.trim().parse().ok())
                .unwrap_or(IDLE_W);
            p.total_j += w * last.elapsed().as_secs_f64();
            last = Instant::now();
        }
    });
}

fn plug_handler(
    mut c: std::net::TcpStream,
    st: &std::sync::Arc<std::sync::Mutex<Plug>>,
) -> std::io::Result<()> {
    let req = read_request(&c)?;
    let mut p = st.lock().unwrap();
    if req.path == "/shelly" {
        let info = match p.api {
            "shelly2" => r#"{"gen":2,"model":"SNPL-00116EU","id":"shellyplugs"}"#,
            _ => r#"{"type":"SHPLG-S","mac":"AABBCC"}"#,
        };
        return reply(&mut c, "200 OK", "application/json", info);
    }
    p.polls += 1;
    if p.hang_after.is_some_and(|n| p.polls > n) {
        drop(p);
        std::thread::sleep(std::time::Duration::from_secs(30));
        return Ok(());
    }
    if p.dead_after.is_some_and(|n| p.polls > n) {
        return Ok(()); // closes without an answer
    }
    let w: f64 = std::fs::read_to_string(&p.file)
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(IDLE_W);
    if p.reset_at == Some(p.polls) {
        p.total_j = 0.0;
    }
    let shown = if p.nan_at == Some(p.polls) {
        "\"nan\"".to_string()
    } else {
        format!("{w}")
    };
    let body = match (p.api, req.path.as_str()) {
        ("shelly2", "/rpc/Switch.GetStatus?id=0") => format!(
            r#"{{"id":0,"output":true,"apower":{shown},"aenergy":{{"total":{}}}}}"#,
            p.total_j / 3600.0
        ),
        ("shelly1", "/meter/0") => format!(
            r#"{{"power":{shown},"is_valid":true,"total":{}}}"#,
            p.total_j / 60.0
        ),
        ("tasmota", "/cm?cmnd=Status%208") => format!(
            r#"{{"StatusSNS":{{"ENERGY":{{"Power":{shown},"Total":{}}}}}}}"#,
            p.total_j / 3.6e6
        ),
        ("homeassistant", "/api/states/sensor.plug_power") => format!(
            r#"{{"entity_id":"sensor.plug_power","state":"{}","attributes":{{"unit_of_measurement":"{}"}}}}"#,
            shown.trim_matches('"'),
            p.ha_unit
        ),
        _ => return reply(&mut c, "404 Not Found", "text/plain", "no"),
    };
    reply(&mut c, "200 OK", "application/json", &body)
}

fn plug_run(
    name: &str,
    api: &'static str,
    spec: impl Fn(u16) -> String,
    env_extra: &[(&str, &str)],
) -> serde_json::Value {
    let dir = tempdir(name);
    let watts = dir.join("watts");
    std::fs::write(&watts, "2\n").unwrap();
    let (port, st) = serve(plug(api, &watts), plug_handler);
    integrate(st);
    let spec = spec(port);
    let out = dir.join("t.rktrace");
    let mut env = env(&watts, "2", "5");
    env.extend(
        env_extra
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string())),
    );
    let o = record_quick_power(&out, &spec, &env);
    assert!(o.status.success(), "{name}: {}", stderr(&o));
    let bytes = std::fs::read(&out).unwrap();
    assert!(
        !bytes.windows(12).any(|w| w == b"sekrit-token"),
        "a Home Assistant token is never recorded"
    );
    json_report(&out)
}

#[test]
fn shelly_gen2_and_gen1_plugs() {
    let j = plug_run(
        "energy-shelly2",
        "shelly2",
        |p| format!("shelly:http://127.0.0.1:{p}"),
        &[],
    );
    assert_step_energy(&j);
    assert!(
        j["energy"]["device"].as_str().unwrap().contains("Gen2"),
        "{}",
        j["energy"]
    );
    // Its counter (Wh, written in full) is fine enough here: used, and agreeing.
    let e = &j["energy"];
    assert_eq!(e["method"], "counter", "{e}");
    let (c, i) = (
        e["run_counter_j"].as_f64().unwrap(),
        e["run_integration_j"].as_f64().unwrap(),
    );
    assert!((c - i).abs() <= e["run_error_j"].as_f64().unwrap(), "{e}");
    let j = plug_run(
        "energy-shelly1",
        "shelly1",
        |p| format!("shelly:http://127.0.0.1:{p}#0"),
        &[],
    );
    assert_step_energy(&j);
    assert!(j["energy"]["device"].as_str().unwrap().contains("Gen1"));
}

#[test]
fn tasmota_and_home_assistant() {
    let j = plug_run(
        "energy-tasmota",
        "tasmota",
        |p| format!("tasmota:http://127.0.0.1:{p}"),
        &[],
    );
    assert_step_energy(&j);
    let j = plug_run(
        "energy-ha",
        "homeassistant",
        |p| format!("homeassistant:http://127.0.0.1:{p}#sensor.plug_power"),
        &[("RKBENCH_HA_TOKEN", "sekrit-token")],
    );
    assert_step_energy(&j);
    assert!(!j.to_string().contains("sekrit-token"));
}

#[test]
fn a_plug_that_answers_nan_resets_its_counter_then_dies_costs_no_request_and_invents_nothing() {
    let dir = tempdir("energy-faults");
    let watts = dir.join("watts");
    std::fs::write(&watts, "2\n").unwrap();
    let mut p = plug("shelly2", &watts);
    p.nan_at = Some(14);
    p.reset_at = Some(20);
    p.dead_after = Some(30);
    let (port, st) = serve(p, plug_handler);
    integrate(st);
    let out = dir.join("t.rktrace");
    let spec = format!("shelly:http://127.0.0.1:{port}");
    let o = record_quick_power(&out, &spec, &env(&watts, "2", "5"));
    assert!(o.status.success(), "{}", stderr(&o));
    let j = json_report(&out);
    let reqs = j["requests"].as_array().unwrap();
    assert_eq!(reqs.len(), 3, "no request lost");
    assert!(reqs.iter().all(|r| r["status"] == "ok"));
    let codes = common::warning_codes(&j);
    for c in ["power-gap", "power-refused", "power-counter-backwards"] {
        assert!(codes.contains(&c), "{c} missing from {codes:?}");
    }
    // The plug died ~2 s in (1 s baseline + 1 s): the last request has no energy, the run none.
    let last = reqs.last().unwrap();
    assert!(last["energy_j"].is_null(), "{last}");
    assert!(last["energy_reason"].as_str().unwrap().contains("gap"));
    assert!(j["energy"]["run_j"].is_null());
    assert!(j["energy"]["faults"]["unanswered"].as_u64().unwrap() > 0);
}

#[test]
fn a_source_unreachable_at_start_is_an_error_before_anything_runs() {
    let dir = tempdir("energy-unreachable");
    let out = dir.join("t.rktrace");
    // A port nothing listens on.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let spec = format!("shelly:http://127.0.0.1:{port}");
    let o = record(
        &fake_lib("1.2.1"),
        &out,
        &["--suite", "quick", "--power", &spec],
        &[],
    );
    assert_eq!(o.status.code(), Some(3), "{}", stderr(&o));
    let err = stderr(&o);
    assert!(err.contains(&format!("--power {spec}")), "{err}");
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(!out.exists(), "no trace for a run that never started");

    let o = record(
        &fake_lib("1.2.1"),
        &out,
        &["--suite", "quick", "--power", "zigbee:x"],
        &[],
    );
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    let o = record(
        &fake_lib("1.2.1"),
        &out,
        &["--suite", "quick", "--power-interval", "1s"],
        &[],
    );
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("needs --power"));
    let o = record(
        &fake_lib("1.2.1"),
        &out,
        &[
            "--suite",
            "quick",
            "--power",
            "homeassistant:http://127.0.0.1:1#sensor.x",
        ],
        &[],
    );
    assert_eq!(o.status.code(), Some(3), "{}", stderr(&o));
    assert!(stderr(&o).contains("RKBENCH_HA_TOKEN"));
    // A sensor that measures something else (amperes) is refused before anything runs.
    let mut amps = plug("homeassistant", &dir.join("none"));
    amps.ha_unit = "A";
    let (port, _) = serve(amps, plug_handler);
    let spec = format!("homeassistant:http://127.0.0.1:{port}#sensor.plug_power");
    let o = record(
        &fake_lib("1.2.1"),
        &out,
        &["--suite", "quick", "--power", &spec],
        &[("RKBENCH_HA_TOKEN", "t")],
    );
    assert_eq!(o.status.code(), Some(3), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("the reading is in \"A\", not a power unit"),
        "{}",
        stderr(&o)
    );
    assert!(!out.exists());
}

#[test]
fn compare_states_the_joules_per_token_ratio_with_its_interval() {
    // The same runs at 5 W and at 8 W while generating: 8/5 = 1.6 J per token.
    let mut traces = Vec::new();
    for (name, busy) in [("energy-cmp-a", "5.0"), ("energy-cmp-b", "8.0")] {
        let dir = tempdir(name);
        let watts = dir.join("watts");
        std::fs::write(&watts, "2.0\n").unwrap();
        let cmd = format!("cmd:cat {}", watts.display());
        let out = dir.join("t.rktrace");
        let env = env(&watts, "2.0", busy);
        let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        let o = record(
            &fake_lib("1.2.1"),
            &out,
            &[
                "--suite",
                "quick",
                "--repeat",
                "2",
                "--no-telemetry",
                "--power-baseline",
                "0s",
                "--power",
                &cmd,
                "--power-interval",
                "100ms",
            ],
            &env,
        );
        assert!(o.status.success(), "{}", stderr(&o));
        traces.push(out.display().to_string());
    }
    let o = run(
        &["compare", &traces[0], &traces[1], "--format", "json"],
        &[],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let j: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let e = &j["candidates"][0]["energy_j_per_output_token"];
    let ratio = e["ratio"].as_f64().unwrap_or_else(|| panic!("{e}"));
    assert!((ratio - 1.6).abs() < 0.1, "{e}");
    assert!(e["ci_low"].as_f64().is_some(), "{e}");
    let md = run(&["compare", &traces[0], &traces[1]], &[]);
    assert!(
        stdout(&md).contains("J per output token, candidate / baseline = 1."),
        "{}",
        stdout(&md)
    );
    // Without an idle baseline the figures stand; only "above idle" is blank, with the reason.
    let r = &json_report(std::path::Path::new(&traces[0]))["requests"][0];
    assert!(r["energy_j"].as_f64().is_some());
    assert!(r["energy_above_idle_j"].is_null());
    assert!(r["energy_reason"]
        .as_str()
        .unwrap()
        .contains("--power-baseline 0s"));
}

#[test]
fn idle_is_measured_again_after_the_run_when_asked() {
    let dir = tempdir("energy-after");
    let watts = dir.join("watts");
    std::fs::write(&watts, "2.0\n").unwrap();
    let cmd = format!("cmd:cat {}", watts.display());
    let (out, j, md) = record_power(
        "after",
        &dir,
        &watts,
        "2.0",
        "5.0",
        &[
            "--power",
            &cmd,
            "--power-interval",
            "100ms",
            "--power-baseline",
            "1s,after",
        ],
    );
    assert_step_energy(&j);
    assert_eq!(
        j["energy"]["idle_after_w"].as_f64(),
        Some(2.0),
        "{}",
        j["energy"]
    );
    assert!(
        md.contains("| Idle power after the run (W) | 2.000 |"),
        "{md}"
    );
    // Written again at the end with both windows; the last one wins.
    let t = read_trace(&out);
    let s = t.power.source.unwrap();
    assert!(s.idle_after_from_us > s.idle_to_us && s.idle_after_to_us > s.idle_after_from_us);
    let o = record(
        &fake_lib("1.2.1"),
        &dir.join("u.rktrace"),
        &[
            "--suite",
            "quick",
            "--power",
            &cmd,
            "--power-baseline",
            "20m",
        ],
        &[],
    );
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("--power-baseline \"20m\" is out of range"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn a_plug_that_stops_answering_without_closing_times_out_and_never_holds_the_run() {
    let dir = tempdir("energy-hang");
    let watts = dir.join("watts");
    std::fs::write(&watts, "2\n").unwrap();
    let mut p = plug("tasmota", &watts);
    p.hang_after = Some(25);
    let (port, st) = serve(p, plug_handler);
    integrate(st);
    let out = dir.join("t.rktrace");
    let env = env(&watts, "2", "5");
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let spec = format!("tasmota:http://127.0.0.1:{port}");
    let mut c = record_command(
        &fake_lib("1.2.1"),
        &out,
        &[
            "-q",
            "--suite",
            "quick",
            "--no-telemetry",
            "--power-baseline",
            "1s",
            "--power",
            &spec,
            "--power-interval",
            "100ms",
        ],
        &env,
    )
    .stdout(std::process::Stdio::null())
    .stderr(std::process::Stdio::null())
    .spawn()
    .unwrap();
    // A hang guard, not a timing assertion: each reading gives up after its timeout.
    assert!(wait_for(&mut c, std::time::Duration::from_secs(60)).success());
    let j = json_report(&out);
    assert_eq!(j["requests"].as_array().unwrap().len(), 3);
    let gap = j["warnings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|w| w["code"] == "power-gap")
        .unwrap_or_else(|| panic!("{}", j["warnings"]));
    assert!(
        gap["message"].as_str().unwrap().contains("not answered"),
        "{gap}"
    );
    assert!(j["energy"]["faults"]["unanswered"].as_u64().unwrap() >= 1);
}
