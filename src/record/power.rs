//! Power readings while a run is recorded (`record --power SOURCE`), on their own thread.
//!
//! Why a thread of its own, beside the telemetry sampler: a plug over Wi-Fi answers in tens to
//! hundreds of ms and may not answer at all, so every read has a timeout and the recorder never
//! waits for one. Samples go into the trace raw (value and counter in the source's units, asked
//! and answered on the token clock); `stats::energy` turns them into joules, once.
//!
//! Sources (`--power`):
//!
//! | spec | reads | units |
//! |---|---|---|
//! | `hwmon[:NAME[:CHANNEL]]` | `/sys/class/hwmon/hwmonN/` whose `name` is NAME: `powerC_input`, else `currC_input` × `inC_input`; `energyC_input` as the counter | µW (mA × mV), µJ |
//! | `shelly:URL[#ID]` | Gen2+ `GET /rpc/Switch.GetStatus?id=ID` (`apower`, `aenergy.total`), Gen1 `GET /meter/ID` (`power`, `total`), told apart by `GET /shelly` | W, Wh / W·min |
//! | `tasmota:URL` | `GET /cm?cmnd=Status%208` → `StatusSNS.ENERGY.{Power,Total}` | W, kWh |
//! | `homeassistant:URL#sensor.x` | `GET /api/states/sensor.x`, bearer token from `RKBENCH_HA_TOKEN` | `unit_of_measurement` |
//! | `cmd:COMMAND` | `sh -c COMMAND`: one that prints a line and exits is run at each poll; one that keeps printing (a meter's logger) is kept running and each poll takes its next line | W |
use crate::board::SysRoot;
use crate::error::{Error, Result};
use crate::http::client::{fetch, Url};
use crate::trace::{PowerSamples, PowerSource};
use std::io::Read as _;
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// The environment variable holding a Home Assistant long-lived access token (never recorded).
pub const HA_TOKEN_VAR: &str = "RKBENCH_HA_TOKEN";

/// The longest a single reading may take (a plug that answers later is a gap).
const MAX_TIMEOUT: Duration = Duration::from_secs(3);

/// A parsed `--power` value.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Spec {
    Hwmon {
        name: Option<String>,
        channel: Option<String>,
    },
    Shelly {
        url: Url,
        id: u32,
    },
    Tasmota {
        url: Url,
    },
    HomeAssistant {
        url: Url,
        entity: String,
    },
    Cmd {
        command: String,
    },
}

impl Spec {
    pub(crate) fn parse(s: &str) -> std::result::Result<Spec, String> {
        let (kind, rest) = s.split_once(':').unwrap_or((s, ""));
        let url = |u: &str| -> std::result::Result<Url, String> {
            Url::parse(u).map_err(|e| format!("--power {kind}: {e}"))
        };
        Ok(match kind {
            "hwmon" => {
                let mut parts = rest.splitn(2, ':').filter(|p| !p.is_empty());
                Spec::Hwmon {
                    name: parts.next().map(str::to_string),
                    channel: parts.next().map(str::to_string),
                }
            }
            "shelly" => {
                let (u, id) = rest.split_once('#').unwrap_or((rest, "0"));
                let id = id.parse().map_err(|_| {
                    format!("--power {s}: the switch id after # must be a number (e.g. shelly:http://plug#0)")
                })?;
                Spec::Shelly { url: url(u)?, id }
            }
            "tasmota" => Spec::Tasmota { url: url(rest)? },
            "homeassistant" => {
                let Some((u, entity)) = rest.split_once('#').filter(|(_, e)| !e.is_empty()) else {
                    return Err(format!(
                        "--power {s}: name the sensor after #, e.g. homeassistant:http://ha:8123#sensor.plug_power"
                    ));
                };
                Spec::HomeAssistant {
                    url: url(u)?,
                    entity: entity.to_string(),
                }
            }
            "cmd" if !rest.trim().is_empty() => Spec::Cmd {
                command: rest.to_string(),
            },
            _ => {
                return Err(format!(
                    "--power {s}: unknown source; use hwmon[:NAME[:CHANNEL]], shelly:URL[#ID], tasmota:URL, homeassistant:URL#sensor.ENTITY or cmd:COMMAND"
                ))
            }
        })
    }

    pub(crate) fn kind(&self) -> &'static str {
        match self {
            Spec::Hwmon { .. } => "hwmon",
            Spec::Shelly { .. } => "shelly",
            Spec::Tasmota { .. } => "tasmota",
            Spec::HomeAssistant { .. } => "homeassistant",
            Spec::Cmd { .. } => "cmd",
        }
    }

    /// Polling period when `--power-interval` is not given: a sensor file is cheap to read;
    /// a plug refreshes about once a second anyway.
    pub(crate) fn default_interval(&self) -> Duration {
        match self {
            Spec::Hwmon { .. } => Duration::from_millis(100),
            _ => Duration::from_secs(1),
        }
    }
}

