// The contest board and the projector redraw themselves from board.json every few seconds
// (short polling: no request stays open, so no server thread is held while a page is shown).
(function () {
  "use strict";
  const yuan = window.cunbo ? window.cunbo.yuan : (fen) => "¥" + (fen / 100).toFixed(2);

  function el(tag, cls, text) {
    const node = document.createElement(tag);
    if (cls) node.className = cls;
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function poll(url, seconds, draw) {
    let timer = null;
    async function tick() {
      try {
        const res = await fetch(url, { headers: { "Accept": "application/json" }, credentials: "same-origin" });
        if (res.ok) draw(await res.json());
      } catch (err) {
        // Offline for a moment: keep the last board and try again at the next tick.
      }
      timer = setTimeout(tick, seconds * 1000);
    }
    timer = setTimeout(tick, seconds * 1000);
    document.addEventListener("visibilitychange", () => {
      if (!document.hidden) { clearTimeout(timer); tick(); }
    });
  }

  function frozen(data) {
    const note = document.getElementById("frozen-note");
    if (note) note.hidden = !data.frozen;
  }

  const board = document.getElementById("board");
  if (board) {
    const manager = board.dataset.manager === "1";
    const outLabel = document.getElementById("row-labels").dataset.out;
    const chart = document.getElementById("chart");
    let lastScores = null;
    poll(board.dataset.url, Number(board.dataset.poll), (data) => {
      const body = el("tbody");
      for (const row of data.rows) {
        const tr = el("tr", row.disqualified ? "out" : "");
        tr.append(el("td", "rank", row.rank === null ? "—" : String(row.rank)));
        const who = el("td");
        const link = el("a", "", row.name);
        link.href = row.url;
        who.append(link);
        if (row.disqualified) { who.append(" "); who.append(el("span", "badge bad", outLabel)); }
        tr.append(who, el("td", "money", row.score_text), el("td", "", String(row.orders)),
                  el("td", "money", yuan(row.gmv_fen)));
        if (manager) {
          const flags = el("td");
          for (const text of row.flag_texts) { flags.append(el("span", "badge warn", text), " "); }
          tr.append(flags);
        }
        body.append(tr);
      }
      board.replaceChild(body, board.tBodies[0]);
      frozen(data);
      document.getElementById("updated").textContent = data.now_text;
      // Redraw the chart only when a score moved (it is the costlier request).
      const scores = JSON.stringify(data.rows.map((row) => [row.host, row.score]));
      if (chart && scores !== lastScores) {
        lastScores = scores;
        fetch(chart.dataset.url, { credentials: "same-origin" })
          .then((res) => (res.ok ? res.text() : null))
          .then((svg) => { if (svg) chart.innerHTML = svg; })
          .catch(() => {});
      }
    });
  }

  const bars = document.getElementById("bars");
  if (bars) {
    const toggle = () => {
      if (document.fullscreenElement) document.exitFullscreen();
      else document.documentElement.requestFullscreen().catch(() => {});
    };
    document.getElementById("fullscreen").addEventListener("click", toggle);
    document.addEventListener("keydown", (event) => {
      if (event.key === "f" || event.key === "F") toggle();
    });
    let ends = new Date(bars.dataset.ends);
    let skew = Date.now() - new Date(bars.dataset.now).getTime();  // the PC's clock may be off
    const left = document.getElementById("time-left");
    const label = document.getElementById("clock-label");
    function two(n) { return String(n).padStart(2, "0"); }
    function clock() {
      const ms = ends.getTime() - (Date.now() - skew);
      if (ms <= 0) { label.textContent = bars.dataset.ended; left.textContent = "00:00:00"; return; }
      const s = Math.floor(ms / 1000);
      const days = Math.floor(s / 86400);
      const hms = two(Math.floor((s % 86400) / 3600)) + ":" + two(Math.floor((s % 3600) / 60)) + ":" + two(s % 60);
      label.textContent = bars.dataset.left;
      left.textContent = days ? days + " " + bars.dataset.days + " " + hms : hms;
    }
    clock();
    setInterval(clock, 1000);
    poll(bars.dataset.url, Number(bars.dataset.poll), (data) => {
      ends = new Date(data.ends_at);
      skew = Date.now() - new Date(data.now).getTime();
      const ranked = data.rows.filter((row) => row.rank !== null).slice(0, 10);
      const items = bars.children;
      ranked.forEach((row, i) => {
        let li = items[i];
        if (!li) {
          li = el("li", "bar-row");
          const track = el("span", "track");
          track.append(el("span", "fill"));
          li.append(el("span", "place"), el("span", "who"), track, el("span", "value"));
          bars.append(li);
        }
        li.querySelector(".place").textContent = String(row.rank);
        li.querySelector(".who").textContent = row.name;
        li.querySelector(".fill").style.width = (data.top_score ? 100 * row.score / data.top_score : 0) + "%";
        li.querySelector(".value").textContent = row.score_text;
      });
      while (bars.children.length > ranked.length) bars.lastElementChild.remove();
      frozen(data);
    });
  }
})();
