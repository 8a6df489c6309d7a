//! Board telemetry while a run is recorded: NPU load, NPU/CPU/DDR frequencies, temperatures,
//! process memory and CPU time, sampled by one background thread.
//!
//! Why this exists: the numbers board owners compare are only comparable if the board was in the
//! same state (governors, DDR clock, temperature). The header records that state once, at the
//! start; the sampler records how it moved *during* each request, so a report can say "the NPU
//! throttled to 600 MHz in request 7" instead of leaving a slow request unexplained.
//!
//! Design constraints, and how they are met:
//! - **Same clock as the tokens.** Sample times are µs since the `Instant` origin the recorder
//!   uses for `start_us`, so a request's `[start_us, start_us + end_us]` window selects its samples.
//! - **No disturbance of the measurement.** Sources are discovered once at start; every file is
//!   kept open and re-read from offset 0 (sysfs/procfs regenerate the text on a read at 0) into one
//!   reusable buffer, integers are parsed in place, and values go into columns reserved up front.
//!   A sample allocates nothing in steady state (only `take_batch`, on the caller's thread, does).
//! - **Works anywhere.** A source missing at start (no debugfs access, no DMC devfreq, a laptop)
//!   is recorded once in [`Sampler::absent`] with the reason, and never retried.
//! - **Testable.** Everything is read under a [`SysRoot`], including `/proc/self/status`,
//!   `/proc/self/stat` and `/proc/meminfo` (so a fixture root yields the fixture's process
//!   figures, deterministically; on a board the root is `/` and `/proc/self` is the recorder, the
//!   process that loaded `librkllmrt.so`). A source file `X` with a sibling `X.seq` is replayed
//!   line by line on successive samples (see `fixtures/sysfs/README.md`).
//!
//! Series keys and units (see [`Probe::discover`]):
//!
//! | key | unit | source |
//! |---|---|---|
//! | `npu.load.core0` … `coreN` | `%` | `/sys/kernel/debug/rknpu/load` (root only) |
//! | `npu.freq` | `Hz` | `/sys/class/devfreq/*npu*/cur_freq` |
//! | `dmc.freq` | `Hz` | `/sys/class/devfreq/dmc/cur_freq` |
//! | `cpu.policyN.freq` | `kHz` | `/sys/devices/system/cpu/cpufreq/policyN/scaling_cur_freq` |
//! | `thermal.<type>` | `m°C` | `/sys/class/thermal/thermal_zoneN/{type,temp}` |
//! | `proc.rss`, `proc.hwm` | `kB` | `VmRSS`, `VmHWM` of `/proc/self/status` |
//! | `proc.cpu` | `ticks` | utime + stime of `/proc/self/stat` (USER_HZ, 100 per second) |
//! | `mem.available` | `kB` | `MemAvailable` of `/proc/meminfo` |
//! | `server.rss`, `server.hwm`, `server.cpu` | `kB`, `ticks` | the same of `/proc/<pid>/` of a server measured with `record --server` on this machine |
use crate::board::{self, SysRoot};
use crate::trace::vocab::{fact, series, unavailable};
use crate::trace::{Fact, Series, TelemetryBatch};
use std::fs::File;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

pub(crate) use crate::trace::NOT_READ;

/// Size of the one read buffer. `/proc/self/status` and `/proc/meminfo` are ~1.5 KiB; the
/// fields we need are near their start, so a longer file is simply cut.
const BUF_LEN: usize = 8192;

/// Telemetry batches are written to the trace this often (samples are taken at
/// `--sample-interval`); each batch repeats the series keys, so fewer, larger batches are smaller
/// per sample.
pub(crate) const BATCH_EVERY: Duration = Duration::from_secs(10);

/// Samples reserved per column: 1024 × 200 ms ≈ 3.4 min between `take_batch` calls before a
/// column has to grow (it still grows correctly if the caller is slower).
const RESERVED_SAMPLES: usize = 1024;

/// Shortest interval accepted: below this the sampler itself would load the board.
const MIN_INTERVAL: Duration = Duration::from_millis(1);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Parse {
    /// One integer (sysfs attribute).
    Int,
    /// `NPU load:  Core0: 25%, Core1:  0%, Core2:  0%,` → one column per core.
    NpuLoad,
    /// `/proc/self/status` → `VmRSS`, `VmHWM` (two columns).
    Status,
    /// `/proc/self/stat` → utime + stime.
    Stat,
    /// `/proc/meminfo` → `MemAvailable`.
    MemAvailable,
}

/// The most bytes of a `X.seq` replay file read (a line per sample).
const MAX_SEQ_BYTES: u64 = 16 << 20;

/// Replayed content of a `X.seq` file: one line per sample, the last one repeated.
#[derive(Debug)]
struct Seq {
    text: Vec<u8>,
    lines: Vec<(usize, usize)>,
    next: usize,
}

