// The staff calendar page: EventCalendar (vendor/event-calendar) fed by /api/v1/, with a booking dialog, a visit
// panel, drag-to-move and resize, and live refreshes over the page's websocket (core/live.js).
//
// Times: the calendar shows the location's wall-clock time whatever the browser's zone. Events are handed over as
// "floating" local strings (no offset) computed with Intl in the location's zone; what the calendar gives back
// (click and drop times) is read as wall-clock and turned into an instant in that zone before it goes to the API.

const config = JSON.parse(document.getElementById("calendar-config").textContent);
const S = JSON.parse(document.getElementById("calendar-strings").textContent);
const root = document.getElementById("calendar-page");
const API = config.api;
const LANG = document.documentElement.lang || "en";
const STATUS_LABEL = Object.fromEntries(config.statuses.map((s) => [s.value, s.label]));
const STATUS_COLOUR = {
  pending: "#b45309", scheduled: "#2563eb", confirmed: "#15803d", arrived: "#7c3aed",
  completed: "#475569", no_show: "#b91c1c", cancelled: "#9ca3af",
};
// The buttons of the visit panel, in order: target status -> label, and from which statuses it is offered.
const ACTIONS = [
  { status: "scheduled", label: S.action_approve, from: ["pending"] },
  { status: "confirmed", label: S.action_confirm, from: ["pending", "scheduled"] },
  { status: "arrived", label: S.action_arrived },
  { status: "completed", label: S.action_completed },
  { status: "no_show", label: S.action_no_show, reason: "no_show" },
  { status: "cancelled", label: S.action_cancel, reason: "cancel" },
];

// Extensions registered by apps above scheduling (scheduling/hooks.py): the front desk marks arrival itself;
// consultations starts the video call of a video visit.
const FRONTDESK = (config.extensions || {}).frontdesk || null;
const VIDEO = (config.extensions || {}).consultations || null;

const $ = (selector, scope = document) => scope.querySelector(selector);
const $$ = (selector, scope = document) => Array.from(scope.querySelectorAll(selector));

// --- time zones ------------------------------------------------------------------------------------------------

const pad = (n) => String(n).padStart(2, "0");
const partsFormatters = new Map();

function zoneParts(instant, zone) {
  let format = partsFormatters.get(zone);
  if (!format) {
    format = new Intl.DateTimeFormat("en-US", {
      timeZone: zone, hourCycle: "h23", year: "numeric", month: "2-digit", day: "2-digit",
      hour: "2-digit", minute: "2-digit", second: "2-digit",
    });
    partsFormatters.set(zone, format);
  }
  const parts = Object.fromEntries(format.formatToParts(instant).map((p) => [p.type, p.value]));
  return { y: +parts.year, m: +parts.month, d: +parts.day, h: +parts.hour % 24, mi: +parts.minute, s: +parts.second };
}

function zoneOffsetMs(ms, zone) {
  const p = zoneParts(new Date(ms), zone);
  return Date.UTC(p.y, p.m - 1, p.d, p.h, p.mi, p.s) - Math.floor(ms / 1000) * 1000;
}

/** "2030-03-31T10:00:00" (an instant shown in `zone`) for an ISO instant from the API. */
function floating(iso, zone) {
  const p = zoneParts(new Date(iso), zone);
  return `${p.y}-${pad(p.m)}-${pad(p.d)}T${pad(p.h)}:${pad(p.mi)}:${pad(p.s)}`;
}

/** Wall-clock fields of a floating string or of a calendar Date (whose local fields are the wall-clock). */
function wallOf(value) {
  if (value instanceof Date) {
    return { y: value.getFullYear(), m: value.getMonth() + 1, d: value.getDate(), h: value.getHours(), mi: value.getMinutes() };
  }
  const match = /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2}))?/.exec(value);
  if (!match) { return null; }
  return { y: +match[1], m: +match[2], d: +match[3], h: +(match[4] || 0), mi: +(match[5] || 0) };
}

/** The instant (ISO, UTC) at which the wall-clock `value` happens in `zone`. */
function instantOf(value, zone) {
  const w = wallOf(value);
  const guess = Date.UTC(w.y, w.m - 1, w.d, w.h, w.mi);
  let ms = guess - zoneOffsetMs(guess, zone);
  const second = guess - zoneOffsetMs(ms, zone);
  if (second !== ms) { ms = second; }
  return new Date(ms).toISOString();
}

function offsetString(zone) {
  const minutes = Math.round(zoneOffsetMs(Date.now(), zone) / 60000);
  const sign = minutes < 0 ? "-" : "+";
  return `${sign}${pad(Math.floor(Math.abs(minutes) / 60))}:${pad(Math.abs(minutes) % 60)}`;
}

const todayIn = (zone) => { const p = zoneParts(new Date(), zone); return `${p.y}-${pad(p.m)}-${pad(p.d)}`; };

function formatWhen(startIso, endIso, zone) {
  const day = new Intl.DateTimeFormat(LANG, { timeZone: zone, weekday: "short", day: "numeric", month: "long" });
  const time = new Intl.DateTimeFormat(LANG, { timeZone: zone, hour: "2-digit", minute: "2-digit", hourCycle: "h23" });
  const start = new Date(startIso);
  return endIso ? `${day.format(start)}, ${time.format(start)}–${time.format(new Date(endIso))}` : `${day.format(start)}, ${time.format(start)}`;
}

