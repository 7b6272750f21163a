// The partner's batch: each 保存 of a tracking number is saved in place (the page does not
// reload or jump); without JavaScript the form posts and the browser comes back to the same row.
(function () {
  "use strict";
  for (const form of document.querySelectorAll("form.ship-form")) {
    form.addEventListener("submit", async (e) => {
      e.preventDefault();
      const button = form.querySelector("button[type=submit]");
      const message = form.querySelector(".ship-message");
      const inputs = form.querySelectorAll("input[type=text]");
      button.disabled = true;
      let res = null;
      try {
        res = await window.cunbo.api("POST", form.action, new FormData(form));
      } catch (err) {
        res = null;
      }
      button.disabled = false;
      for (const input of inputs) input.removeAttribute("aria-invalid");
      if (res && res.ok && res.data) {
        message.className = "ship-message ok";
        message.textContent = res.data.message;
        const badge = form.closest("tr").querySelector("td.status .badge");
        if (badge) {
          badge.textContent = res.data.status_label;
          badge.className = "badge ok";
        }
        return;
      }
      // Keep what was typed; mark the field at fault and say why beside it.
      message.className = "ship-message field-error";
      // No JSON back: the connection broke, or the page's CSRF token expired (an HTML error page).
      message.textContent = res && res.data && res.data.error ? res.data.error : res ? form.dataset.expired : form.dataset.network;
      const field = res && res.data ? res.data.field : null;
      const bad = field ? form.querySelector(`input[name="${field}"]`) : null;
      if (bad) {
        bad.setAttribute("aria-invalid", "true");
        bad.focus();
      }
    });
  }
})();
