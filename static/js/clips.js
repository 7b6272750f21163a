// The clip list of a session's report: make, follow progress, play, download, cancel, delete.
(function () {
  "use strict";
  const box = document.getElementById("clips");
  if (!box) return;
  const sid = box.dataset.session;
  const list = box.querySelector('[data-role="list"]');
  const error = box.querySelector('[data-role="error"]');
  const labels = box.querySelector('[data-role="labels"]').dataset;
  const cancel = box.querySelector('[data-action="cancel"]');
  const ids = JSON.parse(box.dataset.ids), names = JSON.parse(box.dataset.names);
  const nameOf = (id) => names[ids.indexOf(id)] || "";
  let timer = null;

  function size(bytes) {
    if (!bytes) return "";
    return bytes >= 1048576 ? (bytes / 1048576).toFixed(1) + " MB" : Math.ceil(bytes / 1024) + " KB";
  }
  function clock(s) {
    const n = Math.max(0, Math.round(s));
    return Math.floor(n / 60) + ":" + String(n % 60).padStart(2, "0");
  }
  function el(tag, cls, text) {
    const e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined) e.textContent = text;
    return e;
  }
  function render(clips) {
    list.replaceChildren();
    let busy = false;
    for (const c of clips) {
      const item = el("div", "clip " + (c.aspect === "9:16" ? "tall" : "wide"));
      const head = el("p", "clip-head");
      head.append(el("b", "", nameOf(c.product_id) + " " + c.aspect), " " + clock(c.start_s) + "–" + clock(c.end_s) + " ");
      head.append(el("span", "badge " + ({done: "ok", failed: "bad", cancelled: "warn"}[c.state] || ""), labels[c.state] || c.state));
      item.append(head);
      if (c.state === "done") {
        const video = el("video");
        video.controls = true; video.preload = "metadata"; video.src = "/api/clips/" + c.id + "/file#t=0.5";  // a frame, not black
        item.append(video);
        const link = el("a", "btn no-print", labels.download + " · " + size(c.size_bytes));
        link.href = "/api/clips/" + c.id + "/file?download=1";
        link.download = c.name;
        item.append(el("p", "clip-name", c.name), link);
      } else if (c.state === "running" || c.state === "pending") {
        busy = true;
        const bar = el("progress");
        bar.max = 1; bar.value = c.progress;
        item.append(bar);
      } else if (c.error) {
        item.append(el("p", "hint", c.error));
      }
      list.append(item);
    }
    cancel.hidden = !busy;
    clearTimeout(timer);
    if (busy) timer = setTimeout(refresh, 2000);
  }
  async function refresh() {
    const res = await window.cunbo.api("GET", "/api/sessions/" + sid + "/clips");
    if (res.ok) render(res.data);
  }
  async function act(method, url) {
    error.hidden = true;
    const res = await window.cunbo.api(method, url);
    if (!res.ok) { error.textContent = (res.data && res.data.error) || res.status; error.hidden = false; }
    refresh();
    return res;
  }
  box.querySelector('[data-action="make"]').addEventListener("click", () => act("POST", "/api/sessions/" + sid + "/clips"));
  cancel.addEventListener("click", () => act("POST", "/api/sessions/" + sid + "/clips/cancel"));
  const del = box.querySelector('[data-action="delete"]');
  if (del) del.addEventListener("click", () => { if (window.confirm(del.dataset.confirm)) act("DELETE", "/api/sessions/" + sid + "/clips"); });
  // The recording list is drawn by the server: after a delete the page is loaded again.
  const delRecording = box.querySelector('[data-action="delete-recording"]');
  if (delRecording) delRecording.addEventListener("click", async () => {
    if (!window.confirm(delRecording.dataset.confirm)) return;
    const res = await act("DELETE", "/api/sessions/" + sid + "/recording");
    if (res.ok) window.location.reload();
  });
  const print = document.getElementById("print");
  if (print) print.addEventListener("click", () => window.print());
  refresh();
})();
