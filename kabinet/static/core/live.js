// Live updates: one websocket per page at /ws/, reconnecting with back-off; other scripts listen for
// "kabinet:live" events on document. Also registers the area's service worker.
(function () {
  "use strict";
  const body = document.body;
  if (body.dataset.authenticated === "true" && "WebSocket" in window) {
    let delay = 1000;
    const connect = () => {
      const scheme = location.protocol === "https:" ? "wss" : "ws";
      const socket = new WebSocket(`${scheme}://${location.host}/ws/`);
      socket.addEventListener("open", () => { delay = 1000; body.dataset.live = "connected"; });
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
