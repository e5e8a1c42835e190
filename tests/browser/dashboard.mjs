// Drives Debian's chromium through the command-centre dashboard against a running `gridloop up`:
// signs in as a street's supervisor, checks the page's step counts and 4321 shares against the
// CLI's, drills into a community, opens a case, sees a case reported from the CLI appear without
// a reload, is refused a street outside its scope, and saves screenshots of the main views.
// Prints one JSON line of what it measured; exits non-zero on the first failed check.
//
// Environment: DASH_URL (http://host:port), DASH_TOKEN (the supervisor's), DASH_AREA (its
// street), DASH_OUTSIDE (a street outside it), GRIDLOOP (the binary), GRIDLOOP_SERVER,
// GRIDLOOP_DATA_DIR (for the CLI's admin report), DASH_SHOTS (screenshot directory),
// CHROMIUM (default /usr/bin/chromium), DASH_LIVE_MS (the live deadline, default 2000).
// With DASH_MEASURE_ONLY=1 it only signs in, reloads and reports the first-view time (its
// Navigation Timing too); with DASH_LOAD_MS=n as well, it then watches the live feed for n ms
// while something else loads the services (e.g. `gridloop bench --rate 50`) and reports how old
// the newest case on the page was each time a push arrived (the page's lag behind the events).
import { chromium } from "playwright-core";
import { execFileSync } from "node:child_process";
import { mkdirSync } from "node:fs";
import assert from "node:assert/strict";

const env = (name, fallback) => {
  const value = process.env[name] ?? fallback;
  if (value === undefined) throw new Error(`${name} is not set`);
  return value;
};
const url = env("DASH_URL");
const token = env("DASH_TOKEN");
const area = env("DASH_AREA");
const shots = env("DASH_SHOTS", "target/dashboard-screenshots");
const liveDeadline = Number(env("DASH_LIVE_MS", "2000"));
mkdirSync(shots, { recursive: true });

function cli(args, withToken = true) {
  const extra = ["--server", env("GRIDLOOP_SERVER"), "--json"];
  if (withToken) extra.push("--token", token);
  else extra.push("--data-dir", env("GRIDLOOP_DATA_DIR"));
  return JSON.parse(execFileSync(env("GRIDLOOP"), [...args, ...extra], { encoding: "utf8" }));
}

const STATES = { reported: "reported", dispatched: "dispatched", accepted: "accepted", in_mediation: "in-mediation",
  awaiting_verification: "awaiting-verification", resolved: "resolved" };

function cliSteps() {
  const steps = {};
  for (const [step, flag] of Object.entries(STATES)) {
    steps[step] = cli(["case", "list", "--state", flag, "--area", area, "--limit", "500"]).cases.length;
  }
  return steps;
}

async function pageSteps(page) {
  return page.$$eval(".step", (tiles) =>
    Object.fromEntries(tiles.map((tile) => [tile.dataset.step, Number(tile.querySelector("b").textContent)])));
}

/// For `ms`, on every live push: how long ago (by the server's clock, on this machine) the newest
/// case in it was opened. A page that keeps up stays within the coalescing interval plus a read.
async function watchLag(page, ms) {
  await page.evaluate(() => {
    window.lags = [];
    window.dash.onLive = (loop) => {
      const newest = Math.max(...loop.latest.map((c) => Date.parse(c.opened_at)));
      if (Number.isFinite(newest)) window.lags.push(Date.now() - newest);
    };
  });
  await page.waitForTimeout(ms);
  const lags = (await page.evaluate(() => window.lags)).sort((a, b) => a - b);
  const at = (q) => lags.length ? lags[Math.min(lags.length - 1, Math.floor(q * lags.length))] : null;
  return { window_ms: ms, pushes: lags.length, lag_ms: { p50: at(0.5), p95: at(0.95), max: lags.length ? lags[lags.length - 1] : null } };
}

// Charts animate for about a second after each draw: screenshots wait for them to settle.
const shot = async (page, name) => { await page.waitForTimeout(1200); await page.screenshot({ path: `${shots}/${name}.png` }); };