// --- the API -----------------------------------------------------------------------------------------------------

class ApiError extends Error {
  constructor(message, status, code) { super(message); this.status = status; this.code = code; }
}

function csrfToken() {
  const cookie = document.cookie.split("; ").find((c) => c.startsWith("csrftoken="));
  if (cookie) { return decodeURIComponent(cookie.slice("csrftoken=".length)); }
  try { return JSON.parse(document.body.getAttribute("hx-headers") || "{}")["X-CSRFToken"] || ""; } catch (e) { return ""; }
}

function newKey() {
  if (window.crypto && crypto.randomUUID) { return crypto.randomUUID(); }
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return Array.from(bytes, (b) => pad(b.toString(16))).join("");
}

/** A readable sentence from a problem+json body: its `detail`, then the field messages in `errors`. */
function problemText(status, body) {
  if (body && body.detail) {
    const fields = body.errors ? Object.values(body.errors).flat().filter((m) => m && m !== body.detail) : [];
    return [body.detail, ...fields].join(" ");
  }
  if (status === 409) { return S.slot_taken; }
  if (status === 403) { return S.forbidden; }
  if (status === 404) { return S.not_found; }
  return S.network_error;
}

async function api(method, path, { params, body, headers } = {}) {
  const url = new URL(API + path, location.origin);
  Object.entries(params || {}).forEach(([k, v]) => { if (v !== undefined && v !== null && v !== "") { url.searchParams.set(k, v); } });
  const init = { method, credentials: "same-origin", headers: { Accept: "application/json", ...(headers || {}) } };
  if (method !== "GET") { init.headers["X-CSRFToken"] = csrfToken(); }
  if (body !== undefined) { init.headers["Content-Type"] = "application/json"; init.body = JSON.stringify(body); }
  let response;
  try { response = await fetch(url, init); } catch (e) { throw new ApiError(S.network_error, 0, "network"); }
  const data = await response.json().catch(() => null);
  if (!response.ok) { throw new ApiError(problemText(response.status, data), response.status, data && data.code); }
  return data;
}

// --- page state --------------------------------------------------------------------------------------------------

const query = new URLSearchParams(location.search);
const state = {
  location: config.location,
  view: query.get("view") === "week" ? "week" : "day",
  date: /^\d{4}-\d{2}-\d{2}$/.test(query.get("date") || "") ? query.get("date") : null,
  doctor: query.get("doctor") || "",
  service: query.get("service") || "",
  status: query.get("status") || "",
  colourBy: query.get("colour") === "service" ? "service" : "status",
  practitioners: [],      // of the location
  services: [],
  lastEvents: [],
  busy: 0,                // drags and writes in progress: live refreshes wait for them
  refreshWanted: false,
};
const ecElement = $("#ec");
let ec = null;
let refreshTimer = null;
const followed = new Set();  // locations whose calendar topic the socket has joined
const zone = () => (config.locations.find((l) => l.id === state.location) || { time_zone: "UTC" }).time_zone;
const doctorName = (id) => (state.practitioners.find((p) => String(p.id) === String(id)) || { name: "" }).name;

function saveUrl() {
  const params = new URLSearchParams();
  params.set("location", state.location);
  params.set("view", state.view);
  if (state.date) { params.set("date", state.date); }
  if (state.doctor) { params.set("doctor", state.doctor); }
  if (state.service) { params.set("service", state.service); }
  if (state.status) { params.set("status", state.status); }
  if (state.colourBy !== "status") { params.set("colour", state.colourBy); }
  history.replaceState(null, "", `${location.pathname}?${params}`);
}

const message = $("#cal-message");
let messageTimer = null;
function say(text, { error = false, sticky = false, kind = "" } = {}) {
  clearTimeout(messageTimer);
  message.dataset.kind = kind;
  message.textContent = text;
  message.hidden = !text;
  message.classList.toggle("kb-cal-error", error);
  message.setAttribute("role", error ? "alert" : "status");
  if (text && !sticky) { messageTimer = setTimeout(() => { message.hidden = true; }, error ? 12000 : 5000); }
}

// --- events for the calendar -------------------------------------------------------------------------------------

function textColourFor(hex) {
  const m = /^#?([0-9a-f]{2})([0-9a-f]{2})([0-9a-f]{2})$/i.exec(hex || "");
  if (!m) { return "#fff"; }
  const [r, g, b] = [m[1], m[2], m[3]].map((x) => parseInt(x, 16));
  return (0.299 * r + 0.587 * g + 0.114 * b) > 150 ? "#111827" : "#fff";
}

function visitEvent(a) {
  const colour = state.colourBy === "service" ? a.colour : STATUS_COLOUR[a.status] || "#2563eb";
  return {
    id: String(a.id),
    resourceIds: [String(a.practitioner)],
    start: floating(a.start, zone()),
    end: floating(a.end, zone()),
    title: a.patient_name,
    backgroundColor: colour,
    textColor: textColourFor(colour),
    editable: config.movable.includes(a.status),
    classNames: ["kb-visit", `kb-status-${a.status}`],
    extendedProps: { appointment: a },
  };
}