/// `--power` and its settings, as planned.
#[derive(Debug, Clone)]
pub(crate) struct PowerPlan {
    /// `--power` as given (holds no secret).
    pub given: String,
    pub spec: Spec,
    pub interval: Duration,
    /// Idle measured before the first request (`--power-baseline`, default 10 s).
    pub baseline: Duration,
    /// Also after the last request (`--power-baseline 10s,after`), when the run completed.
    pub after: bool,
    pub root: SysRoot,
}

impl PowerPlan {
    /// `--power`, `--power-interval`, `--power-baseline` checked (exit 2 on a bad value); `None`
    /// without `--power`.
    pub(crate) fn from_flags(
        power: Option<&str>,
        interval: Option<&str>,
        baseline: Option<&str>,
        root: &SysRoot,
    ) -> Result<Option<PowerPlan>> {
        let Some(given) = power else {
            if let Some(flag) = [
                ("--power-interval", interval),
                ("--power-baseline", baseline),
            ]
            .iter()
            .find_map(|(f, v)| v.map(|_| *f))
            {
                return Err(Error::usage(format!(
                    "{flag} needs --power SOURCE (what to measure power with)"
                )));
            }
            return Ok(None);
        };
        let spec = Spec::parse(given).map_err(Error::usage)?;
        let dur = |flag: &str, v: Option<&str>, min: Duration, max: Duration, d: Duration| {
            let Some(v) = v else { return Ok(d) };
            match humantime::parse_duration(v.trim()) {
                Ok(x) if (min..=max).contains(&x) => Ok(x),
                Ok(_) => Err(Error::usage(format!(
                    "{flag} {v:?} is out of range; give {} to {}",
                    humantime::format_duration(min),
                    humantime::format_duration(max)
                ))),
                Err(e) => Err(Error::usage(format!(
                    "{flag} {v:?} is not a duration ({e}); write it like 500ms or 10s"
                ))),
            }
        };
        Ok(Some(PowerPlan {
            given: given.to_string(),
            interval: dur(
                "--power-interval",
                interval,
                Duration::from_millis(10),
                Duration::from_secs(3600),
                spec.default_interval(),
            )?,
            baseline: dur(
                "--power-baseline",
                baseline.map(|b| b.trim().strip_suffix(",after").unwrap_or(b)),
                Duration::ZERO,
                Duration::from_secs(600),
                Duration::from_secs(10),
            )?,
            after: baseline.is_some_and(|b| b.trim().ends_with(",after")),
            spec,
            root: root.clone(),
        }))
    }
}

/// One answer: the power in the source's unit and its counter (NaN: none).
type Reading = (f64, f64);

/// An opened source: what it reads and in which units.
#[derive(Debug)]
pub(crate) struct Source {
    how: How,
    pub(crate) device: String,
    unit: String,
    counter_unit: String,
}

#[derive(Debug)]
enum How {
    Hwmon {
        power: Option<std::path::PathBuf>,
        curr_in: Option<(std::path::PathBuf, std::path::PathBuf)>,
        energy: Option<std::path::PathBuf>,
    },
    Http {
        url: Url,
        path: String,
        parse: fn(&serde_json::Value) -> std::result::Result<Reading, String>,
        /// Home Assistant's `unit_of_measurement` seen at start: a change is refused.
        ha_unit: Option<String>,
    },
    Cmd(Program),
}

impl Source {
    /// Find the source and read it once: an unreachable or unreadable source is an error now,
    /// before anything runs (exit 3, naming the source and what to do).
    pub(crate) fn open(plan: &PowerPlan) -> Result<Source> {
        let fail = |why: String| Error::input(format!("--power {}: {why}", plan.given));
        let timeout = read_timeout(plan.interval);
        let mut s = match &plan.spec {
            Spec::Hwmon { name, channel } => {
                hwmon_source(&plan.root, name.as_deref(), channel.as_deref()).map_err(fail)?
            }
            Spec::Shelly { url, id } => {
                let (st, body) = get(url, "/shelly", timeout).map_err(|e| fail(e.clone()))?;
                let info: serde_json::Value = serde_json::from_str(&body).map_err(|_| {
                    fail(format!(
                        "GET /shelly answered {st} with no JSON: not a Shelly device"
                    ))
                })?;
                let gen = info
                    .get("gen")
                    .and_then(serde_json::Value::as_u64)
                    .unwrap_or(1);
                let model = info
                    .get("model")
                    .or_else(|| info.get("type"))
                    .and_then(serde_json::Value::as_str)
                    .unwrap_or("?")
                    .to_string();
                if gen >= 2 {
                    Source::http(
                        url.clone(),
                        format!("/rpc/Switch.GetStatus?id={id}"),
                        parse_shelly2,
                        format!("Shelly Gen{gen} {model} switch {id}"),
                        "W",
                        "Wh",
                    )
                } else {
                    Source::http(
                        url.clone(),
                        format!("/meter/{id}"),
                        parse_shelly1,
                        format!("Shelly Gen1 {model} meter {id}"),
                        "W",
                        "Wmin",
                    )
                }
            }
            Spec::Tasmota { url } => Source::http(
                url.clone(),
                "/cm?cmnd=Status%208".into(),
                parse_tasmota,
                "Tasmota ENERGY".into(),
                "W",
                "kWh",
            ),
            Spec::HomeAssistant { url, entity } => {
                let token = std::env::var(HA_TOKEN_VAR).ok().filter(|t| !t.is_empty());
                let Some(token) = token.filter(|t| !t.chars().any(char::is_control)) else {
                    return Err(fail(format!(
                        "set {HA_TOKEN_VAR} to a Home Assistant long-lived access token (printable, one line); it is sent as a bearer token and never recorded"
                    )));
                };
                let mut url = url.clone();
                url.api_key = Some(token);
                Source::http(
                    url,
                    format!("/api/states/{entity}"),
                    parse_homeassistant,
                    format!("Home Assistant {entity}"),
                    "",
                    "",
                )
            }
            Spec::Cmd { command } => Source {
                how: How::Cmd(Program::new(command)),
                device: format!("command `{command}`"),
                unit: "W".into(),
                counter_unit: String::new(),
            },
        };
        let first = s.read(timeout).map_err(fail)?;
        if crate::stats::energy::power_factor(&s.unit).is_none() {
            return Err(fail(format!(
                "the reading is in {:?}, not a power unit (W or kW); point it at the plug's power sensor",
                s.unit
            )));
        }
        if !first.0.is_finite() {
            return Err(fail(format!(
                "the first reading is {} W, not a power",
                first.0
            )));
        }
        Ok(s)
    }

