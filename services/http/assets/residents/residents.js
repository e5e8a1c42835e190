// 云议事: the residents' page. Draws what /residents/api answers under the resident's own token;
// every rule (the register, D21's minus after two pluses, turns, one vote, one objection) is the
// mediation service's, and its refusals are shown here in words.
"use strict";

const res = {
  token: sessionStorage.getItem("gridloop.resident.token") || "",
  me: null, agenda: null, session: null, sessionId: "", feed: null, feedEvents: 0,
  d21: { plus: [], minus: 0 },
};
window.res = res;

const $ = (id) => document.getElementById(id);
const when = (iso) => (iso ? new Date(iso).toLocaleString("zh-CN", { hour12: false }) : "–");

const STAGES = {
  proposed: "已提议", notified: "已告知，待开会", deliberating: "议事中", decided: "已表决",
  in_notice: "公示中", contested: "异议达五分之一，退回议事会", suspended: "暂缓执行", concluded: "已结束",
};
const SECTIONS = {
  proposal: "提议", ranking: "排序", preparation: "筹备", sitting: "开会", statement: "发言",
  resident_statement: "居民发言", ballot: "票选", decision: "决策", publication: "公示", objection: "异议",
  council_response: "议事会答复", outcome: "结果", follow_up: "监督",
};
const STATUS = {
  deliberating: "议事中", decided: "已决策", in_notice: "公示中", contested: "有异议待复议", suspended: "暂缓执行",
  implementing: "实施中", settled: "已办结", failed: "未达成一致",
};
const PRIORITIES = { shared_concern: "居民共同关注", special_groups: "特殊群体需求", urgent: "急难重大事项" };

// The services answer in English; a resident reads the common refusals in Chinese, and anything
// else as the service worded it.
const REFUSALS = [
  [/has voted already/, "您已经投过票了，每人只能投一次。"],
  [/is not invited to vote/, "您不在本次表决的投票名单中。"],
  [/no ballot is open/, "目前没有进行中的表决。"],
  [/has objected already/, "您已经提出过异议，每人只能提一次。"],
  [/is not registered among the residents concerned/, "您不在本次议事所涉居民的名册中。"],
  [/is not a registered resident/, "您不在本区域的居民名册中。"],
  [/objections are raised during the notice period/, "只能在公示期内提出异议。"],
  [/the notice period is over/, "公示期已结束。"],
  [/has used all (\d+) turns/, (m) => `您的${m[1]}次发言机会已用完。`],
  [/residents speak while the session sits/, "议事会开会期间才能发言。"],
  [/at most 300/, "发言不能超过300字。"],
  [/has ranked already/, "您已经排过序了，每人只能排一次。"],
  [/no ranking is open/, "目前没有进行中的议题排序。"],
  [/a minus vote only after two plus votes/, "投满两张赞成票后才能投反对票。"],
  [/at most (\d+) plus votes/, (m) => `每人最多投${m[1]}张赞成票。`],
  [/one to three topics/, "请按顺序选择一到三个议题。"],
  [/chosen twice|twice/, "同一议题不能选两次。"],
  [/title: must not be empty/, "请填写议题。"],
  [/only in the area their token names|outside/, "您只能参与自己所在区域的议事。"],
  [/token expired|expired/, "登录已过期，请重新登录。"],
];

function words(message) {
  for (const [pattern, text] of REFUSALS) {
    const match = pattern.exec(message || "");
    if (match) return typeof text === "function" ? text(match) : text;
  }
  return message || "操作失败，请稍后再试。";
}

class ApiError extends Error {
  constructor(status, body) { super(body.message || String(status)); this.status = status; this.body = body; }
}

