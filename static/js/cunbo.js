// Small helpers shared by every page. No framework, nothing from outside.
(function () {
  "use strict";
  const token = document.querySelector('meta[name="csrf-token"]');
  /** Call the JSON API with the session cookie and the CSRF token; resolves to {ok, status, data}. */
  async function api(method, url, body) {
    const opts = { method, headers: { "Accept": "application/json" }, credentials: "same-origin" };
    if (token) opts.headers["X-CSRFToken"] = token.content;
    if (body instanceof FormData) {
      opts.body = body;
    } else if (body !== undefined) {
      opts.headers["Content-Type"] = "application/json";
      opts.body = JSON.stringify(body);
    }
    const res = await fetch(url, opts);
    let data = null;
    const type = res.headers.get("Content-Type") || "";
    if (type.includes("application/json")) data = await res.json();
    return { ok: res.ok, status: res.status, data };
  }
  /** Integer fen to "¥25.50". */
  function yuan(fen) {
    if (fen === null || fen === undefined) return "";
    return "¥" + (fen / 100).toFixed(2);
  }
  window.cunbo = { api, yuan };
})();
