// A conversation page (staff and patients): live delivery, catch-up after a reconnect, read receipts, and sending
// through the API (text and readings as JSON; files, ECGs and voice messages as multipart) with an Idempotency-Key.
//
// Live: the page follows the topic "conversation" over /ws/ (core/live.js). A "consultations.message" event, and
// every "subscribed" (sent again after each reconnect), make the page fetch the messages after the last id it
// shows, one fetch at a time, so a message missed while offline appears once and never twice.
(function () {
  "use strict";
  const root = document.getElementById("conversation");
  if (!root) { return; }
  const id = root.dataset.conversation;
  const mySide = root.dataset.side;
  const list = document.getElementById("messages");
  const api = `/api/v1/conversations/${id}`;
  let lastId = 0;
  let lastReadPosted = 0;
  let chain = Promise.resolve();

  const ids = () => Array.from(list.querySelectorAll("li[data-message-id]"), (li) => Number(li.dataset.messageId));
  lastId = Math.max(0, ...ids());

  const newKey = () => (window.crypto && crypto.randomUUID ? crypto.randomUUID()
    : `${Date.now()}-${Math.random().toString(36).slice(2)}`);

  const headers = (extra) => Object.assign({ "X-CSRFToken": root.dataset.csrf }, extra || {});

  const markRead = () => {
    if (document.visibilityState !== "visible") { return; }
    const others = Array.from(list.querySelectorAll("li[data-message-id]"))
      .filter((li) => li.dataset.side !== mySide).map((li) => Number(li.dataset.messageId));
    const upTo = Math.max(0, ...others);
    if (upTo <= lastReadPosted) { return; }
    lastReadPosted = upTo;
    fetch(`${api}/read`, {
      method: "POST", credentials: "same-origin",
      headers: headers({ "Content-Type": "application/json" }), body: JSON.stringify({ up_to: upTo }),
    }).catch(() => { lastReadPosted = 0; });
  };

  const scrollToEnd = () => { const last = list.lastElementChild; if (last) { last.scrollIntoView({ block: "end" }); } };

  const fetchAfter = () => {
    chain = chain.then(() => fetch(`${root.dataset.messagesUrl}?after=${lastId}`, {
      credentials: "same-origin", headers: { Accept: "text/html" },
    }).then((response) => (response.ok ? response.text() : "")).then((html) => {
      if (!html.trim()) { return; }
      const holder = document.createElement("template");
      holder.innerHTML = html;
      let added = false;
      holder.content.querySelectorAll("li[data-message-id]").forEach((li) => {
        const messageId = Number(li.dataset.messageId);
        if (messageId <= lastId || document.getElementById(`m-${messageId}`)) { return; }
        list.appendChild(li);
        lastId = messageId;
        added = true;
      });
      if (added) {
        const empty = root.querySelector("[data-empty]");
        if (empty) { empty.remove(); }
        scrollToEnd();
        markRead();
      }
    }).catch(() => {}));
    return chain;
  };

  const receipts = (upTo) => {
    list.querySelectorAll(`li[data-side="${mySide}"] .receipt`).forEach((receipt) => {
      const li = receipt.closest("li");
      if (Number(li.dataset.messageId) <= upTo && receipt.dataset.read !== "true") {
        receipt.dataset.read = "true";
        receipt.textContent = root.dataset.readLabel || receipt.textContent;
      }
    });
  };

  document.addEventListener("kabinet:live", (event) => {
    const payload = event.detail || {};
    const data = payload.data || {};
    if (payload.event === "subscribed" && data.topic === "conversation" && String(data.id) === id) {
      root.dataset.live = "subscribed";
      fetchAfter();
    } else if (String(data.conversation) !== id) {
      return;
    } else if (payload.event === "consultations.message") {
      fetchAfter();
    } else if (payload.event === "consultations.read" && data.side === mySide) {
      receipts(Number(data.up_to));
    } else if (payload.event === "consultations.contract" && data.status !== "active" && root.dataset.writable === "true") {
      window.location.reload();
    } else if (payload.event === "consultations.video") {
      const join = root.querySelector("[data-video-join]");
      if (join) {
        join.href = join.dataset.urlTemplate.replace(/\/0\/$/, `/${data.call}/`);
        join.hidden = data.state !== "started";
      }
    }
  });
  document.addEventListener("visibilitychange", markRead);

  // --- sending ---------------------------------------------------------------------------------------------------

  const showErrors = (box, problem) => {
    if (!box) { return; }
    const parts = [problem.detail || ""];
    Object.values(problem.errors || {}).forEach((messages) => parts.push(...messages));
    box.textContent = parts.filter(Boolean).join(" ");
    box.hidden = false;
  };

  const send = (body, box) => {
    root.dataset.state = "sending";
    const init = { method: "POST", credentials: "same-origin", headers: headers({ "Idempotency-Key": newKey() }), body: body };
    if (!(body instanceof FormData)) { init.headers["Content-Type"] = "application/json"; }
    return fetch(`${api}/messages`, init).then((response) => response.json().catch(() => ({})).then((json) => {
      root.dataset.state = "ready";
      if (response.ok) {
        if (box) { box.hidden = true; box.textContent = ""; }
        fetchAfter();
        return true;
      }
      showErrors(box, json);
      return false;
    })).catch(() => {
      root.dataset.state = "ready";
      showErrors(box, { detail: root.dataset.offlineLabel || "Not sent: check your connection and try again." });
      return false;
    });
  };

  const messageForm = root.querySelector('form[data-send="message"]');
  if (messageForm) {
    messageForm.addEventListener("submit", (event) => {
      event.preventDefault();
      const text = messageForm.querySelector("textarea").value;
      const file = messageForm.querySelector('input[type="file"]');
      let body;
      if (file && file.files.length) {
        body = new FormData();
        body.append("text", text);
        body.append("file", file.files[0]);
      } else {
        body = JSON.stringify({ text: text });
      }
      send(body, messageForm.querySelector("[data-errors]")).then((ok) => { if (ok) { messageForm.reset(); } });
    });
  }

  const readingForm = root.querySelector('form[data-send="reading"]');
  if (readingForm) {
    const field = (name) => readingForm.querySelector(`[name="r-${name}"]`);
    const showKind = () => {
      const kind = field("kind").value;
      readingForm.querySelectorAll("[data-for-kind]").forEach((label) => {
        label.hidden = !label.dataset.forKind.split(" ").includes(kind);
      });
    };
    field("kind").addEventListener("change", showKind);
    showKind();
    readingForm.addEventListener("submit", (event) => {
      event.preventDefault();
      const kind = field("kind").value;
      const comment = field("comment").value;
      const measured = field("measured_at").value;
      let body;
      if (kind === "ecg") {
        body = new FormData();
        body.append("reading_kind", "ecg");
        body.append("comment", comment);
        if (field("file").files.length) { body.append("file", field("file").files[0]); }
      } else {
        const values = kind === "blood_pressure"
          ? { systolic: field("systolic").value, diastolic: field("diastolic").value, pulse: field("pulse").value || null }
          : { [kind]: field("value").value };
        const reading = { kind: kind, values: values, comment: comment };
        if (measured) { reading.measured_at = new Date(measured).toISOString(); }
        body = JSON.stringify({ reading: reading });
      }
      send(body, readingForm.querySelector("[data-errors]")).then((ok) => {
        if (ok) { readingForm.reset(); showKind(); readingForm.closest("details").open = false; }
      });
    });
  }

  // voice.js hands its recording here.
  window.kabinetConversation = {
    sendVoice: (blob, seconds, box) => {
      const extension = (blob.type.split("/")[1] || "webm").split(";")[0];
      const body = new FormData();
      body.append("voice", blob, `voice.${extension === "mp4" ? "m4a" : extension}`);
      body.append("duration", String(Math.max(seconds, 0.1)));
      return send(body, box);
    },
  };

  root.dataset.state = "ready";
  if (window.kabinetLive) { window.kabinetLive.subscribe("conversation", Number(id)); }
  scrollToEnd();
  markRead();
})();
