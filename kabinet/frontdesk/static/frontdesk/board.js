// The front desk's live panels: the day's board (#fd-board) and the lists' live part ([data-fd-live="<kind>"]: the
// confirmation calls, the recall diary, the waiting list). Each follows the realtime topic "frontdesk" (its
// organisation) on live.js's socket and reloads through htmx on each "frontdesk.changed" message that concerns it
// (the board: every change; a list: changes of its kind), merging a burst of them into one request. A panel is not
// reloaded under the registrar's hands: while the focus is in it or a form in it is open, the reload waits.
// Only while the socket is down (or the subscription was refused) do the panels fall back to a slow poll.

const panels = [document.getElementById("fd-board"), ...document.querySelectorAll("[data-fd-live]")].filter(Boolean);

function busy(panel) {
  // Never under the registrar's hands: not while they work in the list (focus on a row, a button, a field — the
  // keyboard outcomes), have a form in it open, or are saving a row. Their own outcomes come back row by row.
  if (Number(panel.dataset.inflight || 0) > 0) { return true; }
  const active = document.activeElement;
  return (active && active !== panel && panel.contains(active)) || panel.querySelector("details[open]") !== null;
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
    // The registrar may have started working in the list while the reload was on its way: keep it for later.
    if (event.detail.target === panel && busy(panel)) {
      event.detail.shouldSwap = false;
      clearTimeout(pending);
      pending = setTimeout(refresh, 1000);
    }
  });

  setInterval(() => { if (!live()) { refresh(); } }, pollMs);
  return organisation;
}

for (const organisation of new Set(panels.map(follow))) {
  if (window.kabinetLive) { window.kabinetLive.subscribe("frontdesk", organisation); }
  else { document.dispatchEvent(new CustomEvent("kabinet:live-subscribe", { detail: { topic: "frontdesk", id: organisation } })); }
}