function shiftEvents(shift) {
  const resourceIds = [String(shift.practitioner)];
  const events = [{
    id: `shift-${shift.id}`, resourceIds, display: "background", classNames: ["kb-shift"],
    start: floating(shift.start, zone()), end: floating(shift.end, zone()),
  }];
  shift.breaks.forEach((b, i) => events.push({
    id: `break-${shift.id}-${i}`, resourceIds, display: "background", classNames: ["kb-break"],
    start: floating(b.start, zone()), end: floating(b.end, zone()),
  }));
  return events;
}

function visibleDoctor() {
  return state.view === "week" ? state.doctor || (state.practitioners[0] && String(state.practitioners[0].id)) || "" : state.doctor;
}

// Fetches can overlap (navigation, live changes, the refresh after a write). Whatever order their answers come in,
// each one hands the calendar the newest data, so an answer that left before a write never undoes it on screen.
let fetchSeq = 0;
let newestFetch = Promise.resolve([]);

function loadEvents(info) {
  const seq = ++fetchSeq;
  setLoading(true);
  const mine = fetchEvents(info);
  newestFetch = mine;
  return (async () => {
    let answer = mine;
    await answer;
    while (answer !== newestFetch) { answer = newestFetch; await answer; }
    if (seq === fetchSeq) { settleLoading(); }
    return answer;
  })();
}

/** data-state / aria-busy say whether the calendar shows the latest data; tests and screen readers wait on it. */
function setLoading(on) {
  root.dataset.state = on ? "loading" : "ready";
  ecElement.setAttribute("aria-busy", String(on));
}

function settleLoading() {
  if (!state.busy && !refreshTimer && !state.refreshWanted) { setLoading(false); }
}

async function fetchEvents(info) {
  const start = instantOf(info.startStr, zone());
  const end = instantOf(info.endStr, zone());
  const doctor = visibleDoctor();
  const status = state.status === "any" ? "" : state.status;
  const sameRange = state.lastRange === `${state.location}|${start}|${end}|${doctor}|${state.service}|${state.status}`;
  try {
    const [visits, shifts] = await Promise.all([
      api("GET", "appointments", { params: { start, end, location: state.location, practitioner: doctor, service: state.service, status } }),
      api("GET", "shifts", { params: { start, end, location: state.location, practitioner: doctor } }),
    ]);
    const shown = state.status === "" ? visits.filter((a) => a.status !== "cancelled") : visits;
    state.lastEvents = [...shifts.flatMap(shiftEvents), ...shown.map(visitEvent)];
    state.lastRange = `${state.location}|${start}|${end}|${doctor}|${state.service}|${state.status}`;
    root.dataset.visits = String(shown.length);
    showEmpty(shown.length);
    if (message.dataset.kind === "load") { say(""); }
    return state.lastEvents;
  } catch (error) {
    say(error.status === 0 ? S.load_failed : error.message, { error: true, sticky: true, kind: "load" });
    return sameRange ? state.lastEvents : [];
  }
}

function showEmpty(visitCount) {
  const empty = $("#cal-empty");
  let text = "";
  if (!state.practitioners.length) { text = S.no_doctors; }
  else if (state.view === "day" && !resources().length) { text = S.no_doctors_filtered; }
  else if (visitCount === 0) { text = state.service || state.status ? S.no_visits_filtered : S.no_visits; }
  empty.textContent = text;
  empty.hidden = !text;
}

// --- the calendar widget ------------------------------------------------------------------------------------------


function resources() {
  let doctors = state.practitioners;
  if (state.service) { doctors = doctors.filter((p) => p.services.includes(Number(state.service))); }
  if (state.doctor) { doctors = doctors.filter((p) => String(p.id) === state.doctor); }
  return doctors.map((p) => ({ id: String(p.id), title: p.name }));
}

function sizeColumns() {
  const count = state.view === "day" ? Math.max(resources().length, 1) : 7;
  ecElement.style.minWidth = `${56 + count * (state.view === "day" ? 150 : 96)}px`;
}

