// The command-centre dashboard: draws what /dashboard/api answers under the signed-in token.
// Every number on the page is a service's figure; the page only lays them out.
"use strict";

const STEPS = ["reported", "dispatched", "accepted", "in_mediation", "awaiting_verification", "resolved", "closed"];
const LEVELS = ["grid", "community", "street", "district"];
const RATES = ["response", "resolution", "satisfaction", "on_time", "rework"];
const COLOURS = ["#36d1dc", "#5b8cff", "#2ee59d", "#ffc857", "#ff6b6b"];
const CODE_LENGTH = { district: 6, street: 9, community: 12, grid: 15 };

const dash = {
  token: sessionStorage.getItem("gridloop.token") || "",
  me: null, area: "", nodes: new Map(), days: 0, period: "week", tab: "latest",
  loop: null, lists: { overdue: [], due_soon: [], mediation: [], waiting: [] }, charts: {}, live: null,
  firstViewMs: null, refreshedAt: 0,
};
window.dash = dash;

const $ = (id) => document.getElementById(id);
const pct = (x) => (x === null || x === undefined ? "–" : (x * 100).toFixed(1) + "%");
// Case ids are time-ordered (their head is the time): the tail tells them apart.
const short = (id) => id.slice(-8);
const when = (iso) => (iso ? new Date(iso).toLocaleString(LANG === "zh" ? "zh-CN" : "en-GB", { hour12: false }) : "–");

const nameOf = (code) => {
  const chain = ancestors(code).slice(1).map((node) => node.name);
  return chain.length ? `${chain.join(" / ")} (${code})` : code;
};

class ApiError extends Error {
  constructor(status, body) { super(body.message || String(status)); this.status = status; this.body = body; }
}

async function api(path) {
  const response = await fetch("/dashboard/api/" + path, { headers: { Authorization: "Bearer " + dash.token } });
  const body = await response.json().catch(() => ({}));
  if (!response.ok) throw new ApiError(response.status, body);
  return body;
}

function toast(text, kind) {
  const el = $("toast");
  el.textContent = text;
  el.className = "toast " + (kind || "");
  el.hidden = false;
  clearTimeout(toast.timer);
  toast.timer = setTimeout(() => { el.hidden = true; }, 6000);
}

function chart(id) {
  if (!dash.charts[id]) {
    dash.charts[id] = echarts.init($(id), null, { renderer: "canvas" });
    if (id === "map") dash.charts.map.on("click", drillDown);
  }
  return dash.charts[id];
}

function drillDown(p) {
  const unit = p.data && p.data.unit;
  if (unit && unit !== dash.area && dash.nodes.has(unit)) setArea(unit);
}

// ---- sign-in -------------------------------------------------------------------------------

async function signIn(token) {
  dash.token = token.trim();
  try {
    dash.me = await api("me");
  } catch (error) {
    $("signin-error").textContent = error.message;
    $("signin").hidden = false;
    return;
  }
  sessionStorage.setItem("gridloop.token", dash.token);
  $("signin").hidden = true;
  $("board").hidden = false;
  const jurisdiction = await api("jurisdiction");
  jurisdiction.nodes.forEach((node) => dash.nodes.set(node.code, node));
  const root = jurisdiction.nodes.find((node) => !node.parent);
  const wanted = new URLSearchParams(location.hash.slice(1)).get("area");
  await setArea(wanted || (dash.me.area ?? (root ? root.code : "")), true);
}

function signOut() {
  sessionStorage.removeItem("gridloop.token");
  location.hash = "";
  location.reload();
}

// ---- navigation ----------------------------------------------------------------------------

async function setArea(code, first) {
  let loop;
  try {
    loop = await api("loop?area=" + encodeURIComponent(code));
  } catch (error) {
    document.body.dataset.refused = code;
    toast(t("refused") + " " + code + ": " + error.message, "error");
    if (first && dash.me.area !== undefined && code !== (dash.me.area ?? "")) return setArea(dash.me.area ?? "", true);
    return;
  }
  delete document.body.dataset.refused;
  dash.area = code;
  history.replaceState(null, "", "#area=" + code);
  renderCrumbs();
  renderLoop(loop);
  await Promise.all([refreshFigures(), refreshRanking()]);
  // Navigation start to every panel drawn: the first-view time the browser test reports.
  if (first && dash.firstViewMs === null) dash.firstViewMs = performance.now();
  document.body.dataset.area = code;
  startLive();
}

