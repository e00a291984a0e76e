// The Disque dashboard: polls the node's JSON API (api/node, api/nodes,
// api/queues) once a second and renders it; no library, no build step.
// Everything from the server is inserted as text, never as HTML.
"use strict";

const POLL_MS = 1000;
const HISTORY = 60;
const QUEUE_LIMIT = 200;

const history = new Map(); // queue name -> [{in, out}] per poll
const totals = []; // [{in, out}] per poll, all listed queues
let previous = null; // {time, counters: Map name -> {in, out}}
let busy = false;

function el(tag, props, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(props || {})) {
    if (k === "class") e.className = v;
    else if (k === "title") e.title = v;
    else e.dataset[k] = v;
  }
  for (const c of children) e.append(c instanceof Node ? c : String(c));
  return e;
}

async function api(path, options) {
  const r = await fetch(path, Object.assign({ cache: "no-store" }, options));
  const body = await r.json().catch(() => ({}));
  if (!r.ok) {
    const err = new Error(body.error || r.status + " " + r.statusText);
    err.status = r.status;
    throw err;
  }
  return body;
}

function duration(s) {
  if (s < 60) return s + "s";
  if (s < 3600) return Math.floor(s / 60) + "m " + (s % 60) + "s";
  if (s < 86400) return Math.floor(s / 3600) + "h " + Math.floor((s % 3600) / 60) + "m";
  return Math.floor(s / 86400) + "d " + Math.floor((s % 86400) / 3600) + "h";
}

function bytes(n) {
  const units = ["B", "KB", "MB", "GB", "TB"];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) { n /= 1024; i++; }
  return (i ? n.toFixed(1) : n) + " " + units[i];
}

function rate(x) {
  return x >= 10 ? Math.round(x).toString() : x.toFixed(1);
}

function push(list, value) {
  list.push(value);
  if (list.length > HISTORY) list.shift();
}

const SVG = "http://www.w3.org/2000/svg";

// Two polylines (in, out) over the samples, scaled to the largest value.
function drawChart(svg, samples, width, height) {
  svg.replaceChildren();
  const max = Math.max(1, ...samples.map((s) => Math.max(s.in, s.out)));
  for (const key of ["in", "out"]) {
    const points = samples.map((s, i) => {
      // The newest sample at the right edge; older ones scroll left.
      const x = width - ((samples.length - 1 - i) / (HISTORY - 1)) * width;
      const y = height - 2 - (s[key] / max) * (height - 4);
      return x.toFixed(1) + "," + y.toFixed(1);
    });
    const line = document.createElementNS(SVG, "polyline");
    line.setAttribute("class", key);
    line.setAttribute("points", points.join(" "));
    svg.append(line);
  }
}

function sparkline(samples) {
  const svg = document.createElementNS(SVG, "svg");
  svg.setAttribute("class", "spark");
  svg.setAttribute("viewBox", "0 0 120 22");
  svg.setAttribute("preserveAspectRatio", "none");
  drawChart(svg, samples, 120, 22);
  return svg;
}

function renderNode(node) {
  document.getElementById("node-id").textContent = node.id;
  document.getElementById("node-summary").textContent = [
    "jobs " + node.registered_jobs,
    "queues " + node.registered_queues,
    "clients " + node.connected_clients,
    "blocked " + node.blocked_clients,
    "memory " + bytes(node.used_memory),
    node.ops_per_sec + " ops/s",
    "up " + duration(node.uptime_seconds),
  ].join(" · ");
}

function renderNodes(nodes) {
  const body = document.querySelector("#nodes tbody");
  body.replaceChildren(...nodes.map((n) => {
    const flags = n.flags.filter((f) => f !== "noflags");
    const link = n.link === "connected" ? "up" : "down";
    return el("tr", { id: n.id },
      el("td", { class: "mono", title: n.id }, n.id.slice(0, 8)),
      el("td", { class: "mono" }, n.addr),
      el("td", { class: "flags" }, ...(flags.length ? flags.map((f) => el("span", { class: "badge " + f }, f)) : ["—"])),
      el("td", { class: "link " + link }, n.myself ? "myself" : link),
      el("td", { class: "num priority" }, n.priority == null ? "—" : n.priority));
  }));
  document.getElementById("nodes-count").textContent = "(" + nodes.length + " node" + (nodes.length === 1 ? ")" : "s)");
}