function createCalendar() {
  const timeFormat = { hour: "2-digit", minute: "2-digit", hourCycle: "h23" };
  ec = EventCalendar.create(ecElement, {
    view: state.view === "week" ? "timeGridWeek" : "resourceTimeGridDay",
    date: state.date || todayIn(zone()),
    timeZone: offsetString(zone()),
    locale: LANG,
    firstDay: 1,
    headerToolbar: { start: "", center: "", end: "" },
    allDaySlot: false,
    nowIndicator: true,
    slotDuration: "00:15",
    snapDuration: "00:05",
    slotMinTime: "08:00",
    slotMaxTime: "20:00",
    // Widen 08:00-20:00 to fit shifts and visits (not the widget's own drag preview and pointer).
    flexibleSlotTimeLimits: { eventFilter: (event) => event.display === "auto" || event.display === "background" },
    slotLabelFormat: timeFormat,
    eventTimeFormat: timeFormat,
    dayHeaderFormat: { weekday: "short", day: "numeric", month: "numeric" },
    views: { resourceTimeGridDay: { titleFormat: { weekday: "long", day: "numeric", month: "long", year: "numeric" } } },
    height: "auto",
    pointer: true,
    editable: true,
    eventDurationEditable: true,
    eventStartEditable: true,
    resources: resources(),
    eventSources: [{ events: (info) => loadEvents(info) }],
    eventContent: renderVisit,
    eventDidMount: (info) => {
      const a = info.event.extendedProps.appointment;
      if (!a) { return; }
      info.el.dataset.appointmentId = String(a.id);
      info.el.dataset.status = a.status;
      info.el.setAttribute("aria-label", `${a.patient_name}, ${a.service_name}, ${formatWhen(a.start, a.end, zone())}, ${STATUS_LABEL[a.status] || a.status}`);
    },
    datesSet: (info) => {
      $("#cal-title").textContent = info.view.title;
      state.date = info.startStr.slice(0, 10);
      $("#cal-date").value = state.date;
      saveUrl();
    },
    dateClick: (info) => {
      if (info.allDay) { return; }
      const doctor = info.resource ? info.resource.id : visibleDoctor();
      if (doctor) { openBooking(info.dateStr, doctor); }
    },
    eventClick: (info) => {
      const a = info.event.extendedProps.appointment;
      if (a) { openVisit(a); }
    },
    eventDragStart: () => { state.busy += 1; setLoading(true); },
    eventDragStop: () => { setTimeout(settle, 0); },
    eventResizeStart: () => { state.busy += 1; setLoading(true); },
    eventResizeStop: () => { setTimeout(settle, 0); },
    eventDrop: (info) => {
      const a = info.event.extendedProps.appointment;
      const body = { start: instantOf(info.event.start, zone()) };
      if (info.newResource) { body.practitioner = Number(info.newResource.id); }
      writeFromCalendar(a, body, info.revert, S.moved);
    },
    eventResize: (info) => {
      const a = info.event.extendedProps.appointment;
      writeFromCalendar(a, { end: instantOf(info.event.end, zone()) }, info.revert, S.resized);
    },
  });
  sizeColumns();
}

function renderVisit(info) {
  const a = info.event.extendedProps.appointment;
  if (!a) { return undefined; }
  const box = document.createElement("div");
  box.className = "kb-visit-body";
  const time = document.createElement("span");
  time.className = "kb-visit-time";
  time.textContent = info.timeText;
  const name = document.createElement("strong");
  name.className = "kb-visit-patient";
  name.textContent = a.patient_name;
  const service = document.createElement("span");
  service.className = "kb-visit-service";
  service.textContent = a.is_overbooked ? `${a.service_name} · ${S.overbooked}` : a.service_name;
  const status = document.createElement("span");
  status.className = "kb-visit-status";
  status.textContent = STATUS_LABEL[a.status] || a.status;
  box.append(time, name, service, status);
  return { domNodes: [box] };
}

function settle() {
  state.busy = Math.max(0, state.busy - 1);
  if (!state.busy && state.refreshWanted) { refresh(); } else { settleLoading(); }
}

async function writeFromCalendar(appointment, body, revert, okText) {
  state.busy += 1;
  try {
    await api("PATCH", `appointments/${appointment.id}`, { body });
    say(okText);
  } catch (error) {
    revert();
    say(`${S.move_refused} ${error.message}`, { error: true });
  } finally {
    settle();
    refresh();
  }
}

// Live and local changes both end here; bursts of changes cost one fetch.
function refresh() {
  if (!ec) { return; }
  setLoading(true);
  if (state.busy) { state.refreshWanted = true; return; }
  clearTimeout(refreshTimer);
  refreshTimer = setTimeout(() => {
    refreshTimer = null;
    if (state.busy) { state.refreshWanted = true; return; }
    state.refreshWanted = false;
    ec.refetchEvents();
  }, 250);
}

// --- reference data and filters ---------------------------------------------------------------------------------

const filters = $("#cal-filters");

function fillSelect(select, items, { keepFirst = true, value = "" } = {}) {
  const first = keepFirst ? select.options[0] : null;
  select.replaceChildren(...(first ? [first] : []));
  items.forEach((item) => select.append(new Option(item.name, String(item.id))));
  select.value = items.some((i) => String(i.id) === String(value)) ? String(value) : (first ? "" : select.value);
}

async function loadLocation() {
  setLoading(true);
  state.practitioners = await api("GET", "practitioners", { params: { location: state.location } }).catch((error) => {
    say(error.message, { error: true, sticky: true });
    return [];
  });
  if (state.doctor && !state.practitioners.some((p) => String(p.id) === state.doctor)) { state.doctor = ""; }
  if (state.view === "week" && !state.doctor && state.practitioners.length) { state.doctor = String(state.practitioners[0].id); }
  fillSelect(filters.elements.doctor, state.practitioners, { value: state.doctor });
  if (followed.has(state.location)) { root.dataset.live = `calendar:${state.location}`; } else { delete root.dataset.live; }
  const subscribe = window.kabinetLive && window.kabinetLive.subscribe;
  if (subscribe) { subscribe("calendar", state.location); }
  else { document.dispatchEvent(new CustomEvent("kabinet:live-subscribe", { detail: { topic: "calendar", id: state.location } })); }
}

function applyButtons() {
  $$("[data-view]").forEach((button) => {
    const on = button.dataset.view === state.view;
    button.setAttribute("aria-pressed", String(on));
    button.classList.toggle("secondary", !on);
  });
  filters.elements.doctor.options[0].disabled = state.view === "week";
}

