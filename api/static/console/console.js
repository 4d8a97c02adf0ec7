// Lifeline operator console: one page, plain JavaScript, no build step and nothing from a CDN.
// Live alerts come from /ws/alerts (snapshot + events, resume with last_event_id); everything else
// from the REST API with the operator's bearer token. Owner tokens see only their own assets: the API
// enforces it, the page just shows what it gets.
"use strict";

const TIER_ORDER = ["1", "2", "3"];
const LIFELINES = ["gas", "water", "drainage", "bridge"];
const STATUSES = ["open", "acknowledged", "cleared", "resolved"];
const ACTIVE = new Set(["open", "acknowledged"]);
const BEEP_REPEAT_MS = 4000;

const app = {
  lang: localStorage.getItem("lifeline.lang") || "zh",
  i18n: null,
  token: null,
  who: null,
  alerts: new Map(),        // alert_id -> envelope {id, kafka_ts, status, event}
  rows: new Map(),          // alert_id -> <li>
  lastId: 0,
  ws: null,
  retryMs: 1000,
  stopped: false,
  selected: null,
  sensors: new Map(),       // sensor_id -> SensorOut
  filters: {lifeline: "", tier: "", district: "", owner: "", status: "active", kind: ""},
  dirty: false,
  mapDirty: false,
  muted: false,
  audio: null,
  cues: {beeps: 0, lastBeep: 0, flashing: 0},
  renders: 0,
  work: [],                 // milliseconds spent in each render and websocket frame (for the performance test)
  extensions: [],           // detail-panel sections added by other scripts (work orders)
};
window.lifelineConsole = app;

// ---------- i18n ----------
function t(key, sub) {
  const table = app.i18n ? app.i18n[app.lang] : null;
  if (!table) return sub || key;
  if (sub !== undefined) {
    const group = table[key];
    return group && group[sub] !== undefined ? group[sub] : String(sub);
  }
  return table[key] !== undefined ? table[key] : key;
}

function applyI18n() {
  document.documentElement.lang = app.lang === "zh" ? "zh-CN" : "en";
  document.title = t("title");
  for (const el of document.querySelectorAll("[data-i18n]")) el.textContent = t(el.dataset.i18n);
  for (const el of document.querySelectorAll("[data-i18n-placeholder]")) el.placeholder = t(el.dataset.i18nPlaceholder);
  document.getElementById("mute").textContent = app.muted ? t("unmute") : t("mute");
  fillFilters();
  for (const row of app.rows.values()) row.dataset.key = "";
  scheduleRender();
  app.mapDirty = true;
  if (app.selected) showDetail(app.selected);
  if (!document.getElementById("view-health").hidden) loadHealth();
}

// ---------- REST ----------
async function api(path, options = {}) {
  const headers = Object.assign({Authorization: "Bearer " + app.token}, options.headers || {});
  if (options.body !== undefined) headers["Content-Type"] = "application/json";
  const response = await fetch(path, Object.assign({}, options, {headers}));
  if (response.status === 401) { logout(); throw new Error("unauthorized"); }
  const body = response.headers.get("content-type")?.includes("json") ? await response.json() : null;
  if (!response.ok) {
    const error = new Error(body && body.message ? body.message : response.statusText);
    error.status = response.status;
    throw error;
  }
  return body;
}

async function allPages(path) {
  const items = [];
  for (let offset = 0; ; offset += 1000) {
    const sep = path.includes("?") ? "&" : "?";
    const page = await api(`${path}${sep}limit=1000&offset=${offset}`);
    items.push(...page.items);
    if (!page.has_more) return items;
  }
}

// ---------- login ----------
async function login(token) {
  app.token = token;
  try {
    app.who = await api("/whoami");
  } catch (error) {
    app.token = null;
    document.getElementById("login-error").hidden = false;
    return false;
  }
  sessionStorage.setItem("lifeline.token", token);
  document.getElementById("login").hidden = true;
  document.getElementById("app").hidden = false;
  document.getElementById("tabs").hidden = false;
  document.getElementById("logout").hidden = false;
  document.getElementById("mute").hidden = false;
  document.getElementById("who").textContent = `${app.who.name} · ${app.who.role}${app.who.owner ? " · " + app.who.owner : ""}`;
  app.stopped = false;
  connect();
  loadSensors();
  for (const ext of app.extensions) if (ext.onLogin) ext.onLogin();
  return true;
}