function ancestors(code) {
  const chain = [];
  for (let node = dash.nodes.get(code); node; node = dash.nodes.get(node.parent)) chain.unshift(node);
  return chain;
}

function renderCrumbs() {
  const nav = $("crumbs");
  nav.replaceChildren();
  ancestors(dash.area).forEach((node, i, all) => {
    const button = document.createElement("button");
    button.type = "button";
    button.textContent = node.name;
    button.dataset.code = node.code;
    button.className = i === all.length - 1 ? "crumb current" : "crumb";
    button.onclick = () => setArea(node.code);
    nav.append(button);
  });
}

// ---- the loop now and the map --------------------------------------------------------------

function renderLoop(loop) {
  dash.loop = loop;
  const steps = $("steps");
  steps.replaceChildren();
  STEPS.forEach((step, i) => {
    if (i > 0) {
      const arrow = document.createElement("span");
      arrow.className = "arrow";
      arrow.textContent = "›";
      steps.append(arrow);
    }
    const tile = document.createElement("div");
    tile.className = "step";
    tile.dataset.step = step;
    tile.innerHTML = `<b>${loop.steps[step] ?? 0}</b><span>${t(step)}</span>`;
    steps.append(tile);
  });
  $("intake-today").textContent = loop.intake_today;
  renderChannels(loop.intake_by_channel || []);
  $("overdue-count").textContent = loop.overdue;
  $("due-soon-count").textContent = loop.due_soon;
  renderMap(loop);
  if (dash.tab === "latest") renderRows();
}

/// Today's intake per channel, as CountCases counts it.
function renderChannels(channels) {
  const box = $("intake-channels");
  box.replaceChildren();
  channels.forEach(({ channel, count }) => {
    const item = document.createElement("span");
    item.className = "channel" + (count ? "" : " none");
    item.dataset.channel = channel;
    item.dataset.count = String(count);
    item.innerHTML = `<b>${count}</b> `;
    item.append(t(channel));
    box.append(item);
  });
}

/// The grids of the current area, each coloured by the open cases of the unit one level down
/// that holds it (of the grid itself at community level and below).
function renderMap(loop) {
  const area = dash.area;
  const node = dash.nodes.get(area);
  const unitLength = Math.min(CODE_LENGTH.grid, (area ? area.length : 3) + 3);
  const grids = [...dash.nodes.values()].filter((n) => n.level === "grid" && n.code.startsWith(area) && n.boundary.length);
  const features = grids.map((grid) => ({
    type: "Feature", properties: { name: grid.code },
    geometry: { type: "Polygon", coordinates: [grid.boundary] },
  }));
  const mapName = "area-" + (area || "all");
  echarts.registerMap(mapName, { type: "FeatureCollection", features });
  const perUnit = {};
  for (const [code, counts] of Object.entries(loop.grids)) {
    const unit = code.slice(0, unitLength);
    perUnit[unit] = perUnit[unit] || { open: 0, overdue: 0 };
    perUnit[unit].open += counts.open;
    perUnit[unit].overdue += counts.overdue;
  }
  const labelled = new Set();
  const data = grids.map((grid) => {
    const unit = grid.code.slice(0, unitLength);
    const counts = perUnit[unit] || { open: 0, overdue: 0 };
    const unitNode = dash.nodes.get(unit);
    // Each unit's name once, on its first grid.
    const first = !labelled.has(unit);
    labelled.add(unit);
    return {
      name: grid.code, value: counts.open, overdue: counts.overdue, unit,
      itemStyle: counts.overdue > 0 ? { borderColor: "#ff6b6b", borderWidth: 1.5 } : undefined,
      label: { show: first, formatter: () => `${unitNode ? unitNode.name : unit}\n${counts.open}`, color: "#fff",
        fontSize: 12, textShadowColor: "#000", textShadowBlur: 4 },
    };
  });
  // The scale spans the units' own range, so that neighbours with similar loads still differ.
  const max = Math.max(1, ...data.map((d) => d.value));
  const min = Math.min(max - 1, ...data.map((d) => d.value));
  chart("map").setOption({
    tooltip: {
      formatter: (p) => {
        const unit = dash.nodes.get(p.data.unit);
        return `${unit ? unit.name : p.name}<br>${t("open")}: <b>${p.data.value}</b><br>${t("overdue")}: <b>${p.data.overdue}</b>`;
      },
    },
    visualMap: {
      min, max, right: 10, bottom: 10, calculable: true, textStyle: { color: "#9fb3d9" },
      inRange: { color: ["#0f3a5f", "#1f77b4", "#ffc857", "#ff6b6b"] },
    },
    series: [{
      type: "map", map: mapName, roam: true, data, selectedMode: false, layoutCenter: ["50%", "50%"], layoutSize: "92%",
      itemStyle: { areaColor: "#0f2a47", borderColor: "#4aa3ff", borderWidth: 0.4 },
      emphasis: { label: { show: false }, itemStyle: { areaColor: "#36d1dc" } },
    }],
  }, { replaceMerge: ["series"] });
  $("map").dataset.grids = String(grids.length);
  $("map").dataset.level = node ? node.level : "";
}

