// The day's board refreshes itself when the clinic's worklists change: it follows the realtime topic "frontdesk"
// (its organisation) on live.js's socket and reloads its panel through htmx on each "frontdesk.changed" message,
// merging a burst of them into one request. Only while the socket is down (or the subscription was refused) does it
// fall back to a slow poll.

const board = document.getElementById("fd-board");

if (board) {
  const organisation = Number(board.dataset.organisation);
  const followed = `frontdesk:${organisation}`;
  const pollMs = Math.max(Number(board.dataset.pollSeconds) || 30, 5) * 1000;
  let pending = null;

  const refresh = () => { if (window.htmx) { window.htmx.trigger(board, "refresh"); } };
  const soon = () => {
    clearTimeout(pending);
    pending = setTimeout(refresh, 150);
  };
  const live = () => document.body.dataset.live === "connected" && board.dataset.live === followed;

  document.addEventListener("kabinet:live", (event) => {
    const { event: name, data } = event.detail || {};
    if (!data) { return; }
    const ours = data.topic === "frontdesk" && Number(data.id) === organisation;
    if (name === "subscribed" && ours) {
      board.dataset.live = followed;  // says this board updates itself
      refresh();  // also after a reconnect: catch up with what happened meanwhile
    } else if (name === "subscribe.refused" && ours) {
      delete board.dataset.live;
    } else if (name === "frontdesk.changed" && Number(data.organisation) === organisation) {
      soon();
    }
  });

  setInterval(() => { if (!live()) { refresh(); } }, pollMs);

  if (window.kabinetLive) { window.kabinetLive.subscribe("frontdesk", organisation); }
  else { document.dispatchEvent(new CustomEvent("kabinet:live-subscribe", { detail: { topic: "frontdesk", id: organisation } })); }
}
