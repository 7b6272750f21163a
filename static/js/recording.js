// A broadcast's record: a big button under each recording plays it, then pauses it.
(function () {
  "use strict";
  document.querySelectorAll(".play-recording").forEach((button) => {
    const video = button.closest(".record-actions").previousElementSibling;
    const play = button.textContent;
    button.addEventListener("click", () => { if (video.paused) video.play(); else video.pause(); });
    video.addEventListener("play", () => { button.textContent = button.dataset.pause; });
    video.addEventListener("pause", () => { button.textContent = play; });
  });
})();
