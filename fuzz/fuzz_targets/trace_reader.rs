//! Fuzz the trace reader (validated rkyv access only), the journal merge and all four renderers
//! over what they recover: any bytes must give a clean error or a recovered prefix, never a
//! panic, a hang or UB.
//!
//! An input is a trace, optionally followed by the journal beside it: the journal starts at the
//! second "RKBTRACE" magic (so a plain trace is a valid input, and the seeds in fuzz/seeds are a
//! crashed run's trace and journal, whole and damaged, concatenated).
#![no_main]
use libfuzzer_sys::fuzz_target;
use rkbench::report::{render, render_with, CsvPer, Format, Options};
use rkbench::trace::reader;

fuzz_target!(|data: &[u8]| {
    let split = data
        .windows(8)
        .skip(1)
        .position(|w| w == rkbench::trace::MAGIC)
        .map(|i| i + 1);
    let checked = match split {
        Some(at) => reader::parse_with_journal(&data[..at], &data[at..]),
        None => reader::parse_with_journal(data, &[]),
    };
    if let Ok(c) = checked {
        let _ = c.problems();
        for f in [
            Format::Json,
            Format::Markdown,
            Format::Csv,
            Format::Html,
            Format::Perfetto,
        ] {
            let _ = render(&c.trace, f);
        }
        let per_token = Options {
            csv_per: CsvPer::Token,
            ..Options::default()
        };
        let _ = render_with(&c.trace, Format::Csv, per_token);
    }
    // The journal on its own is also a file a user may pass.
    if let Some(at) = split {
        let _ = reader::parse_journal(&data[at..], "fuzz.rktrace.journal".into());
    }
});
