// The bell in the header: keeps its unread count current from live "notification" events, and, on the
// notifications page, turns web push on for this device (service worker + PushManager + VAPID key).
(function () {
  "use strict";
  const setCount = (n) => {
    document.querySelectorAll("[data-bell-count]").forEach((el) => {
      el.textContent = String(n);
      el.hidden = !n;
    });
  };
  document.addEventListener("kabinet:live", (e) => {
    const payload = e.detail || {};
    const data = payload.data || {};
    if ((payload.event === "notification" || payload.event === "notification.read") && typeof data.unread === "number") {
      setCount(data.unread);
    }
  });

  const controls = document.querySelector("[data-push-controls]");
  if (!controls || !("serviceWorker" in navigator) || !("PushManager" in window)) { return; }
  const status = controls.querySelector("[data-push-status]");
  const button = controls.querySelector("[data-push-enable]");
  const keyBytes = (base64) => {
    const padded = (base64 + "=".repeat((4 - (base64.length % 4)) % 4)).replace(/-/g, "+").replace(/_/g, "/");
    return Uint8Array.from(atob(padded), (c) => c.charCodeAt(0));
  };
  const csrf = () => {
    const match = document.cookie.match(/(?:^|; )csrftoken=([^;]+)/);
    return match ? decodeURIComponent(match[1]) : "";
  };
  const say = (text) => { if (status) { status.textContent = text; } };
  button.addEventListener("click", async () => {
    try {
      const permission = await Notification.requestPermission();
      if (permission !== "granted") { say(button.dataset.denied || "✗"); return; }
      const registration = await navigator.serviceWorker.ready;
      const subscription = await registration.pushManager.subscribe({
        userVisibleOnly: true,
        applicationServerKey: keyBytes(controls.dataset.vapidKey),
      });
      const response = await fetch(controls.dataset.subscribeUrl, {
        method: "POST",
        headers: { "Content-Type": "application/json", "X-CSRFToken": csrf() },
        credentials: "same-origin",
        body: JSON.stringify(subscription.toJSON()),
      });
      say(response.ok ? "✓" : "✗");
    } catch (err) {
      say("✗");
    }
  });
})();
