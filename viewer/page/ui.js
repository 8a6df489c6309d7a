// The viewer page: files in (picker, directory picker, drag and drop), window.rkbench's
// outputs on the page. Nothing here computes a figure: every text shown comes from the module.
(function () {
  "use strict";
  const $ = (id) => document.getElementById(id);
  const out = $("out");
  const status = $("status");
  const EXT = { md: "md", json: "json", csv: "csv", html: "html", perfetto: "perfetto.json" };

  function el(tag, props = {}, ...kids) {
    const e = document.createElement(tag);
    Object.assign(e, props);
    for (const k of kids) e.append(k);
    return e;
  }

  function pre(textContent, err = false) {
    return el("pre", { textContent, className: err ? "err" : "" });
  }

  function download(name, textContent, type) {
    const url = URL.createObjectURL(new Blob([textContent], { type }));
    const a = el("a", { href: url, download: name });
    document.body.append(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(url), 1000);
  }

  const stem = (name) => name.replace(/^.*\//, "").replace(/\.rktrace$/, "");

  // A button per format that downloads what `render(format)` gives (or shows its error).
  function downloads(label, base, formats, render) {
    const bar = el("div", { className: "bar" }, label);
    const msg = el("span");
    for (const f of formats) {
      bar.append(el("button", {
        textContent: f,
        title: `download ${base}.${EXT[f] || f}`,
        onclick: () => {
          msg.textContent = "";
          try {
            download(`${base}.${EXT[f] || f}`, render(f), f === "html" ? "text/html" : "text/plain");
          } catch (e) {
            msg.textContent = e.message;
          }
        },
      }));
    }
    bar.append(msg);
    return bar;
  }

  function frame(html, id) {
    // No allow-scripts: the report has no script and none could run in it. Same origin keeps
    // the frame in the page's process (a sandboxed opaque-origin frame is moved to another
    // process, which headless Chromium's screenshots leave blank).
    const f = el("iframe", { srcdoc: html, title: id, id });
    f.setAttribute("sandbox", "allow-same-origin");
    return f;
  }

  function showReport(section, file) {
    section.replaceChildren(el("h2", { textContent: `Report: ${file.fileName}` }));
    const r = rkbench.run("report", "html", [file]);
    if (r.stderr) section.append(pre(r.stderr, r.code !== 0));
    if (r.code !== 0) return;
    section.append(
      downloads("Download:", stem(file.fileName), rkbench.formats,
        (f) => rkbench.report(file.bytes, f, file.fileName, file.journal)),
      frame(r.stdout, "report-frame"),
    );
  }

  // `ordered`: keep the order given (the baseline first) instead of sorting by name.
  // `index`: a sweep directory's DIR/index.json, shown as `rkbench report DIR` shows it.
  function show(files, note, ordered = false, index = null) {
    out.replaceChildren();
    if (files.length === 0) {
      status.textContent = "No trace files there (the viewer reads *.rktrace).";
      return;
    }
    if (!ordered) files.sort((a, b) => (a.fileName < b.fileName ? -1 : a.fileName > b.fileName ? 1 : 0));
    status.textContent = `${files.length} file${files.length > 1 ? "s" : ""}, read in this page.` + (note ? ` ${note}` : "");
    const v = rkbench.run("verify", "", files);
    out.append(el("h2", { textContent: "verify" }), Object.assign(pre(v.stdout + v.stderr, v.code !== 0), { id: "verify" }));
    const report = el("section");
    if (index) {
      const dir = index.fileName.replace(/\/index\.json$/, "");
      out.append(el("h2", { textContent: `sweep ${dir}` }));
      const all = [index, ...files];
      const t = rkbench.run("sweep", "md", all);
      out.append(Object.assign(pre(t.stdout + t.stderr, t.code !== 0), { id: "sweep" }));
      if (t.code === 0) {
        out.append(downloads("Download the sweep table:", dir.replace(/^.*\//, ""), ["md", "json"],
          (f) => rkbench.sweep(all, f)));
      }
    } else if (files.length === 2) {
      const [base, cand] = files;
      out.append(el("h2", { textContent: `compare: ${base.fileName} (baseline) → ${cand.fileName}` }));
      const swap = el("button", { textContent: "swap baseline and candidate", onclick: () => show([cand, base], note, true) });
      const c = rkbench.run("compare", "md", [base, cand]);
      out.append(el("div", { className: "bar" }, swap), Object.assign(pre(c.stdout + c.stderr, c.code !== 0), { id: "compare" }));
      if (c.code === 0) {
        out.append(downloads("Download the comparison:", `${stem(base.fileName)}-vs-${stem(cand.fileName)}`,
          ["md", "json", "csv"], (f) => rkbench.compare(base, cand, f)));
      }
    } else if (files.length > 2) {
      out.append(el("h2", { textContent: "fleet" }));
      const fleetFiles = files.map((f) => ({ ...f, fileName: f.fleetName }));
      const t = rkbench.run("fleet", "html", fleetFiles);
      if (t.stderr) out.append(pre(t.stderr, t.code !== 0));
      if (t.code === 0) {
        out.append(downloads("Download the fleet table:", "fleet", rkbench.formats.filter((f) => f !== "perfetto"),
          (f) => rkbench.fleet(fleetFiles, f)), frame(t.stdout, "fleet-frame"));
      }
    }
    if (files.length > 1) {
      const bar = el("div", { className: "bar files" }, "Report of:");
      for (const f of files) {
        const b = el("button", { className: "pick", textContent: f.fileName });
        b.onclick = () => {
          for (const x of bar.querySelectorAll("button")) x.classList.toggle("on", x === b);
          showReport(report, f);
        };
        bar.append(b);
      }
      out.append(bar);
    } else {
      showReport(report, files[0]);
    }
    out.append(report);
  }

  // Files (with the path the CLI would be given) → traces, each with the journal beside it.
  async function load(entries, fromDirectory) {
    status.textContent = "Reading…";
    const byName = new Map();
    for (const { file, path } of entries) byName.set(path, { file, path });
    const files = [];
    let index = null;
    for (const { file, path } of byName.values()) {
      // A sweep directory: its index at the top of the directory given.
      if (fromDirectory && /^[^/]+\/index\.json$/.test(path)) {
        index = { fileName: path, bytes: new Uint8Array(await file.arrayBuffer()) };
      }
      if (path.endsWith(".rktrace.journal") && byName.has(path.slice(0, -".journal".length))) continue;
      // A directory is walked as the CLI walks it (its *.rktrace files); files given one by
      // one are all read, so a foreign file gets the CLI's message.
      if (fromDirectory && !path.endsWith(".rktrace")) continue;
      const j = byName.get(path + ".journal");
      files.push({
        fileName: path,
        // The fleet table names a file by its path under the directory given.
        fleetName: fromDirectory ? path.replace(/^[^/]*\//, "") : path.replace(/^.*\//, ""),
        bytes: new Uint8Array(await file.arrayBuffer()),
        journal: j ? new Uint8Array(await j.file.arrayBuffer()) : null,
      });
    }
    show(files, "", false, index);
  }

  async function walk(entry, prefix, acc) {
    if (entry.isFile) {
      acc.push({ file: await new Promise((ok, err) => entry.file(ok, err)), path: prefix + entry.name });
    } else if (entry.isDirectory) {
      const reader = entry.createReader();
      for (;;) {
        const batch = await new Promise((ok, err) => reader.readEntries(ok, err));
        if (batch.length === 0) break;
        for (const e of batch) await walk(e, `${prefix}${entry.name}/`, acc);
      }
    }
  }

  const fail = (e) => {
    status.textContent = "";
    out.replaceChildren(pre(String(e && e.message ? e.message : e), true));
  };

  // What the pickers and drops call, for pages embedding the viewer and for tests: files as
  // {file: File or Blob, path}, `directory` true when they are a directory's contents (paths
  // start with the directory's name).
  window.rkbenchPage = { open: (entries, directory = false) => load(entries, directory) };

  rkbench.ready.then(() => {
    status.textContent = "Ready: open or drop traces.";
    $("pick-files").onchange = (ev) => load([...ev.target.files].map((file) => ({ file, path: file.name })), false).catch(fail);
    $("pick-dir").onchange = (ev) => load([...ev.target.files].map((file) => ({ file, path: file.webkitRelativePath || file.name })), true).catch(fail);
    const drop = $("drop");
    drop.ondragover = (ev) => { ev.preventDefault(); drop.classList.add("over"); };
    drop.ondragleave = () => drop.classList.remove("over");
    drop.ondrop = async (ev) => {
      ev.preventDefault();
      drop.classList.remove("over");
      try {
        const acc = [];
        const items = [...ev.dataTransfer.items].map((i) => i.webkitGetAsEntry && i.webkitGetAsEntry());
        let dir = false;
        for (const entry of items) {
          if (!entry) continue;
          dir = dir || entry.isDirectory;
          await walk(entry, "", acc);
        }
        if (items.every((x) => !x)) {
          for (const file of ev.dataTransfer.files) acc.push({ file, path: file.name });
        }
        await load(acc, dir);
      } catch (e) {
        fail(e);
      }
    };
  }, fail);
})();