async function api(path, body) {
  const init = { headers: { Authorization: "Bearer " + res.token } };
  if (body !== undefined) {
    init.method = "POST";
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  const response = await fetch("/residents/api/" + path, init);
  const answer = await response.json().catch(() => ({}));
  if (!response.ok) throw new ApiError(response.status, answer);
  return answer;
}

function toast(text, kind) {
  const el = $("toast");
  el.textContent = text;
  el.className = "toast " + (kind || "");
  el.hidden = false;
  clearTimeout(toast.timer);
  toast.timer = setTimeout(() => { el.hidden = true; }, 6000);
}

/// Runs `action`; a refusal is shown in words and kept on the body for whoever checks the page.
async function attempt(action, done) {
  try {
    const answer = await action();
    if (done) toast(done, "ok");
    return answer;
  } catch (error) {
    const said = words(error.message);
    document.body.dataset.refusal = said;
    toast(said, "error");
    return null;
  }
}

const el = (tag, props, ...children) => {
  const { dataset, ...rest } = props || {};
  const node = Object.assign(document.createElement(tag), rest);
  Object.entries(dataset || {}).forEach(([key, value]) => { node.dataset[key] = value; });
  children.flat().forEach((child) => node.append(child));
  return node;
};
const tags = (priorities) =>
  Object.entries(PRIORITIES).filter(([key]) => priorities && priorities[key]).map(([, label]) => el("span", { className: "tag", textContent: label }));

// ---- sign in -------------------------------------------------------------------------------

async function signIn(token) {
  res.token = token.trim();
  try {
    res.me = await api("me");
  } catch (error) {
    toast(words(error.message), "error");
    return signOut();
  }
  if (!res.me.area) { toast("该令牌没有登记区域，无法参与议事。", "error"); return signOut(); }
  sessionStorage.setItem("gridloop.resident.token", res.token);
  $("who").textContent = `${res.me.subject} · ${res.me.area}`;
  $("signin").hidden = true;
  $("signout").hidden = false;
  $("tabs").hidden = false;
  document.body.dataset.signedIn = res.me.subject;
  const wanted = new URLSearchParams(location.hash.slice(1)).get("session");
  if (wanted) { show("sitting"); openSession(wanted); } else { show("agenda"); }
  await refreshAgenda();
}

function signOut() {
  sessionStorage.removeItem("gridloop.resident.token");
  if (res.feed) res.feed.abort();
  Object.assign(res, { token: "", me: null, agenda: null, session: null, sessionId: "", feed: null });
  delete document.body.dataset.signedIn;
  delete document.body.dataset.refusal;
  $("token").value = "";
  $("who").textContent = "";
  ["tabs", "agenda", "sitting", "record", "signout", "session"].forEach((id) => { $(id).hidden = true; });
  $("signin").hidden = false;
}

function show(tab) {
  document.querySelectorAll("#tabs button").forEach((b) => b.classList.toggle("active", b.dataset.tab === tab));
  ["agenda", "sitting", "record"].forEach((id) => { $(id).hidden = id !== tab; });
  if (tab === "sitting") refreshSessions();
  if (tab === "record" && res.sessionId) loadRecord();
}

// ---- the area's sessions: pick one without being handed its id -----------------------------

const GROUPS = { building: "楼栋", courtyard: "院落" };

/// The sessions of the resident's area whose register holds them (a building's session only to
/// that building's residents), newest first; each links to its page.
async function refreshSessions() {
  const list = await attempt(() => api("sessions"));
  if (!list) return;
  $("session-list-empty").hidden = list.sessions.length > 0;
  $("session-list").replaceChildren(...list.sessions.map((s) => el("li",
    { className: s.id === res.sessionId ? "current" : "", dataset: { id: s.id, stage: s.stage } },
    el("a", { href: "#session=" + s.id },
      el("span", { className: "title", textContent: s.topic }),
      el("span", { className: "stage", textContent: STAGES[s.stage] || s.stage }),
      s.register ? el("span", { className: "tag", textContent: `${GROUPS[s.register.kind] || ""} ${s.register.name}` }) : "",
      s.ballot_open ? el("span", { className: "tag hot", textContent: "投票进行中" }) : "",
      s.objections_needed ? el("span", { className: "tag", textContent: `异议 ${s.objections}/${s.objections_needed}` }) : "",
      s.notice_until && s.stage === "in_notice" ? el("span", { className: "hint", textContent: ` 公示至 ${when(s.notice_until)}` }) : ""))));
  $("session-list").dataset.count = String(list.sessions.length);
}

// ---- agenda: propose and rank --------------------------------------------------------------

async function refreshAgenda() {
  const agenda = await attempt(() => api("agenda?area=" + encodeURIComponent(res.me.area)));
  if (agenda) renderAgenda(agenda);
}

function renderAgenda(agenda) {
  const changed = !res.agenda || res.agenda.ranking_open !== agenda.ranking_open || res.agenda.method !== agenda.method;
  res.agenda = agenda;
  if (changed) res.d21 = { plus: [], minus: 0 };
  $("topics").replaceChildren(...agenda.topics.map((t) => el("li",
    { className: t.merged_into ? "merged" : "", title: t.merged_into ? `已并入议题${t.merged_into}` : "" },
    `${t.number}. ${t.title} `, ...tags(t.priorities))));
  renderRanking(agenda);
  const open = agenda.ranking_open;
  const rows = open ? agenda.standing : agenda.order;
  $("order-title").textContent = open ? `排序进行中（${agenda.ballots}人已排序）` : "排序结果";
  $("order-empty").hidden = rows.length > 0;
  const method = agenda.method !== "unspecified" ? agenda.method
    : (rows.some((t) => t.minus > 0 || t.plus > 0) ? "d21" : "points_531");
  $("order").replaceChildren(...rows.map((t, i) => el("li", { dataset: { number: t.number, score: t.score } },
    el("span", { className: "place", textContent: String(i + 1) }),
    el("span", { className: "title" }, t.title, " ", ...tags(t.priorities),
      t.tied ? el("span", { className: "tag tied", textContent: "同分" }) : ""),
    el("span", { className: "score", textContent: method === "d21" ? `+${t.plus} −${t.minus} = ${t.score}` : `${t.score}分` }))));
  document.body.dataset.agendaVersion = agenda.version;
}

function rankable(agenda) {
  const numbers = new Set(agenda.standing.map((t) => t.number));
  const standing = agenda.topics.filter((t) => !t.merged_into);
  return numbers.size ? standing.filter((t) => numbers.has(t.number)) : standing;
}

function renderRanking(agenda) {
  $("ranking").hidden = !agenda.ranking_open;
  if (!agenda.ranking_open) return;
  const topics = rankable(agenda);
  const d21 = agenda.method === "d21";
  $("ranking-method").textContent = d21 ? "D21投票法" : "531积分法";
  $("ranking-rule").textContent = d21
    ? `每人可投${agenda.plus_votes}张赞成票（+），投满两张赞成票后可再投一张反对票（−）。`
    : "按顺序选出您最关心的三个议题：第一选择5分，第二选择3分，第三选择1分。";
  $("ranking-ballots").textContent = `已有${agenda.ballots}位居民排序。`;
  $("choices").hidden = d21;
  $("rank-topics").hidden = !d21;
  if (d21) {
    $("rank-topics").replaceChildren(...topics.map((t) => el("li", { dataset: { number: t.number } },
      el("span", { className: "title", textContent: `${t.number}. ${t.title}` }),
      el("button", { type: "button", className: "plus", textContent: "+", onclick: () => togglePlus(t.number) }),
      el("button", { type: "button", className: "minus", textContent: "−", onclick: () => toggleMinus(t.number) }))));
    paintD21();
  } else {
    document.querySelectorAll("#choices select").forEach((select, i) => {
      select.replaceChildren(el("option", { value: "0", textContent: i === 0 ? "请选择" : "（不选）" }),
        ...topics.map((t) => el("option", { value: String(t.number), textContent: `${t.number}. ${t.title}` })));
    });
  }
}

function togglePlus(number) {
  const { plus } = res.d21;
  const at = plus.indexOf(number);
  if (at >= 0) plus.splice(at, 1);
  else if (plus.length < res.agenda.plus_votes) { plus.push(number); if (res.d21.minus === number) res.d21.minus = 0; }
  else toast(`每人最多投${res.agenda.plus_votes}张赞成票。`, "error");
  if (plus.length < 2) res.d21.minus = 0;
  paintD21();
}

function toggleMinus(number) {
  if (res.d21.plus.length < 2) { toast("投满两张赞成票后才能投反对票。", "error"); return; }
  res.d21.minus = res.d21.minus === number ? 0 : number;
  res.d21.plus = res.d21.plus.filter((n) => n !== number);
  paintD21();
}

function paintD21() {
  document.querySelectorAll("#rank-topics li").forEach((li) => {
    const number = Number(li.dataset.number);
    li.querySelector(".plus").classList.toggle("on", res.d21.plus.includes(number));
    li.querySelector(".minus").classList.toggle("on", res.d21.minus === number);
    li.querySelector(".minus").disabled = res.d21.plus.length < 2 && res.d21.minus !== number;
  });
}

async function submitRanking() {
  const area = res.me.area;
  const ballot = res.agenda.method === "d21"
    ? { area, plus: res.d21.plus, minus: res.d21.minus }
    : { area, choices: [...document.querySelectorAll("#choices select")].map((s) => Number(s.value)).filter((n) => n > 0) };
  const agenda = await attempt(() => api("agenda/ranking", ballot), "排序已提交，谢谢参与！");
  if (agenda) { res.agenda = null; renderAgenda(agenda); document.body.dataset.ranked = "yes"; }
}

async function propose(event) {
  event.preventDefault();
  const topic = {
    area: res.me.area, title: $("topic-title").value.trim(), collected_from: $("topic-source").value,
    shared_concern: $("flag-shared").checked, special_groups: $("flag-special").checked, urgent: $("flag-urgent").checked,
  };
  const agenda = await attempt(() => api("agenda/topics", topic), "议题已提交。");
  if (agenda) { $("propose-form").reset(); renderAgenda(agenda); }
}

// ---- the sitting: follow, speak, vote, object -----------------------------------------------

function openSession(id) {
  id = id.trim().replace(/^.*session=/, "");
  if (!id) return;
  res.sessionId = id;
  $("session-id").value = id;
  if (location.hash !== "#session=" + id) history.replaceState(null, "", "#session=" + id);
  startFeed();
}

/// Reads the session's server-sent events with fetch (EventSource cannot send the token as a
/// header); each `session` event redraws the sitting.
function startFeed() {
  if (res.feed) res.feed.abort();
  const controller = new AbortController();
  res.feed = controller;
  const id = res.sessionId;
  (async () => {
    try {
      const response = await fetch(`/residents/api/sessions/${encodeURIComponent(id)}/live`, {
        headers: { Authorization: "Bearer " + res.token }, signal: controller.signal,
      });
      if (!response.ok) throw new ApiError(response.status, await response.json().catch(() => ({})));
      $("feed").className = "feed on";
      const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
      let buffer = "";
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buffer += value;
        let cut;
        while ((cut = buffer.indexOf("\n\n")) >= 0) {
          onEvent(buffer.slice(0, cut), controller);
          buffer = buffer.slice(cut + 2);
        }
      }
    } catch (error) {
      if (controller.signal.aborted) return;
      if (error instanceof ApiError) { toast(words(error.message), "error"); res.feed = null; }
    }
    $("feed").className = "feed off";
    if (res.feed === controller) setTimeout(() => { if (res.feed === controller) startFeed(); }, 2000);
  })();
}