    fn http(
        url: Url,
        path: String,
        parse: fn(&serde_json::Value) -> std::result::Result<Reading, String>,
        device: String,
        unit: &str,
        counter_unit: &str,
    ) -> Source {
        Source {
            how: How::Http {
                url,
                path,
                parse,
                ha_unit: None,
            },
            device,
            unit: unit.into(),
            counter_unit: counter_unit.into(),
        }
    }

    /// One reading (the power in `self.unit`, the counter in `self.counter_unit`).
    fn read(&mut self, timeout: Duration) -> std::result::Result<Reading, String> {
        match &mut self.how {
            How::Hwmon {
                power,
                curr_in,
                energy,
            } => {
                let counter = match energy {
                    Some(e) => read_number(e)?,
                    None => f64::NAN,
                };
                let value = match (power, curr_in) {
                    (Some(p), _) => read_number(p)?,
                    (None, Some((c, v))) => read_number(c)? * read_number(v)?,
                    (None, None) => f64::NAN,
                };
                Ok((value, counter))
            }
            How::Http {
                url,
                path,
                parse,
                ha_unit,
            } => {
                let (st, body) = get(url, path, timeout)?;
                if st != 200 {
                    return Err(format!("GET {path} answered HTTP {st}"));
                }
                let v: serde_json::Value = serde_json::from_str(&body)
                    .map_err(|_| format!("GET {path}: the answer is not JSON"))?;
                let r = parse(&v)?;
                if self.unit.is_empty() {
                    // Home Assistant: the unit comes with the state.
                    let unit = v["attributes"]["unit_of_measurement"]
                        .as_str()
                        .unwrap_or("")
                        .to_string();
                    self.unit = unit.clone();
                    *ha_unit = Some(unit);
                } else if let Some(u) = ha_unit {
                    let now = v["attributes"]["unit_of_measurement"]
                        .as_str()
                        .unwrap_or("");
                    if now != u {
                        return Err(format!("unit changed from {u} to {now}"));
                    }
                }
                Ok(r)
            }
            How::Cmd(p) => p.reading(timeout).and_then(|line| {
                line.trim()
                    .parse::<f64>()
                    .map(|w| (w, f64::NAN))
                    .map_err(|_| format!("`{}` printed {:?}, not watts", p.command, clip(&line)))
            }),
        }
    }
}

/// A reading's timeout: the polling period, at least 1 s (a plug on Wi-Fi, a program to start
/// on a busy board) and at most [`MAX_TIMEOUT`].
fn read_timeout(interval: Duration) -> Duration {
    interval.clamp(Duration::from_secs(1), MAX_TIMEOUT)
}

fn clip(s: &str) -> String {
    s.chars().take(60).collect()
}

fn get(url: &Url, path: &str, timeout: Duration) -> std::result::Result<(u16, String), String> {
    let full = format!("{}{path}", url.prefix);
    fetch(url, "GET", &full, None, timeout).map_err(|e| {
        let mut msg = format!("GET {url}{path}: {e}");
        // A proxy might echo the token; it is never shown.
        crate::http::redact::Secret::new(url.api_key.as_deref()).text(&mut msg);
        msg
    })
}

fn num(v: &serde_json::Value) -> Option<f64> {
    v.as_f64()
        .or_else(|| v.as_str().and_then(|s| s.trim().parse().ok()))
}

fn parse_shelly2(v: &serde_json::Value) -> std::result::Result<Reading, String> {
    let p = num(&v["apower"]).ok_or("no apower in the Switch status")?;
    Ok((p, num(&v["aenergy"]["total"]).unwrap_or(f64::NAN)))
}

