//! A hostile world while reading (issue #16): directories, a huge tail of zeros, a flipped bit
//! in the file header. Through the real binary on copies of the committed traces.
mod common;
use common::*;
use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

fn committed_copy(dir: &std::path::Path) -> PathBuf {
    let p = dir.join("t.rktrace");
    std::fs::copy(root().join("traces/qwen3-4b-sim-default.rktrace"), &p).unwrap();
    p
}

// F13: `verify DIR` gives one clear line naming the directory and what to pass instead.
#[test]
fn f13_verify_a_directory_says_what_to_do() {
    let dir = tempdir("h-f13");
    let o = run(&["verify", &dir.display().to_string()], &[]);
    assert_eq!(o.status.code(), Some(5));
    let s = stdout(&o);
    assert!(
        s.contains("is a directory") && s.contains("*.rktrace") && !s.contains("os error"),
        "{s}"
    );
    assert_eq!(s.trim_end().lines().count(), 1, "{s}");
    // report refuses it the same way, with the bad-input code.
    let o = run(&["report", &dir.display().to_string()], &[]);
    assert_eq!(o.status.code(), Some(3), "{}", stderr(&o));
    assert!(stderr(&o).contains("is a directory"), "{}", stderr(&o));
}

// F10: a tail of 64 GiB of zeros (sparse) is a torn tail decided from one frame header: verify
// answers at once. The limit only guards against a hang; the old byte-by-byte scan took minutes
// and gigabytes of memory here.
#[test]
fn f10_huge_tail_of_zeros_is_a_torn_tail_read_in_bounded_time() {
    let dir = tempdir("h-f10");
    let p = committed_copy(&dir);
    let len = std::fs::metadata(&p).unwrap().len();
    let f = std::fs::OpenOptions::new().write(true).open(&p).unwrap();
    f.set_len(len + (64 << 30)).unwrap();
    drop(f);
    let mut child = Command::new(bin())
        .args(["verify", &p.display().to_string()])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let start = Instant::now();
    while child.try_wait().unwrap().is_none() {
        if start.elapsed() > Duration::from_secs(60) {
            let _ = child.kill();
            panic!("verify did not finish on a sparse tail of zeros");
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    let o = child.wait_with_output().unwrap();
    assert_eq!(o.status.code(), Some(5));
    assert!(
        stdout(&o).contains(&format!("truncated at byte {len}")),
        "{}",
        stdout(&o)
    );
    let _ = std::fs::remove_file(&p);
}

// F16: one flipped bit in the 16-byte file header: a precise line from verify (exit 5), and
// the intact trace is still reported — never "format 0.0 is newer", never "a journal".
#[test]
fn f16_flipped_header_bits_are_named_and_the_trace_still_reports() {
    let dir = tempdir("h-f16");
    let p = committed_copy(&dir);
    let good = std::fs::read(&p).unwrap();
    let clean = stdout(&run(
        &["report", "--format", "json", &p.display().to_string()],
        &[],
    ));
    for (byte, bit, field) in [
        (3usize, 2u8, "magic"),
        (8, 0, "format major version 0"),
        (9, 7, "format major version"),
        (12, 0, "journal flag is set"),
        (14, 3, "unknown flag bits"),
    ] {
        let mut b = good.clone();
        b[byte] ^= 1 << bit;
        std::fs::write(&p, &b).unwrap();
        let v = run(&["verify", &p.display().to_string()], &[]);
        let s = stdout(&v);
        assert_eq!(v.status.code(), Some(5), "byte {byte}: {s}");
        assert!(
            s.contains("damaged file header") && s.contains(field),
            "byte {byte}: {s}"
        );
        assert!(
            !s.contains("newer") && !s.contains("is a checkpoint journal"),
            "{s}"
        );
        let r = run(
            &["report", "--format", "json", &p.display().to_string()],
            &[],
        );
        assert_eq!(r.status.code(), Some(0), "byte {byte}: {}", stderr(&r));
        let v: serde_json::Value = serde_json::from_slice(&r.stdout).unwrap();
        let c: serde_json::Value = serde_json::from_str(&clean).unwrap();
        assert_eq!(v["requests"], c["requests"], "byte {byte}: same figures");
    }
}

/// The fuzz seeds (a crashed run's trace + journal, whole and damaged) are what they say they
/// are, and every renderer handles what the reader recovers from them (the fuzz target's path).
#[test]
fn fuzz_seeds_exercise_the_journal_merge_and_every_renderer() {
    use rkbench::report::{render, Format};
    use rkbench::trace::reader::{parse_with_journal, JournalCheck};
    let seed = |name: &str| {
        let b = fuzz_seed(name);
        let at = journal_start(&b).unwrap();
        parse_with_journal(&b[..at], &b[at..]).unwrap()
    };
    let whole = seed("crashed-run.bin");
    assert!(matches!(
        whole.journal,
        JournalCheck::Merged {
            requests: 1,
            damage: None,
            ..
        }
    ));
    assert_eq!(whole.trace.requests.len(), 2);
    for name in ["journal-corrupt-frame.bin", "journal-torn.bin"] {
        let c = seed(name);
        assert!(
            matches!(
                c.journal,
                JournalCheck::Merged {
                    damage: Some(_),
                    ..
                }
            ),
            "{name}: {:?}",
            c.journal
        );
        assert_eq!(c.problems().len(), 1, "{name}");
    }
    let foreign = seed("journal-foreign.bin");
    assert!(matches!(foreign.journal, JournalCheck::NotMerged { .. }));
    assert_eq!(foreign.trace.requests.len(), 1);
    let flag = seed("journal-flag-cleared.bin");
    assert!(matches!(
        flag.journal,
        JournalCheck::Merged {
            damage: Some(_),
            requests: 1,
            ..
        }
    ));
    let zeros = seed("trace-zero-tail.bin");
    assert!(matches!(
        zeros.trace.damage,
        Some(rkbench::trace::Damage::Truncated { .. })
    ));
    assert!(matches!(
        zeros.journal,
        JournalCheck::Merged { requests: 1, .. }
    ));
    for c in [whole, foreign, flag, zeros] {
        for f in [Format::Json, Format::Markdown, Format::Csv, Format::Html] {
            assert!(!render(&c.trace, f).is_empty());
        }
        // The timeline of a damaged trace is still a trace-event file a viewer opens.
        let timeline: serde_json::Value =
            serde_json::from_str(&render(&c.trace, Format::Perfetto)).unwrap();
        assert!(timeline["traceEvents"].is_array());
    }
}
