// Live updates: one websocket per page at /ws/, reconnecting with back-off; other scripts listen for
// "kabinet:live" events on document. Page scripts follow topics (e.g. one location's calendar) with
// window.kabinetLive.subscribe(topic, id) or by dispatching a "kabinet:live-subscribe" event with {topic, id};
// subscriptions are sent again after every reconnect. Also registers the area's service worker.
(function () {
  "use strict";
  const body = document.body;
  const subscriptions = new Map();  // "topic:id" -> subscribe message
  let socket = null;
  const send = (message) => {
    if (socket && socket.readyState === WebSocket.OPEN) { socket.send(JSON.stringify(message)); return true; }
    return false;
  };
  const subscribe = (topic, id) => {
    const key = `${topic}:${id}`;
    if (subscriptions.has(key)) { return; }
    const message = { event: "subscribe", data: { topic: topic, id: id } };
    subscriptions.set(key, message);
    send(message);  // when the socket is not open yet, "open" sends it
  };
  window.kabinetLive = { subscribe: subscribe, send: send };
  document.addEventListener("kabinet:live-subscribe", (e) => {
    if (e.detail && e.detail.topic) { subscribe(e.detail.topic, e.detail.id); }
  });
  if (body.dataset.authenticated === "true" && "WebSocket" in window) {
    let delay = 1000;
    const connect = () => {
      const scheme = location.protocol === "https:" ? "wss" : "ws";
      socket = new WebSocket(`${scheme}://${location.host}/ws/`);
      socket.addEventListener("open", () => {
        delay = 1000;
        body.dataset.live = "connected";
        subscriptions.forEach((message) => send(message));
      });
      socket.addEventListener("message", (msg) => {
        let payload;
        try { payload = JSON.parse(msg.data); } catch (e) { return; }
        document.dispatchEvent(new CustomEvent("kabinet:live", { detail: payload }));
        if (payload.event === "notification" && payload.data && payload.data.text) {
          const toast = document.createElement("div");
          toast.className = "toast";
          toast.setAttribute("role", "status");
          toast.textContent = payload.data.text;
          body.appendChild(toast);
          setTimeout(() => toast.remove(), 6000);
        }
      });
      socket.addEventListener("close", () => {
        body.dataset.live = "disconnected";
        setTimeout(connect, delay);
        delay = Math.min(delay * 2, 30000);
      });
    };
    connect();
  }
  const sw = body.dataset.serviceWorker;
  if (sw && "serviceWorker" in navigator) {
    navigator.serviceWorker.register(sw, { scope: body.dataset.serviceWorkerScope || "/" }).catch(() => {});
  }
})();