fn parse_shelly1(v: &serde_json::Value) -> std::result::Result<Reading, String> {
    let p = num(&v["power"]).ok_or("no power in the meter status")?;
    Ok((p, num(&v["total"]).unwrap_or(f64::NAN)))
}

fn parse_tasmota(v: &serde_json::Value) -> std::result::Result<Reading, String> {
    let e = &v["StatusSNS"]["ENERGY"];
    let p = num(&e["Power"]).ok_or("no StatusSNS.ENERGY.Power")?;
    Ok((p, num(&e["Total"]).unwrap_or(f64::NAN)))
}

fn parse_homeassistant(v: &serde_json::Value) -> std::result::Result<Reading, String> {
    let p = num(&v["state"]).ok_or_else(|| format!("state {} is not a number", v["state"]))?;
    Ok((p, f64::NAN))
}

/// A sysfs number, read afresh (re-opened each time: a sensor file is replaced, not rewritten,
/// in the test trees, and a read at a 100 ms period costs nothing).
fn read_number(path: &std::path::Path) -> std::result::Result<f64, String> {
    let b = crate::board::read_small(path, 4096)?;
    let s = String::from_utf8_lossy(&b);
    s.trim().parse::<f64>().map_err(|_| {
        format!(
            "{} holds {:?}, not a number",
            path.display(),
            clip(s.trim())
        )
    })
}

/// The longest line kept from a command (a reading is a number; more is not one).
const MAX_LINE: u64 = 4096;

/// `cmd:COMMAND`: a program that prints readings in watts, one per line. A program that prints
/// one and exits is run again at every poll; one that keeps printing (a USB meter's logger) is
/// kept running, and each poll takes the next line it prints (lines printed before the poll are
/// stale). Either way a reading is the last line available once one has arrived.
#[derive(Debug)]
struct Program {
    command: String,
    child: Option<std::process::Child>,
    lines: Option<std::sync::mpsc::Receiver<String>>,
}

impl Program {
    fn new(command: &str) -> Program {
        Program {
            command: command.to_string(),
            child: None,
            lines: None,
        }
    }

    fn spawn(&mut self) -> std::result::Result<(), String> {
        use std::os::unix::process::CommandExt as _;
        let mut child = std::process::Command::new("sh")
            .arg("-c")
            .arg(&self.command)
            // Its own process group: a terminal's Ctrl-C goes to the recorder (which stops it),
            // and stopping it reaches whatever `sh` started.
            .process_group(0)
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .spawn()
            .map_err(|e| format!("cannot run `{}`: {e}", self.command))?;
        let out = child.stdout.take().expect("piped");
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            use std::io::BufRead;
            let mut r = std::io::BufReader::new(out);
            loop {
                let mut line = Vec::new();
                match (&mut r).take(MAX_LINE).read_until(b'\n', &mut line) {
                    Ok(0) | Err(_) => return,
                    Ok(_) => {
                        let text = String::from_utf8_lossy(&line).trim().to_string();
                        if !text.is_empty() && tx.send(text).is_err() {
                            return;
                        }
                    }
                }
            }
        });
        self.child = Some(child);
        self.lines = Some(rx);
        Ok(())
    }

    /// Kill the program and everything it started (its process group), and reap it.
    fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            if c.try_wait().ok().flatten().is_none() {
                let _ = std::process::Command::new("kill")
                    .args(["-KILL", "--", &format!("-{}", c.id())])
                    .stdin(std::process::Stdio::null())
                    .stdout(std::process::Stdio::null())
                    .stderr(std::process::Stdio::null())
                    .status();
                let _ = c.kill();
            }
            let _ = c.wait();
        }
        self.lines = None;
    }

    fn exit_status(&mut self) -> Option<std::process::ExitStatus> {
        self.child
            .as_mut()
            .and_then(|c| c.try_wait().ok().flatten())
    }

    fn reading(&mut self, timeout: Duration) -> std::result::Result<String, String> {
        self.reading_from(timeout, false)
    }

    /// One reading; `fresh`: run the program anew even if it looks still running.
    fn reading_from(
        &mut self,
        timeout: Duration,
        fresh: bool,
    ) -> std::result::Result<String, String> {
        use std::sync::mpsc::{RecvTimeoutError, TryRecvError};
        let running = !fresh && self.child.is_some() && self.exit_status().is_none();
        if running {
            if let Some(rx) = &self.lines {
                while rx.try_recv().is_ok() {}
            }
        } else {
            self.stop();
            self.spawn()?;
        }
        let rx = self.lines.as_ref().expect("spawned above");
        let mut last = match rx.recv_timeout(timeout) {
            Ok(l) => l,
            Err(RecvTimeoutError::Timeout) => {
                self.stop();
                return Err(format!(
                    "`{}` gave no reading within {} ms",
                    self.command,
                    timeout.as_millis()
                ));
            }
            Err(RecvTimeoutError::Disconnected) if running => {
                // What looked like a logger still running was the previous one-shot run, not
                // yet reaped when this reading began: run the program anew for this one.
                self.stop();
                return self.reading_from(timeout, true);
            }
            Err(RecvTimeoutError::Disconnected) => {
                let deadline = Instant::now() + timeout;
                let st = loop {
                    match self.exit_status() {
                        Some(st) => break Some(st),
                        None if Instant::now() < deadline => {
                            std::thread::sleep(Duration::from_millis(2))
                        }
                        None => break None,
                    }
                };
                self.stop();
                return Err(match st {
                    Some(st) if !st.success() => format!("`{}` failed ({st})", self.command),
                    _ => format!("`{}` printed no reading", self.command),
                });
            }
        };
        // Lines printed together (a header, then the value): the last one. A program that
        // exits closes its output at once; a running one gets a moment to finish its burst.
        let settle = Instant::now() + Duration::from_millis(20);
        loop {
            match rx.try_recv() {
                Ok(l) => last = l,
                Err(TryRecvError::Disconnected) => break,
                Err(TryRecvError::Empty) if Instant::now() < settle => {
                    std::thread::sleep(Duration::from_millis(1))
                }
                Err(TryRecvError::Empty) => break,
            }
        }
        if let Some(st) = self.exit_status().filter(|st| !st.success()) {
            self.stop();
            return Err(format!("`{}` failed ({st})", self.command));
        }
        Ok(last)
    }
}

