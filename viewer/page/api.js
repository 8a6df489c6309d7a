// window.rkbench: rkbench's replay commands in the page (documented in docs/VIEWER.md).
// The work is done by rkbench's own Rust code (reader, analysis, renderers) compiled to
// WebAssembly (viewer/src); this file only moves bytes in and text out.
(function (global) {
  "use strict";
  const COMMAND = { report: 1, verify: 2, compare: 3, fleet: 4, sweep: 5 };
  const utf8 = new TextEncoder();
  const text = new TextDecoder("utf-8");
  let module = null;
  let instance = null;
  // A second instance, ready to take over at once if a run traps (a bug: the module aborts on a
  // panic and its state cannot be trusted after that).
  let spare = null;
  // The report formats this build knows, found at load (see `ready`).
  let formats = [];

  function decodeBase64(s) {
    const bin = atob(s);
    const out = new Uint8Array(bin.length);
    for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
    return out;
  }

  function newSpare() {
    spare = null;
    WebAssembly.instantiate(module, {}).then((i) => { spare = i; });
  }

  const ready = (async () => {
    module = await WebAssembly.compile(decodeBase64(global.RKBENCH_WASM));
    instance = await WebAssembly.instantiate(module, {});
    spare = await WebAssembly.instantiate(module, {});
    formats = [];
    for (const f of ["md", "json", "csv", "html", "perfetto"]) {
      // The module reads the format as the CLI reads --format, before the trace: an unknown
      // one is refused with usage (2), a known one goes on to read the (empty) file (3).
      if (run("report", f, [{ bytes: new Uint8Array(0), fileName: "probe" }]).code !== 2) {
        formats.push(f);
      }
    }
    return api;
  })();

  function bytesOf(x, what) {
    if (x instanceof Uint8Array) return x;
    if (x instanceof ArrayBuffer) return new Uint8Array(x);
    if (ArrayBuffer.isView(x)) return new Uint8Array(x.buffer, x.byteOffset, x.byteLength);
    throw new TypeError(`rkbench: ${what} must be a Uint8Array or an ArrayBuffer`);
  }

  function fileOf(f, what) {
    if (!f || typeof f !== "object" || !("bytes" in f)) {
      throw new TypeError(`rkbench: ${what} must be {bytes, fileName}`);
    }
    return {
      bytes: bytesOf(f.bytes, `${what}.bytes`),
      fileName: String(f.fileName ?? ""),
      journal: f.journal == null ? null : bytesOf(f.journal, `${what}.journal`),
    };
  }

  const pad16 = (n) => (n + 15) & ~15;

  // The request layout viewer/src/lib.rs `parse` reads: command, file count (u32 LE), then
  // blobs (u32 length or 0xffffffff = absent, zeros to 16, bytes, zeros to 16): the format,
  // then per file its name, bytes and journal.
  function encode(command, format, files) {
    const blobs = [utf8.encode(format)];
    for (const f of files) blobs.push(utf8.encode(f.fileName), f.bytes, f.journal);
    let size = 8;
    for (const b of blobs) {
      size += 4;
      if (b !== null) size = pad16(pad16(size) + b.length);
    }
    return {
      size,
      write(mem) {
        const dv = new DataView(mem.buffer, mem.byteOffset, size);
        dv.setUint32(0, command, true);
        dv.setUint32(4, files.length, true);
        let at = 8;
        for (const b of blobs) {
          dv.setUint32(at, b === null ? 0xffffffff : b.length, true);
          at += 4;
          if (b !== null) {
            at = pad16(at);
            mem.set(b, at);
            at = pad16(at + b.length);
          }
        }
      },
    };
  }

  // One command, as the CLI runs it: {code, stdout, stderr}.
  function run(command, format, files) {
    if (!instance) throw new Error("rkbench: the module is still loading: await window.rkbench.ready first");
    const cmd = COMMAND[command];
    if (!cmd) throw new TypeError(`rkbench: unknown command ${JSON.stringify(command)}; use report, verify, compare, fleet or sweep`);
    const req = encode(cmd, String(format ?? ""), files.map((f, i) => fileOf(f, `file ${i}`)));
    const e = instance.exports;
    const ptr = e.rkb_request(req.size);
    req.write(new Uint8Array(e.memory.buffer, ptr, req.size));
    const read = (p, n) => text.decode(new Uint8Array(e.memory.buffer, p, n));
    let code;
    try {
      code = e.rkb_run();
    } catch (trap) {
      // The module's panic hook left the CLI's line for the bug in stderr before it aborted.
      let stderr = "";
      try { stderr = read(e.rkb_stderr_ptr(), e.rkb_stderr_len()); } catch (_) { /* keep the trap */ }
      instance = spare;
      newSpare();
      return { code: 1, stdout: "", stderr: stderr || `rkbench: error: ${trap}\n` };
    }
    return {
      code,
      stdout: read(e.rkb_stdout_ptr(), e.rkb_stdout_len()),
      stderr: read(e.rkb_stderr_ptr(), e.rkb_stderr_len()),
    };
  }

  // A failed command: message = the CLI's error line; code = its exit code; stderr = all of
  // what it wrote to stderr (warnings first).
  class RkbenchError extends Error {
    constructor(outcome) {
      const lines = outcome.stderr.trimEnd().split("\n");
      super(lines[lines.length - 1]);
      this.name = "RkbenchError";
      this.code = outcome.code;
      this.stderr = outcome.stderr;
    }
  }

  function stdoutOrThrow(outcome, okCodes = [0]) {
    if (!okCodes.includes(outcome.code)) throw new RkbenchError(outcome);
    return outcome.stdout;
  }

  const list = (x) => (Array.isArray(x) ? x : [x]);

  const api = {
    ready,
    get formats() { return formats.slice(); },
    run,
    report(bytes, format, fileName, journal) {
      return stdoutOrThrow(run("report", format, [{ bytes, fileName, journal }]));
    },
    verify(bytes, fileName, journal) {
      // Exit code 5 (damaged) is a result, not an error: the text says what is wrong.
      return stdoutOrThrow(run("verify", "", [{ bytes, fileName, journal }]), [0, 5]);
    },
    compare(baseline, candidate, format = "md") {
      return stdoutOrThrow(run("compare", format, [baseline, ...list(candidate)]));
    },
    fleet(files, format = "md") {
      return stdoutOrThrow(run("fleet", format, list(files)));
    },
    sweep(files, format = "md") {
      // The module takes the index first: DIR/index.json, then DIR's files.
      const all = list(files);
      const isIndex = (f) => /(^|\/)index\.json$/.test(String(f.fileName));
      const index = all.filter(isIndex);
      if (index.length !== 1) throw new TypeError("rkbench: a sweep is its DIR/index.json and DIR's trace files");
      return stdoutOrThrow(run("sweep", format, [index[0], ...all.filter((f) => !isIndex(f))]));
    },
    RkbenchError,
  };
  global.rkbench = api;
})(globalThis);
