// Worklist pages: outcome buttons from the keyboard. On a focused row (or anything inside it but a text field):
// C / N / W press the row's outcome buttons, B and X open "call back" and "cancelled", J / K (or the arrow keys)
// move to the next or previous row. After htmx swaps a row in, focus stays on it.

const ROW = ".fd-item";

function rows() { return Array.from(document.querySelectorAll(ROW)); }

function typing(target) {
  return target.closest("input, textarea, select, [contenteditable=true]") !== null;
}

function move(row, step) {
  const all = rows();
  const next = all[all.indexOf(row) + step];
  if (next) { next.focus(); next.scrollIntoView({ block: "nearest" }); }
}

document.addEventListener("keydown", (event) => {
  if (event.ctrlKey || event.metaKey || event.altKey || typing(event.target)) { return; }
  const row = event.target.closest(ROW);
  if (!row) { return; }
  const key = event.key.toLowerCase();
  if (key === "j" || key === "arrowdown") { event.preventDefault(); move(row, 1); return; }
  if (key === "k" || key === "arrowup") { event.preventDefault(); move(row, -1); return; }
  const button = row.querySelector(`button[data-key="${key}"]`);
  if (button) { event.preventDefault(); button.click(); return; }
  const details = row.querySelector(`details[data-key="${key}"]`);
  if (details) {
    event.preventDefault();
    details.open = true;
    const field = details.querySelector("input:not([type=hidden]), select");
    if (field) { field.focus(); }
  }
});

document.addEventListener("htmx:afterSwap", (event) => {
  const row = event.detail.target && event.detail.target.id ? document.getElementById(event.detail.target.id) : null;
  const focused = document.querySelector(`${ROW}[data-focus]`) || row;
  if (focused && focused.matches(ROW)) { focused.focus(); }
});
