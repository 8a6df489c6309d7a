//! Every bad input gets one clear line naming the file or flag and what to do, and a
//! documented exit code; never a panic.
mod common;
use common::*;

fn one_line_error(o: &std::process::Output) -> String {
    let e = stderr(o);
    let lines: Vec<&str> = e
        .lines()
        .filter(|l| l.starts_with("rkbench: error:"))
        .collect();
    assert_eq!(lines.len(), 1, "expected one error line, got:\n{e}");
    assert!(!e.contains("panicked"), "{e}");
    lines[0].to_string()
}

#[test]
fn missing_library() {
    let dir = tempdir("err-nolib");
    let o = record(
        &dir.join("nope/librkllmrt.so"),
        &dir.join("t.rktrace"),
        &[],
        &[],
    );
    assert_eq!(o.status.code(), Some(3));
    let l = one_line_error(&o);
    assert!(
        l.contains("nope/librkllmrt.so not found") && l.contains("--lib"),
        "{l}"
    );
}

#[test]
fn not_an_elf_library() {
    let dir = tempdir("err-notelf");
    let lib = dir.join("librkllmrt.so");
    std::fs::write(&lib, "this is text").unwrap();
    let o = record(&lib, &dir.join("t.rktrace"), &[], &[]);
    assert_eq!(o.status.code(), Some(3));
    assert!(one_line_error(&o).contains("is not an ELF shared library"));
}

/// A device or a FIFO given as the library is refused at once: `/dev/zero` was read without
/// bound (gigabytes in seconds) and a FIFO hung `record` and `info`.
#[test]
fn a_device_or_fifo_library_is_refused_not_read() {
    let dir = tempdir("err-devlib");
    let fifo = dir.join("librkllmrt.so");
    let made = std::process::Command::new("mkfifo").arg(&fifo).status();
    assert!(made.is_ok_and(|s| s.success()), "mkfifo");
    for (lib, what) in [
        (std::path::PathBuf::from("/dev/zero"), "a character device"),
        (fifo, "a FIFO"),
    ] {
        let o = record(&lib, &dir.join("t.rktrace"), &[], &[]);
        assert_eq!(o.status.code(), Some(3), "{}", stderr(&o));
        let l = one_line_error(&o);
        assert!(
            l.contains("cannot read runtime library") && l.contains(what) && l.contains("--lib"),
            "{l}"
        );
        // `info` reports what it can and says why the library is not read.
        let o = run(&["info", "--lib", lib.to_str().unwrap()], &[]);
        assert!(o.status.success(), "{}", stderr(&o));
        let out = stdout(&o);
        assert!(
            out.lines()
                .any(|l| l.starts_with("runtime.file") && l.contains(what)),
            "{out}"
        );
    }
}

#[test]
fn wrong_architecture() {
    let dir = tempdir("err-arch");
    let lib = dir.join("librkllmrt.so");
    // A 64-bit ELF header for a foreign machine (armhf-like 32-bit class and x86/aarch64 swap).
    let mut h = vec![0u8; 64];
    h[..4].copy_from_slice(b"\x7fELF");
    h[4] = 1; // 32-bit
    h[5] = 1;
    h[16] = 3; // ET_DYN
    h[18] = 40; // EM_ARM
    std::fs::write(&lib, &h).unwrap();
    let o = record(&lib, &dir.join("t.rktrace"), &[], &[]);
    assert_eq!(o.status.code(), Some(3));
    let l = one_line_error(&o);
    assert!(
        l.contains("is built for arm (32-bit, armhf)") && l.contains("but this rkbench runs on"),
        "{l}"
    );
    h[4] = 2;
    h[18] = if cfg!(target_arch = "x86_64") {
        183
    } else {
        62
    };
    std::fs::write(&lib, &h).unwrap();
    let o = record(&lib, &dir.join("t.rktrace"), &[], &[]);
    let l = one_line_error(&o);
    assert!(
        l.contains("is built for aarch64") || l.contains("is built for x86_64"),
        "{l}"
    );
}

#[test]
fn missing_symbol() {
    let dir = tempdir("err-sym");
    let src = dir.join("lib.c");
    std::fs::write(&src, "const char banner[] = \"rkllm-runtime version: 1.2.1\";\nint rkllm_init(void){return 0;}\nint rkllm_set_chat_template(void){return 0;}\nint rkllm_get_kv_cache_size(void){return 0;}\n").unwrap();
    let lib = dir.join("librkllmrt.so");
    let st = std::process::Command::new("cc")
        .args(["-shared", "-fPIC", "-o"])
        .arg(&lib)
        .arg(&src)
        .status()
        .unwrap();
    assert!(st.success());
    let o = record(&lib, &dir.join("t.rktrace"), &[], &[]);
    assert_eq!(o.status.code(), Some(4));
    let l = one_line_error(&o);
    assert!(l.contains("has no symbol rkllm_createDefaultParam"), "{l}");
}