impl Drop for Program {
    /// A logger that keeps running must not outlive the recording.
    fn drop(&mut self) {
        self.stop();
    }
}

/// A power sensor under hwmon: (hwmonN, name, channel, what it reads).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Sensor {
    pub dir: String,
    pub name: String,
    pub channel: u32,
    pub label: String,
    /// `power`, `curr×in`, with `+energy` when it has a counter.
    pub reads: String,
}

/// Every power sensor under `/sys/class/hwmon` (for `--power hwmon` and `doctor`), in hwmon
/// then channel order.
pub(crate) fn hwmon_sensors(root: &SysRoot) -> Vec<Sensor> {
    let mut dirs = root.list("/sys/class/hwmon", "hwmon");
    dirs.sort_by_key(|d| (d[5..].parse::<u64>().unwrap_or(u64::MAX), d.clone()));
    let mut out = Vec::new();
    for d in dirs {
        let base = format!("/sys/class/hwmon/{d}");
        let name = root.read(&format!("{base}/name")).unwrap_or_default();
        let files = root.list(&base, "");
        let has = |f: String| files.contains(&f);
        let mut chans: Vec<u32> = files
            .iter()
            .filter_map(|f| {
                let f = f.strip_suffix("_input")?;
                let n = f
                    .strip_prefix("power")
                    .or_else(|| f.strip_prefix("curr"))
                    .or_else(|| f.strip_prefix("energy"))?;
                n.parse().ok()
            })
            .collect();
        chans.sort_unstable();
        chans.dedup();
        for c in chans {
            let power = has(format!("power{c}_input"));
            let curr_in = has(format!("curr{c}_input")) && has(format!("in{c}_input"));
            let energy = has(format!("energy{c}_input"));
            if !power && !curr_in && !energy {
                continue;
            }
            let label = ["power", "curr", "in", "energy"]
                .iter()
                .find_map(|p| root.read(&format!("{base}/{p}{c}_label")).ok())
                .unwrap_or_default();
            let mut reads = if power {
                "power".to_string()
            } else if curr_in {
                "curr×in".to_string()
            } else {
                String::new()
            };
            if energy {
                reads.push_str(if reads.is_empty() {
                    "energy"
                } else {
                    "+energy"
                });
            }
            out.push(Sensor {
                dir: d.clone(),
                name: name.clone(),
                channel: c,
                label,
                reads,
            });
        }
    }
    out
}

fn hwmon_source(
    root: &SysRoot,
    name: Option<&str>,
    channel: Option<&str>,
) -> std::result::Result<Source, String> {
    let all = hwmon_sensors(root);
    let found = all.iter().find(|s| {
        name.map_or(true, |n| s.name == n)
            && channel.map_or(true, |c| s.channel.to_string() == c || s.label == c)
            && s.reads != "energy"
    });
    let Some(s) = found else {
        let have: Vec<String> = all
            .iter()
            .map(|s| format!("{}:{}", s.name, s.channel))
            .collect();
        return Err(if have.is_empty() {
            "no power sensor under /sys/class/hwmon; use a smart plug or USB meter: --power shelly:URL, tasmota:URL or cmd:COMMAND".into()
        } else {
            format!("no such sensor; found: {}", have.join(", "))
        });
    };
    let p = |f: String| root.path(&format!("/sys/class/hwmon/{}/{f}", s.dir));
    let c = s.channel;
    let power = s
        .reads
        .starts_with("power")
        .then(|| p(format!("power{c}_input")));
    let curr_in = s
        .reads
        .starts_with("curr")
        .then(|| (p(format!("curr{c}_input")), p(format!("in{c}_input"))));
    let energy = s
        .reads
        .ends_with("energy")
        .then(|| p(format!("energy{c}_input")));
    Ok(Source {
        how: How::Hwmon {
            power,
            curr_in,
            energy,
        },
        device: format!(
            "{} ({}) channel {c}{} {}",
            s.name,
            s.dir,
            if s.label.is_empty() {
                String::new()
            } else {
                format!(" \"{}\"", s.label)
            },
            s.reads
        ),
        unit: "uW".into(),
        counter_unit: if s.reads.ends_with("energy") {
            "uJ".into()
        } else {
            String::new()
        },
    })
}