function onEvent(block, controller) {
  let name = "message";
  const data = [];
  block.split("\n").forEach((line) => {
    if (line.startsWith("event:")) name = line.slice(6).trim();
    else if (line.startsWith("data:")) data.push(line.slice(5).replace(/^ /, ""));
  });
  if (!data.length) return;
  const payload = JSON.parse(data.join("\n"));
  if (name === "session") { res.feedEvents += 1; renderSession(payload); }
  else if (name === "error") { toast(words(payload.message), "error"); res.feed = null; controller.abort(); }
}

function renderSession(s) {
  if (s.id !== res.sessionId) return;
  res.session = s;
  const me = res.me.subject;
  $("session").hidden = false;
  $("session").dataset.stage = s.stage;
  $("session").dataset.version = s.version;
  $("session-topic").textContent = s.topic;
  $("session-stage").textContent = STAGES[s.stage] || s.stage;
  $("session-convenor").textContent = `召集人：${s.convenor}${s.agenda_topic ? ` · 议题${s.agenda_topic}` : ""}` +
    (s.register ? ` · ${GROUPS[s.register.kind] || ""}${s.register.name}居民议事` : "") +
    (s.present.length ? ` · 到会${s.present.length}人` : "");
  document.querySelectorAll("#session-list li").forEach((li) => li.classList.toggle("current", li.dataset.id === s.id));
  const said = (list, mine) => list.map((st) => el("li", { className: mine && st.speaker === me ? "mine" : "" },
    el("b", { textContent: st.speaker }), st.text));
  $("statements").replaceChildren(...said(s.statements, false));
  $("resident-statements").replaceChildren(...said(s.resident_statements, true));
  $("speak-form").hidden = s.stage !== "deliberating";
  // The statements are the sitting's: once it is over, the record keeps them.
  $("talk").hidden = s.stage !== "deliberating" && !s.statements.length && !s.resident_statements.length;
  renderBallot(s, me);
  renderDecision(s, me);
}