function applyView() {
  applyButtons();
  if (!ec) { return; }
  ec.setOption("view", state.view === "week" ? "timeGridWeek" : "resourceTimeGridDay");
  ec.setOption("resources", resources());
  ec.setOption("timeZone", offsetString(zone()));
  sizeColumns();
  saveUrl();
  ec.refetchEvents();
}

function renderLegend() {
  const legend = $("#cal-legend");
  const items = state.colourBy === "service"
    ? state.services.map((s) => [s.colour, s.name])
    : config.statuses.map((s) => [STATUS_COLOUR[s.value], s.label]);
  legend.replaceChildren(...items.map(([colour, label]) => {
    const li = document.createElement("li");
    const swatch = document.createElement("span");
    swatch.className = "kb-swatch";
    swatch.style.background = colour;
    li.append(swatch, document.createTextNode(label));
    return li;
  }));
}

filters.addEventListener("change", async (event) => {
  const field = event.target.name;
  if (field === "location") {
    state.location = Number(event.target.value);
    state.doctor = "";
    await loadLocation();
  } else if (field === "doctor") {
    state.doctor = event.target.value;
  } else if (field === "service") {
    state.service = event.target.value;
  } else if (field === "status") {
    state.status = event.target.value;
  }
  applyView();
});

$$("[data-view]").forEach((button) => button.addEventListener("click", () => {
  state.view = button.dataset.view;
  if (state.view === "week" && !state.doctor && state.practitioners.length) {
    state.doctor = String(state.practitioners[0].id);
    filters.elements.doctor.value = state.doctor;
  }
  applyView();
}));

$$("[data-nav]").forEach((button) => button.addEventListener("click", () => {
  if (!ec) { return; }
  if (button.dataset.nav === "prev") { ec.prev(); }
  else if (button.dataset.nav === "next") { ec.next(); }
  else { ec.setOption("date", todayIn(zone())); }
}));

$("#cal-date").addEventListener("change", (event) => {
  if (ec && event.target.value) { ec.setOption("date", event.target.value); }
});

$$("input[name=colour_by]").forEach((radio) => {
  radio.checked = radio.value === state.colourBy;
  radio.addEventListener("change", () => {
    state.colourBy = radio.value;
    renderLegend();
    saveUrl();
    if (ec) { ec.refetchEvents(); }
  });
});

document.addEventListener("kabinet:live", (event) => {
  const { event: name, data } = event.detail || {};
  if (!data) { return; }
  if (name === "subscribed" && data.topic === "calendar") {
    followed.add(Number(data.id));
    if (Number(data.id) !== state.location) { return; }
    root.dataset.live = `calendar:${state.location}`;  // says this calendar updates itself
    refresh();  // also after a reconnect: catch up with what happened meanwhile
  } else if (name === "appointment.changed" && Number(data.location) === state.location) {
    refresh();
  }
});

// --- booking dialog -------------------------------------------------------------------------------------------------

const book = {
  dialog: $("#book-dialog"),
  form: $("#book-form"),
  error: $("#book-error"),
  search: $("#book-search"),
  results: $("#book-results"),
  hint: $("#book-search-hint"),
  patient: null,
  key: null,
  searchTimer: null,
  searchSeq: 0,
};

function showError(element, text) { element.textContent = text || ""; element.hidden = !text; }

function patientLabel(p) {
  const name = [p.family_name, p.given_name, p.middle_name].filter(Boolean).join(" ");
  const extra = [p.birth_date, p.phone].filter(Boolean).join(" · ");
  return extra ? `${name} — ${extra}` : name;
}

function choosePatient(patient) {
  book.patient = patient;
  $("#book-chosen-name").textContent = patient ? patientLabel(patient) : "";
  $("#book-chosen").hidden = !patient;
  $("#book-find").hidden = Boolean(patient);
  if (!patient) { book.search.focus(); }
}

function fillBookingServices(doctorId, preferred) {
  const services = state.services.filter((s) => s.practitioners.includes(Number(doctorId)));
  fillSelect(book.form.elements.service, services, { keepFirst: false, value: preferred });
  showError(book.error, services.length ? "" : S.no_services);
  $("#book-submit").disabled = !services.length;
}

function describeBooking() {
  const f = book.form.elements;
  const day = new Intl.DateTimeFormat(LANG, { timeZone: "UTC", weekday: "long", day: "numeric", month: "long" });
  const valid = /^\d{4}-\d{2}-\d{2}$/.test(f.day.value);
  $("#book-when").textContent = [doctorName(f.doctor.value), valid ? day.format(new Date(`${f.day.value}T12:00:00Z`)) : ""]
    .filter(Boolean).join(" · ");
}

