// Drives Debian's chromium through the residents' pages (云议事) on a phone-sized viewport
// against a running `gridloop up` whose grid has 50 registered residents: residents propose
// topics, rank them by D21 and 531, follow a sitting live and speak to it, vote in its ballot and
// object to the published decision; the council's steps go through the CLI under a mediator's
// token. Prints one JSON line of what the pages showed; exits non-zero on the first failed check.
//
// Environment: RES_URL (http://host:port), RES_AREA (the grid), RES_TOKENS (a JSON file:
// {mediator, stranger, residents: {居民01: token, …}}), GRIDLOOP (the binary), GRIDLOOP_SERVER,
// RES_SHOTS (screenshot directory), CHROMIUM (default /usr/bin/chromium).
import { chromium } from "playwright-core";
import { execFileSync } from "node:child_process";
import { mkdirSync, readFileSync } from "node:fs";
import assert from "node:assert/strict";

const env = (name, fallback) => {
  const value = process.env[name] ?? fallback;
  if (value === undefined) throw new Error(`${name} is not set`);
  return value;
};
const url = env("RES_URL");
const area = env("RES_AREA");
const tokens = JSON.parse(readFileSync(env("RES_TOKENS"), "utf8"));
const shots = env("RES_SHOTS", "target/residents-screenshots");
mkdirSync(shots, { recursive: true });

const name = (n) => `居民${String(n).padStart(2, "0")}`;
const tokenOf = (n) => tokens.residents[name(n)];

/// The CLI under `token` (the mediator's unless given): the council's steps, and checks.
function cli(args, token = tokens.mediator) {
  const extra = ["--server", env("GRIDLOOP_SERVER"), "--json", "--token", token];
  return JSON.parse(execFileSync(env("GRIDLOOP"), [...args, ...extra], { encoding: "utf8" }));
}

const shot = async (page, file) => { await page.waitForTimeout(300); await page.screenshot({ path: `${shots}/${file}.png`, fullPage: true }); };

/// Signs resident `n` in on a fresh load of the page (at `hash`, e.g. `#session=…`).
async function signIn(page, n, hash = "") {
  await page.evaluate(() => sessionStorage.clear()).catch(() => {});
  await page.goto("about:blank");
  await page.goto(`${url}/residents${hash}`);
  await page.fill("#token", typeof n === "number" ? tokenOf(n) : n);
  await page.click("#signin-form button[type=submit]");
  if (typeof n === "number") await page.waitForSelector(`body[data-signed-in="${name(n)}"]`);
  await page.waitForSelector("body[data-agenda-version]");
}

async function tab(page, which) { await page.click(`#tabs button[data-tab=${which}]`); }

/// The order the page lists: [topic number, score] from first to last.
async function shownOrder(page) {
  return page.$$eval("#order li", (rows) => rows.map((li) => [Number(li.dataset.number), Number(li.dataset.score)]));
}

/// Waits for the page's toast to say `words` (a refusal in Chinese).
async function refusedWith(page, words) {
  await page.waitForFunction((w) => (document.body.dataset.refusal || "").includes(w), words);
}

async function propose(page, n, title, flags) {
  await signIn(page, n);
  const before = await page.$$eval("#topics li", (items) => items.length);
  await page.fill("#topic-title", title);
  for (const flag of flags) await page.check(`#flag-${flag}`);
  await page.click("#propose-form button[type=submit]");
  await page.waitForFunction((count) => document.querySelectorAll("#topics li").length === count + 1, before);
}

async function rankD21(page, n, plus, minus) {
  await signIn(page, n);
  await page.waitForSelector("#ranking:not([hidden]) #rank-topics li");
  for (const topic of plus) await page.click(`#rank-topics li[data-number="${topic}"] .plus`);
  if (minus) await page.click(`#rank-topics li[data-number="${minus}"] .minus`);
  await page.click("#rank-submit");
  await page.waitForSelector("body[data-ranked]");
}

async function rank531(page, n, choices) {
  await signIn(page, n);
  await page.waitForSelector("#ranking:not([hidden]) #choices:not([hidden])");
  for (const [i, topic] of choices.entries()) await page.selectOption(`#choices select[data-choice="${i}"]`, String(topic));
  await page.click("#rank-submit");
  await page.waitForSelector("body[data-ranked]");
}

/// Signs resident `n` in on the session's page and waits for its stage.
async function follow(page, n, id, stage) {
  await signIn(page, n, `#session=${id}`);
  await page.waitForSelector(`#session[data-stage="${stage}"]`);
}

