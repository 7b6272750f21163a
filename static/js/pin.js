// The on-screen keypad for PIN login: big keys for people who find a keyboard hard.
(function () {
  "use strict";
  const input = document.querySelector("input.pin");
  if (!input) return;
  document.querySelectorAll(".keypad .key").forEach(function (key) {
    key.addEventListener("click", function () {
      const k = key.dataset.key;
      if (k === "⌫") input.value = input.value.slice(0, -1);
      else if (k === "✓") input.form.requestSubmit();
      else if (input.value.length < 6) input.value += k;
      input.focus();
    });
  });
})();
