// A broadcast's record: a big ▶ button under each recording plays it (or pauses it).
(function () {
  "use strict";
  document.querySelectorAll(".play-recording").forEach((button) => {
    const video = button.closest(".record-actions").previousElementSibling;
    button.addEventListener("click", () => { if (video.paused) video.play(); else video.pause(); });
  });
})();