// ---- 4321, ranking, trend ------------------------------------------------------------------

async function refreshFigures() {
  dash.refreshedAt = Date.now();
  const area = encodeURIComponent(dash.area);
  const [distribution, deadlines, mediations] = await Promise.all([
    api(`distribution?area=${area}&days=${dash.days}`),
    api(`deadlines?area=${area}`),
    api(`mediations?area=${area}`),
  ]);
  renderDistribution(distribution);
  dash.lists = { overdue: deadlines.overdue, due_soon: deadlines.due_soon, mediation: mediations.cases, waiting: mediations.waiting };
  renderRows();
}

function renderDistribution(d) {
  const share = (level) => (d.levels.find((l) => l.level === level) || { share: 0, target: 0 });
  chart("dist").setOption({
    tooltip: { trigger: "axis", valueFormatter: pct },
    legend: { data: [t("actual"), t("target")], textStyle: { color: "#cfe3ff" }, top: 0 },
    grid: { left: 40, right: 10, top: 30, bottom: 24 },
    xAxis: { type: "category", data: LEVELS.map(t), axisLabel: { color: "#9fb3d9" } },
    yAxis: { type: "value", max: 0.6, axisLabel: { color: "#9fb3d9", formatter: (v) => v * 100 + "%" }, splitLine: { lineStyle: { color: "#1b3458" } } },
    series: [
      { name: t("actual"), type: "bar", data: LEVELS.map((l) => share(l).share), itemStyle: { color: "#36d1dc" }, barWidth: "35%",
        label: { show: true, position: "top", color: "#e6f1ff", formatter: (p) => pct(p.value) } },
      { name: t("target"), type: "bar", data: LEVELS.map((l) => share(l).target), itemStyle: { color: "rgba(255,200,87,0.35)", borderColor: "#ffc857" }, barWidth: "35%" },
    ],
  });
  const total = $("dist-total");
  total.replaceChildren();
  LEVELS.forEach((level) => {
    const span = document.createElement("span");
    span.className = "share";
    span.dataset.level = level;
    span.dataset.share = String(share(level).share);
    span.textContent = `${t(level)} ${pct(share(level).share)}`;
    total.append(span);
  });
  const count = document.createElement("span");
  count.dataset.closedTotal = String(d.closed_total);
  count.textContent = `${d.closed_total} ${t("closed_total")}`;
  total.append(count);
  const alerts = $("alerts");
  alerts.replaceChildren();
  const drifted = d.alerts.filter((a) => a.drifted);
  if (!drifted.length) alerts.innerHTML = `<li class="ok">${t("no_alerts")} (${t("tolerance")} ${pct(d.tolerance)})</li>`;
  drifted.forEach((a) => {
    const li = document.createElement("li");
    const node = dash.nodes.get(a.area);
    li.textContent = `⚠ ${t("drifted")}: ${node ? node.name : a.area} · ${pct(a.deviation)} · ${when(a.changed_at)}`;
    alerts.append(li);
  });
}

