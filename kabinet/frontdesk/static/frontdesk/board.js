// The front desk's live panels: the day's board (#fd-board) and the lists' live part ([data-fd-live="<kind>"]: the
// confirmation calls, the recall diary, the waiting list). Each follows the realtime topic "frontdesk" (its
// organisation) on live.js's socket and reloads through htmx on each "frontdesk.changed" message that concerns it
// (the board: every change; a list: changes of its kind), merging a burst of them into one request. A list is not
// reloaded under the registrar's hands: while a form in it is open or a field in it has focus, the reload waits.
// Only while the socket is down (or the subscription was refused) do the panels fall back to a slow poll.

const panels = [document.getElementById("fd-board"), ...document.querySelectorAll("[data-fd-live]")].filter(Boolean);

function busy(panel) {
  if (Number(panel.dataset.inflight || 0) > 0) { return true; }  // an outcome being saved from a row
  const active = document.activeElement;
  const typing = active && panel.contains(active) && active.matches("input, textarea, select, [contenteditable=true]");
  return typing || panel.querySelector("details[open]") !== null;
}

function countRequests(panel) {
  // Requests from inside the panel (a row's outcome buttons), not the panel's own reload.
  const step = (by) => (event) => {
    if (event.detail.elt === panel) { return; }
    panel.dataset.inflight = String(Math.max(0, Number(panel.dataset.inflight || 0) + by));
  };
  panel.addEventListener("htmx:beforeRequest", step(1));
  panel.addEventListener("htmx:afterRequest", step(-1));
}

function follow(panel) {
  const organisation = Number(panel.dataset.organisation);
  const kind = panel.dataset.fdLive || "";  // "" on the board: every change concerns it
  const followed = `frontdesk:${organisation}`;
  const pollMs = Math.max(Number(panel.dataset.pollSeconds) || 30, 5) * 1000;
  let pending = null;
  countRequests(panel);

  const refresh = () => {
    if (!window.htmx) { return; }
    if (busy(panel)) { clearTimeout(pending); pending = setTimeout(refresh, 1000); return; }
    window.htmx.trigger(panel, "refresh");
  };
  const soon = () => {
    clearTimeout(pending);
    pending = setTimeout(refresh, 150);
  };
  const live = () => document.body.dataset.live === "connected" && panel.dataset.live === followed;

  document.addEventListener("kabinet:live", (event) => {
    const { event: name, data } = event.detail || {};
    if (!data) { return; }
    const ours = data.topic === "frontdesk" && Number(data.id) === organisation;
    if (name === "subscribed" && ours) {
      panel.dataset.live = followed;  // says this panel updates itself
      refresh();  // also after a reconnect: catch up with what happened meanwhile
    } else if (name === "subscribe.refused" && ours) {
      delete panel.dataset.live;
    } else if (name === "frontdesk.changed" && Number(data.organisation) === organisation
               && (!kind || data.kind === kind)) {
      soon();
    }
  });

  panel.addEventListener("htmx:beforeSwap", (event) => {
    if (event.detail.target !== panel) { return; }
    // The row focused when the new list arrives (the registrar may have moved on since the reload was asked for).
    const focused = document.activeElement && document.activeElement.closest(".fd-item");
    panel.dataset.refocus = focused && panel.contains(focused) ? focused.id : "";
  });
  panel.addEventListener("htmx:afterSwap", (event) => {
    if (event.detail.target !== panel || !panel.dataset.refocus) { return; }
    const row = document.getElementById(panel.dataset.refocus);  // the row the registrar was on stays focused
    if (row) { row.focus({ preventScroll: true }); }
  });

  setInterval(() => { if (!live()) { refresh(); } }, pollMs);
  return organisation;
}

for (const organisation of new Set(panels.map(follow))) {
  if (window.kabinetLive) { window.kabinetLive.subscribe("frontdesk", organisation); }
  else { document.dispatchEvent(new CustomEvent("kabinet:live-subscribe", { detail: { topic: "frontdesk", id: organisation } })); }
}