function renderBallot(s, me) {
  const b = s.ballot;
  $("ballot").hidden = !b;
  if (!b) return;
  const eligible = b.eligible.includes(me);
  const voted = b.voted.includes(me);
  $("ballot-motion").textContent = b.motion + (b.secret ? "（无记名投票）" : "");
  const tally = b.secret ? "" : `，赞成${b.yes}、反对${b.no}、弃权${b.abstain}`;
  $("ballot-progress").textContent = `${b.eligible.length}人有权投票，已投${b.voted.length}人${tally}。`;
  $("ballot-buttons").hidden = !eligible || voted;
  $("ballot-done").hidden = eligible && !voted;
  $("ballot-done").textContent = voted ? "您已投票，谢谢！" : "您不在本次表决的投票名单中，可关注结果。";
  $("ballot").dataset.voted = String(voted);
}

function renderDecision(s, me) {
  const shown = ["decided", "in_notice", "contested", "suspended"].includes(s.stage) && s.motion;
  $("decision").hidden = !shown;
  if (!shown) return;
  const closed = [...s.history].reverse().find((h) => h.event === "MediationBallotClosed");
  $("decision-motion").textContent = `议定：${s.motion}`;
  $("decision-until").textContent = s.notice_until
    ? `公示至 ${when(s.notice_until)}。公示期内，登记居民每人可提一次异议；达到五分之一，决定退回议事会。`
    : closed ? closed.detail : "";
  const count = s.objectors.length;
  const needed = s.objections_needed || 0;
  const concerned = s.register ? `${s.register.name}登记居民` : "登记居民";
  $("objection-count").textContent = needed
    ? `异议 ${count} / ${needed}（${concerned}${s.residents_concerned}人的五分之一）`
    : `异议 ${count}`;
  $("objection-count").dataset.objections = String(count);
  $("objection-count").dataset.needed = String(needed);
  $("objection-bar").style.width = needed ? `${Math.min(100, (count * 100) / needed)}%` : "0";
  const objected = s.objectors.includes(me);
  $("object").hidden = s.stage !== "in_notice" || objected;
  const note = s.stage === "contested" ? "异议已达五分之一，决定已退回议事会复议或暂缓执行。"
    : s.stage === "suspended" ? "议事会已决定暂缓执行。" : objected ? "您已提出异议。" : "";
  $("decision-note").hidden = !note;
  $("decision-note").textContent = note;
}