async function refreshRanking() {
  const ranking = await api(`ranking?area=${encodeURIComponent(dash.area)}&period=${dash.period}`);
  const units = ranking.units;
  chart("ranking").setOption({
    tooltip: { trigger: "axis", valueFormatter: pct },
    legend: { data: RATES.map(t), textStyle: { color: "#cfe3ff" }, top: 0 },
    grid: { left: 90, right: 16, top: 30, bottom: 20 },
    xAxis: { type: "value", max: 1, axisLabel: { color: "#9fb3d9", formatter: (v) => v * 100 + "%" }, splitLine: { lineStyle: { color: "#1b3458" } } },
    yAxis: { type: "category", data: units.map((u) => u.name), axisLabel: { color: "#cfe3ff" }, inverse: true },
    series: RATES.map((rate, i) => ({
      name: t(rate), type: "bar", data: units.map((u) => u.rates[rate] ?? null), itemStyle: { color: COLOURS[i] },
    })),
  }, { replaceMerge: ["series"] });
  chart("ranking").off("click");
  chart("ranking").on("click", (p) => { const unit = units[p.dataIndex]; if (unit && unit.code !== dash.area) setArea(unit.code); });
  chart("trend").setOption({
    tooltip: { trigger: "axis", valueFormatter: pct },
    legend: { data: RATES.map(t), textStyle: { color: "#cfe3ff" }, top: 0 },
    grid: { left: 44, right: 16, top: 30, bottom: 24 },
    xAxis: { type: "category", data: ranking.trend.map((p) => p.label), axisLabel: { color: "#9fb3d9" } },
    yAxis: { type: "value", max: 1, axisLabel: { color: "#9fb3d9", formatter: (v) => v * 100 + "%" }, splitLine: { lineStyle: { color: "#1b3458" } } },
    series: RATES.map((rate, i) => ({
      name: t(rate), type: "line", smooth: true, data: ranking.trend.map((p) => p.rates[rate] ?? null), itemStyle: { color: COLOURS[i] },
    })),
  }, { replaceMerge: ["series"] });
}

// ---- lists and the case page ---------------------------------------------------------------

function renderRows() {
  const rows = dash.tab === "latest" ? (dash.loop ? dash.loop.latest : []) : dash.lists[dash.tab] || [];
  const body = $("case-rows");
  body.replaceChildren();
  if (!rows.length) body.innerHTML = `<tr><td colspan="5" class="empty">${t("empty")}</td></tr>`;
  if (dash.tab === "waiting") return rows.forEach((m) => body.append(waitingRow(m)));
  rows.forEach((c) => {
    const tr = document.createElement("tr");
    tr.dataset.caseId = c.case_id;
    const time = dash.tab === "latest" || dash.tab === "mediation" ? `${t("opened")} ${when(c.opened_at)}` : `${t("due")} ${when(c.due_at)}`;
    tr.innerHTML = `<td><code>${short(c.case_id)}</code></td><td>${t(c.state)}</td><td>${t(c.level)}</td><td>${c.category}</td><td>${time}</td>`;
    tr.onclick = () => openCase(c.case_id);
    body.append(tr);
  });
}

/// A session waiting on its notice period or its next follow-up; a click opens its case.
function waitingRow(m) {
  const tr = document.createElement("tr");
  tr.dataset.mediationId = m.mediation_id;
  tr.innerHTML = `<td><code>${short(m.mediation_id)}</code></td><td>${t(m.waiting_on)}</td><td></td><td></td><td>${t("until")} ${when(m.until)}</td>`;
  tr.children[2].textContent = (dash.nodes.get(m.area) || { name: m.area }).name;
  tr.children[3].textContent = m.topic;
  if (m.case_id) tr.onclick = () => openCase(m.case_id);
  return tr;
}

async function openCase(id) {
  let c;
  try {
    c = await api("cases/" + encodeURIComponent(id));
  } catch (error) {
    toast(error.message, "error");
    return;
  }
  $("case-id").textContent = c.case_id;
  $("ladder").innerHTML = LEVELS.map((level) => {
    const here = c.state === "closed" ? c.settled_level === level : c.level === level;
    return `<div class="rung${here ? " here" : ""}" data-level="${level}">${t(level)}</div>`;
  }).join('<span class="arrow">›</span>');
  const facts = [
    [t("col_state"), t(c.state)], [t("unit"), nameOf(c.unit)], [t("department"), c.department || "–"],
    [t("col_category"), c.category], [t("grid_code"), nameOf(c.grid)], [t("deadline"), when(c.deadline)],
    [t("priority"), c.priority], ["", c.description],
  ];
  $("case-facts").innerHTML = facts.map(([k, v]) => `<dt>${k}</dt><dd></dd>`).join("");
  $("case-facts").querySelectorAll("dd").forEach((dd, i) => { dd.textContent = String(facts[i][1]); });
  const timeline = $("timeline");
  timeline.replaceChildren();
  c.history.forEach((entry) => {
    const li = document.createElement("li");
    li.innerHTML = `<time>${when(entry.at)}</time><b></b><small></small>`;
    li.querySelector("b").textContent = entry.type.replace(/^gridloop\.v1\./, "");
    li.querySelector("small").textContent = entry.source;
    timeline.append(li);
  });
  $("case").hidden = false;
}