function openBooking(wall, doctorId, { focus = "search" } = {}) {
  // The calendar snaps clicks to 5 minutes (for dragging); a booking starts on the quarter hour clicked in.
  const w = wallOf(wall);
  const minutes = w.mi - (w.mi % 15);
  book.key = newKey();
  book.form.reset();
  const f = book.form.elements;
  fillSelect(f.doctor, state.practitioners, { keepFirst: false, value: String(doctorId) });
  f.day.value = `${w.y}-${pad(w.m)}-${pad(w.d)}`;
  f.time.value = `${pad(w.h)}:${pad(minutes)}`;
  choosePatient(null);
  book.results.replaceChildren();
  book.hint.textContent = S.search_hint;
  $("#book-new").open = false;
  fillBookingServices(f.doctor.value, state.service);
  describeBooking();
  book.dialog.showModal();
  (focus === "doctor" ? f.doctor : book.search).focus();
}

/** Keyboard and button way in: the shown day, the filtered (or first) doctor, the next quarter hour. */
function openBookingFromKeyboard() {
  if (!state.practitioners.length) { say(S.no_doctors_filtered, { error: true }); return; }
  const now = zoneParts(new Date(), zone());
  const today = `${now.y}-${pad(now.m)}-${pad(now.d)}`;
  const day = state.date || today;
  let minutes = day === today ? now.h * 60 + now.mi + 15 - ((now.h * 60 + now.mi) % 15) : 9 * 60;
  minutes = Math.min(minutes, 23 * 60 + 45);
  const doctor = visibleDoctor() || String(state.practitioners[0].id);
  openBooking(`${day}T${pad(Math.floor(minutes / 60))}:${pad(minutes % 60)}:00`, doctor, { focus: "doctor" });
}

$("#cal-new-visit").addEventListener("click", openBookingFromKeyboard);

document.addEventListener("keydown", (event) => {
  if (event.key !== "n" && event.key !== "N") { return; }
  if (event.ctrlKey || event.metaKey || event.altKey || document.querySelector("dialog[open]")) { return; }
  if (event.target.closest("input, select, textarea, [contenteditable]")) { return; }
  event.preventDefault();
  openBookingFromKeyboard();
});

book.form.elements.doctor.addEventListener("change", () => {
  fillBookingServices(book.form.elements.doctor.value, book.form.elements.service.value);
  describeBooking();
});
book.form.elements.day.addEventListener("change", describeBooking);

book.search.addEventListener("input", () => {
  clearTimeout(book.searchTimer);
  const text = book.search.value.trim();
  if (text.length < 2) { book.results.replaceChildren(); book.hint.textContent = S.search_hint; return; }
  book.hint.textContent = S.searching;
  book.searchTimer = setTimeout(async () => {
    const seq = ++book.searchSeq;
    try {
      const found = await api("GET", "patients", { params: { search: text, limit: 10 } });
      if (seq !== book.searchSeq) { return; }
      book.hint.textContent = found.length ? "" : S.no_patients;
      book.results.replaceChildren(...found.map((p) => {
        const li = document.createElement("li");
        const button = document.createElement("button");
        button.type = "button";
        button.className = "secondary outline";
        button.textContent = patientLabel(p);
        button.addEventListener("click", () => choosePatient(p));
        li.append(button);
        return li;
      }));
    } catch (error) {
      if (seq === book.searchSeq) { book.hint.textContent = ""; showError(book.error, error.message); }
    }
  }, 250);
});

$("#book-change-patient").addEventListener("click", () => choosePatient(null));

$("#book-create").addEventListener("click", async (event) => {
  const f = book.form.elements;
  const body = { family_name: f.family_name.value.trim(), given_name: f.given_name.value.trim(), phone: f.phone.value.trim() };
  if (!body.family_name || !body.given_name) { showError(book.error, S.new_patient_needs); return; }
  event.target.setAttribute("aria-busy", "true");
  try {
    const patient = await api("POST", "patients", { body });
    showError(book.error, "");
    choosePatient(patient);
    $("#book-new").open = false;
    book.hint.textContent = S.patient_created;
  } catch (error) {
    showError(book.error, error.message);
  } finally {
    event.target.removeAttribute("aria-busy");
  }
});

book.form.addEventListener("submit", async (event) => {
  event.preventDefault();
  if (!book.patient) { showError(book.error, S.choose_patient); book.search.focus(); return; }
  const f = book.form.elements;
  if (!f.service.value) { showError(book.error, S.choose_service); return; }
  if (!/^\d{2}:\d{2}/.test(f.time.value)) { showError(book.error, S.invalid_time); f.time.focus(); return; }
  if (!/^\d{4}-\d{2}-\d{2}$/.test(f.day.value)) { showError(book.error, S.invalid_date); f.day.focus(); return; }
  const submit = $("#book-submit");
  submit.setAttribute("aria-busy", "true");
  submit.disabled = true;
  try {
    await api("POST", "appointments", {
      headers: { "Idempotency-Key": book.key },
      body: {
        patient: book.patient.id,
        practitioner: Number(f.doctor.value),
        service: Number(f.service.value),
        start: instantOf(`${f.day.value}T${f.time.value.slice(0, 5)}`, zone()),
        location: state.location,
        note: f.note.value,
        overbook: Boolean(f.overbook && f.overbook.checked),
      },
    });
    book.dialog.close();
    say(S.booked);
    refresh();
  } catch (error) {
    showError(book.error, error.message);
  } finally {
    submit.removeAttribute("aria-busy");
    submit.disabled = false;
  }
});

// --- visit panel --------------------------------------------------------------------------------------------------