function logout() {
  app.stopped = true;
  sessionStorage.removeItem("lifeline.token");
  if (app.ws) app.ws.close();
  location.reload();
}

function unlockAudio() {
  if (!app.audio && window.AudioContext) app.audio = new AudioContext();
  if (app.audio && app.audio.state === "suspended") app.audio.resume();
}

// ---------- websocket ----------
function wsUrl() {
  const scheme = location.protocol === "https:" ? "wss:" : "ws:";
  const resume = app.lastId > 0 ? `?last_event_id=${app.lastId}` : "";
  return `${scheme}//${location.host}/ws/alerts${resume}`;
}

function setConn(state) {
  const el = document.getElementById("conn");
  el.className = "conn " + state;
  el.textContent = t(state === "live" ? "conn_live" : state === "down" ? "conn_down" : "conn_connecting");
  el.dataset.state = state;
}

function connect() {
  setConn("connecting");
  const ws = new WebSocket(wsUrl(), ["lifeline", "bearer." + app.token]);
  app.ws = ws;
  ws.onmessage = (message) => {
    const started = performance.now();
    onFrame(JSON.parse(message.data));
    timed(started);
  };
  ws.onclose = (close) => {
    if (app.ws !== ws) return;
    setConn("down");
    if (app.stopped || close.code === 4401 || close.code === 4403) return;
    setTimeout(connect, app.retryMs);
    app.retryMs = Math.min(app.retryMs * 2, 10000);
  };
}

function onFrame(frame) {
  if (frame.type === "snapshot") {
    app.retryMs = 1000;
    setConn("live");
    app.alerts.clear();
    for (const envelope of frame.alerts) app.alerts.set(envelope.event.alert_id, envelope);
    app.lastId = Math.max(app.lastId, frame.last_id);
    afterChange(frame.alerts, false);
  } else if (frame.type === "replay" || frame.type === "events") {
    if (frame.type === "replay") { app.retryMs = 1000; setConn("live"); app.lastId = Math.max(app.lastId, frame.last_id); }
    const fresh = [];
    for (const envelope of frame.events) {
      if (envelope.id <= (app.alerts.get(envelope.event.alert_id)?.id || 0)) continue;
      app.alerts.set(envelope.event.alert_id, envelope);
      app.lastId = Math.max(app.lastId, envelope.id);
      fresh.push(envelope);
    }
    afterChange(fresh, true);
  } else if (frame.type === "heartbeat") {
    app.lastId = Math.max(app.lastId, frame.last_id);
  } else if (frame.type === "error") {
    console.warn("websocket error", frame);
  }
}

function afterChange(envelopes, live) {
  for (const envelope of envelopes) {
    const e = envelope.event;
    noteOption("district", e.district);
    noteOption("owner", e.owner);
    const newT1 = e.tier === 1 && envelope.status === "open" && (e.event === "opened" || e.event === "escalated");
    if (live && newT1) beep(true);
    if (app.selected === e.alert_id && live) showDetail(e.alert_id);
  }
  for (const ext of app.extensions) if (ext.onAlerts) ext.onAlerts(envelopes);
  app.mapDirty = true;
  scheduleRender();
}

// ---------- tier-1 cue: sound and flashing until acknowledged ----------
function unacknowledgedT1() {
  let count = 0;
  for (const envelope of app.alerts.values()) if (envelope.event.tier === 1 && envelope.status === "open") count++;
  return count;
}

function beep(force) {
  const now = performance.now();
  if (!force && now - app.cues.lastBeep < BEEP_REPEAT_MS) return;
  app.cues.lastBeep = now;
  app.cues.beeps++;
  if (app.muted || !window.AudioContext) return;
  if (!app.audio) app.audio = new AudioContext();
  const ctx = app.audio;
  for (const offset of [0, 0.3]) {
    const osc = ctx.createOscillator();
    const gain = ctx.createGain();
    osc.type = "square";
    osc.frequency.value = 880;
    gain.gain.value = 0.08;
    osc.connect(gain).connect(ctx.destination);
    osc.start(ctx.currentTime + offset);
    osc.stop(ctx.currentTime + offset + 0.18);
  }
}