impl Seq {
    fn load(path: &std::path::Path) -> Option<Seq> {
        let text = crate::board::read_small(path, MAX_SEQ_BYTES).ok()?;
        let mut lines = Vec::new();
        let mut start = 0;
        for (i, &b) in text.iter().enumerate() {
            if b == b'\n' {
                if i > start {
                    lines.push((start, i));
                }
                start = i + 1;
            }
        }
        if text.len() > start {
            lines.push((start, text.len()));
        }
        (!lines.is_empty()).then_some(Seq {
            text,
            lines,
            next: 0,
        })
    }

    fn first(&self) -> &[u8] {
        let (a, b) = self.lines[0];
        &self.text[a..b]
    }

    /// Copy the next line into `buf`; returns its length.
    fn next_into(&mut self, buf: &mut [u8]) -> usize {
        let (a, b) = self.lines[self.next.min(self.lines.len() - 1)];
        self.next += 1;
        let n = (b - a).min(buf.len());
        buf[..n].copy_from_slice(&self.text[a..a + n]);
        n
    }
}

#[derive(Debug)]
struct Source {
    parse: Parse,
    file: File,
    seq: Option<Seq>,
    /// First column of this source in the sample vector.
    col: usize,
    cols: usize,
}

/// The synchronous half of the sampler: discovered sources and one sample's worth of values.
/// [`Sampler`] runs it on a thread; a benchmark or test can call [`Probe::sample_once`] directly.
#[derive(Debug)]
pub struct Probe {
    keys: Vec<(String, &'static str)>,
    sources: Vec<Source>,
    absent: Vec<(String, String)>,
    buf: Vec<u8>,
    values: Vec<i64>,
}

impl Probe {
    /// Find every source under `root`, once. Each source is read and parsed here as well, so a
    /// file that exists but cannot be read or parsed is reported absent now rather than
    /// producing `NOT_READ` forever.
    pub fn discover(root: &SysRoot) -> Probe {
        let mut p = Probe {
            keys: Vec::new(),
            sources: Vec::new(),
            absent: Vec::new(),
            buf: vec![0; BUF_LEN],
            values: Vec::new(),
        };

        // NPU load: one file, one column per core; the core count comes from the first read.
        match p.open(root, "/sys/kernel/debug/rknpu/load") {
            Ok((file, seq, text)) => {
                let mut cores = [NOT_READ; 16];
                let n = parse_npu_load(&text, &mut cores);
                if n == 0 {
                    p.absent.push((
                        series::NPU_LOAD_GROUP.into(),
                        format!(
                            "unrecognised format {:?}",
                            String::from_utf8_lossy(&text[..text.len().min(60)])
                        ),
                    ));
                } else {
                    let keys = (0..n).map(|i| (series::npu_load(i), "%")).collect();
                    p.add(Parse::NpuLoad, file, seq, keys);
                }
            }
            Err(r) => p.absent.push((series::NPU_LOAD_GROUP.into(), r)),
        }

        match board::npu_devfreq(root) {
            Some(dev) => p.int(
                root,
                &format!("/sys/class/devfreq/{dev}/cur_freq"),
                series::NPU_FREQ,
                "Hz",
            ),
            None => p
                .absent
                .push((series::NPU_FREQ.into(), "no devfreq device".into())),
        }
        p.int(
            root,
            "/sys/class/devfreq/dmc/cur_freq",
            series::DMC_FREQ,
            "Hz",
        );

        let policies = root.list("/sys/devices/system/cpu/cpufreq", "policy");
        if policies.is_empty() {
            p.absent
                .push((series::CPU_FREQ_GROUP.into(), "no cpufreq policies".into()));
        }
        for pol in sort_numeric(policies, "policy") {
            p.int(
                root,
                &format!("/sys/devices/system/cpu/cpufreq/{pol}/scaling_cur_freq"),
                &series::cpu_freq(&pol),
                "kHz",
            );
        }

        let zones = sort_numeric(
            root.list("/sys/class/thermal", "thermal_zone"),
            "thermal_zone",
        );
        if zones.is_empty() {
            p.absent
                .push((series::THERMAL_GROUP.into(), "no thermal zones".into()));
        }
        for z in zones {
            let ty = root
                .read(&format!("/sys/class/thermal/{z}/type"))
                .ok()
                .filter(|t| !t.is_empty() && !t.contains(char::is_whitespace))
                .unwrap_or_else(|| z.clone());
            let mut key = series::thermal(&ty);
            if p.keys.iter().any(|(k, _)| *k == key) {
                // Two zones of the same type (seen on some DTs): keep both, told apart by zone.
                key = format!("{}.{z}", series::thermal(&ty));
            }
            p.int(root, &format!("/sys/class/thermal/{z}/temp"), &key, "m°C");
        }

        p.multi(
            root,
            "/proc/self/status",
            Parse::Status,
            &[(series::PROC_RSS, "kB"), (series::PROC_HWM, "kB")],
        );
        p.multi(
            root,
            "/proc/self/stat",
            Parse::Stat,
            &[(series::PROC_CPU, "ticks")],
        );
        p.multi(
            root,
            "/proc/meminfo",
            Parse::MemAvailable,
            &[(series::MEM_AVAILABLE, "kB")],
        );

        p.values = vec![NOT_READ; p.keys.len()];
        p
    }