const visit = {
  dialog: $("#visit-dialog"),
  error: $("#visit-error"),
  ok: $("#visit-ok"),
  reasonForm: $("#visit-reason"),
  appointment: null,
  pendingAction: null,
  reasons: {},
  version: 0,  // bumped by every write, so a slower read started earlier cannot undo it
};

// `drafts: true` refreshes what the panel shows but leaves any form the user has
// started (note, move, reason) as it is: a late reply must not erase typing.
function showVisit(a, { drafts = false } = {}) {
  visit.appointment = a;
  const set = (field, text) => { $(`[data-field=${field}]`, visit.dialog).textContent = text; };
  set("patient", a.patient_name);
  set("service", a.is_overbooked ? `${a.service_name} (${S.overbooked})` : a.service_name);
  set("doctor", a.practitioner_name);
  set("time", formatWhen(a.start, a.end, zone()));
  set("status", STATUS_LABEL[a.status] || a.status);
  set("note", a.note || "—");
  $("#visit-status").dataset.status = a.status;
  if (drafts && ($("#visit-note-edit").open || $("#visit-move").open || !visit.reasonForm.hidden)) { return; }
  $("#visit-note").value = a.note;
  const allowed = config.transitions[a.status] || [];
  const actions = $("#visit-actions");
  actions.replaceChildren(...ACTIONS.filter((x) => allowed.includes(x.status) && (!x.from || x.from.includes(a.status))).map((x) => {
    const button = document.createElement("button");
    button.type = "button";
    button.dataset.action = x.status;
    button.textContent = x.label;
    if (x.reason) { button.className = "secondary"; }
    const arriving = x.status === "arrived" && FRONTDESK;
    button.addEventListener("click", () => (x.reason ? askReason(x) : arriving ? arrive(false) : changeStatus(x.status)));
    return button;
  }));
  if (FRONTDESK && ["arrived", "completed"].includes(a.status)) {
    const link = document.createElement("a");
    link.setAttribute("role", "button");
    link.className = "secondary";
    link.href = FRONTDESK.next_visit.replace("{id}", a.id);
    link.textContent = FRONTDESK.strings.next_visit;
    actions.append(link);
  }
  if (VIDEO && a.is_video && VIDEO.statuses.includes(a.status)
      && (a.practitioner === VIDEO.member || VIDEO.locations.includes(a.location))) {
    const button = document.createElement("button");
    button.type = "button";
    button.dataset.videoStart = "";
    button.textContent = VIDEO.strings.start;
    button.addEventListener("click", () => startVideo(button));
    actions.append(button);
  }
  actions.hidden = !actions.children.length;
  visit.reasonForm.hidden = true;
  const movable = config.movable.includes(a.status);
  $("#visit-move").hidden = !movable;
  if (movable) {
    const form = $("#visit-move-form");
    form.elements.start.value = floating(a.start, zone()).slice(0, 16);
    fillSelect(form.elements.practitioner, state.practitioners, { keepFirst: false, value: a.practitioner });
  }
}

async function openVisit(a) {
  showError(visit.error, "");
  showError(visit.ok, "");
  showPrompts(null);
  $("#visit-note-edit").open = false;
  $("#visit-move").open = false;
  const version = ++visit.version;
  showVisit(a);
  visit.dialog.showModal();
  try {
    const fresh = await api("GET", `appointments/${a.id}`);
    if (visit.version === version) { showVisit(fresh, { drafts: true }); }
  } catch (error) { showError(visit.error, error.message); }
}

async function visitWrite(method, path, body, okText) {
  visit.version += 1;
  showError(visit.error, "");
  showError(visit.ok, "");
  try {
    const updated = await api(method, path, { body });
    showVisit(updated);
    showError(visit.ok, okText(updated));
    refresh();
    return true;
  } catch (error) {
    showError(visit.error, error.message);
    if (error.status === 404) { refresh(); }
    return false;
  }
}

function changeStatus(status) {
  const a = visit.appointment;
  return visitWrite("POST", `appointments/${a.id}/status`, { status },
    (u) => S.status_changed.replace("%(status)s", STATUS_LABEL[u.status] || u.status));
}

/** The front desk's arrival: records the time; lateness and what to check come back as prompts. */
async function arrive(seenLate) {
  const a = visit.appointment;
  showError(visit.error, "");
  showError(visit.ok, "");
  try {
    const result = await api("POST", FRONTDESK.arrive.replace("{id}", a.id),
      { body: { seen_late: seenLate }, headers: { "Idempotency-Key": newKey() } });
    showVisit(result.appointment);
    showPrompts(result);
    showError(visit.ok, result.appointment.status === "arrived" ? FRONTDESK.strings.arrived : FRONTDESK.strings.arrival_recorded);
    refresh();
  } catch (error) {
    showError(visit.error, error.message);
    if (error.status === 404) { refresh(); }
  }
}

/** Consultations' video visit: start (or rejoin) the call, then open its page; refusals show their reason. */
async function startVideo(button) {
  const a = visit.appointment;
  showError(visit.error, "");
  showError(visit.ok, VIDEO.strings.starting);
  button.disabled = true;
  try {
    const call = await api("POST", VIDEO.start.replace("{id}", a.id));
    location.assign(call.url);
  } catch (error) {
    showError(visit.ok, "");
    showError(visit.error, error.message);
    button.disabled = false;
    if (error.status === 404) { refresh(); }
  }
}