// ---- live ----------------------------------------------------------------------------------

/// Reads the server-sent events of /dashboard/api/live with fetch (EventSource cannot send the
/// token as a header) and redraws the loop and the map on each `loop` event.
function startLive() {
  if (dash.live) dash.live.abort();
  const controller = new AbortController();
  dash.live = controller;
  const area = dash.area;
  (async () => {
    try {
      const response = await fetch("/dashboard/api/live?area=" + encodeURIComponent(area), {
        headers: { Authorization: "Bearer " + dash.token }, signal: controller.signal,
      });
      if (!response.ok) throw new Error(String(response.status));
      $("live").className = "live on";
      const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
      let buffer = "";
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buffer += value;
        let cut;
        while ((cut = buffer.indexOf("\n\n")) >= 0) {
          onEvent(buffer.slice(0, cut));
          buffer = buffer.slice(cut + 2);
        }
      }
    } catch (error) {
      if (controller.signal.aborted) return;
    }
    $("live").className = "live off";
    if (!controller.signal.aborted) setTimeout(() => { if (dash.live === controller) startLive(); }, 2000);
  })();
}

function onEvent(block) {
  let name = "message";
  const data = [];
  block.split("\n").forEach((line) => {
    if (line.startsWith("event:")) name = line.slice(6).trim();
    else if (line.startsWith("data:")) data.push(line.slice(5).replace(/^ /, ""));
  });
  if (!data.length) return;
  const payload = JSON.parse(data.join("\n"));
  if (name === "loop" && payload.area === dash.area) {
    renderLoop(payload);
    dash.liveEvents = (dash.liveEvents || 0) + 1;
    // A hook for measurements (the browser test's lag under load).
    if (dash.onLive) dash.onLive(payload);
    if (Date.now() - dash.refreshedAt > 5000) refreshFigures().catch(() => {});
  } else if (name === "error") {
    toast(payload.message, "error");
  }
}

// ---- wiring --------------------------------------------------------------------------------

function wire() {
  applyWords();
  $("signin-form").onsubmit = (e) => { e.preventDefault(); signIn($("token").value); };
  $("signout").onclick = signOut;
  $("lang").onclick = () => {
    LANG = LANG === "zh" ? "en" : "zh";
    localStorage.setItem("gridloop.lang", LANG);
    applyWords();
    if (dash.loop) { renderLoop(dash.loop); refreshFigures(); refreshRanking(); }
  };
  $("days").onchange = (e) => { dash.days = Number(e.target.value); refreshFigures(); };
  $("period").onchange = (e) => { dash.period = e.target.value; refreshRanking(); };
  $("case-close").onclick = () => { $("case").hidden = true; };
  document.querySelectorAll(".tabs button").forEach((button) => {
    button.onclick = () => {
      document.querySelectorAll(".tabs button").forEach((b) => b.classList.toggle("active", b === button));
      dash.tab = button.dataset.tab;
      renderRows();
    };
  });
  window.addEventListener("hashchange", () => {
    const wanted = new URLSearchParams(location.hash.slice(1)).get("area");
    if (dash.me && wanted !== null && wanted !== dash.area) setArea(wanted);
  });
  window.addEventListener("resize", () => Object.values(dash.charts).forEach((c) => c.resize()));
  setInterval(() => { $("clock").textContent = new Date().toLocaleString(LANG === "zh" ? "zh-CN" : "en-GB", { hour12: false }); }, 1000);
  if (dash.token) { $("signin").hidden = true; signIn(dash.token); }
}

dash.setArea = setArea;
dash.openCase = openCase;
wire();
