// Patient card: tabs without a reload, and the timeline refreshing live when something happens to the patient
// (the websocket message carries ids only; the entries come from the permission-checked timeline partial).
(function () {
  "use strict";
  const card = document.getElementById("patient-card");
  if (!card) { return; }
  const patientId = Number(card.dataset.patient);
  const tabs = Array.from(card.querySelectorAll('[role="tab"]'));
  const show = (name) => {
    tabs.forEach((tab) => {
      const selected = tab.dataset.tab === name;
      tab.setAttribute("aria-selected", selected ? "true" : "false");
      document.getElementById(`tab-${tab.dataset.tab}`).hidden = !selected;
    });
    const url = new URL(window.location.href);
    url.searchParams.set("tab", name);
    window.history.replaceState(null, "", url);
  };
  tabs.forEach((tab) => tab.addEventListener("click", (event) => { event.preventDefault(); show(tab.dataset.tab); }));

  if (window.kabinetLive) { window.kabinetLive.subscribe("patient", patientId); }
  document.addEventListener("kabinet:live", (event) => {
    const message = event.detail || {};
    if (message.event !== "patient.timeline" || !message.data || Number(message.data.patient) !== patientId) { return; }
    if (window.htmx) { window.htmx.trigger("#timeline", "refresh"); }
  });
})();
