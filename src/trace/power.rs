//! Power readings taken while a run was recorded (format 1.2, kinds 24–25): the source and its
//! idle window, then the raw samples. Older readers skip these kinds. Samples are kept as the
//! source gave them (value and counter in the source's own units, with the time each was asked
//! for and answered on the token clock); energy is computed from them only in the analysis
//! (`stats::energy`), so a better method later reads the same traces.
use rkyv::{Archive, Deserialize, Serialize};

/// Frame kinds of this module (reserved for power: 24–25).
pub mod kind {
    pub const POWER_SOURCE: u8 = 24;
    pub const POWER_SAMPLES: u8 = 25;
}

/// The power source (`--power`) and the idle window measured before the first request.
#[derive(Archive, Serialize, Deserialize, Debug, Clone, PartialEq, Default)]
pub struct PowerSource {
    /// `--power` as given, any secret left out (a Home Assistant token is never in it: it comes
    /// from the environment).
    pub spec: String,
    /// `hwmon`, `shelly`, `tasmota`, `homeassistant` or `cmd`.
    pub kind: String,
    /// What answered: e.g. `ina226 (hwmon0) power1_input`, `Shelly Gen2 Switch id 0`.
    pub device: String,
    /// Polling period (µs).
    pub interval_us: u64,
    /// The idle window (`--power-baseline`), µs since the run's clock origin; equal = none.
    pub idle_from_us: u64,
    pub idle_to_us: u64,
    /// The idle window after the last request (`--power-baseline 10s,after`); equal = none. A
    /// run that measures it writes this record again at its end; the last one read wins.
    pub idle_after_from_us: u64,
    pub idle_after_to_us: u64,
}

/// A batch of raw power samples, columnar (one entry per sample in every column).
#[derive(Archive, Serialize, Deserialize, Debug, Clone, PartialEq, Default)]
pub struct PowerSamples {
    /// When the reading was asked for / answered, µs since the run's clock origin.
    pub requested_us: Vec<u64>,
    pub received_us: Vec<u64>,
    /// The power reading in `unit`; NaN = none (the source failed: see `error`).
    pub value: Vec<f64>,
    /// `uW`, `mW`, `W` or `kW` (anything else is not a power and is refused by the analysis).
    pub unit: String,
    /// The source's cumulative energy counter in `counter_unit`; NaN = none.
    pub counter: Vec<f64>,
    /// `uJ`, `J`, `Wmin`, `Wh` or `kWh`; empty = the source has no counter.
    pub counter_unit: String,
    /// Why the reading failed (no answer, unparsable); empty = answered.
    pub error: Vec<String>,
}

impl PowerSamples {
    pub fn len(&self) -> usize {
        self.requested_us.len()
    }

    pub fn is_empty(&self) -> bool {
        self.requested_us.is_empty()
    }

    /// A batch is well-formed when every column has one entry per sample and no answer came
    /// before its request. The reader keeps only well-formed batches (the rest are counted).
    pub fn validate(&self) -> Result<(), String> {
        let n = self.len();
        if self.received_us.len() != n
            || self.value.len() != n
            || self.counter.len() != n
            || self.error.len() != n
        {
            return Err("power sample columns of different lengths".into());
        }
        if let Some(i) = (0..n).find(|&i| self.received_us[i] < self.requested_us[i]) {
            return Err(format!("power sample {i} answered before it was asked for"));
        }
        Ok(())
    }
}

/// The power records of a trace (empty for a run without `--power`).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PowerRecords {
    pub source: Option<PowerSource>,
    /// Well-formed batches in file order (a batch [`PowerSamples::validate`] refuses is dropped
    /// as an impossible frame, [`super::Impossible`], like any other kind).
    pub samples: Vec<PowerSamples>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_batch_with_ragged_columns_or_answers_before_requests_is_refused() {
        let ok = PowerSamples {
            requested_us: vec![1, 5],
            received_us: vec![2, 5],
            value: vec![1.0, f64::NAN],
            unit: "W".into(),
            counter: vec![f64::NAN, f64::NAN],
            counter_unit: String::new(),
            error: vec![String::new(), "timeout".into()],
        };
        assert!(ok.validate().is_ok());
        let mut short = ok.clone();
        short.value.pop();
        assert!(short.validate().is_err());
        let mut early = ok.clone();
        early.received_us[0] = 0;
        assert!(early.validate().unwrap_err().contains("sample 0"));
    }

    #[test]
    fn power_frames_read_back_and_a_malformed_batch_is_counted_not_kept() {
        use crate::trace::{encode_frame, encode_record, file_header, reader, Record, RunHeader};
        let good = PowerSamples {
            requested_us: vec![10],
            received_us: vec![12],
            value: vec![2.5],
            unit: "W".into(),
            counter: vec![f64::NAN],
            counter_unit: String::new(),
            error: vec![String::new()],
        };
        let mut bad = good.clone();
        bad.error.clear();
        let source = PowerSource {
            spec: "cmd:x".into(),
            kind: "cmd".into(),
            idle_to_us: 5,
            ..Default::default()
        };
        let mut out = file_header(0).to_vec();
        let recs = [
            Record::Header(RunHeader::default()),
            Record::PowerSource(source.clone()),
            Record::PowerSamples(good.clone()),
            Record::PowerSamples(bad),
        ];
        for (i, r) in recs.iter().enumerate() {
            let (k, p) = encode_record(r).unwrap();
            encode_frame(i as u32, k, &p, &mut out);
        }
        let t = reader::parse(&out, "t".into()).unwrap();
        assert_eq!(t.power.source, Some(source));
        assert_eq!(t.power.samples.len(), 1);
        assert_eq!(t.power.samples[0].value, good.value);
        let dropped: Vec<&str> = t.impossible.iter().map(|i| i.record).collect();
        assert_eq!(dropped, [crate::trace::validate::POWER_SAMPLES]);
        assert_eq!(t.skipped_unknown, 0);
    }
}
