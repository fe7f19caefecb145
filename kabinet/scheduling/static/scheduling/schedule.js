// The schedule page: select cells of the month grid by dragging (mouse, pen or touch), then let the toolbar's
// htmx buttons post the selection ("<doctor id>:<YYYY-MM-DD>,…"); copy a day or a week and paste it elsewhere.
// The server decides everything else and answers with the refreshed grid, which replaces #schedule-grid.
(function () {
  "use strict";
  const root = document.getElementById("schedule");
  if (!root) return;
  const form = document.getElementById("schedule-actions");
  const field = (name) => (form ? form.elements.namedItem(name) : null);
  const status = document.getElementById("selection-status");
  const pasteButton = document.getElementById("paste-button");
  const selected = new Set();
  let base = new Set();
  let anchor = null;
  let dragging = false;

  const message = (name, values) => {
    let text = root.dataset[name] || "";
    Object.entries(values || {}).forEach(([key, value]) => { text = text.replace(`%(${key})s`, String(value)); });
    return text;
  };
  const say = (text) => { if (status) status.textContent = text; };
  const table = () => root.querySelector("#schedule-grid table.schedule");
  const keyOf = (td) => `${td.dataset.practitioner}:${td.dataset.day}`;
  const rows = () => {
    const t = table();
    return t ? Array.from(t.tBodies[0].rows).filter((tr) => tr.dataset.practitioner) : [];
  };

  function rectangle(from, to) {
    const all = rows();
    const r1 = all.indexOf(from.parentElement);
    const r2 = all.indexOf(to.parentElement);
    const keys = [];
    if (r1 < 0 || r2 < 0) return keys;
    const [c1, c2] = [Math.min(from.cellIndex, to.cellIndex), Math.max(from.cellIndex, to.cellIndex)];
    for (let r = Math.min(r1, r2); r <= Math.max(r1, r2); r += 1) {
      for (let c = c1; c <= c2; c += 1) {
        const td = all[r].cells[c];
        if (td && td.classList.contains("cell")) keys.push(keyOf(td));
      }
    }
    return keys;
  }

  function paint() {
    const t = table();
    if (t) {
      t.querySelectorAll("td.cell").forEach((td) => {
        td.setAttribute("aria-selected", selected.has(keyOf(td)) ? "true" : "false");
      });
    }
    const cells = field("cells");
    if (cells) cells.value = Array.from(selected).join(",");
    say(selected.size ? message("msgSelected", { n: selected.size }) : message("msgHint"));
  }

  function select(keys, additive) {
    if (!additive) selected.clear();
    keys.forEach((k) => selected.add(k));
    paint();
  }

  function cellAt(x, y) {
    const el = document.elementFromPoint(x, y);
    const td = el && el.closest ? el.closest("td.cell") : null;
    return td && table() && table().contains(td) ? td : null;
  }

  root.addEventListener("pointerdown", (event) => {
    const td = event.target.closest && event.target.closest("td.cell");
    if (!td || !table() || !table().contains(td)) return;
    if (event.pointerType === "mouse" && event.button !== 0) return;
    event.preventDefault();
    // Ctrl/⌘ adds a rectangle to the selection; Shift stretches the last one from its first cell.
    base = new Set(event.ctrlKey || event.metaKey ? selected : []);
    if (!(event.shiftKey && anchor && table().contains(anchor))) anchor = td;
    dragging = true;
    selected.clear();
    base.forEach((k) => selected.add(k));
    rectangle(anchor, td).forEach((k) => selected.add(k));
    paint();
  });

  document.addEventListener("pointermove", (event) => {
    if (!dragging || !anchor) return;
    const td = cellAt(event.clientX, event.clientY);
    if (!td) return;
    selected.clear();
    base.forEach((k) => selected.add(k));
    rectangle(anchor, td).forEach((k) => selected.add(k));
    paint();
  });

  const stop = () => { dragging = false; };
  document.addEventListener("pointerup", stop);
  document.addEventListener("pointercancel", stop);

  root.addEventListener("click", (event) => {
    const target = event.target;
    const additive = event.ctrlKey || event.metaKey;
    const dayHeader = target.closest && target.closest("thead th.day");
    if (dayHeader && table() && table().contains(dayHeader)) {
      const index = dayHeader.cellIndex;
      select(rows().map((tr) => tr.cells[index]).filter(Boolean).map(keyOf), additive);
      return;
    }
    const doctorHeader = target.closest && target.closest("tbody th.doctor");
    if (doctorHeader && table() && table().contains(doctorHeader)) {
      select(Array.from(doctorHeader.parentElement.querySelectorAll("td.cell")).map(keyOf), additive);
      return;
    }
    const action = target.closest && target.closest("[data-action]");
    if (!action) return;
    switch (action.dataset.action) {
      case "clear":
        select([], false);
        break;
      case "copy":
        copy();
        break;
      case "add-break": {
        const rowsBox = document.getElementById("break-rows");
        const first = rowsBox && rowsBox.querySelector(".break-row");
        if (first) {
          const row = first.cloneNode(true);
          row.querySelectorAll("input").forEach((input) => { input.value = ""; });
          rowsBox.appendChild(row);
        }
        break;
      }
      case "dismiss": {
        const box = action.closest("article");
        if (box) box.remove();
        break;
      }
      default:
        break;
    }
  });

  function dayNumber(iso) {
    const [y, m, d] = iso.split("-").map(Number);
    return Date.UTC(y, m - 1, d) / 86400000;
  }

  function copy() {
    if (!selected.size) { say(message("msgCopyFirst")); return; }
    const days = new Set();
    const doctors = new Set();
    selected.forEach((key) => {
      const [pid, day] = key.split(":");
      doctors.add(pid);
      days.add(day);
    });
    const sorted = Array.from(days).sort();
    if (dayNumber(sorted[sorted.length - 1]) - dayNumber(sorted[0]) > 6) { say(message("msgCopyTooLong")); return; }
    field("source_days").value = sorted.join(",");
    field("source_practitioner").value = doctors.size === 1 ? Array.from(doctors)[0] : "";
    if (pasteButton) pasteButton.disabled = false;
    say(message("msgCopied", { n: sorted.length }));
  }

  const templateSelect = document.getElementById("schedule-template");
  const customHours = document.getElementById("custom-hours");
  if (templateSelect && customHours) {
    const sync = () => { customHours.hidden = templateSelect.value !== ""; };
    templateSelect.addEventListener("change", sync);
    sync();
  }

  document.addEventListener("keydown", (event) => {
    if (event.key === "Escape" && selected.size) select([], false);
  });

  // The grid is replaced after every change: show the selection again on the new cells.
  document.body.addEventListener("htmx:afterSettle", paint);
  paint();
})();
