// The live console: the device check (it runs by itself), go live, products on the video with
// their selling points beside the preview, overlay controls, the quick order (记一单).
// Talks only to the JSON API (shared/api.md); user text is set with textContent, never as HTML.
(function () {
  "use strict";
  const root = document.getElementById("console");
  if (!root) return;
  const T = JSON.parse(document.getElementById("console-text").textContent);
  const PLATFORMS = JSON.parse(document.getElementById("console-platforms").textContent);
  const $ = (id) => document.getElementById(id);
  const cards = Array.from(document.querySelectorAll(".pcard"));
  const state = { live: root.dataset.live === "true", sessionId: root.dataset.session || null,
                  productId: null, polling: null, ready: false, checkRun: 0, countdownLeft: null };
  const fill = (text, values) => text.replace(/\{(\w+)\}/g, (_, k) => values[k] ?? "");

  // Messages have one place of fixed height: showing one never moves a button.
  function say(text, kind) {
    const box = $("message");
    box.textContent = text || "";
    box.title = text || "";
    box.className = "message " + (text ? (kind || "info") : "");
  }
  const errorOf = (res) => (res.data && res.data.error) || T.network;

  function selectedDestinations() {
    return Array.from(document.querySelectorAll("input.dest:checked")).map((el) => Number(el.value));
  }

  function settings() {
    const other = $("video-other").value.trim();
    return { video: other || $("video").value, audio: $("audio").value, destination_ids: selectedDestinations() };
  }

  // -- the device check: runs on opening and after any change; 开始直播 waits for it ----------
  async function runChecklist() {
    const run = ++state.checkRun;
    const list = $("checklist");
    state.ready = false;
    $("btn-start").disabled = true;
    say(T.checking, "info");
    let res;
    try { res = await cunbo.api("POST", "/api/live/checklist", settings()); } catch (e) { res = null; }
    if (run !== state.checkRun) return;  // a newer check is under way
    list.textContent = "";
    if (!res || !res.ok) { say(res ? errorOf(res) : T.network, "error"); return; }
    res.data.checks.forEach((c) => {
      const li = document.createElement("li");
      li.className = "check " + c.level;
      li.dataset.check = c.check;
      const mark = document.createElement("span");
      mark.className = "mark";
      mark.textContent = c.level === "ok" ? "✓" : c.level === "warn" ? "!" : "✗";
      const text = document.createElement("span");
      text.textContent = c.say || c.message;
      if (c.todo) {
        const todo = document.createElement("b");
        todo.className = "todo";
        todo.textContent = c.todo;
        text.append(T.sep, todo);
      }
      li.append(mark, text);
      list.appendChild(li);
    });
    state.ready = res.data.ready;
    $("btn-start").disabled = !state.ready;
    say(state.ready ? T.ready : T.not_ready, state.ready ? "success" : "error");
  }

  // -- go live / stop -----------------------------------------------------------------------
  async function start() {
    if (!state.ready) return;
    $("btn-start").disabled = true;
    setHealth("starting", T.starting);
    const body = Object.assign(settings(), {
      layout: $("layout").value, preset: $("preset").value,
      qr_text: $("toggle-qr").checked ? $("qr-text").value.trim() : "",
      recognition: $("recognition").value,  // chosen before going live: the live starts in it
    });
    try {
      const res = await cunbo.api("POST", "/api/live/start", body);
      if (res.status !== 201) {
        say(errorOf(res), "error");
        setHealth("idle", T.idle);
        return;
      }
      state.sessionId = res.data.session_id;
      becomeLive();
      if (cards.length) await show(Number(cards[0].dataset.id));
    } finally {
      $("btn-start").disabled = !state.ready;
    }
  }

  async function stop() {
    if (!window.confirm(T.confirm_stop)) return;
    $("btn-stop").disabled = true;
    setHealth("stopping", T.stopping);
    const res = await cunbo.api("POST", "/api/live/stop");
    $("btn-stop").disabled = false;
    if (!res.ok) { say(errorOf(res), "error"); return; }
    becomeIdle();
    say(T.stopped + " · " + formatDuration(res.data.duration_s) + " ", "success");
    const link = document.createElement("a");
    link.href = "/live/sessions/" + res.data.session_id;
    link.textContent = T.summary;
    link.id = "summary-link";
    $("message").appendChild(link);
    showSummary(res.data.session_id);
  }

  // -- after the live: the report in short where the device check was ------------------------
  const money = (fen) => "¥" + (fen / 100).toFixed(2);
  const clock = (s) => { const n = Math.max(0, Math.round(s)); return Math.floor(n / 60) + ":" + String(n % 60).padStart(2, "0"); };

  async function showSummary(sessionId) {
    if (!sessionId) return;
    $("setup").hidden = true;
    $("after").hidden = false;
    $("after-report").href = "/live/sessions/" + sessionId + "/report";
    ["after-duration", "after-orders", "after-gmv", "after-best", "after-sold-out"].forEach((id) => { $(id).textContent = "…"; });
    let res;
    try { res = await cunbo.api("GET", "/api/sessions/" + sessionId + "/report"); } catch (e) { res = null; }
    if (!res || !res.ok) { say(T.report_failed, "error"); return; }
    const r = res.data;
    $("after-duration").textContent = formatDuration(r.duration_s);
    $("after-orders").textContent = String(r.orders);
    $("after-gmv").textContent = money(r.gmv_fen);
    $("after-best").textContent = r.best_minute
      ? fill(T.best_minute, { n: r.best_minute.minute + 1, gmv: money(r.best_minute.gmv_fen) }) : T.no_sales;
    const sold = r.per_product.filter((p) => p.sold_out_at !== null)
      .map((p) => fill(T.sold_out_at, { name: p.name, t: clock(p.sold_out_at) }));
    $("after-sold-out").textContent = sold.length ? sold.join(T.list_sep) : T.none_sold_out;
  }

  function hideSummary() {
    $("after").hidden = true;
    $("setup").hidden = state.live;
  }

  function becomeLive() {
    state.live = true;
    say("");
    root.classList.add("is-live");
    $("btn-start").hidden = true;
    $("btn-stop").hidden = false;
    $("btn-history").hidden = true;
    $("setup").hidden = true;
    $("after").hidden = true;
    $("on-air").hidden = false;
    $("elapsed").hidden = false;
    document.querySelector(".meter").hidden = false;
    $("preview").src = "/live/preview.mjpg?t=" + Date.now();
    if (!state.polling) state.polling = window.setInterval(poll, 1000);
    poll();
  }

  function becomeIdle() {
    state.live = false;
    state.productId = null;
    root.classList.remove("is-live");
    $("btn-start").hidden = false;
    $("btn-stop").hidden = true;
    $("btn-history").hidden = false;
    $("setup").hidden = false;
    $("on-air").hidden = true;
    $("elapsed").hidden = true;
    document.querySelector(".meter").hidden = true;
    $("preview").removeAttribute("src");
    window.clearInterval(state.polling);
    state.polling = null;
    cards.forEach((c) => c.classList.remove("on-air"));
    showCountdown(null);
    setHealth("idle", T.idle);
  }

  // -- products on the video, their selling points beside the preview -----------------------
  async function show(productId) {
    if (!state.live) { selectForOrder(productId); return; }
    const hadCountdown = state.countdownLeft !== null && productId !== state.productId;
    const res = await cunbo.api("POST", "/api/live/show", { product_id: productId });
    if (!res.ok) { say(errorOf(res), "error"); return; }
    markOnAir(productId);
    if (hadCountdown) { showCountdown(null); say(T.countdown_dropped, "info"); }
  }

  function cardOf(productId) { return cards.find((c) => Number(c.dataset.id) === productId); }

  function markOnAir(productId) {
    state.productId = productId;
    cards.forEach((c) => c.classList.toggle("on-air", Number(c.dataset.id) === productId));
    selectForOrder(productId);
    const card = cardOf(productId);
    const points = card ? JSON.parse(card.dataset.points || "[]") : [];
    $("points-name").textContent = card ? card.dataset.name : "";
    const list = $("points-list");
    list.textContent = "";
    points.forEach((line) => { const li = document.createElement("li"); li.textContent = line; list.appendChild(li); });
    $("points-none").hidden = points.length > 0 || !card;
  }

  function selectForOrder(productId) {
    const select = $("order-product");
    if (select) select.value = String(productId);
  }

  function next() {
    if (!cards.length) return;
    const index = cards.findIndex((c) => Number(c.dataset.id) === state.productId);
    show(Number(cards[(index + 1) % cards.length].dataset.id));
  }

  function setStock(productId, stock) {
    const c = cardOf(productId);
    if (!c) return;
    c.dataset.stock = stock;
    c.classList.toggle("sold-out", stock <= 0);
    const el = c.querySelector(".stock");
    el.textContent = "";
    const b = document.createElement("b");
    b.textContent = stock <= 0 ? T.sold_out : stock;
    if (stock > 0) el.append(T.stock + " ");
    el.append(b);
  }

  // -- status -------------------------------------------------------------------------------
  function setHealth(kind, text) {
    const el = $("health");
    el.className = "health " + kind;
    el.textContent = text;
  }

  // Health in words that name the platform; a destination still connecting is not "unstable".
  function health(s) {
    if (s.state === "idle") return ["idle", T.idle];
    if (s.state === "starting") return ["starting", T.starting];
    if (s.state === "stopping") return ["stopping", T.stopping];
    if (s.source_state === "lost") return ["bad", T.camera_down];
    if (s.state === "reconnecting") return ["warn", T.reconnecting];
    // The recording stopped (a full disk) while the push goes on: the farmer must know now, not after.
    if (s.recording_error) return ["bad", T[s.recording_error] || T.write_failed];
    const dests = (s.destinations || []).map((d) => ({ name: PLATFORMS[d.url] || d.url.split("/")[2] || "", state: d.state }));
    const names = (wanted) => dests.filter((d) => d.state === wanted).map((d) => d.name).join("、");
    if (names("failed")) return ["bad", fill(T.failed, { p: names("failed") })];
    if (names("retrying")) return ["bad", fill(T.retrying, { p: names("retrying") })];
    if (names("connecting")) return ["starting", fill(T.connecting, { p: names("connecting") })];
    if (!dests.length) return ["ok", T.recording_only];
    return ["ok", fill(T.all_ok, { p: names("live") })];
  }

  function formatDuration(seconds) {
    const t = Math.max(0, Math.floor(seconds || 0));
    const pad = (n) => String(n).padStart(2, "0");
    return pad(Math.floor(t / 3600)) + ":" + pad(Math.floor((t % 3600) / 60)) + ":" + pad(t % 60);
  }

  function showCountdown(left) {
    state.countdownLeft = typeof left === "number" && left > 0 ? left : null;
    const running = state.countdownLeft !== null;
    $("countdown-state").hidden = !running;
    $("btn-countdown-stop").hidden = !running;
    document.querySelector(".countdown-own").hidden = running;
    if (running) {
      const t = Math.ceil(state.countdownLeft);
      $("countdown-state").textContent = fill(T.countdown_left, { t: Math.floor(t / 60) + ":" + String(t % 60).padStart(2, "0") });
    }
  }

  async function poll() {
    let res;
    try { res = await cunbo.api("GET", "/api/live/status"); } catch (e) { setHealth("warn", T.network); return; }
    if (!res.ok) return;
    const s = res.data;
    if (s.state === "idle") {  // ended elsewhere (its plan's end, a helper's screen): the result here too
      if (state.live) { const ended = state.sessionId; becomeIdle(); showSummary(ended); }
      return;
    }
    const [kind, text] = health(s);
    setHealth(kind, text);
    $("elapsed").textContent = formatDuration(s.elapsed_s);
    const level = typeof s.audio_level_dbfs === "number" ? s.audio_level_dbfs : -90;
    $("meter-bar").style.width = Math.max(0, Math.min(100, (level + 60) * (100 / 60))) + "%";
    if (typeof s.orders === "number") {
      $("tally-orders").textContent = s.orders;
      $("tally-gmv").textContent = cunbo.yuan(s.gmv_fen || 0);
    }
    if (s.product_id && s.product_id !== state.productId) markOnAir(s.product_id);
    if (s.product && typeof s.product.stock === "number") setStock(s.product.id, s.product.stock);
    showCountdown(s.overlay ? s.overlay.countdown_left_s : null);
    recognition(s);
  }

  // -- recognition: suggest asks, follow says what it did -------------------------------------
  function productName(id) {
    const card = cards.find((c) => Number(c.dataset.id) === id);
    return card ? card.dataset.name : "";
  }

  function recognition(s) {
    const rec = s.recognition || {};
    const seen = s.recognized ? s.recognized.product_id : null;
    const box = $("suggest");
    if (rec.mode === "suggest" && seen && seen !== s.product_id && productName(seen)) {
      $("suggest-text").textContent = T.suggest.replace("{name}", productName(seen));
      box.dataset.id = String(seen);
      box.hidden = false;
    } else {
      box.hidden = true;
    }
    if (rec.mode && document.activeElement !== $("recognition")) $("recognition").value = rec.mode;
    const followed = rec.followed || null;
    const at = followed ? followed.elapsed_s : null;
    if (state.followedAt === undefined) state.followedAt = at;  // a reloaded page: nothing new to say
    if (at !== state.followedAt) {
      state.followedAt = at;
      if (followed && rec.mode === "follow") say(T.followed.replace("{name}", productName(followed.product_id)), "info");
    }
  }
  $("recognition").addEventListener("change", async (e) => {
    if (!state.live) return;
    const res = await overlay({ recognition: e.target.value });
    if (!res.ok) e.target.value = "off";
  });
  $("suggest-accept").addEventListener("click", () => {
    const id = Number($("suggest").dataset.id);
    $("suggest").hidden = true;
    if (id) show(id);  // the one tap: a manual choice, so follow mode leaves it alone for 20 s
  });

  // -- overlay controls ---------------------------------------------------------------------
  async function overlay(body) {
    const res = await cunbo.api("POST", "/api/live/overlay", body);
    if (!res.ok) say(errorOf(res), "error");
    return res;
  }

  async function countdown(seconds) {
    if (!state.live || !state.productId) { say(T.need_product, "error"); return; }
    const card = cardOf(state.productId);
    if (card && Number(card.dataset.stock) <= 0) { say(T.countdown_sold_out, "error"); return; }
    const res = await overlay({ countdown_s: seconds });
    if (res.ok) { say(""); showCountdown(res.data.countdown_left_s); }
  }

  // Any whole number of seconds the API accepts (10–300), for a sale that needs its own length.
  function ownCountdown() {
    const seconds = Number($("countdown-seconds").value);
    if (!Number.isInteger(seconds) || seconds < 10 || seconds > 300) {
      say(T.countdown_range, "error");
      $("countdown-seconds").focus();
      return;
    }
    countdown(seconds);
  }

  // The QR toggle explains itself: with no text yet it asks for the shop link or WeChat id.
  async function setQr(on) {
    const text = $("qr-text").value.trim();
    if (on && !text) {
      $("qr-box").hidden = false;
      $("toggle-qr").checked = false;
      say(T.qr_need_text, "info");
      $("qr-text").focus();
      return;
    }
    $("qr-box").hidden = true;
    $("toggle-qr").checked = on;
    if (!state.live) { say(""); return; }
    const res = await overlay({ qr: on, qr_text: text });
    if (res.ok) say(on ? T.qr_on : T.qr_off, "success");
  }

  // -- 记一单: a dialog over the console, the product on screen already chosen ----------------
  function clearFieldErrors() {
    document.querySelectorAll("#order-form .field-error").forEach((p) => { p.textContent = ""; });
    document.querySelectorAll("#order-form [aria-invalid]").forEach((el) => el.removeAttribute("aria-invalid"));
  }

  function openOrder() {
    clearFieldErrors();
    if (state.productId) selectForOrder(state.productId);
    $("order-dialog").showModal();
    $("order-qty").focus();
    $("order-qty").select();
  }

  async function submitOrder(event) {
    event.preventDefault();
    clearFieldErrors();
    const form = event.target;
    const data = new FormData(form);
    const body = {
      product_id: Number(data.get("product_id")), quantity: Number(data.get("quantity")),
      buyer_name: data.get("buyer_name"), buyer_phone: data.get("buyer_phone"),
      address: data.get("address"), channel: data.get("channel"),
    };
    if (state.sessionId && state.live) body.session_id = Number(state.sessionId);
    const res = await cunbo.api("POST", "/api/orders", body);
    if (res.status !== 201) {
      const field = (res.data && (res.data.field || (res.data.fields && res.data.fields[0] && res.data.fields[0].field))) || "form";
      const where = form.querySelector('.field-error[data-for="' + field + '"]') || form.querySelector('.field-error[data-for="form"]');
      where.textContent = errorOf(res);
      const input = form.elements[field];
      if (input && input.setAttribute) { input.setAttribute("aria-invalid", "true"); input.focus(); }
      return;
    }
    $("order-dialog").close();
    say(T.order_ok + " #" + res.data.id + " · " + cunbo.yuan(res.data.total_fen), "success");
    ["buyer_name", "buyer_phone", "address"].forEach((n) => { form.elements[n].value = ""; });
    form.elements.quantity.value = 1;
    await refreshStock();
    if (state.live) poll();
  }

  async function refreshStock() {
    const res = await cunbo.api("GET", "/api/products");
    if (!res.ok) return;
    res.data.forEach((p) => setStock(p.id, p.stock));
  }

  // -- wiring -------------------------------------------------------------------------------
  $("btn-check").addEventListener("click", runChecklist);
  $("after-close").addEventListener("click", () => { hideSummary(); runChecklist(); });
  document.querySelectorAll(".setting").forEach((el) => el.addEventListener("change", runChecklist));
  $("btn-start").addEventListener("click", start);
  $("btn-stop").addEventListener("click", stop);
  $("btn-next").addEventListener("click", next);
  cards.forEach((c) => c.addEventListener("click", () => show(Number(c.dataset.id))));
  document.querySelectorAll(".countdown").forEach((b) =>
    b.addEventListener("click", () => countdown(Number(b.dataset.seconds))));
  $("btn-countdown-stop").addEventListener("click", async () => {
    const res = await overlay({ cancel_countdown: true });
    if (res.ok) showCountdown(null);
  });
  $("btn-countdown-own").addEventListener("click", ownCountdown);
  $("countdown-seconds").addEventListener("keydown", (event) => {
    if (event.key === "Enter") ownCountdown();
  });
  $("toggle-promo").addEventListener("change", (e) => { if (state.live) overlay({ show_promo: e.target.checked }); });
  $("toggle-qr").addEventListener("change", (e) => setQr(e.target.checked));
  $("btn-qr-ok").addEventListener("click", () => setQr(true));
  $("btn-qr-cancel").addEventListener("click", () => { $("qr-box").hidden = true; say(""); });
  $("qr-text").addEventListener("keydown", (e) => { if (e.key === "Enter") setQr(true); });
  $("toggle-portrait").addEventListener("change", async (e) => {
    const layout = e.target.checked ? "portrait" : "landscape";
    $("layout").value = layout;
    if (!state.live) return;
    e.target.disabled = true;
    say(T.switching, "info");
    const res = await overlay({ layout });
    e.target.disabled = false;
    if (res.ok) {
      say("");
      $("preview").src = "/live/preview.mjpg?t=" + Date.now();  // the new pipeline's preview
    } else {
      e.target.checked = !e.target.checked;
    }
  });
  $("layout").addEventListener("change", (e) => { $("toggle-portrait").checked = e.target.value === "portrait"; });
  document.querySelectorAll(".qty .step").forEach((b) => b.addEventListener("click", () => {
    const input = $("order-qty");
    input.value = Math.max(1, (Number(input.value) || 1) + Number(b.dataset.step));
  }));
  $("btn-order").addEventListener("click", openOrder);
  $("btn-order-cancel").addEventListener("click", () => $("order-dialog").close());
  $("order-form").addEventListener("submit", submitOrder);
  document.addEventListener("keydown", (e) => {
    const tag = (e.target.tagName || "").toLowerCase();
    if ($("order-dialog").open || tag === "input" || tag === "textarea" || tag === "select" || e.ctrlKey || e.metaKey || e.altKey) return;
    if (/^[1-9]$/.test(e.key)) {
      const card = cards[Number(e.key) - 1];
      if (card) { e.preventDefault(); show(Number(card.dataset.id)); }
    } else if (e.key === "n" || e.key === "ArrowRight") {
      e.preventDefault();
      next();
    }
  });
  if (state.live) becomeLive(); else runChecklist();

  // A broadcast plan may start the live by itself (schedules/), or a helper on another screen:
  // while idle, look every 3 s and turn into the live console when it runs.
  window.setInterval(async function () {
    if (state.live) return;
    let res;
    try { res = await cunbo.api("GET", "/api/live/status"); } catch (e) { return; }
    if (res.ok && res.data.state !== "idle" && res.data.session_id) {
      state.sessionId = res.data.session_id;
      becomeLive();
    }
  }, 3000);
})();