/// Signs resident `n` in with no session named, finds the one on `topic` among their area's
/// sessions under 议事, opens it from there and waits for its stage; the id the list linked to.
async function findInList(page, n, topic, stage) {
  await signIn(page, n);
  await tab(page, "sitting");
  const item = page.locator("#session-list li", { hasText: topic }).first();
  await item.waitFor();
  const id = await item.getAttribute("data-id");
  await item.locator("a").click();
  await page.waitForSelector(`#session[data-stage="${stage}"]`);
  return id;
}

const browser = await chromium.launch({ executablePath: env("CHROMIUM", "/usr/bin/chromium"), args: ["--no-sandbox"] });
const context = await browser.newContext({ viewport: { width: 390, height: 844 }, deviceScaleFactor: 2, isMobile: true, hasTouch: true });
const page = await context.newPage();
const result = {};
try {
  await page.goto(`${url}/residents`);
  await shot(page, "signin");

  // 议题征集: five topics from five residents, one repeating another; a stranger is refused.
  await propose(page, 1, "加装电梯", ["shared"]);
  await propose(page, 2, "停车难", []);
  await propose(page, 3, "老年食堂", ["special"]);
  await propose(page, 4, "屋顶漏水", ["urgent"]);
  await propose(page, 5, "电梯加装", []);
  await shot(page, "proposed");
  await page.evaluate(() => sessionStorage.clear());
  await page.goto("about:blank");
  await page.goto(`${url}/residents`);
  await page.fill("#token", tokens.stranger);
  await page.click("#signin-form button[type=submit]");
  await page.waitForSelector('body[data-signed-in="外人"]');
  await page.fill("#topic-title", "我也提一个");
  await page.click("#propose-form button[type=submit]");
  await refusedWith(page, "不在本区域的居民名册");
  cli(["agenda", "merge", "--area", area, "--duplicate", "5", "--into", "1"]);

  // D21: two pluses each, a minus only after them (the page offers it only then).
  cli(["agenda", "open", "--area", area, "--method", "d21"]);
  await signIn(page, 11);
  await page.waitForSelector("#ranking:not([hidden]) #rank-topics li");
  assert.ok(await page.isDisabled('#rank-topics li[data-number="2"] .minus'), "no minus before two pluses");
  for (let n = 1; n <= 6; n++) await rankD21(page, n, [1, 3], 2);
  for (let n = 7; n <= 9; n++) await rankD21(page, n, [2, 4], 0);
  await rankD21(page, 10, [4], 0);
  await shot(page, "d21-ranked");
  await page.evaluate(() => { delete document.body.dataset.ranked; });
  await page.click('#rank-topics li[data-number="2"] .plus');
  await page.click("#rank-submit");
  await refusedWith(page, "已经排过序");
  cli(["agenda", "close", "--area", area]);
  await signIn(page, 12);
  await page.waitForSelector("#ranking[hidden]", { state: "attached" });
  result.d21_order = await shownOrder(page);
  assert.ok((await page.textContent("#order li:first-child")).includes("居民共同关注"), "priorities beside the score");
  assert.ok((await page.textContent("#order li:nth-child(2)")).includes("同分"), "the tie is marked");
  await shot(page, "d21-order");

  // 531: first 5, second 3, third 1.
  cli(["agenda", "open", "--area", area, "--method", "531"]);
  for (let n = 1; n <= 4; n++) await rank531(page, n, [4, 3, 1]);
  for (let n = 5; n <= 7; n++) await rank531(page, n, [3, 2]);
  cli(["agenda", "close", "--area", area]);
  await signIn(page, 12);
  await page.waitForSelector("#ranking[hidden]", { state: "attached" });
  result.points531_order = await shownOrder(page);
  await shot(page, "531-order");

  // The council sits on the first topic: seven residents and a party invited.
  const session = cli(["mediation", "propose", "--level", "grid", "--area", area, "--topic", "老年食堂",
    "--kind", "decision", "--convenor", "网格长", "--collected-from", "议题征集", "--agenda-topic", "3"]);
  const id = session.mediation_id;
  for (let n = 1; n <= 7; n++) cli(["mediation", "invite", id, "--name", name(n), "--role", "resident-representative"]);
  cli(["mediation", "invite", id, "--name", "物业经理", "--role", "party"]);
  cli(["mediation", "notify", id]);
  const present = ["网格长", name(1), name(2), name(3), name(4), "物业经理"].flatMap((p) => ["--present", p]);
  cli(["mediation", "sit", id, ...present]);
  cli(["mediation", "say", id, "--speaker", name(1), "--text", "老人吃饭难"]);

  // The session is listed to the residents of the grid's register, not to a resident of the
  // grid it does not hold.
  await signIn(page, tokens.stranger);
  await tab(page, "sitting");
  await page.waitForSelector("#session-list-empty:not([hidden])");
  result.listed_to_stranger = await page.$$eval("#session-list li", (items) => items.length);

  // 云议事: a resident finds the sitting among their area's sessions (no id handed to them),
  // sees a statement arrive without a reload, then speaks to it themselves; the page counts the
  // 300 characters.
  result.found_in_list = (await findInList(page, 30, "老年食堂", "deliberating")) === id;
  await shot(page, "session-list");
  await page.waitForFunction(() => document.querySelector("#statements").textContent.includes("老人吃饭难"));
  const eventsBefore = await page.evaluate(() => window.res.feedEvents);
  cli(["mediation", "say", id, "--speaker", "物业经理", "--text", "物业可以提供场地"]);
  await page.waitForFunction(() => document.querySelector("#statements").textContent.includes("物业可以提供场地"), null, { timeout: 10000 });
  assert.ok((await page.evaluate(() => window.res.feedEvents)) > eventsBefore, "pushed by the feed, not reloaded");
  await page.fill("#speak-text", "中午也要开门");
  await page.click("#speak-form button[type=submit]");
  await page.waitForSelector("#resident-statements li.mine");
  await shot(page, "sitting");

  // 云票选: four yes, one no, one abstains, each from their own phone; a second vote and an
  // uninvited resident are refused in words.
  cli(["mediation", "ballot", id, "--motion", "开办老年食堂"]);
  for (const [n, choice] of [[1, "yes"], [2, "yes"], [3, "yes"], [4, "no"], [5, "abstain"], [6, "yes"]]) {
    await follow(page, n, id, "deliberating");
    await page.waitForSelector("#ballot:not([hidden]) #ballot-buttons:not([hidden])");
    await page.click(`#ballot-buttons button[data-choice=${choice}]`);
    await page.waitForSelector('#ballot[data-voted="true"]');
    if (n === 6) await shot(page, "ballot");
  }
  await page.evaluate(() => window.res.act("ballot", { choice: "no" }));
  await refusedWith(page, "已经投过票");
  await follow(page, 20, id, "deliberating");
  assert.ok(await page.isHidden("#ballot-buttons"), "an uninvited resident has no buttons");
  await page.evaluate(() => window.res.act("ballot", { choice: "yes" }));
  await refusedWith(page, "不在本次表决的投票名单");
  const decided = cli(["mediation", "close-ballot", id]);
  assert.equal(decided.stage, "decided");
  await follow(page, 6, id, "decided");
  const closing = await page.textContent("#decision-until");
  result.ballot = closing.slice(closing.indexOf("carried"), closing.indexOf(" of 8 eligible") + " of 8 eligible".length);

  // 公示: published to the register's 50; nine objections leave it in notice, the tenth, from a
  // resident's phone, puts it back to the council.
  cli(["mediation", "sign", id, "--signed-by", "物业经理", "--residents-concerned", "3"]);
  for (let n = 11; n <= 18; n++) cli(["mediation", "object-as-resident", id], tokenOf(n));
  await follow(page, 19, id, "in_notice");
  await page.click("#object");
  await page.waitForSelector('#objection-count[data-objections="9"]');
  const nine = cli(["mediation", "show", id]);
  const needed = Number(await page.getAttribute("#objection-count", "data-needed"));
  result.after_nine = { stage: nine.stage, objections: nine.objectors.length, needed };
  await shot(page, "nine-objections");
  await page.evaluate(() => window.res.act("objection", {}));
  await refusedWith(page, "已经提出过异议");
  result.listed_in_notice = (await findInList(page, 20, "老年食堂", "in_notice")) === id;
  result.listed_objections = await page.textContent(`#session-list li[data-id="${id}"]`);
  await page.click("#object");
  await page.waitForSelector('#session[data-stage="contested"]');
  result.after_ten = cli(["mediation", "show", id]).stage;
  await shot(page, "contested");
  result.after_council = cli(["mediation", "respond", id, "--response", "reconsider", "--reason", "复议"]).stage;

  // 一事一档 from a resident's phone.
  await follow(page, 31, id, "notified");
  await page.click("#open-record");
  await page.waitForSelector("#record[data-entries]");
  result.record_sections = [...new Set(await page.$$eval("#record-entries li", (items) => items.map((li) => li.dataset.section)))];
  await shot(page, "record");
  console.log(JSON.stringify(result));
} catch (error) {
  await page.screenshot({ path: `${shots}/failure.png`, fullPage: true }).catch(() => {});
  console.error(error);
  console.log(JSON.stringify(result));
  process.exitCode = 1;
} finally {
  await browser.close();
}