#[derive(Debug, Default)]
struct State {
    batch: PowerSamples,
    stop: bool,
    /// Readings answered since polling started (all batches).
    answered: u64,
}

type Shared = (Mutex<State>, Condvar);

fn lock(sh: &Shared) -> std::sync::MutexGuard<'_, State> {
    sh.0.lock().unwrap_or_else(|e| e.into_inner())
}

/// The polling thread and the samples it has taken since the last batch.
#[derive(Debug)]
pub(crate) struct PowerSampler {
    shared: Arc<Shared>,
    thread: Option<JoinHandle<()>>,
    pub(crate) plan: PowerPlan,
    pub(crate) device: String,
}

impl PowerSampler {
    /// Open the source (an error if it cannot be read now) and poll it every `plan.interval`
    /// on its own thread, times in µs since `origin`.
    pub(crate) fn start(plan: &PowerPlan, origin: Instant) -> Result<PowerSampler> {
        let mut source = Source::open(plan)?;
        let mut empty = PowerSamples {
            unit: source.unit.clone(),
            counter_unit: source.counter_unit.clone(),
            ..Default::default()
        };
        empty.requested_us.reserve(256);
        let shared: Arc<Shared> = Arc::new((
            Mutex::new(State {
                batch: empty,
                stop: false,
                answered: 0,
            }),
            Condvar::new(),
        ));
        let sh = Arc::clone(&shared);
        let interval = plan.interval;
        let device = source.device.clone();
        let thread = std::thread::Builder::new()
            .name("rkbench-power".into())
            .spawn(move || poll(&mut source, &sh, interval, origin))
            .map_err(|e| Error::internal(format!("cannot start the power thread: {e}")))?;
        Ok(PowerSampler {
            shared,
            thread: Some(thread),
            plan: plan.clone(),
            device,
        })
    }

    /// Wait (at most `limit`) until the source has answered once, so the power line starts
    /// before the first request: with `--power-baseline 0s` the first request would otherwise
    /// start before the first reading and have an edge no sample covers. A source that does not
    /// answer in time is no reason to wait longer: its gap is recorded and warned about.
    pub(crate) fn wait_first_reading(&self, limit: Duration) {
        let st = lock(&self.shared);
        let _ = self
            .shared
            .1
            .wait_timeout_while(st, limit, |s| s.answered == 0 && !s.stop);
    }

    /// Samples taken since the last call, `None` if none.
    pub(crate) fn take_batch(&self) -> Option<PowerSamples> {
        let mut st = lock(&self.shared);
        if st.batch.is_empty() {
            return None;
        }
        let next = PowerSamples {
            unit: st.batch.unit.clone(),
            counter_unit: st.batch.counter_unit.clone(),
            ..Default::default()
        };
        Some(std::mem::replace(&mut st.batch, next))
    }

    /// The source record for the trace, with the idle window (`after`: the one after the run).
    pub(crate) fn source_record(
        &self,
        idle_from_us: u64,
        idle_to_us: u64,
        after: (u64, u64),
    ) -> PowerSource {
        PowerSource {
            idle_after_from_us: after.0,
            idle_after_to_us: after.1,
            spec: self.plan.given.clone(),
            kind: self.plan.spec.kind().into(),
            device: self.device.clone(),
            interval_us: crate::record::trace_out::micros(self.plan.interval),
            idle_from_us,
            idle_to_us,
        }
    }

    /// Stop polling (after the reading in progress, at most one timeout) and return what is left.
    pub(crate) fn stop(mut self) -> Option<PowerSamples> {
        lock(&self.shared).stop = true;
        self.shared.1.notify_all();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
        self.take_batch()
    }
}

impl Drop for PowerSampler {
    /// A sampler dropped without [`PowerSampler::stop`] (an error path) ends its thread too.
    fn drop(&mut self) {
        lock(&self.shared).stop = true;
        self.shared.1.notify_all();
    }
}

