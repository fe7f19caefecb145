/* The signing screen: draw with a finger, stylus or mouse (pointer events), clear, and send the drawing as a PNG
   data URL in the form's hidden "signature" field. The server checks and crops it; an empty box is refused there. */
(function () {
  "use strict";
  const form = document.getElementById("sign-form");
  const canvas = document.getElementById("sign-pad");
  if (!form || !canvas) { return; }
  const context = canvas.getContext("2d");
  let drawing = false;
  let last = null;

  function setUp() {
    // Draw at the screen's pixel density, so the strokes stay sharp on a tablet.
    const ratio = window.devicePixelRatio || 1;
    const box = canvas.getBoundingClientRect();
    canvas.width = Math.round(box.width * ratio);
    canvas.height = Math.round(box.height * ratio);
    context.setTransform(ratio, 0, 0, ratio, 0, 0);
    context.lineWidth = 2.5;
    context.lineCap = "round";
    context.lineJoin = "round";
    context.strokeStyle = "#111";
  }

  function point(event) {
    const box = canvas.getBoundingClientRect();
    return { x: event.clientX - box.left, y: event.clientY - box.top };
  }

  canvas.addEventListener("pointerdown", (event) => {
    event.preventDefault();
    canvas.setPointerCapture(event.pointerId);
    drawing = true;
    last = point(event);
    context.beginPath();
    context.arc(last.x, last.y, context.lineWidth / 2, 0, Math.PI * 2);
    context.fillStyle = context.strokeStyle;
    context.fill();
  });
  canvas.addEventListener("pointermove", (event) => {
    if (!drawing) { return; }
    event.preventDefault();
    const next = point(event);
    context.beginPath();
    context.moveTo(last.x, last.y);
    context.lineTo(next.x, next.y);
    context.stroke();
    last = next;
  });
  for (const name of ["pointerup", "pointercancel", "pointerleave"]) {
    canvas.addEventListener(name, () => { drawing = false; });
  }
  document.getElementById("sign-clear").addEventListener("click", () => {
    context.save();
    context.setTransform(1, 0, 0, 1, 0, 0);
    context.clearRect(0, 0, canvas.width, canvas.height);
    context.restore();
  });
  form.addEventListener("submit", () => {
    form.elements.signature.value = canvas.toDataURL("image/png");
  });
  setUp();
})();
