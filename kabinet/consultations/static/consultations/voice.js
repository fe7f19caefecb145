// Voice messages recorded in the browser with MediaRecorder (WebM/Opus, Ogg/Opus or MP4/AAC, whatever the browser
// records) and sent with their length through conversation.js. Stops by itself at the clinic's limit; hidden where
// the browser cannot record.
(function () {
  "use strict";
  const box = document.querySelector("[data-voice]");
  if (!box) { return; }
  if (!window.MediaRecorder || !navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) { return; }
  box.hidden = false;
  const start = box.querySelector("[data-voice-start]");
  const stop = box.querySelector("[data-voice-stop]");
  const cancel = box.querySelector("[data-voice-cancel]");
  const status = box.querySelector("[data-voice-status]");
  const errors = box.querySelector("[data-errors]");
  const maxSeconds = Number(box.dataset.maxSeconds) || 300;
  const types = ["audio/webm;codecs=opus", "audio/webm", "audio/ogg;codecs=opus", "audio/mp4"];
  let recorder = null;
  let stream = null;
  let chunks = [];
  let startedAt = 0;
  let timer = null;
  let discard = false;

  const clock = (seconds) => `${Math.floor(seconds / 60)}:${String(Math.floor(seconds % 60)).padStart(2, "0")}`;
  const elapsed = () => (performance.now() - startedAt) / 1000;
  const setState = (state) => {
    box.dataset.state = state;
    start.hidden = state === "recording";
    stop.hidden = state !== "recording";
    cancel.hidden = state !== "recording";
  };
  const release = () => {
    clearInterval(timer);
    if (stream) { stream.getTracks().forEach((track) => track.stop()); }
    stream = null;
  };

  start.addEventListener("click", async () => {
    errors.hidden = true;
    try {
      stream = await navigator.mediaDevices.getUserMedia({ audio: true });
    } catch (e) {
      errors.textContent = box.dataset.micRefused || "The microphone is not available: allow it in the browser.";
      errors.hidden = false;
      return;
    }
    const type = types.find((t) => MediaRecorder.isTypeSupported(t));
    recorder = new MediaRecorder(stream, type ? { mimeType: type } : {});
    chunks = [];
    discard = false;
    recorder.addEventListener("dataavailable", (event) => { if (event.data && event.data.size) { chunks.push(event.data); } });
    recorder.addEventListener("stop", () => {
      const seconds = Math.min(elapsed(), maxSeconds);
      release();
      setState("idle");
      if (discard || !chunks.length) { status.textContent = ""; return; }
      const blob = new Blob(chunks, { type: (recorder.mimeType || "audio/webm") });
      status.textContent = box.dataset.sendingLabel || "…";
      window.kabinetConversation.sendVoice(blob, seconds, errors).then((ok) => {
        status.textContent = ok ? "" : status.textContent;
        box.dataset.state = ok ? "sent" : "failed";
      });
    });
    recorder.start(250);
    startedAt = performance.now();
    setState("recording");
    status.textContent = clock(0);
    timer = setInterval(() => {
      const seconds = elapsed();
      status.textContent = clock(seconds);
      if (seconds >= maxSeconds && recorder.state === "recording") { recorder.stop(); }
    }, 250);
  });
  stop.addEventListener("click", () => { if (recorder && recorder.state === "recording") { recorder.stop(); } });
  cancel.addEventListener("click", () => {
    discard = true;
    if (recorder && recorder.state === "recording") { recorder.stop(); }
  });
})();