    /// Open a source and read it once (from its `.seq` if there is one).
    fn open(&mut self, root: &SysRoot, abs: &str) -> Result<(File, Option<Seq>, Vec<u8>), String> {
        let path = root.path(abs);
        let file = crate::board::open_regular(&path)?;
        let mut seq_path = path.into_os_string();
        seq_path.push(".seq");
        let seq = Seq::load(std::path::Path::new(&seq_path));
        let text = match &seq {
            Some(s) => s.first().to_vec(),
            None => {
                let n = read_from_start(&file, &mut self.buf).map_err(|e| io_reason(&e))?;
                self.buf[..n].to_vec()
            }
        };
        Ok((file, seq, text))
    }

    fn add(
        &mut self,
        parse: Parse,
        file: File,
        seq: Option<Seq>,
        keys: Vec<(String, &'static str)>,
    ) {
        self.sources.push(Source {
            parse,
            file,
            seq,
            col: self.keys.len(),
            cols: keys.len(),
        });
        self.keys.extend(keys);
    }

    /// A single-integer source.
    fn int(&mut self, root: &SysRoot, abs: &str, key: &str, unit: &'static str) {
        match self.open(root, abs) {
            Ok((file, seq, text)) => match parse_int(&text) {
                Some(_) => self.add(Parse::Int, file, seq, vec![(key.to_string(), unit)]),
                None => self.absent.push((
                    key.to_string(),
                    format!(
                        "{abs} is not an integer ({:?})",
                        String::from_utf8_lossy(&text[..text.len().min(40)]).trim()
                    ),
                )),
            },
            Err(r) => self.absent.push((key.to_string(), r)),
        }
    }

    /// A multi-line procfs source; each key is checked separately at discovery.
    fn multi(&mut self, root: &SysRoot, abs: &str, parse: Parse, keys: &[(&str, &'static str)]) {
        match self.open(root, abs) {
            Ok((file, seq, text)) => {
                let mut probe = [NOT_READ; 2];
                parse_into(parse, &text, &mut probe[..keys.len()]);
                if probe[..keys.len()].iter().all(|&v| v == NOT_READ) {
                    for (k, _) in keys {
                        self.absent
                            .push((k.to_string(), format!("not found in {abs}")));
                    }
                } else {
                    let keys = keys.iter().map(|(k, u)| (k.to_string(), *u)).collect();
                    self.add(parse, file, seq, keys);
                }
            }
            Err(r) => {
                for (k, _) in keys {
                    self.absent.push((k.to_string(), r.clone()));
                }
            }
        }
    }

    /// Series keys and units, in column order.
    pub fn keys(&self) -> &[(String, &'static str)] {
        &self.keys
    }

    /// Sources missing at discovery: (key, reason), in discovery order.
    pub fn absent(&self) -> &[(String, String)] {
        &self.absent
    }

    /// Read every source once; returns one value per key (`NOT_READ` where a read failed).
    /// Allocation-free: one reused buffer, in-place integer parsing, a pre-sized output.
    pub fn sample_once(&mut self) -> &[i64] {
        let Probe {
            sources,
            buf,
            values,
            ..
        } = self;
        for s in sources.iter_mut() {
            let out = &mut values[s.col..s.col + s.cols];
            out.fill(NOT_READ);
            let n = match &mut s.seq {
                Some(seq) => seq.next_into(buf),
                None => match read_from_start(&s.file, buf) {
                    Ok(n) => n,
                    Err(_) => continue,
                },
            };
            parse_into(s.parse, &buf[..n], out);
        }
        values
    }
}

fn parse_into(parse: Parse, text: &[u8], out: &mut [i64]) {
    match parse {
        Parse::Int => out[0] = parse_int(text).unwrap_or(NOT_READ),
        Parse::NpuLoad => {
            parse_npu_load(text, out);
        }
        Parse::Status => {
            out[0] = field_kb(text, b"VmRSS:").unwrap_or(NOT_READ);
            if out.len() > 1 {
                out[1] = field_kb(text, b"VmHWM:").unwrap_or(NOT_READ);
            }
        }
        Parse::Stat => out[0] = parse_stat_cpu(text).unwrap_or(NOT_READ),
        Parse::MemAvailable => out[0] = field_kb(text, b"MemAvailable:").unwrap_or(NOT_READ),
    }
}

/// `policy10` after `policy6`: sort by the number after `prefix`, then by name.
fn sort_numeric(mut names: Vec<String>, prefix: &str) -> Vec<String> {
    names.sort_by_key(|n| {
        (
            n[prefix.len()..].parse::<u64>().unwrap_or(u64::MAX),
            n.clone(),
        )
    });
    names
}

fn io_reason(e: &std::io::Error) -> String {
    match e.kind() {
        std::io::ErrorKind::NotFound => "not present".into(),
        std::io::ErrorKind::PermissionDenied => "permission denied; run as root".into(),
        _ => e.to_string(),
    }
}

/// Read a file from offset 0 into `buf` without moving a file position (so the same `File` can
/// be re-read every sample; sysfs and seq_file procfs regenerate their text on a read at 0).
fn read_from_start(f: &File, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        let k = read_at(f, &mut buf[n..], n as u64)?;
        if k == 0 {
            break;
        }
        n += k;
    }
    Ok(n)
}

#[cfg(unix)]
fn read_at(f: &File, buf: &mut [u8], off: u64) -> std::io::Result<usize> {
    std::os::unix::fs::FileExt::read_at(f, buf, off)
}

#[cfg(not(unix))]
fn read_at(f: &File, buf: &mut [u8], off: u64) -> std::io::Result<usize> {
    use std::io::{Read, Seek, SeekFrom};
    let mut f = f;
    f.seek(SeekFrom::Start(off))?;
    f.read(buf)
}

/// The first integer in `s` (leading whitespace skipped, optional `-`), without allocating.
pub fn parse_int(s: &[u8]) -> Option<i64> {
    let mut i = 0;
    while i < s.len() && s[i].is_ascii_whitespace() {
        i += 1;
    }
    let neg = s.get(i) == Some(&b'-');
    if neg {
        i += 1;
    }
    let start = i;
    let mut v: i64 = 0;
    while i < s.len() && s[i].is_ascii_digit() {
        v = v.checked_mul(10)?.checked_add(i64::from(s[i] - b'0'))?;
        i += 1;
    }
    (i > start).then_some(if neg { -v } else { v })
}

/// Parse the rknpu debugfs load line into `out[core]`; returns the number of cores found
/// (highest core index + 1). Accepts `NPU load:  Core0: 25%, Core1:  0%, Core2:  0%,` (RK3588)
/// and the single-core `NPU load:  25%` (RK356x).
pub fn parse_npu_load(s: &[u8], out: &mut [i64]) -> usize {
    let mut cores = 0;
    let mut i = 0;
    while let Some(p) = find(&s[i..], b"Core") {
        i += p + 4;
        let Some(idx) = parse_int(&s[i..]).filter(|&c| (0..64).contains(&c)) else {
            continue;
        };
        let Some(colon) = find(&s[i..], b":") else {
            break;
        };
        i += colon + 1;
        if let Some(v) = parse_int(&s[i..]) {
            let idx = idx as usize;
            if idx < out.len() {
                out[idx] = v;
            }
            cores = cores.max(idx + 1);
        }
    }
    if cores == 0 {
        if let Some(p) = find(s, b"load:") {
            if let Some(v) = parse_int(&s[p + 5..]) {
                if let Some(o) = out.first_mut() {
                    *o = v;
                }
                return 1;
            }
        }
    }
    cores
}

/// `utime + stime` (fields 14 and 15) of `/proc/<pid>/stat`. Fields are counted after the last
/// `)`, because the command name in field 2 may itself contain spaces and parentheses.
pub fn parse_stat_cpu(s: &[u8]) -> Option<i64> {
    let close = s.iter().rposition(|&b| b == b')')?;
    let mut fields = s[close + 1..]
        .split(|b| b.is_ascii_whitespace())
        .filter(|f| !f.is_empty());
    // After ')': state(3) ppid(4) … cmajflt(13) utime(14) stime(15).
    let utime = parse_int(fields.nth(11)?)?;
    let stime = parse_int(fields.next()?)?;
    Some(utime + stime)
}

/// The number after `name` on the line starting with it (`VmRSS:   123 kB` → 123).
pub fn field_kb(s: &[u8], name: &[u8]) -> Option<i64> {
    s.split(|&b| b == b'\n')
        .find(|l| l.starts_with(name))
        .and_then(|l| parse_int(&l[name.len()..]))
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// Columns of samples not yet handed out, reserved up front.
#[derive(Debug)]
struct Columns {
    t_us: Vec<u64>,
    values: Vec<Vec<i64>>,
}

impl Columns {
    fn new(cols: usize, reserve: usize) -> Columns {
        Columns {
            t_us: Vec::with_capacity(reserve),
            values: (0..cols).map(|_| Vec::with_capacity(reserve)).collect(),
        }
    }

    fn push(&mut self, t_us: u64, sample: &[i64]) {
        self.t_us.push(t_us);
        for (c, &v) in self.values.iter_mut().zip(sample) {
            c.push(v);
        }
    }

    /// Copy out the pending samples as a batch and clear, keeping the reserved capacity.
    fn take(&mut self, keys: &[(String, &'static str)]) -> Option<TelemetryBatch> {
        if self.t_us.is_empty() {
            return None;
        }
        let batch = TelemetryBatch {
            t_us: self.t_us.clone(),
            series: keys
                .iter()
                .zip(&self.values)
                .map(|((k, u), v)| Series {
                    key: k.clone(),
                    unit: (*u).to_string(),
                    values: v.clone(),
                })
                .collect(),
        };
        self.t_us.clear();
        self.values.iter_mut().for_each(Vec::clear);
        Some(batch)
    }
}

#[derive(Debug)]
struct State {
    cols: Columns,
    latest: Vec<i64>,
    stop: bool,
}

#[derive(Debug)]
struct Shared {
    state: Mutex<State>,
    wake: Condvar,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        // The state is plain columns; a panic elsewhere cannot leave them worse than partial.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Background telemetry sampler. Start it right after the recorder's clock origin, take batches
/// whenever the recorder writes frames, and stop it before the run-end record.
///
/// It samples once at start, every `interval` after that (on fixed ticks, skipping ticks it
/// missed rather than bunching up), and once more when stopped, so even a short run has the
/// board state at both ends.
#[derive(Debug)]
pub struct Sampler {
    shared: Arc<Shared>,
    keys: Vec<(String, &'static str)>,
    absent: Vec<(String, String)>,
    interval: Duration,
    thread: Option<JoinHandle<()>>,
}

impl Sampler {
    /// Discover sources under `root` and start sampling every `interval` (at least 1 ms).
    /// Sample times are µs since `origin`, the recorder's clock origin. Never fails: with no
    /// source at all (or no thread) it samples nothing and [`Sampler::absent`] says why.
    pub fn start(root: SysRoot, interval: Duration, origin: Instant) -> Sampler {
        Self::start_with_server(root, interval, origin, None)
    }

    /// [`Sampler::start`], plus the process of a server measured over HTTP on this machine:
    /// `server.rss`, `server.hwm` (kB) and `server.cpu` (ticks) from `/proc/<pid>/`, on the
    /// same clock as the chunks.
    pub fn start_with_server(
        root: SysRoot,
        interval: Duration,
        origin: Instant,
        server_pid: Option<u32>,
    ) -> Sampler {
        let interval = interval.max(MIN_INTERVAL);
        let mut probe = Probe::discover(&root);
        if let Some(pid) = server_pid {
            probe.multi(
                &root,
                &format!("/proc/{pid}/status"),
                Parse::Status,
                &[(series::SERVER_RSS, "kB"), (series::SERVER_HWM, "kB")],
            );
            probe.multi(
                &root,
                &format!("/proc/{pid}/stat"),
                Parse::Stat,
                &[(series::SERVER_CPU, "ticks")],
            );
            probe.values = vec![NOT_READ; probe.keys.len()];
        }
        let keys = probe.keys.clone();
        let mut absent = probe.absent.clone();
        let shared = Arc::new(Shared {
            state: Mutex::new(State {
                cols: Columns::new(keys.len(), RESERVED_SAMPLES),
                latest: vec![NOT_READ; keys.len()],
                stop: false,
            }),
            wake: Condvar::new(),
        });
        let mut thread = None;
        if !keys.is_empty() {
            let sh = Arc::clone(&shared);
            match std::thread::Builder::new()
                .name("rkbench-telemetry".into())
                .spawn(move || run(&mut probe, &sh, interval, origin))
            {
                Ok(h) => thread = Some(h),
                Err(e) => absent.push((
                    fact::TELEMETRY.into(),
                    format!("cannot start the sampler thread: {e}"),
                )),
            }
        }
        Sampler {
            shared,
            keys,
            absent,
            interval,
            thread,
        }
    }

    /// Samples taken since the last call (or since start), `None` if there are none.
    pub fn take_batch(&self) -> Option<TelemetryBatch> {
        self.shared.lock().cols.take(&self.keys)
    }

    /// The most recent value of every series that was read, for a progress line.
    pub fn latest(&self) -> Vec<(String, i64)> {
        let st = self.shared.lock();
        self.keys
            .iter()
            .zip(&st.latest)
            .filter(|(_, &v)| v != NOT_READ)
            .map(|((k, _), &v)| (k.clone(), v))
            .collect()
    }

    /// Sources missing at start: (key, reason). Recorded once; never retried.
    pub fn absent(&self) -> Vec<(String, String)> {
        self.absent.clone()
    }

    /// Series keys and units being sampled, in column order.
    pub fn keys(&self) -> Vec<(String, String)> {
        self.keys
            .iter()
            .map(|(k, u)| (k.clone(), (*u).to_string()))
            .collect()
    }

    /// Facts for the trace header, so a report knows how telemetry was taken and what was
    /// missing: `telemetry.interval_ms`, and `telemetry.<key>` = `unavailable (<reason>)` per
    /// absent source. Add them to `RunHeader::board` (and re-sort) before writing the header.
    pub fn facts(&self) -> Vec<Fact> {
        let mut f = vec![Fact {
            key: fact::telemetry("interval_ms"),
            value: self.interval.as_millis().to_string(),
        }];
        f.extend(self.absent.iter().map(|(k, r)| Fact {
            key: fact::telemetry(k),
            value: unavailable(r),
        }));
        f
    }

    /// Stop sampling (one last sample is taken) and return what was not yet taken.
    pub fn stop(mut self) -> Option<TelemetryBatch> {
        self.halt();
        self.take_batch()
    }

    fn halt(&mut self) {
        if let Some(h) = self.thread.take() {
            self.shared.lock().stop = true;
            self.shared.wake.notify_all();
            let _ = h.join();
        }
    }
}

impl Drop for Sampler {
    fn drop(&mut self) {
        self.halt();
    }
}

/// The thread body: sample, wait for the next tick (or a stop), repeat.
fn run(probe: &mut Probe, sh: &Shared, interval: Duration, origin: Instant) {
    let mut next = Instant::now();
    loop {
        let t = Instant::now();
        let t_us = micros(t.saturating_duration_since(origin));
        let sample = probe.sample_once();
        let mut st = sh.lock();
        st.cols.push(t_us, sample);
        st.latest.copy_from_slice(sample);
        if st.stop {
            return;
        }
        next += interval;
        let now = Instant::now();
        if next <= now {
            // Missed ticks (suspended, or a slow read): resume from now instead of catching up.
            next = now + interval;
        }
        loop {
            if st.stop {
                break; // take the final sample
            }
            let now = Instant::now();
            if now >= next {
                break;
            }
            st = sh
                .wake
                .wait_timeout(st, next - now)
                .map(|(g, _)| g)
                .unwrap_or_else(|e| e.into_inner().0);
        }
    }
}

fn micros(d: Duration) -> u64 {
    d.as_micros().min(u128::from(u64::MAX)) as u64
}

/// A short progress-line rendering of [`Sampler::latest`], e.g.
/// `NPU 87/86/85 % 1000 MHz · DDR 2112 MHz · max 47.1 °C (bigcore0-thermal) · RSS 5026 MB`.
pub fn progress_line(latest: &[(String, i64)]) -> String {
    let get = |k: &str| latest.iter().find(|(key, _)| key == k).map(|(_, v)| *v);
    let mut parts = Vec::new();
    let loads: Vec<String> = latest
        .iter()
        .filter(|(k, _)| k.starts_with(series::NPU_LOAD))
        .map(|(_, v)| v.to_string())
        .collect();
    let mut npu = String::new();
    if !loads.is_empty() {
        npu = format!("NPU {} %", loads.join("/"));
    }
    if let Some(f) = get(series::NPU_FREQ) {
        if npu.is_empty() {
            npu.push_str("NPU");
        }
        npu.push_str(&format!(" {} MHz", f / 1_000_000));
    }
    if !npu.is_empty() {
        parts.push(npu);
    }
    if let Some(f) = get(series::DMC_FREQ) {
        parts.push(format!("DDR {} MHz", f / 1_000_000));
    }
    if let Some((k, t)) = latest
        .iter()
        .filter(|(k, _)| k.starts_with(series::THERMAL))
        .max_by_key(|(_, v)| *v)
    {
        parts.push(format!(
            "max {:.1} °C ({})",
            *t as f64 / 1000.0,
            &k[series::THERMAL.len()..]
        ));
    }
    if let Some(r) = get(series::PROC_RSS) {
        parts.push(format!("RSS {} MB", r / 1024));
    }
    parts.join(" · ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    fn fixture(name: &str) -> SysRoot {
        SysRoot(
            PathBuf::from(env!("CARGO_MANIFEST_DIR"))
                .join("fixtures/sysfs")
                .join(name),
        )
    }

    fn value(p: &Probe, vals: &[i64], key: &str) -> i64 {
        let i = p.keys().iter().position(|(k, _)| k == key).unwrap();
        vals[i]
    }

    #[test]
    fn parses_npu_load_lines() {
        let mut out = [NOT_READ; 4];
        let n = parse_npu_load(
            b"NPU load:  Core0: 25%, Core1:  0%, Core2:  7%,\n",
            &mut out,
        );
        assert_eq!(n, 3);
        assert_eq!(out[..3], [25, 0, 7]);
        let mut one = [NOT_READ; 1];
        assert_eq!(parse_npu_load(b"NPU load:  42%\n", &mut one), 1);
        assert_eq!(one[0], 42);
        let mut none = [NOT_READ; 3];
        assert_eq!(parse_npu_load(b"garbage", &mut none), 0);
        // More cores than columns: counted, extra values dropped, no panic.
        let mut short = [NOT_READ; 1];
        assert_eq!(parse_npu_load(b"Core0: 1%, Core1: 2%,", &mut short), 2);
        assert_eq!(short[0], 1);
    }

    #[test]
    fn parses_integers_and_proc_files() {
        assert_eq!(parse_int(b"  1000000000\n"), Some(1_000_000_000));
        assert_eq!(parse_int(b"-5"), Some(-5));
        assert_eq!(parse_int(b"x"), None);
        assert_eq!(parse_int(b"99999999999999999999"), None);
        assert_eq!(
            field_kb(
                b"Name:\tx\nVmHWM:\t  5147136 kB\nVmRSS:\t 12 kB\n",
                b"VmRSS:"
            ),
            Some(12)
        );
        // A command name with spaces and parentheses must not shift the fields.
        let stat = b"42 (a) b) c) S 1 2 3 4 5 6 7 8 9 10 300 45 0 0 20";
        assert_eq!(parse_stat_cpu(stat), Some(345));
        assert_eq!(parse_stat_cpu(b"42 (x) S 1"), None);
    }

    #[test]
    fn healthy_tree_has_every_source() {
        let mut p = Probe::discover(&fixture("rk3588-healthy"));
        assert!(p.absent().is_empty(), "{:?}", p.absent());
        let keys: Vec<&str> = p.keys().iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(
            keys,
            [
                "npu.load.core0",
                "npu.load.core1",
                "npu.load.core2",
                "npu.freq",
                "dmc.freq",
                "cpu.policy0.freq",
                "cpu.policy4.freq",
                "cpu.policy6.freq",
                "thermal.soc-thermal",
                "thermal.bigcore0-thermal",
                "thermal.bigcore1-thermal",
                "thermal.littlecore-thermal",
                "thermal.center-thermal",
                "thermal.gpu-thermal",
                "thermal.npu-thermal",
                "proc.rss",
                "proc.hwm",
                "proc.cpu",
                "mem.available",
            ]
        );
        let v = p.sample_once().to_vec();
        assert_eq!(value(&p, &v, "npu.load.core1"), 86);
        assert_eq!(value(&p, &v, "npu.freq"), 1_000_000_000);
        assert_eq!(value(&p, &v, "dmc.freq"), 2_112_000_000);
        assert_eq!(value(&p, &v, "cpu.policy4.freq"), 2_352_000);
        assert_eq!(value(&p, &v, "thermal.bigcore0-thermal"), 47076);
        assert_eq!(value(&p, &v, "proc.rss"), 5_146_820);
        assert_eq!(value(&p, &v, "proc.hwm"), 5_147_136);
        assert_eq!(value(&p, &v, "proc.cpu"), 18342 + 1207);
        assert_eq!(value(&p, &v, "mem.available"), 10_655_144);
        // Static files: the same values again.
        assert_eq!(p.sample_once(), &v[..]);
    }

    #[test]
    fn sequences_replay_then_hold_the_last_line() {
        let mut p = Probe::discover(&fixture("rk3588-throttling"));
        let mut temps = Vec::new();
        let mut freqs = Vec::new();
        for _ in 0..8 {
            let v = p.sample_once().to_vec();
            temps.push(value(&p, &v, "thermal.npu-thermal"));
            freqs.push(value(&p, &v, "npu.freq"));
            // A zone without a .seq stays put.
            assert_eq!(value(&p, &v, "thermal.soc-thermal"), 68461);
        }
        assert_eq!(
            temps,
            [70000, 76000, 81000, 86000, 89000, 92000, 92000, 92000]
        );
        assert_eq!(
            freqs,
            [
                1_000_000_000,
                1_000_000_000,
                1_000_000_000,
                800_000_000,
                600_000_000,
                600_000_000,
                600_000_000,
                600_000_000
            ]
        );
    }

    #[test]
    fn absent_sources_are_recorded_once_and_not_sampled() {
        let p = Probe::discover(&fixture("rk3588-throttling"));
        assert_eq!(
            p.absent(),
            [("dmc.freq".to_string(), "not present".to_string())]
        );
        assert!(!p.keys().iter().any(|(k, _)| k == "dmc.freq"));

        // An empty root: everything absent, each key once, and the sampler runs no thread.
        let dir = std::env::temp_dir().join(format!("rkbench-tele-empty-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let s = Sampler::start(
            SysRoot(dir.clone()),
            Duration::from_millis(1),
            Instant::now(),
        );
        std::thread::sleep(Duration::from_millis(20));
        let absent: Vec<String> = s.absent().into_iter().map(|(k, _)| k).collect();
        assert_eq!(
            absent,
            [
                "npu.load",
                "npu.freq",
                "dmc.freq",
                "cpu.freq",
                "thermal",
                "proc.rss",
                "proc.hwm",
                "proc.cpu",
                "mem.available"
            ]
        );
        assert!(s.take_batch().is_none());
        assert!(s.latest().is_empty());
        let facts = s.facts();
        assert_eq!(facts[0].key, "telemetry.interval_ms");
        assert!(facts
            .iter()
            .any(|f| f.key == "telemetry.npu.load" && f.value == "unavailable (not present)"));
        assert!(s.stop().is_none());
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn unparsable_source_is_absent_with_its_content() {
        let dir = std::env::temp_dir().join(format!("rkbench-tele-bad-{}", std::process::id()));
        let npu = dir.join("sys/class/devfreq/fdab0000.npu");
        let dbg = dir.join("sys/kernel/debug/rknpu");
        std::fs::create_dir_all(&npu).unwrap();
        std::fs::create_dir_all(&dbg).unwrap();
        std::fs::write(npu.join("cur_freq"), "n/a\n").unwrap();
        std::fs::write(dbg.join("load"), "weird\n").unwrap();
        let p = Probe::discover(&SysRoot(dir.clone()));
        let get = |k: &str| p.absent().iter().find(|(a, _)| a == k).unwrap().1.clone();
        assert!(
            get("npu.freq").contains("not an integer"),
            "{}",
            get("npu.freq")
        );
        assert!(get("npu.load").contains("unrecognised format"));
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn steady_state_sampling_keeps_its_buffers() {
        // No allocation per sample: the read buffer, the value vector and the reserved columns
        // keep their storage across many samples.
        let mut p = Probe::discover(&fixture("rk3588-throttling"));
        let mut cols = Columns::new(p.keys().len(), RESERVED_SAMPLES);
        let (buf_ptr, val_ptr) = (p.buf.as_ptr(), p.values.as_ptr());
        let col_ptrs: Vec<*const i64> = cols.values.iter().map(|c| c.as_ptr()).collect();
        for t in 0..500 {
            let v = p.sample_once();
            cols.push(t, v);
        }
        assert_eq!(p.buf.as_ptr(), buf_ptr);
        assert_eq!(p.values.as_ptr(), val_ptr);
        let after: Vec<*const i64> = cols.values.iter().map(|c| c.as_ptr()).collect();
        assert_eq!(after, col_ptrs);
        let b = cols.take(p.keys()).unwrap();
        assert_eq!(b.t_us.len(), 500);
        assert!(b.series.iter().all(|s| s.values.len() == 500));
        // Cleared, capacity kept.
        assert!(cols.t_us.is_empty() && cols.t_us.capacity() >= RESERVED_SAMPLES);
        assert!(cols.take(p.keys()).is_none());
    }

    #[test]
    fn sampler_thread_batches_on_the_recorder_clock() {
        let origin = Instant::now();
        let s = Sampler::start(
            fixture("rk3588-throttling"),
            Duration::from_millis(2),
            origin,
        );
        std::thread::sleep(Duration::from_millis(40));
        let b1 = s.take_batch().expect("samples after 40 ms");
        assert!(!b1.t_us.is_empty());
        assert!(b1.t_us.windows(2).all(|w| w[0] <= w[1]));
        assert!(b1.series.iter().all(|x| x.values.len() == b1.t_us.len()));
        let npu = b1.series.iter().find(|x| x.key == "npu.freq").unwrap();
        assert_eq!(npu.unit, "Hz");
        assert_eq!(npu.values[0], 1_000_000_000);
        let latest = s.latest();
        assert!(latest.iter().any(|(k, _)| k == "thermal.npu-thermal"));
        assert!(!latest.iter().any(|(k, _)| k == "dmc.freq"));
        assert!(progress_line(&latest).contains("NPU"));
        let last = s.stop().expect("stop takes a final sample");
        assert!(last.t_us[0] >= *b1.t_us.last().unwrap());
        let elapsed = micros(origin.elapsed());
        assert!(*last.t_us.last().unwrap() <= elapsed);
    }

    #[test]
    fn real_root_is_safe_on_any_machine() {
        // Whatever this machine has (a laptop, a container, a board), discovery and sampling
        // must not panic, and every source is either sampled or explained.
        let mut p = Probe::discover(&SysRoot::default());
        let n = p.keys().len();
        assert_eq!(p.sample_once().len(), n);
        assert!(p.absent().iter().all(|(_, r)| !r.is_empty()));
        eprintln!("keys {:?}\nabsent {:?}", p.keys(), p.absent());
    }

    #[test]
    fn sampler_can_be_shared_with_a_progress_thread() {
        fn send_sync<T: Send + Sync>() {}
        send_sync::<Sampler>();
    }

    #[test]
    fn progress_line_formats() {
        let l = vec![
            ("npu.load.core0".to_string(), 87),
            ("npu.load.core1".to_string(), 86),
            ("npu.freq".to_string(), 1_000_000_000),
            ("dmc.freq".to_string(), 2_112_000_000),
            ("thermal.soc-thermal".to_string(), 46153),
            ("thermal.npu-thermal".to_string(), 47100),
            ("proc.rss".to_string(), 5_146_820),
        ];
        assert_eq!(
            progress_line(&l),
            "NPU 87/86 % 1000 MHz · DDR 2112 MHz · max 47.1 °C (npu-thermal) · RSS 5026 MB"
        );
        assert_eq!(progress_line(&[]), "");
    }
}