const browser = await chromium.launch({ executablePath: env("CHROMIUM", "/usr/bin/chromium"), args: ["--no-sandbox"] });
const page = await browser.newPage({ viewport: { width: 1920, height: 1080 } });
const result = {};
try {
  await page.goto(`${url}/dashboard`);
  await page.fill("#token", token);
  await page.click("#signin-form button[type=submit]");
  await page.waitForSelector(`body[data-area="${area}"]`, { timeout: 20000 });

  // First view: a reload with the token kept by the tab, navigation start to every panel drawn.
  await page.reload();
  await page.waitForSelector(`body[data-area="${area}"]`, { timeout: 20000 });
  result.first_view_ms = Math.round(await page.evaluate(() => window.dash.firstViewMs));
  result.grids_on_map = Number(await page.getAttribute("#map", "data-grids"));
  if (process.env.DASH_MEASURE_ONLY === "1") {
    const nav = await page.evaluate(() => performance.getEntriesByType("navigation")[0].toJSON());
    result.navigation_ms = { response_end: Math.round(nav.responseEnd), dom_content_loaded: Math.round(nav.domContentLoadedEventEnd),
      load: Math.round(nav.loadEventEnd) };
    await shot(page, "city");
    const loadMs = Number(process.env.DASH_LOAD_MS || 0);
    if (loadMs > 0) result.under_load = await watchLag(page, loadMs);
    console.log(JSON.stringify(result));
    process.exit(0);
  }

  // The step counts equal the CLI's case lists (open steps), read twice around the page so a
  // timer firing in between is told apart from a wrong figure.
  let before, shown, after;
  for (let attempt = 0; attempt < 3; attempt++) {
    before = cliSteps();
    shown = await pageSteps(page);
    after = cliSteps();
    if (JSON.stringify(before) === JSON.stringify(after)) break;
  }
  for (const step of Object.keys(STATES)) assert.equal(shown[step], after[step], `step ${step}: page ${shown[step]}, CLI ${after[step]}`);
  result.steps = shown;

  // The 4321 shares equal `gridloop stats 4321 --json` for the area (all time).
  const expected = cli(["stats", "4321", "--area", area]);
  const shares = await page.$$eval(".share", (spans) => Object.fromEntries(spans.map((s) => [s.dataset.level, Number(s.dataset.share)])));
  for (const level of expected.levels) assert.equal(shares[level.level], level.share, `4321 share of ${level.level}`);
  const closedTotal = Number(await page.getAttribute("[data-closed-total]", "data-closed-total"));
  assert.equal(closedTotal, expected.closed_total, "closed total");
  result.shares = shares;

  // Today's intake per channel adds up to the KPI query's intake today.
  const channels = await page.$$eval("#intake-channels .channel", (items) =>
    Object.fromEntries(items.map((i) => [i.dataset.channel, Number(i.dataset.count)])));
  const intakeToday = Number(await page.textContent("#intake-today"));
  assert.equal(Object.values(channels).reduce((a, b) => a + b, 0), intakeToday, "intake per channel sums to today's intake");
  assert.ok("hotline" in channels && "patrol" in channels, "every channel is shown");
  result.intake_by_channel = channels;

  // The due-soon list (two working hours) agrees with the due-soon count, up to the 30 it shows.
  let dueSoon;
  for (let attempt = 0; attempt < 3; attempt++) {
    dueSoon = await page.evaluate(async ({ street, bearer }) => {
      const get = (p) => fetch(`/dashboard/api/${p}?area=${street}`, { headers: { Authorization: "Bearer " + bearer } }).then((r) => r.json());
      const [loop, deadlines] = await Promise.all([get("loop"), get("deadlines")]);
      return { count: loop.due_soon, listed: deadlines.due_soon.length };
    }, { street: area, bearer: token });
    if (Math.min(dueSoon.count, 30) === dueSoon.listed) break;
  }
  assert.equal(dueSoon.listed, Math.min(dueSoon.count, 30), "due-soon list vs count");
  result.due_soon = dueSoon.count;

  // Sessions waiting on a notice period or a follow-up: the tab lists what the API answers.
  const mediations = await page.evaluate(async ({ street, bearer }) =>
    (await fetch(`/dashboard/api/mediations?area=${street}`, { headers: { Authorization: "Bearer " + bearer } })).json(),
  { street: area, bearer: token });
  assert.ok(Array.isArray(mediations.waiting) && mediations.waiting.length <= mediations.waiting_total);
  await page.click(".tabs button[data-tab=waiting]");
  const waitingRows = await page.$$eval("#case-rows tr[data-mediation-id]", (rows) => rows.length);
  assert.equal(waitingRows, mediations.waiting.length, "the waiting tab lists the waiting sessions");
  result.waiting_sessions = mediations.waiting_total;
  await page.click(".tabs button[data-tab=latest]");
  await shot(page, "street");

  // Drill down: a click on the map's first unit opens that community.
  const community = await page.evaluate((street) => [...window.dash.nodes.values()]
    .find((n) => n.parent === street && n.level === "community").code, area);
  await page.evaluate((code) => window.dash.setArea(code), community);
  await page.waitForSelector(`body[data-area="${community}"]`);
  assert.equal(await page.getAttribute("#map", "data-level"), "community");
  const crumbs = await page.$$eval("#crumbs .crumb", (b) => b.map((x) => x.dataset.code));
  assert.deepEqual(crumbs.slice(-2), [area, community], "breadcrumbs street › community");
  await shot(page, "community");
  await page.click(`#crumbs .crumb[data-code="${area}"]`);
  await page.waitForSelector(`body[data-area="${area}"]`);

  // A case page: its ladder and timeline.
  await page.click("#case-rows tr[data-case-id]");
  await page.waitForSelector("#case:not([hidden]) #timeline li");
  const events = await page.$$eval("#timeline li b", (items) => items.map((b) => b.textContent));
  assert.equal(events[0], "CaseOpened", "the timeline starts with the opening");
  assert.equal(await page.$$eval(".rung.here", (r) => r.length), 1, "one rung of the ladder is marked");
  result.timeline_events = events.length;
  await shot(page, "case");
  await page.click("#case-close");

  // Live: a case reported from the CLI appears in the latest reports without a reload.
  // A report near an open case of its category is linked to it (duplicate detection): the
  // first grid of the street where it opens a case of its own is the one that counts.
  const grids = await page.evaluate((street) => [...window.dash.nodes.values()]
    .filter((n) => n.level === "grid" && n.code.startsWith(street)), area);
  const eventsBefore = await page.evaluate(() => window.dash.liveEvents || 0);
  let reported;
  for (const grid of grids) {
    reported = cli(["case", "report", "--category", "env.debris", "--lat", String(grid.center[1]),
      "--lon", String(grid.center[0]), "--description", "dashboard live check: debris by the gate"], false);
    if (!reported.linked) break;
  }
  const reportedAt = Date.now();
  assert.equal(reported.linked, false, "a new case, not a duplicate of an open one");
  const caseId = reported.case_id;
  assert.ok(caseId, "the CLI names the case it reported");
  await page.waitForSelector(`#case-rows tr[data-case-id="${caseId}"]`, { timeout: liveDeadline });
  result.live_ms = Date.now() - reportedAt;
  const channelsAfter = await page.$$eval("#intake-channels .channel", (items) =>
    items.reduce((sum, i) => sum + Number(i.dataset.count), 0));
  assert.ok(channelsAfter > Object.values(channels).reduce((a, b) => a + b, 0), "the new report counts in today's intake by channel");
  assert.ok((await page.evaluate(() => window.dash.liveEvents || 0)) > eventsBefore, "pushed, not reloaded");
  await shot(page, "live");

  // English toggle.
  await page.click("#lang");
  assert.equal(await page.textContent("[data-step=dispatched] span"), "Dispatched");
  await shot(page, "english");
  await page.click("#lang");

  // Outside the supervisor's scope: the API answers 403 with a JSON error, the page says so.
  const outside = env("DASH_OUTSIDE");
  const refusal = await page.evaluate(async ({ code, bearer }) => {
    const r = await fetch(`/dashboard/api/loop?area=${code}`, { headers: { Authorization: "Bearer " + bearer } });
    return { status: r.status, body: await r.json() };
  }, { code: outside, bearer: token });
  assert.equal(refusal.status, 403);
  assert.equal(refusal.body.error, "forbidden");
  await page.evaluate((code) => { location.hash = "area=" + code; }, outside);
  await page.waitForSelector(`body[data-refused="${outside}"]`);
  assert.equal(await page.getAttribute("body", "data-area"), area, "the page stays on its own street");
  await shot(page, "refused");
  console.log(JSON.stringify(result));
} catch (error) {
  await page.screenshot({ path: `${shots}/failure.png` }).catch(() => {});
  console.error(error);
  process.exitCode = 1;
} finally {
  await browser.close();
}
