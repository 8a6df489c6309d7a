//! The module's exports: plain `extern "C"` functions with no generated glue. The only
//! `unsafe` in this crate is the `no_mangle` attribute each export needs (an exported symbol
//! name must not clash with another; these are all prefixed `rkb_`). No raw pointer is read
//! here: the page writes the request into a buffer this module owns, at the address it gave.
#![allow(unsafe_code)]
use rkyv::util::AlignedVec;
use std::cell::RefCell;

thread_local! {
    /// The request the page writes; 16-aligned so traces in it are validated in place.
    static REQUEST: RefCell<AlignedVec<16>> = RefCell::new(AlignedVec::new());
    static STDOUT: RefCell<String> = const { RefCell::new(String::new()) };
    static STDERR: RefCell<String> = const { RefCell::new(String::new()) };
    /// The first file of the request being run, for the panic hook's message.
    static NAME: RefCell<String> = const { RefCell::new(String::new()) };
}

/// A buffer of `len` zero bytes for the next request; its address (valid until the next call
/// of any export: memory may grow, so the page takes a fresh view of it).
// SAFETY: `rkb_request` is a name no other symbol of the module uses.
#[unsafe(no_mangle)]
pub extern "C" fn rkb_request(len: usize) -> *mut u8 {
    REQUEST.with(|r| {
        let mut r = r.borrow_mut();
        r.clear();
        r.resize(len, 0);
        r.as_mut_ptr()
    })
}

/// Run the request in the buffer; returns the CLI's exit code. A panic (a bug) aborts the
/// module (`panic = "abort"`) after the hook put the CLI's line for it in stderr; the page then
/// reads stderr and instantiates the module afresh.
// SAFETY: `rkb_run` is a name no other symbol of the module uses.
#[unsafe(no_mangle)]
pub extern "C" fn rkb_run() -> i32 {
    static HOOK: std::sync::Once = std::sync::Once::new();
    HOOK.call_once(|| std::panic::set_hook(Box::new(on_panic)));
    let outcome = REQUEST.with(|r| {
        let r = r.borrow();
        let name = crate::parse(&r)
            .and_then(|q| q.files.first().map(|f| f.name.to_string()))
            .unwrap_or_default();
        NAME.with(|n| *n.borrow_mut() = name);
        crate::run(&r)
    });
    REQUEST.with(|r| *r.borrow_mut() = AlignedVec::new());
    STDOUT.with(|o| *o.borrow_mut() = outcome.stdout);
    STDERR.with(|e| *e.borrow_mut() = outcome.stderr);
    outcome.code
}

fn on_panic(info: &std::panic::PanicHookInfo<'_>) {
    let name = NAME.with(|n| n.try_borrow().map(|n| n.clone()).unwrap_or_default());
    let line = format!("{}\n", rkbench::replay::panic_line(&name, info.payload()));
    STDOUT.with(|o| o.try_borrow_mut().map(|mut o| o.clear()).ok());
    STDERR.with(|e| e.try_borrow_mut().map(|mut e| *e = line).ok());
}

/// Where the last run's stdout (UTF-8) starts.
// SAFETY: `rkb_stdout_ptr` is a name no other symbol of the module uses.
#[unsafe(no_mangle)]
pub extern "C" fn rkb_stdout_ptr() -> *const u8 {
    STDOUT.with(|o| o.borrow().as_ptr())
}

/// The last run's stdout length in bytes.
// SAFETY: `rkb_stdout_len` is a name no other symbol of the module uses.
#[unsafe(no_mangle)]
pub extern "C" fn rkb_stdout_len() -> usize {
    STDOUT.with(|o| o.borrow().len())
}

/// Where the last run's stderr (UTF-8) starts.
// SAFETY: `rkb_stderr_ptr` is a name no other symbol of the module uses.
#[unsafe(no_mangle)]
pub extern "C" fn rkb_stderr_ptr() -> *const u8 {
    STDERR.with(|e| e.borrow().as_ptr())
}

/// The last run's stderr length in bytes.
// SAFETY: `rkb_stderr_len` is a name no other symbol of the module uses.
#[unsafe(no_mangle)]
pub extern "C" fn rkb_stderr_len() -> usize {
    STDERR.with(|e| e.borrow().len())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tests::f;

    /// The last run's output as the page reads it: the text at the exported address and length.
    fn out() -> (String, String) {
        let o = STDOUT.with(|o| o.borrow().clone());
        let e = STDERR.with(|e| e.borrow().clone());
        assert_eq!(rkb_stdout_ptr(), STDOUT.with(|o| o.borrow().as_ptr()));
        assert_eq!((rkb_stdout_len(), rkb_stderr_len()), (o.len(), e.len()));
        (o, e)
    }

    fn send(req: &[u8]) -> i32 {
        let p = rkb_request(req.len());
        assert_eq!(p as usize % 16, 0, "16-aligned");
        REQUEST.with(|r| r.borrow_mut().as_mut_slice().copy_from_slice(req));
        rkb_run()
    }

    #[test]
    fn the_exports_run_a_request_written_into_the_buffer() {
        let t = std::fs::read(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../traces/qwen3-0.6b-sim-context.rktrace"
        ))
        .unwrap();
        let req = crate::tests::encode(crate::REPORT, "json", &[f("t.rktrace", &t, None)]);
        assert_eq!(send(&req), 0);
        let (o, e) = out();
        assert!(o.starts_with('{') && e.is_empty(), "{o}{e}");
        let req = crate::tests::encode(
            crate::REPORT,
            "md",
            &[f("t.rktrace", b"not a trace at all", None)],
        );
        assert_eq!(send(&req), 3);
        let (o, e) = out();
        assert_eq!(o, "");
        assert_eq!(e, "rkbench: error: t.rktrace is not an rkbench trace (no RKBTRACE header); pass a .rktrace file written by `rkbench record`\n");
    }
}
