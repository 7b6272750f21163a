// The import page: check the spreadsheet (dry run), show the report, then confirm.
// User data (names, errors) is always put in with textContent, never innerHTML.
(function () {
  "use strict";
  const form = document.getElementById("import-form");
  if (!form) return;
  const texts = document.getElementById("import-texts").dataset;
  const fileInput = document.getElementById("import-file");
  const photoInput = document.getElementById("import-photos");
  const checkButton = document.getElementById("check-button");
  const confirmButton = document.getElementById("confirm-button");
  const partialBox = document.getElementById("partial-box");
  const partial = document.getElementById("partial");
  const progressBox = document.getElementById("import-progress");
  const progressText = document.getElementById("progress-text");
  const progressBar = document.getElementById("progress-bar");
  const report = document.getElementById("import-report");
  const token = document.querySelector('meta[name="csrf-token"]');
  let lastReport = null;

  function fill(template, values) {
    return template.replace(/\{(\w+)\}/g, (m, key) => (key in values ? String(values[key]) : m));
  }

  function showProgress(text, percent) {
    progressBox.hidden = false;
    progressText.textContent = text;
    if (percent === null) progressBar.removeAttribute("value");
    else progressBar.value = percent;
  }

  function newJobId() {
    const bytes = new Uint8Array(12);
    window.crypto.getRandomValues(bytes);
    return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
  }

  // While the server works, ask how far it has got (it reports rows checked and written).
  function pollProgress(jobId, stop) {
    const url = form.dataset.progressUrl.replace("JOB", jobId);
    const tick = async () => {
      if (stop.done) return;
      const res = await window.cunbo.api("GET", url);
      if (!stop.done && res.ok && res.data && res.data.total) {
        const d = res.data;
        const template = d.phase === "writing" ? texts.writing : texts.checking;
        showProgress(fill(template, { done: d.done, total: d.total }), Math.round((100 * d.done) / d.total));
      }
      if (!stop.done) stop.timer = setTimeout(tick, 400);
    };
    stop.timer = setTimeout(tick, 400);
  }

  function send(dryRun) {
    const file = fileInput.files[0];
    if (!file) {
      showProgress(texts.chooseFile, 0);
      return;
    }
    const body = new FormData();
    body.append("file", file);
    for (const photo of photoInput.files) body.append("photos", photo);
    body.append("farmer", document.getElementById("import-farmer").value);
    body.append("dry_run", dryRun ? "1" : "0");
    body.append("partial", partial.checked ? "1" : "0");
    const jobId = newJobId();
    body.append("progress", jobId);
    checkButton.disabled = true;
    confirmButton.disabled = true;
    const stop = { done: false, timer: null };
    const xhr = new XMLHttpRequest();
    xhr.open("POST", form.dataset.url);
    xhr.setRequestHeader("Accept", "application/json");
    if (token) xhr.setRequestHeader("X-CSRFToken", token.content);
    xhr.upload.onprogress = (e) => {
      if (e.lengthComputable) {
        const p = Math.round((100 * e.loaded) / e.total);
        showProgress(fill(texts.uploading, { p }), p);
      }
    };
    xhr.upload.onload = () => {
      showProgress(fill(texts.checking, { done: 0, total: "…" }), null);
      pollProgress(jobId, stop);
    };
    function finished() {
      stop.done = true;
      clearTimeout(stop.timer);
      checkButton.disabled = false;
      confirmButton.disabled = false;
    }
    xhr.onload = () => {
      finished();
      progressBox.hidden = true;
      let data = null;
      try { data = JSON.parse(xhr.responseText); } catch (err) { data = { error: xhr.statusText, errors: [] }; }
      render(data, dryRun);
    };
    xhr.onerror = () => {
      finished();
      showProgress(texts.network, 0);
    };
    xhr.send(body);
  }

  function rows(table, items, cells) {
    const tbody = table.querySelector("tbody");
    tbody.replaceChildren();
    for (const item of items) {
      const tr = document.createElement("tr");
      for (const value of cells(item)) {
        const td = document.createElement("td");
        td.textContent = value;
        tr.appendChild(td);
      }
      tbody.appendChild(tr);
    }
    table.hidden = items.length === 0;
  }

  const changeLabels = JSON.parse(texts.changeLabels || "{}");

  // "单价：18.00 → 19.00；库存：197 → 180", in the page's language.
  function describeChanges(changes) {
    return Object.entries(changes || {})
      .map(([field, pair]) => fill(texts.change, {field: changeLabels[field] || field,
                                                 old: pair[0] ?? "—", new: pair[1] ?? "—"}))
      .join(texts.changeSeparator);
  }

  function render(data, dryRun) {
    lastReport = data;
    report.hidden = false;
    const errors = data.errors || [];
    const photoErrors = data.photo_errors || [];
    const bad = errors.length + photoErrors.length;
    document.getElementById("report-title").textContent =
      data.written ? texts.doneTitle : dryRun ? texts.dryTitle : texts.failedTitle;
    for (const key of ["created", "updated", "unchanged", "photos"]) {
      document.getElementById("count-" + key).textContent = String(data[key] || 0);
    }
    document.getElementById("count-errors").textContent = String(bad);
    const message = document.getElementById("report-message");
    message.hidden = false;
    message.className = "flash " + (bad ? "error" : "success");
    message.textContent = bad ? (data.error || texts.nothingWritten) : data.written ? texts.doneTitle : texts.allGood;
    const ignored = document.getElementById("ignored-columns");
    ignored.hidden = !(data.ignored_columns && data.ignored_columns.length);
    ignored.textContent = texts.ignored + (data.ignored_columns || []).join("、");
    rows(document.getElementById("error-table"), errors, (e) => [e.row ? String(e.row) : texts.fileError, e.error]);
    rows(document.getElementById("photo-error-table"), photoErrors, (e) => [e.file, e.error]);
    const actions = { create: texts.create, update: texts.update, error: texts.error };
    rows(document.getElementById("preview-table"), dryRun ? (data.preview || []) : [],
      (p) => [String(p.row), actions[p.action] || p.action, p.sku, p.name, p.owner || "",
        p.price === null || p.price === undefined ? "" : "¥" + p.price, p.stock === null || p.stock === undefined ? "" : String(p.stock),
        p.action === "error" ? p.error : describeChanges(p.changes)]);
    const more = document.getElementById("preview-more");
    more.hidden = !(dryRun && data.preview_more > 0);
    more.textContent = fill(data.preview_more === 1 ? texts.moreOne : texts.more, { n: data.preview_more || 0 });
    const fileProblem = errors.some((e) => !e.row);
    const canConfirm = dryRun && !fileProblem && (bad === 0 || partial.checked) && (data.created + data.updated + data.photos > 0 || bad > 0);
    partialBox.hidden = !(dryRun && bad > 0 && !fileProblem);
    confirmButton.hidden = !canConfirm;
    document.getElementById("list-link").hidden = !data.written;
    report.scrollIntoView({ behavior: "smooth", block: "start" });
  }

  form.addEventListener("submit", (e) => {
    e.preventDefault();
    send(true);
  });
  confirmButton.addEventListener("click", () => send(false));
  partial.addEventListener("change", () => {
    if (lastReport) confirmButton.hidden = !partial.checked;
  });
  // A new file needs a new check before anything can be confirmed.
  for (const input of [fileInput, photoInput, document.getElementById("import-farmer")]) {
    input.addEventListener("change", () => {
      report.hidden = true;
      confirmButton.hidden = true;
      partial.checked = false;
    });
  }
})();