function renderQueues(data) {
  const now = performance.now();
  const counters = new Map();
  const total = { in: 0, out: 0 };
  for (const q of data.queues) {
    counters.set(q.name, { in: q["jobs-in"], out: q["jobs-out"] });
    const before = previous && previous.counters.get(q.name);
    const dt = previous ? (now - previous.time) / 1000 : 0;
    const sample = before && dt > 0
      ? { in: Math.max(0, (q["jobs-in"] - before.in) / dt), out: Math.max(0, (q["jobs-out"] - before.out) / dt) }
      : { in: 0, out: 0 };
    if (!history.has(q.name)) history.set(q.name, []);
    push(history.get(q.name), sample);
    total.in += sample.in;
    total.out += sample.out;
  }
  for (const name of history.keys()) if (!counters.has(name)) history.delete(name);
  if (previous) push(totals, total);
  previous = { time: now, counters };
  drawChart(document.getElementById("rate-chart"), totals, 600, 80);
  const peak = Math.max(1, ...totals.map((s) => Math.max(s.in, s.out)));
  document.getElementById("rate-peak").textContent = rate(peak);

  const body = document.querySelector("#queues tbody");
  body.replaceChildren(...data.queues.map((q) => {
    const h = history.get(q.name);
    const latest = h[h.length - 1];
    const paused = q.pause !== "none";
    return el("tr", { queue: q.name },
      el("td", { class: "name mono" }, q.name),
      el("td", { class: "num len" }, q.len),
      el("td", { class: "num in-rate" }, rate(latest.in)),
      el("td", { class: "num out-rate" }, rate(latest.out)),
      el("td", { class: "chart" }, sparkline(h)),
      el("td", { class: "num age" }, duration(q.age)),
      el("td", { class: "num blocked" }, q.blocked),
      el("td", { class: "pause" + (paused ? " paused" : "") }, q.pause),
      el("td", {}, el("button", { class: "pause-button", state: paused ? "none" : "all" }, paused ? "Resume" : "Pause")));
  }));
  const shown = data.queues.length < data.total ? " (busiest " + data.queues.length + " of " + data.total + ")" : " (" + data.total + ")";
  document.getElementById("queues-count").textContent = shown;
  document.getElementById("no-queues").hidden = data.total > 0;
}

function setStatus(live, message) {
  const s = document.getElementById("status");
  s.className = "status " + (live ? "live" : "offline");
  s.textContent = live ? "live" : "offline: " + message;
}

async function refresh() {
  if (busy) return;
  busy = true;
  try {
    const [node, nodes, queues] = await Promise.all([
      api("api/node"), api("api/nodes"), api("api/queues?limit=" + QUEUE_LIMIT),
    ]);
    renderNode(node);
    renderNodes(nodes.nodes);
    renderQueues(queues);
    setStatus(true);
  } catch (e) {
    setStatus(false, e.message);
  } finally {
    busy = false;
  }
}

async function setPause(name, state) {
  try {
    await api("api/queues/" + encodeURIComponent(name) + "/pause?state=" + state, { method: "POST" });
  } catch (e) {
    setStatus(false, e.message);
  }
  refresh();
}

async function lookup(id) {
  const out = document.getElementById("job-result");
  out.replaceChildren();
  if (!id) return;
  try {
    const job = await api("api/jobs/" + encodeURIComponent(id));
    out.append(el("dl", { job: job.id }, ...Object.entries(job).flatMap(([k, v]) => [
      el("dt", {}, k),
      el("dd", { field: k, class: k === "body" || k === "id" ? "mono" : "" },
        Array.isArray(v) ? (v.length ? v.join(", ") : "—") : v),
    ])));
  } catch (e) {
    const text = e.status === 404 ? "No job " + id + " on this node."
      : e.status === 400 ? "Not a job id: " + id : e.message;
    out.append(el("p", { class: "error" }, text));
  }
}

document.addEventListener("DOMContentLoaded", () => {
  document.querySelector("#queues tbody").addEventListener("click", (ev) => {
    const button = ev.target.closest("button.pause-button");
    if (button) setPause(button.closest("tr").dataset.queue, button.dataset.state);
  });
  document.getElementById("job-form").addEventListener("submit", (ev) => {
    ev.preventDefault();
    lookup(document.getElementById("job-id").value.trim());
  });
  refresh();
  setInterval(refresh, POLL_MS);
});