fn poll(source: &mut Source, sh: &Shared, interval: Duration, origin: Instant) {
    let timeout = read_timeout(interval);
    let us = |i: Instant| crate::record::trace_out::micros(i.duration_since(origin));
    let mut next = Instant::now();
    let mut last = false;
    loop {
        let asked = Instant::now();
        let r = source.read(timeout);
        let got = Instant::now();
        {
            let mut st = lock(sh);
            let b = &mut st.batch;
            b.requested_us.push(us(asked));
            b.received_us.push(us(got));
            match r {
                Ok((v, c)) => {
                    b.value.push(v);
                    b.counter.push(c);
                    b.error.push(String::new());
                }
                Err(e) => {
                    b.value.push(f64::NAN);
                    b.counter.push(f64::NAN);
                    b.error.push(e);
                }
            }
            if b.unit.is_empty() {
                b.unit = source.unit.clone();
            }
            if b.error.last().is_some_and(|e| e.is_empty()) {
                st.answered += 1;
            }
        }
        // Wakes a recorder waiting for the first reading ([`PowerSampler::wait_first_reading`]).
        sh.1.notify_all();
        // Fixed ticks; ticks missed by a slow reading are skipped, not bunched up.
        next += interval;
        let now = Instant::now();
        while next <= now {
            next += interval;
        }
        if last {
            return;
        }
        let st = lock(sh);
        let (st, _) =
            sh.1.wait_timeout_while(st, next.saturating_duration_since(Instant::now()), |s| {
                !s.stop
            })
            .unwrap_or_else(|e| e.into_inner());
        // Stopped: one more reading, so the last request ends inside the line.
        last = st.stop;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tree(files: &[(&str, &str)]) -> tempfile_dir::Dir {
        let d = tempfile_dir::Dir::new();
        for (p, v) in files {
            let path = d.0.join(p.trim_start_matches('/'));
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, v).unwrap();
        }
        d
    }

    /// A temp directory removed on drop (no dev-dependency needed).
    mod tempfile_dir {
        pub struct Dir(pub std::path::PathBuf);
        impl Dir {
            pub fn new() -> Dir {
                use std::sync::atomic::{AtomicU32, Ordering};
                static N: AtomicU32 = AtomicU32::new(0);
                let p = std::env::temp_dir().join(format!(
                    "rkbench-power-{}-{}",
                    std::process::id(),
                    N.fetch_add(1, Ordering::SeqCst)
                ));
                std::fs::create_dir_all(&p).unwrap();
                Dir(p)
            }
        }
        impl Drop for Dir {
            fn drop(&mut self) {
                let _ = std::fs::remove_dir_all(&self.0);
            }
        }
    }

    fn plan(spec: &str, root: &std::path::Path) -> PowerPlan {
        let s = Spec::parse(spec).unwrap();
        PowerPlan {
            given: spec.into(),
            interval: s.default_interval(),
            spec: s,
            baseline: Duration::ZERO,
            after: false,
            root: SysRoot(root.to_path_buf()),
        }
    }

    #[test]
    fn specs_parse_or_say_what_to_write() {
        assert_eq!(
            Spec::parse("hwmon:ina226:1").unwrap(),
            Spec::Hwmon {
                name: Some("ina226".into()),
                channel: Some("1".into())
            }
        );
        assert_eq!(
            Spec::parse("hwmon").unwrap(),
            Spec::Hwmon {
                name: None,
                channel: None
            }
        );
        match Spec::parse("shelly:http://127.0.0.1:80#2").unwrap() {
            Spec::Shelly { id, url } => assert_eq!((id, url.port), (2, 80)),
            s => panic!("{s:?}"),
        }
        assert!(Spec::parse("homeassistant:http://h:8123")
            .unwrap_err()
            .contains("#sensor"));
        assert!(Spec::parse("shelly:https://x").unwrap_err().contains("TLS"));
        assert!(Spec::parse("zigbee:x")
            .unwrap_err()
            .contains("unknown source"));
        assert!(Spec::parse("cmd:").is_err());
    }

    #[test]
    fn hwmon_power_curr_in_pairs_and_energy_counters_are_found() {
        let d = tree(&[
            ("/sys/class/hwmon/hwmon0/name", "cpu_thermal\n"),
            ("/sys/class/hwmon/hwmon0/temp1_input", "40000\n"),
            ("/sys/class/hwmon/hwmon1/name", "ina3221\n"),
            ("/sys/class/hwmon/hwmon1/curr2_input", "1500\n"),
            ("/sys/class/hwmon/hwmon1/in2_input", "5000\n"),
            ("/sys/class/hwmon/hwmon1/in2_label", "VDD_NPU\n"),
            ("/sys/class/hwmon/hwmon2/name", "ina226\n"),
            ("/sys/class/hwmon/hwmon2/power1_input", "4200000\n"),
            ("/sys/class/hwmon/hwmon2/energy1_input", "123000000\n"),
        ]);
        let s = hwmon_sensors(&SysRoot(d.0.clone()));
        assert_eq!(s.len(), 2);
        assert_eq!((s[0].name.as_str(), s[0].channel), ("ina3221", 2));
        assert_eq!(s[0].label, "VDD_NPU");
        assert_eq!(s[1].reads, "power+energy");
        // curr (mA) × in (mV) = µW.
        let mut src = Source::open(&plan("hwmon:ina3221:VDD_NPU", &d.0)).unwrap();
        assert_eq!(src.read(Duration::from_secs(1)).unwrap().0, 7_500_000.0);
        let mut src = Source::open(&plan("hwmon", &d.0)).unwrap();
        assert_eq!(src.unit, "uW");
        let mut src2 = Source::open(&plan("hwmon:ina226", &d.0)).unwrap();
        assert_eq!(
            src2.read(Duration::from_secs(1)).unwrap(),
            (4_200_000.0, 123_000_000.0)
        );
        assert_eq!(src2.counter_unit, "uJ");
        assert!(src.read(Duration::from_secs(1)).is_ok());
        let e = Source::open(&plan("hwmon:ina219", &d.0)).unwrap_err();
        assert_eq!(e.exit_code(), crate::error::exit::INPUT);
        assert!(e.msg.contains("found: ina3221:2, ina226:1"), "{}", e.msg);
        let none = tree(&[("/sys/class/hwmon/hwmon0/name", "cpu_thermal\n")]);
        let e = Source::open(&plan("hwmon", &none.0)).unwrap_err();
        assert!(e.msg.contains("use a smart plug or USB meter"), "{}", e.msg);
    }

    #[test]
    fn plug_answers_are_parsed_in_their_own_units() {
        let v = serde_json::json!({"apower": 3.5, "aenergy": {"total": 12.25}});
        assert_eq!(parse_shelly2(&v).unwrap(), (3.5, 12.25));
        let v = serde_json::json!({"power": 4, "total": 60});
        assert_eq!(parse_shelly1(&v).unwrap(), (4.0, 60.0));
        let v = serde_json::json!({"StatusSNS": {"ENERGY": {"Power": 7, "Total": 0.5}}});
        assert_eq!(parse_tasmota(&v).unwrap(), (7.0, 0.5));
        let v = serde_json::json!({"state": "5.5", "attributes": {"unit_of_measurement": "W"}});
        assert_eq!(parse_homeassistant(&v).unwrap().0, 5.5);
        assert!(parse_homeassistant(&serde_json::json!({"state": "unavailable"})).is_err());
        assert!(parse_shelly2(&serde_json::json!({})).is_err());
    }

    #[test]
    fn a_command_gives_its_last_line_in_watts_or_a_reason() {
        let d = tree(&[]);
        let mut s = Source::open(&plan("cmd:printf 'x\\n2.5\\n'", &d.0)).unwrap();
        assert_eq!(s.read(Duration::from_secs(2)).unwrap().0, 2.5);
        let e = Source::open(&plan("cmd:echo nope", &d.0)).unwrap_err();
        assert!(e.msg.contains("not watts"), "{}", e.msg);
        let e = Source::open(&plan("cmd:exit 3", &d.0)).unwrap_err();
        assert!(e.msg.contains("failed"), "{}", e.msg);
        let mut slow = Source {
            how: How::Cmd(Program::new("sleep 5")),
            device: String::new(),
            unit: "W".into(),
            counter_unit: String::new(),
        };
        assert!(slow
            .read(Duration::from_millis(100))
            .unwrap_err()
            .contains("no reading within 100 ms"));
    }

    /// Readings back to back (the open's reading, then the sampler's first, at once): the
    /// one-shot program of the last reading may not be reaped yet and look like a logger still
    /// running; the reading runs it anew instead of reporting "printed no reading".
    #[test]
    fn a_one_shot_program_read_back_to_back_always_gives_its_reading() {
        let d = tree(&[]);
        let mut s = Source::open(&plan("cmd:echo 2.5", &d.0)).unwrap();
        for i in 0..50 {
            let r = s.read(Duration::from_secs(2));
            assert_eq!(r.as_ref().map(|r| r.0), Ok(2.5), "reading {i}: {r:?}");
        }
    }

    #[test]
    fn a_program_that_keeps_printing_is_kept_running_and_read_line_by_line() {
        let d = tree(&[]);
        // A logger: one reading every 50 ms, counting up.
        let mut s = Source::open(&plan(
            "cmd:i=0; while true; do i=$((i+1)); echo $i; sleep 0.05; done",
            &d.0,
        ))
        .unwrap();
        let a = s.read(Duration::from_secs(2)).unwrap().0;
        std::thread::sleep(Duration::from_millis(200));
        // Lines printed meanwhile are stale: the next reading is a fresh one, from the same
        // process (a restarted one would count from 1 again).
        let b = s.read(Duration::from_secs(2)).unwrap().0;
        assert!(b >= a + 3.0, "{a} then {b}");
        drop(s);

        // What the program started in the background ends with it.
        let pidfile = d.0.join("bg.pid");
        let cmd = format!(
            "cmd:sleep 60 & echo $! > {}; while true; do echo 1; sleep 0.05; done",
            pidfile.display()
        );
        let mut s = Source::open(&plan(&cmd, &d.0)).unwrap();
        s.read(Duration::from_secs(2)).unwrap();
        let pid = std::fs::read_to_string(&pidfile)
            .unwrap()
            .trim()
            .to_string();
        drop(s);
        let alive = |pid: &str| {
            std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|st| {
                !st.rsplit(')')
                    .next()
                    .unwrap_or("")
                    .trim_start()
                    .starts_with('Z')
            })
        };
        let until = Instant::now() + Duration::from_secs(5);
        while alive(&pid) && Instant::now() < until {
            std::thread::sleep(Duration::from_millis(10));
        }
        assert!(!alive(&pid), "background process {pid} outlived the source");
    }
}
