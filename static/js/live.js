// The live console: checklist, go live, products on the video, overlay controls, quick orders.
// Talks only to the JSON API (shared/api.md); user text is set with textContent, never as HTML.
(function () {
  "use strict";
  const root = document.getElementById("console");
  if (!root) return;
  const T = JSON.parse(document.getElementById("console-text").textContent);
  const $ = (id) => document.getElementById(id);
  const cards = Array.from(document.querySelectorAll(".pcard"));
  const state = { live: root.dataset.live === "true", sessionId: root.dataset.session || null,
                  productId: null, polling: null, ready: false };

  function say(text, kind) {
    const box = $("message");
    box.textContent = text;
    box.className = "flash " + (kind || "info");
    box.hidden = !text;
  }

  function selectedDestinations() {
    return Array.from(document.querySelectorAll("input.dest:checked")).map((el) => el.dataset.url);
  }

  function videoSpec() {
    const other = $("video-other").value.trim();
    return other || $("video").value;
  }

  function settings() {
    return { video: videoSpec(), audio: $("audio").value, destinations: selectedDestinations() };
  }

  // -- checklist ---------------------------------------------------------------------------
  async function runChecklist() {
    const list = $("checklist");
    list.textContent = "";
    const wait = document.createElement("li");
    wait.textContent = T.checking;
    list.appendChild(wait);
    $("btn-check").disabled = true;
    try {
      const res = await cunbo.api("POST", "/api/live/checklist", settings());
      list.textContent = "";
      if (!res.ok) { say((res.data && res.data.error) || T.network, "error"); return false; }
      res.data.checks.forEach((c) => {
        const li = document.createElement("li");
        li.className = "check " + c.level;
        li.dataset.check = c.check;
        const mark = document.createElement("span");
        mark.className = "mark";
        mark.textContent = c.level === "ok" ? "✓" : c.level === "warn" ? "!" : "✗";
        const text = document.createElement("span");
        text.textContent = c.message + (c.target ? "（" + c.target + "）" : "");
        li.append(mark, text);
        list.appendChild(li);
      });
      state.ready = res.data.ready;
      say(res.data.ready ? T.ready : T.not_ready, res.data.ready ? "success" : "error");
      return res.data.ready;
    } catch (e) {
      say(T.network, "error");
      return false;
    } finally {
      $("btn-check").disabled = false;
    }
  }

  // -- go live / stop -----------------------------------------------------------------------
  async function start() {
    $("btn-start").disabled = true;
    setHealth("starting", T.starting);
    const body = Object.assign(settings(), {
      layout: $("layout").value, preset: $("preset").value,
      qr_text: $("toggle-qr").checked ? $("qr-text").value.trim() : "",
    });
    try {
      const res = await cunbo.api("POST", "/api/live/start", body);
      if (res.status !== 201) {
        say((res.data && res.data.error) || T.network, "error");
        setHealth("idle", T.idle);
        return;
      }
      state.sessionId = res.data.session_id;
      becomeLive();
      if (cards.length) await show(Number(cards[0].dataset.id));
    } finally {
      $("btn-start").disabled = false;
    }
  }

  async function stop() {
    if (!window.confirm(T.confirm_stop)) return;
    $("btn-stop").disabled = true;
    setHealth("stopping", T.stopping);
    const res = await cunbo.api("POST", "/api/live/stop");
    $("btn-stop").disabled = false;
    if (!res.ok) { say((res.data && res.data.error) || T.network, "error"); return; }
    becomeIdle();
    const link = document.createElement("a");
    link.href = "/live/sessions/" + res.data.session_id;
    link.textContent = T.summary;
    link.className = "btn";
    link.id = "summary-link";
    say(T.stopped + " · " + formatDuration(res.data.duration_s) + " ", "success");
    $("message").appendChild(link);
  }

  function becomeLive() {
    state.live = true;
    say("");
    $("btn-start").hidden = true;
    $("btn-stop").hidden = false;
    $("setup").hidden = true;
    $("preview-idle").hidden = true;
    const img = $("preview");
    img.src = "/live/preview.mjpg?t=" + Date.now();
    img.hidden = false;
    if (!state.polling) state.polling = window.setInterval(poll, 1000);
    poll();
  }

  function becomeIdle() {
    state.live = false;
    state.productId = null;
    $("btn-start").hidden = false;
    $("btn-stop").hidden = true;
    $("setup").hidden = false;
    const img = $("preview");
    img.removeAttribute("src");
    img.hidden = true;
    $("preview-idle").hidden = false;
    window.clearInterval(state.polling);
    state.polling = null;
    cards.forEach((c) => c.classList.remove("on-air"));
    setHealth("idle", T.idle);
  }

  // -- products on the video ----------------------------------------------------------------
  async function show(productId) {
    if (!state.live) { selectForOrder(productId); return; }
    const res = await cunbo.api("POST", "/api/live/show", { product_id: productId });
    if (!res.ok) { say((res.data && res.data.error) || T.network, "error"); return; }
    markOnAir(productId);
  }

  function markOnAir(productId) {
    state.productId = productId;
    cards.forEach((c) => c.classList.toggle("on-air", Number(c.dataset.id) === productId));
    selectForOrder(productId);
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
    cards.forEach((c) => {
      if (Number(c.dataset.id) !== productId) return;
      c.dataset.stock = stock;
      c.querySelector(".stock b").textContent = stock <= 0 ? "" : stock;
      c.classList.toggle("sold-out", stock <= 0);
      c.querySelector(".stock").firstChild.textContent = stock <= 0 ? T.sold_out : T.stock + " ";
    });
  }

  // -- status -------------------------------------------------------------------------------
  function setHealth(kind, text) {
    const el = $("health");
    el.className = "health " + kind;
    el.textContent = text;
  }

  function health(s) {
    if (s.state === "idle") return ["idle", T.idle];
    if (s.state === "starting") return ["starting", T.starting];
    if (s.state === "stopping") return ["stopping", T.stopping];
    if (s.source_state === "lost") return ["bad", T.camera_down];
    const dests = s.destinations || [];
    const up = dests.filter((d) => d.state === "live").length;
    if (dests.length && up === 0 && dests.every((d) => d.state === "retrying" || d.state === "failed")) return ["bad", T.push_down];
    if (dests.length && up < dests.length) return ["warn", T.unstable];
    if (s.state === "reconnecting") return ["warn", T.unstable];
    return ["ok", T.ok];
  }

  function formatDuration(seconds) {
    const t = Math.max(0, Math.floor(seconds || 0));
    const pad = (n) => String(n).padStart(2, "0");
    return pad(Math.floor(t / 3600)) + ":" + pad(Math.floor((t % 3600) / 60)) + ":" + pad(t % 60);
  }

  async function poll() {
    let res;
    try { res = await cunbo.api("GET", "/api/live/status"); } catch (e) { setHealth("warn", T.network); return; }
    if (!res.ok) return;
    const s = res.data;
    if (s.state === "idle") { if (state.live) becomeIdle(); return; }
    const [kind, text] = health(s);
    setHealth(kind, text);
    $("elapsed").textContent = formatDuration(s.elapsed_s);
    const level = typeof s.audio_level_dbfs === "number" ? s.audio_level_dbfs : -90;
    $("meter-bar").style.width = Math.max(0, Math.min(100, (level + 60) * (100 / 60))) + "%";
    $("stats").textContent = (s.fps || 0).toFixed(1) + " fps · " + (s.bitrate_kbps ? Math.round(s.bitrate_kbps) + " kbps" : "");
    if (typeof s.orders === "number") {
      $("tally-orders").textContent = s.orders;
      $("tally-gmv").textContent = cunbo.yuan(s.gmv_fen || 0);
    }
    if (s.product_id && s.product_id !== state.productId) markOnAir(s.product_id);
    if (s.product && typeof s.product.stock === "number") setStock(s.product.id, s.product.stock);
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
    if (!res.ok) say((res.data && res.data.error) || T.network, "error");
    return res;
  }

  // -- orders -------------------------------------------------------------------------------
  async function submitOrder(event) {
    event.preventDefault();
    const form = event.target;
    const data = new FormData(form);
    const body = {
      product_id: Number(data.get("product_id")), quantity: Number(data.get("quantity")),
      buyer_name: data.get("buyer_name"), buyer_phone: data.get("buyer_phone"),
      address: data.get("address"), channel: data.get("channel"),
    };
    if (state.sessionId && state.live) body.session_id = Number(state.sessionId);
    const res = await cunbo.api("POST", "/api/orders", body);
    if (res.status !== 201) { say((res.data && res.data.error) || T.network, "error"); return; }
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
  $("btn-start").addEventListener("click", start);
  $("btn-stop").addEventListener("click", stop);
  $("btn-next").addEventListener("click", next);
  cards.forEach((c) => c.addEventListener("click", () => show(Number(c.dataset.id))));
  document.querySelectorAll(".countdown").forEach((b) =>
    b.addEventListener("click", () => overlay({ countdown_s: Number(b.dataset.seconds) })));
  $("btn-countdown-stop").addEventListener("click", () => overlay({ cancel_countdown: true }));
  // Any whole number of seconds the API accepts (10–300), for a sale that needs its own length.
  function ownCountdown() {
    const seconds = Number($("countdown-seconds").value);
    if (!Number.isInteger(seconds) || seconds < 10 || seconds > 300) {
      say(T.countdown_range, "error");
      $("countdown-seconds").focus();
      return;
    }
    say("");
    overlay({ countdown_s: seconds });
  }
  $("btn-countdown-own").addEventListener("click", ownCountdown);
  $("countdown-seconds").addEventListener("keydown", (event) => {
    if (event.key === "Enter") ownCountdown();
  });
  $("toggle-promo").addEventListener("change", (e) => overlay({ show_promo: e.target.checked }));
  $("toggle-qr").addEventListener("change", (e) => overlay({ qr: e.target.checked, qr_text: $("qr-text").value.trim() }));
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
  $("order-form").addEventListener("submit", submitOrder);
  document.addEventListener("keydown", (e) => {
    const tag = (e.target.tagName || "").toLowerCase();
    if (tag === "input" || tag === "textarea" || tag === "select" || e.ctrlKey || e.metaKey || e.altKey) return;
    if (/^[1-9]$/.test(e.key)) {
      const card = cards[Number(e.key) - 1];
      if (card) { e.preventDefault(); show(Number(card.dataset.id)); }
    } else if (e.key === "n" || e.key === "ArrowRight") {
      e.preventDefault();
      next();
    }
  });
  if (state.live) becomeLive();
})();