function updateAlarm() {
  const pending = unacknowledgedT1();
  app.cues.flashing = pending;
  document.body.classList.toggle("t1-alarm", pending > 0);
  document.getElementById("t1-banner").hidden = pending === 0;
}
setInterval(() => { if (unacknowledgedT1() > 0) beep(false); }, 1000);

// ---------- filters ----------
const options = {district: new Set(), owner: new Set()};

function noteOption(name, value) {
  if (!value || options[name].has(value)) return;
  options[name].add(value);
  fillFilter(name);
}

function choices(name) {
  switch (name) {
    case "lifeline": return LIFELINES.map((v) => [v, t("lifeline", v)]);
    case "tier": return TIER_ORDER.map((v) => [v, t("tier", v)]);
    case "status": return [["active", t("active")], ...STATUSES.map((v) => [v, t("status", v)])];
    case "kind": return Object.keys(app.i18n[app.lang].kind).map((v) => [v, t("kind", v)]);
    default: return [...options[name]].sort().map((v) => [v, v]);
  }
}

function fillFilter(name) {
  const select = document.querySelector(`select[data-filter="${name}"]`);
  if (!select || !app.i18n) return;
  const current = app.filters[name];
  select.replaceChildren(new Option(t("all"), ""), ...choices(name).map(([v, label]) => new Option(label, v)));
  select.value = current;
}

function fillFilters() { for (const name of Object.keys(app.filters)) fillFilter(name); }

function matches(envelope) {
  const e = envelope.event;
  const f = app.filters;
  if (f.lifeline && e.lifeline !== f.lifeline) return false;
  if (f.tier && String(e.tier) !== f.tier) return false;
  if (f.district && e.district !== f.district) return false;
  if (f.owner && e.owner !== f.owner) return false;
  if (f.kind && e.kind !== f.kind) return false;
  if (f.status === "active") return ACTIVE.has(envelope.status);
  if (f.status && envelope.status !== f.status) return false;
  return true;
}

// most severe first, then the newest event first, then the id (a total order)
function compareAlerts(a, b) {
  return a.event.tier - b.event.tier || b.event.ts - a.event.ts || (a.event.alert_id < b.event.alert_id ? -1 : 1);
}

function visibleAlerts() {
  return [...app.alerts.values()].filter(matches).sort(compareAlerts);
}

// ---------- alert list (keyed rows, minimal DOM moves, one render per animation frame) ----------
function scheduleRender() {
  if (app.dirty) return;
  app.dirty = true;
  requestAnimationFrame(render);
}