function showPrompts(result) {
  const box = $("#visit-prompts");
  box.replaceChildren();
  for (const prompt of (result && result.prompts) || []) {
    const line = document.createElement("p");
    line.dataset.prompt = prompt.code;
    line.textContent = prompt.text;
    box.append(line);
    if (prompt.items.length) {
      const list = document.createElement("ul");
      prompt.items.forEach((text) => { const li = document.createElement("li"); li.textContent = text; list.append(li); });
      box.append(list);
    }
    if ((prompt.links || []).length) {
      const group = document.createElement("p");
      group.className = "kb-cal-actions";
      for (const link of prompt.links) {
        const a = document.createElement("a");
        a.href = link.url;
        a.textContent = link.label;
        a.setAttribute("role", "button");
        a.className = "secondary outline";
        group.append(a);
      }
      box.append(group);
    }
    if (prompt.code === "reschedule") {
      const group = document.createElement("div");
      group.className = "kb-cal-actions";
      const anyway = document.createElement("button");
      anyway.type = "button";
      anyway.textContent = FRONTDESK.strings.seen_late;
      anyway.addEventListener("click", () => arrive(true));
      const move = document.createElement("button");
      move.type = "button";
      move.className = "secondary";
      move.textContent = FRONTDESK.strings.reschedule;
      move.addEventListener("click", () => {
        const first = result.suggestions[0];
        if (first) { $("#visit-move-form").elements.start.value = floating(first.start, zone()).slice(0, 16); }
        $("#visit-move").hidden = false;
        $("#visit-move").open = true;
        $("#visit-move-form").elements.start.focus();
      });
      group.append(anyway, move);
      box.append(group);
      if (result.suggestions.length) {
        const free = document.createElement("p");
        free.textContent = `${FRONTDESK.strings.first_free} ${result.suggestions.map((s) => formatWhen(s.start, null, zone())).join("; ")}`;
        box.append(free);
      }
    }
  }
  box.hidden = !box.children.length;
}

async function askReason(action) {
  const form = visit.reasonForm;
  visit.pendingAction = action;
  $$("[data-kind]", form).forEach((span) => { span.hidden = span.dataset.kind !== action.reason; });
  form.reset();
  showError(visit.error, "");
  if (!visit.reasons[action.reason]) {
    try { visit.reasons[action.reason] = await api("GET", "reasons", { params: { kind: action.reason } }); }
    catch (error) { showError(visit.error, error.message); return; }
  }
  const reasons = visit.reasons[action.reason];
  fillSelect(form.elements.reason, reasons, { keepFirst: false });
  if (!reasons.length) { showError(visit.error, S.no_reasons); return; }
  $("#visit-reason-submit").textContent = action.label;
  $("#visit-actions").hidden = true;
  form.hidden = false;
  form.elements.reason.focus();
}

$("#visit-reason-back").addEventListener("click", () => showVisit(visit.appointment));

visit.reasonForm.addEventListener("submit", async (event) => {
  event.preventDefault();
  const form = visit.reasonForm;
  const reason = Number(form.elements.reason.value);
  if (!reason) { showError(visit.error, S.reason_required); return; }
  const a = visit.appointment;
  const note = form.elements.note.value;
  if (visit.pendingAction.status === "cancelled") {
    await visitWrite("POST", `appointments/${a.id}/cancel`, { reason, note }, () => S.cancelled);
  } else {
    await visitWrite("POST", `appointments/${a.id}/status`, { status: visit.pendingAction.status, reason, reason_note: note },
      (u) => S.status_changed.replace("%(status)s", STATUS_LABEL[u.status] || u.status));
  }
});

$("#visit-note-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const ok = await visitWrite("PATCH", `appointments/${visit.appointment.id}`, { note: $("#visit-note").value }, () => S.saved);
  if (ok) { $("#visit-note-edit").open = false; }
});

$("#visit-move-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const form = event.target;
  if (!wallOf(form.elements.start.value)) { showError(visit.error, S.invalid_time); return; }
  const body = { start: instantOf(form.elements.start.value, zone()), practitioner: Number(form.elements.practitioner.value) };
  const ok = await visitWrite("PATCH", `appointments/${visit.appointment.id}`, body, () => S.moved);
  if (ok) { $("#visit-move").open = false; }
});

$$("dialog [data-close]").forEach((button) => button.addEventListener("click", () => button.closest("dialog").close()));
$$("dialog").forEach((dialog) => dialog.addEventListener("click", (event) => {
  if (event.target === dialog) { dialog.close(); }  // a click on the backdrop
}));

// --- start ----------------------------------------------------------------------------------------------------------

async function start() {
  filters.elements.location.value = String(state.location);
  filters.elements.status.value = state.status;
  if (filters.elements.status.value !== state.status) { state.status = ""; }
  const [services] = await Promise.all([
    api("GET", "services").catch((error) => { say(error.message, { error: true, sticky: true }); return []; }),
    loadLocation(),
  ]);
  state.services = services;
  fillSelect(filters.elements.service, services, { value: state.service });
  state.service = filters.elements.service.value;
  renderLegend();
  applyButtons();
  createCalendar();
}

start();
