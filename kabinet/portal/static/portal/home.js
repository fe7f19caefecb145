// The patient's visits at /my/: when the doctor starts (or ends) the call of a video visit shown on the page, the
// page reloads so that "Join video call" appears (or goes). The event arrives on the page's own live socket.
(function () {
  "use strict";
  const shown = new Set(Array.from(document.querySelectorAll("[data-video-visit]")).map((el) => el.dataset.videoVisit));
  if (!shown.size) { return; }
  document.addEventListener("kabinet:live", (event) => {
    const detail = event.detail || {};
    const data = detail.data || {};
    if (detail.event === "consultations.video" && shown.has(String(data.appointment))) { location.reload(); }
  });
})();