#[test]
fn unknown_runtime_version_and_bad_abi_flag() {
    let dir = tempdir("err-ver");
    let src = dir.join("lib.c");
    std::fs::write(&src, "const char banner[] = \"rkllm-runtime version: 9.9.9\";\nint rkllm_init(void){return 0;}\n").unwrap();
    let lib = dir.join("librkllmrt.so");
    assert!(std::process::Command::new("cc")
        .args(["-shared", "-fPIC", "-o"])
        .arg(&lib)
        .arg(&src)
        .status()
        .unwrap()
        .success());
    let o = record(&lib, &dir.join("t.rktrace"), &[], &[]);
    assert_eq!(o.status.code(), Some(4));
    let l = one_line_error(&o);
    assert!(
        l.contains("version 9.9.9") && l.contains("--runtime-abi"),
        "{l}"
    );
    let o = record(&lib, &dir.join("t.rktrace"), &["--runtime-abi", "2.0"], &[]);
    assert_eq!(o.status.code(), Some(2));
    assert!(one_line_error(&o).contains("--runtime-abi"));
}

#[test]
fn missing_model() {
    let dir = tempdir("err-model");
    let lib = c_lib("1.2.1");
    let o = run(
        &[
            "record",
            "-q",
            "--lib",
            &lib.display().to_string(),
            "--model",
            "/nonexistent/m.rkllm",
            "--out",
            &dir.join("t.rktrace").display().to_string(),
        ],
        &[],
    );
    assert_eq!(o.status.code(), Some(3));
    let l = one_line_error(&o);
    assert!(
        l.contains("model file /nonexistent/m.rkllm") && l.contains("--model"),
        "{l}"
    );
}

#[test]
fn init_failure_names_the_code() {
    let dir = tempdir("err-init");
    let out = dir.join("t.rktrace");
    let o = record(&c_lib("1.2.1"), &out, &[], &[("C_RKLLM_INIT_FAIL", "-7")]);
    assert_eq!(o.status.code(), Some(4));
    let l = one_line_error(&o);
    assert!(l.contains("rkllm_init failed with code -7"), "{l}");
    // The trace still records what was attempted, with a failed run end.
    let t = read_trace(&out);
    assert_eq!(t.end.unwrap().status, rkbench::trace::RunStatus::Failed);
}

#[test]
fn bad_suite_file() {
    let dir = tempdir("err-suite");
    let suite = dir.join("s.json");
    std::fs::write(
        &suite,
        "{\n  \"name\": \"x\",\n  \"tests\": [ { \"id\": \"a\", \"promt\": \"hi\" } ]\n}\n",
    )
    .unwrap();
    let o = record(
        &c_lib("1.2.1"),
        &dir.join("t.rktrace"),
        &["--suite", &suite.display().to_string()],
        &[],
    );
    assert_eq!(o.status.code(), Some(3));
    let l = one_line_error(&o);
    assert!(l.contains("s.json:3:") && l.contains("promt"), "{l}");
}

#[test]
fn corrupt_and_truncated_traces() {
    let dir = tempdir("err-trace");
    let out = dir.join("t.rktrace");
    let o = record(&c_lib("1.2.1"), &out, &["--suite", "quick"], &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    let bytes = std::fs::read(&out).unwrap();
    // Truncated: report warns and covers the valid part; verify says where.
    let cut = dir.join("cut.rktrace");
    std::fs::write(&cut, &bytes[..bytes.len() - 7]).unwrap();
    let v = run(&["verify", &cut.display().to_string()], &[]);
    assert_eq!(v.status.code(), Some(5));
    assert!(stdout(&v).contains("truncated at byte"), "{}", stdout(&v));
    let r = run(&["report", &cut.display().to_string()], &[]);
    assert!(r.status.success());
    assert!(stderr(&r).contains("reporting the valid part"));
    assert!(stdout(&r).contains("Damaged trace"));
    // Corrupt in the middle.
    let mut bad = bytes.clone();
    let mid = bytes.len() / 2;
    bad[mid] ^= 0x55;
    let badp = dir.join("bad.rktrace");
    std::fs::write(&badp, &bad).unwrap();
    let v = run(&["verify", &badp.display().to_string()], &[]);
    assert_eq!(v.status.code(), Some(5));
    assert!(stdout(&v).contains("corrupt frame"), "{}", stdout(&v));
    // Not a trace at all.
    let notp = dir.join("not.rktrace");
    std::fs::write(&notp, "hello").unwrap();
    let v = run(&["verify", &notp.display().to_string()], &[]);
    assert!(stdout(&v).contains("not a trace"));
    let r = run(&["report", &notp.display().to_string()], &[]);
    assert_eq!(r.status.code(), Some(3));
    assert!(one_line_error(&r).contains("is not an rkbench trace"));
}

#[test]
fn usage_errors_exit_2() {
    let o = run(&["record"], &[]);
    assert_eq!(o.status.code(), Some(2));
    let o = run(&["report"], &[]);
    assert_eq!(o.status.code(), Some(2));
    let o = run(&["bogus"], &[]);
    assert_eq!(o.status.code(), Some(2));
    let o = run(&["record", "--model", "x", "--timeout", "soon"], &[]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("not a duration"));
}

#[test]
fn version_shows_provenance() {
    let o = run(&["--version"], &[]);
    assert!(o.status.success());
    let s = stdout(&o);
    for k in ["rkbench 0.", "commit: ", "target: ", "profile: ", "rustc: "] {
        assert!(s.contains(k), "{s}");
    }
}