async function act(path, body, done) {
  const view = await attempt(() => api(`sessions/${encodeURIComponent(res.sessionId)}/${path}`, body), done);
  if (view) renderSession(view);
  return view;
}

// ---- 一事一档 ------------------------------------------------------------------------------

async function loadRecord() {
  const record = await attempt(() => api(`sessions/${encodeURIComponent(res.sessionId)}/record`));
  if (!record) return;
  $("record-topic").textContent = `一事一档：${record.topic}`;
  $("record-summary").textContent = `状态：${STATUS[record.status] || record.status}` +
    (record.motion ? ` · 议定：${record.motion}` : "") +
    (record.objections_needed ? ` · 异议 ${record.objections}/${record.objections_needed}` : "");
  $("record-entries").replaceChildren(...record.entries.map((e) => el("li", { dataset: { section: e.section } },
    el("time", { textContent: when(e.at) }),
    el("span", { className: "section", textContent: SECTIONS[e.section] || e.section }), e.detail)));
  $("record").dataset.entries = String(record.entries.length);
}

// ---- wiring --------------------------------------------------------------------------------

function wire() {
  $("signin-form").onsubmit = (e) => { e.preventDefault(); signIn($("token").value); };
  $("signout").onclick = signOut;
  document.querySelectorAll("#tabs button").forEach((b) => { b.onclick = () => show(b.dataset.tab); });
  $("propose-form").onsubmit = propose;
  $("rank-submit").onclick = submitRanking;
  $("open-form").onsubmit = (e) => { e.preventDefault(); openSession($("session-id").value); };
  $("speak-text").oninput = () => { $("speak-count").textContent = `${[...$("speak-text").value].length} / 300`; };
  $("speak-form").onsubmit = async (e) => {
    e.preventDefault();
    if (await act("statements", { text: $("speak-text").value }, "发言已提交。")) $("speak-text").value = "";
  };
  document.querySelectorAll("#ballot-buttons button").forEach((b) => {
    b.onclick = () => act("ballot", { choice: b.dataset.choice }, "投票成功。");
  });
  $("object").onclick = () => act("objection", {}, "异议已提交。");
  res.act = act;
  $("open-record").onclick = () => show("record");
  window.addEventListener("hashchange", () => {
    const wanted = new URLSearchParams(location.hash.slice(1)).get("session");
    if (res.me && wanted && wanted !== res.sessionId) { show("sitting"); openSession(wanted); }
  });
  if (res.token) signIn(res.token);
}

wire();
