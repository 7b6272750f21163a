// Orders and hand-offs: pick-all and the running count on the hand-off page, confirm before a
// cancel, the print button on the manifest. The pages work without it.
(function () {
  "use strict";
  const all = document.getElementById("pick-all");
  const picked = document.getElementById("picked");
  const boxes = Array.from(document.querySelectorAll('input[name="order_ids"]'));
  function recount() {
    if (!picked) return;
    const chosen = boxes.filter(function (b) { return b.checked; });
    const parcels = chosen.reduce(function (sum, b) { return sum + Number(b.dataset.packages || 1); }, 0);
    const d = picked.dataset;
    const orders = (chosen.length === 1 ? d.order : d.orders).replace("{n}", chosen.length);
    const packages = (parcels === 1 ? d.parcel : d.parcels).replace("{n}", parcels);
    picked.textContent = d.template.replace("{orders}", orders).replace("{parcels}", packages);
    const go = document.getElementById("hand-off");
    if (go) go.disabled = chosen.length === 0;
    if (all) all.checked = chosen.length > 0 && chosen.length === boxes.length;
  }
  if (all) {
    all.addEventListener("change", function () {
      boxes.forEach(function (b) { b.checked = all.checked; });
      recount();
    });
  }
  boxes.forEach(function (b) { b.addEventListener("change", recount); });
  if (boxes.length) recount();

  document.querySelectorAll("form[data-confirm]").forEach(function (form) {
    form.addEventListener("submit", function (event) {
      if (!window.confirm(form.dataset.confirm)) event.preventDefault();
    });
  });

  const print = document.getElementById("print");
  if (print) print.addEventListener("click", function () { window.print(); });
})();
