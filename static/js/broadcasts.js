// The countdown on the farmer's home: "还有 1:05:12" until the planned start, then "现在".
(function () {
  "use strict";
  function tick() {
    document.querySelectorAll(".countdown[data-starts]").forEach(function (el) {
      const left = Math.round(Number(el.dataset.starts) - Date.now() / 1000);
      if (left <= 0) { el.textContent = el.dataset.now; return; }
      const h = Math.floor(left / 3600), m = Math.floor((left % 3600) / 60), s = left % 60;
      const pad = (n) => String(n).padStart(2, "0");
      el.textContent = el.dataset.in + " " + (h ? h + ":" : "") + pad(m) + ":" + pad(s);
    });
  }
  tick();
  window.setInterval(tick, 1000);
})();