function fmtTime(ms) {
  const d = new Date(ms);
  const pad = (n) => String(n).padStart(2, "0");
  return `${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === "class") node.className = v; else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
    else node.setAttribute(k, v);
  }
  for (const child of children) if (child !== null && child !== undefined) node.append(child);
  return node;
}

function rowFor(envelope) {
  const e = envelope.event;
  let row = app.rows.get(e.alert_id);
  if (!row) {
    row = el("li", {"data-id": e.alert_id});
    row.addEventListener("click", () => select(e.alert_id));
    app.rows.set(e.alert_id, row);
  }
  const key = `${envelope.id}|${app.lang}|${app.selected === e.alert_id}`;
  if (row.dataset.key !== key) {
    row.dataset.key = key;
    row.dataset.tier = e.tier;
    row.dataset.status = envelope.status;
    const flash = e.tier === 1 && envelope.status === "open";
    row.className = `alert tier-${e.tier} status-${envelope.status}${flash ? " flash" : ""}` +
      (app.selected === e.alert_id ? " selected" : "");
    row.replaceChildren(
      el("span", {class: "tier-badge"}, t("tier", String(e.tier))),
      el("span", {class: "kind"}, t("kind", e.kind)),
      el("span", {class: "lifeline"}, t("lifeline", e.lifeline)),
      el("span", {class: "asset"}, e.asset_id),
      el("span", {class: "district"}, e.district),
      el("span", {class: "owner"}, e.owner),
      el("span", {class: "status"}, t("status", envelope.status)),
      el("time", {datetime: new Date(e.ts).toISOString()}, fmtTime(e.ts)),
    );
  }
  return row;
}

// Only the rows in view (plus a margin) are in the DOM, absolutely placed by their index in the sorted
// list: 500 active alerts cost the same to update as 30.
const ROW_HEIGHT = 34;
const ROW_MARGIN = 8;

function timed(started) {
  app.work.push(performance.now() - started);
  if (app.work.length > 5000) app.work.splice(0, 1000);
}

function render() {
  const started = performance.now();
  try { renderList(); } finally { timed(started); }
}

function renderList() {
  app.dirty = false;
  app.renders++;
  const scroller = document.getElementById("alert-list");
  const list = document.getElementById("alert-rows");
  const wanted = visibleAlerts();
  app.order = wanted;
  list.style.height = `${wanted.length * ROW_HEIGHT}px`;
  const first = Math.max(0, Math.floor(scroller.scrollTop / ROW_HEIGHT) - ROW_MARGIN);
  const count = Math.ceil((scroller.clientHeight || 900) / ROW_HEIGHT) + 2 * ROW_MARGIN;
  const keep = new Set();
  let cursor = list.firstChild;
  wanted.slice(first, first + count).forEach((envelope, i) => {
    const row = rowFor(envelope);
    const index = String(first + i);
    if (row.dataset.index !== index) {
      row.dataset.index = index;
      row.style.transform = `translateY(${(first + i) * ROW_HEIGHT}px)`;
    }
    keep.add(row);
    if (row === cursor) cursor = cursor.nextSibling;
    else list.insertBefore(row, cursor);
  });
  while (cursor) { const next = cursor.nextSibling; if (!keep.has(cursor)) cursor.remove(); cursor = next; }
  for (const [id, row] of app.rows) if (!keep.has(row)) { row.remove(); if (!app.alerts.has(id)) app.rows.delete(id); }
  document.getElementById("alert-count").textContent = wanted.length;
  updateAlarm();
  if (app.mapDirty && !document.getElementById("view-map").hidden) drawMap();
}

// ---------- alert detail ----------
function select(alertId) {
  const before = app.selected;
  app.selected = alertId;
  for (const id of [before, alertId]) { const row = app.rows.get(id); if (row) row.dataset.key = ""; }
  scheduleRender();
  showDetail(alertId);
}

let detailSeq = 0;
async function showDetail(alertId) {
  const seq = ++detailSeq;
  const pane = document.getElementById("detail");
  let detail;
  try {
    detail = await api(`/alerts/${encodeURIComponent(alertId)}`);
  } catch (error) {
    if (seq === detailSeq) pane.replaceChildren(el("p", {class: "error"}, String(error.message)));
    return;
  }
  if (seq !== detailSeq) return;
  const a = detail.alert;
  const comment = el("textarea", {id: "comment", placeholder: t("comment")});
  const closed = a.status === "resolved";
  const ackButton = el("button", {id: "ack", onclick: () => lifecycle(a.alert_id, "acknowledge", comment.value)}, t("acknowledge"));
  const resolveButton = el("button", {id: "resolve", onclick: () => lifecycle(a.alert_id, "resolve", comment.value,
    document.getElementById("override")?.checked ? "?override=true" : "")}, t("resolve"));
  const override = app.who.role === "admin"
    ? el("label", {}, el("input", {type: "checkbox", id: "override"}), t("admin_override")) : null;
  ackButton.disabled = a.status !== "open";
  resolveButton.disabled = closed;
  const charts = el("div", {id: "charts"});
  pane.replaceChildren(
    el("h2", {}, el("span", {class: `tier-badge tier-${a.tier}`}, t("tier", String(a.tier))), t("kind", a.kind),
       el("span", {class: "status", id: "detail-status"}, t("status", a.status))),
    el("dl", {},
      el("dt", {}, t("f_lifeline")), el("dd", {}, t("lifeline", a.lifeline)),
      el("dt", {}, t("asset")), el("dd", {}, el("a", {href: "#", onclick: (ev) => { ev.preventDefault(); showAsset(a.asset_id); }}, a.asset_id)),
      el("dt", {}, t("f_district")), el("dd", {}, a.district),
      el("dt", {}, t("f_owner")), el("dd", {}, a.owner),
      el("dt", {}, t("started")), el("dd", {}, fmtTime(Date.parse(a.started_at))),
      el("dt", {}, t("updated")), el("dd", {}, fmtTime(Date.parse(a.last_event_at))),
      el("dt", {}, t("value")), el("dd", {}, `${a.value} (score ${a.score})`),
      ...(a.location ? [el("dt", {}, t("location")), el("dd", {id: "location"}, a.location)] : []),
      el("dt", {}, "ID"), el("dd", {}, a.alert_id)),
    el("h3", {}, t("evidence")), el("p", {id: "evidence"}, a.evidence),
    el("div", {class: "actions"}, comment, el("div", {class: "row"}, ackButton, resolveButton, override,
       el("span", {id: "action-result"}))),
    ...app.extensions.filter((ext) => ext.detailSection).map((ext) => ext.detailSection(a)),
    el("h3", {}, t("timeline")),
    el("ol", {class: "timeline", id: "timeline"}, ...detail.timeline.map((ev) => el("li", {"data-event": ev.event},
      el("time", {}, fmtTime(Date.parse(ev.ts))), `${t("event", ev.event)} · ${t("tier", String(ev.tier))}`,
      ev.actor ? ` · ${t("actor")}: ${ev.actor}` : "", ev.comment ? ` — ${ev.comment}` : ""))),
    el("h3", {}, t("series")), charts,
  );
  const from = Date.parse(a.started_at) - 3600e3;
  const to = Math.max(Date.parse(a.last_event_at) + 1800e3, from + 7200e3);
  for (const sensorId of a.sensor_ids.slice(0, 4)) charts.append(await seriesChart(sensorId, from, to, Date.parse(a.started_at)));
}

async function lifecycle(alertId, action, comment, extra = "") {
  const out = document.getElementById("action-result");
  try {
    await api(`/alerts/${encodeURIComponent(alertId)}/${action}${extra}`, {method: "POST", body: JSON.stringify({comment})});
    if (out) out.textContent = t("done");
  } catch (error) {
    if (out) out.textContent = error.message;
  }
}
app.lifecycle = lifecycle;

async function seriesChart(sensorId, from, to, mark) {
  const box = el("figure", {class: "series", "data-sensor": sensorId});
  box.append(el("figcaption", {}, sensorId));
  let series;
  try {
    const q = `start=${new Date(from).toISOString()}&end=${new Date(to).toISOString()}&max_points=240`;
    series = await api(`/sensors/${encodeURIComponent(sensorId)}/series?${q}`);
  } catch (error) {
    box.append(el("p", {class: "hint"}, error.message));
    return box;
  }
  box.firstChild.textContent = `${sensorId} (${series.unit})`;
  const points = series.points.filter((p) => p.mean !== null);
  if (!points.length) { box.append(el("p", {class: "hint"}, t("no_series"))); return box; }
  const W = 420, H = 130, pad = 28;
  const lo = Math.min(...points.map((p) => p.min)), hi = Math.max(...points.map((p) => p.max));
  const span = hi - lo || 1;
  const x = (ms) => pad + (ms - from) / (to - from) * (W - pad - 4);
  const y = (v) => H - 14 - (v - lo) / span * (H - 24);
  const ts = points.map((p) => Date.parse(p.ts));
  const upper = points.map((p, i) => `${x(ts[i]).toFixed(1)},${y(p.max).toFixed(1)}`);
  const lower = points.map((p, i) => `${x(ts[i]).toFixed(1)},${y(p.min).toFixed(1)}`).reverse();
  const mean = points.map((p, i) => `${x(ts[i]).toFixed(1)},${y(p.mean).toFixed(1)}`);
  const svg = `<svg class="chart" viewBox="0 0 ${W} ${H}" xmlns="http://www.w3.org/2000/svg">` +
    `<polygon class="band" points="${upper.concat(lower).join(" ")}"/>` +
    `<polyline class="mean" points="${mean.join(" ")}"/>` +
    `<line class="start" x1="${x(mark)}" x2="${x(mark)}" y1="4" y2="${H - 12}"/>` +
    `<text x="2" y="12">${hi.toPrecision(4)}</text><text x="2" y="${H - 14}">${lo.toPrecision(4)}</text>` +
    `<text x="${pad}" y="${H - 2}">${fmtTime(from)}</text><text x="${W - 90}" y="${H - 2}">${fmtTime(to)}</text></svg>`;
  box.insertAdjacentHTML("beforeend", svg);
  return box;
}

async function showAsset(assetId) {
  const pane = document.getElementById("detail");
  let asset;
  try {
    asset = await api(`/assets/${encodeURIComponent(assetId)}`);
  } catch (error) {
    pane.replaceChildren(el("p", {class: "error"}, error.message));
    return;
  }
  app.selected = null;
  const related = [...app.alerts.values()].filter((env) => env.event.asset_id === assetId ||
    env.event.sensor_ids.some((sid) => asset.sensors.some((s) => s.sensor_id === sid))).sort(compareAlerts);
  pane.replaceChildren(
    el("h2", {id: "asset-title"}, `${t("asset")} ${asset.asset_id}`),
    el("dl", {}, el("dt", {}, t("f_owner")), el("dd", {}, asset.owner), el("dt", {}, t("f_district")),
       el("dd", {}, asset.district), el("dt", {}, t("f_lifeline")), el("dd", {}, asset.lifelines.map((l) => t("lifeline", l)).join(", "))),
    el("h3", {}, t("tab_alerts")),
    el("ul", {}, ...related.map((env) => el("li", {}, el("a", {href: "#", onclick: (ev) => { ev.preventDefault(); select(env.event.alert_id); }},
      `${t("tier", String(env.event.tier))} ${t("kind", env.event.kind)} · ${t("status", env.status)}`)))),
    el("h3", {}, t("sensors")),
    el("ul", {}, ...asset.sensors.map((s) => el("li", {"data-sensor": s.sensor_id},
      `${s.sensor_id} · ${s.kind}` + (s.latest_value !== null && s.latest_value !== undefined ? ` · ${s.latest_value} ${s.unit}` : "")))),
  );
}

// ---------- map / schematic (plain SVG from registry coordinates, no tiles) ----------
async function loadSensors() {
  try {
    for (const s of await allPages("/sensors")) {
      app.sensors.set(s.sensor_id, s);
      noteOption("district", s.district);
      noteOption("owner", s.owner);
    }
  } catch (error) {
    console.warn("sensors", error);
  }
  app.mapDirty = true;
  scheduleRender();
}

function projection() {
  const sensors = [...app.sensors.values()];
  if (!sensors.length) return null;
  const lats = sensors.map((s) => s.lat), lons = sensors.map((s) => s.lon);
  const minLat = Math.min(...lats), maxLat = Math.max(...lats), minLon = Math.min(...lons), maxLon = Math.max(...lons);
  const kx = Math.cos(((minLat + maxLat) / 2) * Math.PI / 180);
  const w = Math.max((maxLon - minLon) * kx, 1e-4), h = Math.max(maxLat - minLat, 1e-4);
  const scale = Math.min(920 / w, 560 / h);
  const ox = 40 + (920 - w * scale) / 2, oy = 40 + (560 - h * scale) / 2;
  return (lat, lon) => [ox + (lon - minLon) * kx * scale, oy + (maxLat - lat) * scale];
}

function alertPosition(project, e) {
  let spots = e.sensor_ids.map((sid) => app.sensors.get(sid)).filter(Boolean);
  if (!spots.length) spots = [...app.sensors.values()].filter((s) => s.asset_id === e.asset_id);
  if (!spots.length) return null;
  const xy = spots.map((s) => project(s.lat, s.lon));
  return [xy.reduce((acc, p) => acc + p[0], 0) / xy.length, xy.reduce((acc, p) => acc + p[1], 0) / xy.length];
}

const SVG_NS = "http://www.w3.org/2000/svg";
function svgEl(tag, attrs, text) {
  const node = document.createElementNS(SVG_NS, tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
  if (text !== undefined) node.textContent = text;
  return node;
}

function drawMap() {
  app.mapDirty = false;
  const svg = document.getElementById("map");
  const project = projection();
  if (!project) return;
  const sensorLayer = svgEl("g", {id: "sensor-layer"});
  const seenAssets = new Set();
  for (const s of app.sensors.values()) {
    const [x, y] = project(s.lat, s.lon);
    const dot = svgEl("circle", {cx: x.toFixed(1), cy: y.toFixed(1), r: 4, class: `sensor lifeline-${s.lifeline}`,
                                 "data-sensor": s.sensor_id, "data-asset": s.asset_id});
    dot.append(svgEl("title", {}, `${s.sensor_id} · ${s.asset_id} · ${t("lifeline", s.lifeline)}`));
    dot.addEventListener("click", () => showAsset(s.asset_id));
    sensorLayer.append(dot);
    if (!seenAssets.has(s.asset_id)) {
      seenAssets.add(s.asset_id);
      sensorLayer.append(svgEl("text", {x: (x + 6).toFixed(1), y: (y - 5).toFixed(1), class: "label"}, s.asset_id));
    }
  }
  const alertLayer = svgEl("g", {id: "alert-layer"});
  for (const envelope of visibleAlerts().reverse()) {
    const e = envelope.event;
    const spot = alertPosition(project, e);
    if (!spot) continue;
    const flash = e.tier === 1 && envelope.status === "open" ? " flash" : "";
    const mark = svgEl("circle", {cx: spot[0].toFixed(1), cy: spot[1].toFixed(1), r: 14 - 2 * e.tier,
                                  class: `alert-mark tier-${e.tier}${flash}`, "data-id": e.alert_id});
    mark.append(svgEl("title", {}, `${t("tier", String(e.tier))} ${t("kind", e.kind)} · ${e.asset_id}`));
    mark.addEventListener("click", () => select(e.alert_id));
    alertLayer.append(mark);
  }
  svg.replaceChildren(sensorLayer, alertLayer);
}

// ---------- lifeline health ----------
async function loadHealth() {
  let health;
  try { health = await api("/lifelines/health"); } catch (error) { return; }
  document.getElementById("health-as-of").textContent = fmtTime(Date.parse(health.as_of));
  const body = document.querySelector("#health tbody");
  body.replaceChildren(...health.rows.map((r) => {
    const pct = (n) => `${(100 * n / Math.max(r.total, 1)).toFixed(1)}%`;
    return el("tr", {"data-lifeline": r.lifeline, "data-district": r.district},
      el("td", {}, t("lifeline", r.lifeline)), el("td", {}, r.district), el("td", {class: "num"}, r.total),
      el("td", {class: "num online"}, r.online), el("td", {class: "num faulty", title: r.faulty_ids.join(" ")}, r.faulty),
      el("td", {class: "num silent", title: r.silent_ids.join(" ")}, r.silent),
      el("td", {}, el("div", {class: "bar"}, el("span", {class: "online", style: `width:${pct(r.online)}`}),
        el("span", {class: "faulty", style: `width:${pct(r.faulty)}`}), el("span", {class: "silent", style: `width:${pct(r.silent)}`}))));
  }));
}

// ---------- tabs and start-up ----------
function showTab(name) {
  for (const button of document.querySelectorAll("#tabs button")) button.classList.toggle("active", button.dataset.tab === name);
  for (const view of document.querySelectorAll(".view")) view.hidden = view.id !== `view-${name}`;
  if (name === "map") drawMap();
  if (name === "health") loadHealth();
  for (const ext of app.extensions) if (ext.onTab) ext.onTab(name);
}
app.showTab = showTab;
app.t = t;
app.el = el;
app.api = api;
app.select = select;
app.showDetail = showDetail;
setInterval(() => { if (app.token && !document.getElementById("view-health").hidden) loadHealth(); }, 30000);

async function start() {
  app.i18n = await (await fetch("i18n.json")).json();
  applyI18n();
  document.getElementById("lang").addEventListener("click", () => {
    app.lang = app.lang === "zh" ? "en" : "zh";
    localStorage.setItem("lifeline.lang", app.lang);
    applyI18n();
  });
  document.getElementById("logout").addEventListener("click", logout);
  document.getElementById("mute").addEventListener("click", () => {
    app.muted = !app.muted;
    document.getElementById("mute").textContent = app.muted ? t("unmute") : t("mute");
  });
  document.getElementById("tabs").addEventListener("click", (ev) => { if (ev.target.dataset.tab) showTab(ev.target.dataset.tab); });
  document.getElementById("alert-list").addEventListener("scroll", scheduleRender, {passive: true});
  document.getElementById("filters").addEventListener("change", (ev) => {
    const name = ev.target.dataset.filter;
    if (!name) return;
    app.filters[name] = ev.target.value;
    app.mapDirty = true;
    scheduleRender();
  });
  document.getElementById("login-form").addEventListener("submit", (ev) => {
    ev.preventDefault();
    unlockAudio();
    login(document.getElementById("token").value.trim());
  });
  // a ready login in the URL fragment (#token=...): browsers never send the fragment to the server
  const fragment = new URLSearchParams(location.hash.slice(1));
  const token = fragment.get("token") || sessionStorage.getItem("lifeline.token");
  if (fragment.has("token")) history.replaceState(null, "", location.pathname + location.search);
  if (token) await login(token);
  app.ready = true;
}
start();
