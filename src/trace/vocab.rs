//! The words a trace is written in: the sentinels, telemetry series keys, board-fact keys,
//! final callback states and the `unavailable (…)` convention. The recorder writes them and the
//! analysis reads them, so each is defined once, here.

/// A telemetry value that could not be read at that sample (`Series::values`).
pub const NOT_READ: i64 = i64::MIN;

/// The last callback state of a request (`RequestRecord::final_state`), as in `rkllm.h`.
pub mod final_state {
    /// `RKLLM_RUN_FINISH`.
    pub const FINISH: i32 = 2;
    /// `RKLLM_RUN_ERROR`.
    pub const ERROR: i32 = 3;
    /// Neither arrived (aborted, hung or crashed before the end).
    pub const NONE: i32 = -1;
}

/// A board fact or telemetry source that could not be read: `unavailable (reason)`.
pub fn unavailable(reason: &str) -> String {
    format!("unavailable ({reason})")
}

/// The reason of an [`unavailable`] value, or `None` for a value that was read.
pub fn unavailable_reason(value: &str) -> Option<&str> {
    value.strip_prefix("unavailable (")?.strip_suffix(')')
}

/// Telemetry series keys (`Series::key`).
pub mod series {
    /// Prefix of the per-core NPU load columns, `npu.load.core0` …
    pub const NPU_LOAD: &str = "npu.load.";
    pub const NPU_FREQ: &str = "npu.freq";
    pub const DMC_FREQ: &str = "dmc.freq";
    /// Prefix of the per-policy CPU frequency columns, `cpu.policy4.freq` …
    pub const CPU: &str = "cpu.";
    pub const FREQ_SUFFIX: &str = ".freq";
    /// Prefix of the thermal-zone columns, `thermal.soc-thermal` …
    pub const THERMAL: &str = "thermal.";
    pub const PROC_RSS: &str = "proc.rss";
    pub const PROC_HWM: &str = "proc.hwm";
    pub const PROC_CPU: &str = "proc.cpu";
    /// The measured server's process (`record --server` against this machine), from
    /// `/proc/<pid>/`: the process that runs the model there, as rkbench's own does for a bare
    /// run.
    pub const SERVER_RSS: &str = "server.rss";
    pub const SERVER_HWM: &str = "server.hwm";
    pub const SERVER_CPU: &str = "server.cpu";
    pub const MEM_AVAILABLE: &str = "mem.available";
    /// Whole groups, as named in `telemetry.<group>` facts when a group is absent.
    pub const NPU_LOAD_GROUP: &str = "npu.load";
    pub const CPU_FREQ_GROUP: &str = "cpu.freq";
    pub const THERMAL_GROUP: &str = "thermal";

    pub fn npu_load(core: usize) -> String {
        format!("{NPU_LOAD}core{core}")
    }
    pub fn cpu_freq(policy: &str) -> String {
        format!("{CPU}{policy}{FREQ_SUFFIX}")
    }
    pub fn thermal(zone_type: &str) -> String {
        format!("{THERMAL}{zone_type}")
    }
}

/// Board-fact keys (`RunHeader::board`) that the recorder adds besides the board's own.
pub mod fact {
    /// Which clock the timestamps come from.
    pub const CLOCK: &str = "clock";
    /// Set to `unavailable (disabled by --no-telemetry)` when sampling was off.
    pub const TELEMETRY: &str = "telemetry";
    /// The three strings given with `--chat-template`.
    pub const CHAT_TEMPLATE_SYSTEM: &str = "chat_template.system";
    pub const CHAT_TEMPLATE_PREFIX: &str = "chat_template.prefix";
    pub const CHAT_TEMPLATE_POSTFIX: &str = "chat_template.postfix";
    /// Per-series telemetry facts: `telemetry.<series key>`.
    pub fn telemetry(series: &str) -> String {
        format!("{TELEMETRY}.{series}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unavailable_round_trips() {
        let v = unavailable("permission denied; run as root");
        assert_eq!(v, "unavailable (permission denied; run as root)");
        assert_eq!(
            unavailable_reason(&v),
            Some("permission denied; run as root")
        );
        assert_eq!(unavailable_reason("performance"), None);
        assert_eq!(series::cpu_freq("policy4"), "cpu.policy4.freq");
        assert_eq!(series::npu_load(2), "npu.load.core2");
        assert_eq!(fact::telemetry("npu.freq"), "telemetry.npu.freq");
    }
}
