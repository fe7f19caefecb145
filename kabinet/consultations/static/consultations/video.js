// A video consultation: camera and microphone, one RTCPeerConnection to the other side, signalling through
// /ws/video/<call>/ (offer, answer, ICE candidates). The doctor's side makes the offer when it learns the patient is
// there; either side may leave and come back (the connection starts over). STUN/TURN servers come from the page.
(function () {
  "use strict";
  const root = document.getElementById("video-call");
  if (!root || root.dataset.state === "ended") { return; }
  const side = root.dataset.side;
  const local = root.querySelector("[data-local]");
  const remote = root.querySelector("[data-remote]");
  const status = root.querySelector("[data-status]");
  const iceServers = JSON.parse(document.getElementById("ice-servers").textContent);
  let stream = null;
  let pc = null;
  let socket = null;
  let pending = [];

  const say = (state, label) => {
    root.dataset.state = state;
    if (label) { status.textContent = label; }
  };
  const send = (message) => { if (socket && socket.readyState === WebSocket.OPEN) { socket.send(JSON.stringify(message)); } };

  const newPeer = () => {
    if (pc) { pc.close(); }
    pending = [];
    remote.srcObject = null;
    pc = new RTCPeerConnection({ iceServers: iceServers });
    root.peer = pc;  // for diagnostics and tests
    stream.getTracks().forEach((track) => pc.addTrack(track, stream));
    pc.addEventListener("track", (event) => { remote.srcObject = event.streams[0]; });
    pc.addEventListener("icecandidate", (event) => { if (event.candidate) { send({ type: "candidate", data: event.candidate.toJSON() }); } });
    pc.addEventListener("connectionstatechange", () => {
      if (pc.connectionState === "connected") { say("connected", root.dataset.connectedLabel); }
      if (pc.connectionState === "failed") { say("failed", root.dataset.failedLabel); }
    });
  };

  const offer = async () => {
    newPeer();
    await pc.setLocalDescription(await pc.createOffer());
    send({ type: "offer", data: pc.localDescription.toJSON() });
  };

  const flush = async () => {
    const waiting = pending;
    pending = [];
    for (const candidate of waiting) { await pc.addIceCandidate(candidate); }
  };

  const onMessage = async (message) => {
    if (root.dataset.state === "ended") { return; }  // the other side leaving after the call ended changes nothing
    if (message.type === "peer-joined") {
      send({ type: "here" });
      if (side === "staff") { await offer(); }
    } else if (message.type === "here") {
      if (side === "staff") { await offer(); }
    } else if (message.type === "offer") {
      newPeer();
      await pc.setRemoteDescription(message.data);
      await pc.setLocalDescription(await pc.createAnswer());
      send({ type: "answer", data: pc.localDescription.toJSON() });
      await flush();
    } else if (message.type === "answer" && pc) {
      await pc.setRemoteDescription(message.data);
      await flush();
    } else if (message.type === "candidate" && message.data) {
      if (pc && pc.remoteDescription) { await pc.addIceCandidate(message.data); } else { pending.push(message.data); }
    } else if (message.type === "peer-left" || message.type === "bye") {
      if (pc) { pc.close(); pc = null; }
      remote.srcObject = null;
      say("waiting", root.dataset.leftLabel);
    }
  };

  remote.addEventListener("resize", () => { if (remote.videoWidth > 0) { root.dataset.media = "receiving"; } });
  remote.addEventListener("loadeddata", () => { if (remote.videoWidth > 0) { root.dataset.media = "receiving"; } });

  document.addEventListener("kabinet:live", (event) => {
    const data = (event.detail || {}).data || {};
    if ((event.detail || {}).event === "consultations.video" && String(data.call) === root.dataset.call && data.state === "ended") {
      if (pc) { pc.close(); }
      if (stream) { stream.getTracks().forEach((track) => track.stop()); }
      say("ended", root.dataset.endedLabel);
      if (socket) { socket.close(); }
    }
  });

  const connect = () => {
    const scheme = location.protocol === "https:" ? "wss" : "ws";
    socket = new WebSocket(`${scheme}://${location.host}/ws/video/${root.dataset.call}/`);
    socket.addEventListener("open", () => say("waiting", root.dataset.waitingLabel));
    socket.addEventListener("message", (event) => {
      let message;
      try { message = JSON.parse(event.data); } catch (e) { return; }
      onMessage(message).catch(() => say("failed", root.dataset.failedLabel));
    });
    socket.addEventListener("close", (event) => {
      if (root.dataset.state === "ended" || event.code === 4403) { return; }
      setTimeout(connect, 2000);
    });
  };

  if (window.kabinetLive) {
    const conversation = root.dataset.conversation;
    if (conversation) { window.kabinetLive.subscribe("conversation", Number(conversation)); }
  }
  navigator.mediaDevices.getUserMedia({ audio: true, video: true }).then((media) => {
    stream = media;
    local.srcObject = media;
    connect();
  }).catch(() => say("failed", root.dataset.cameraLabel));
})();
