// The QA replay pages in a real headless Chromium (driven by tests/browser.rs):
//   node replay.mjs BASE_URL REVIEWER PASSWORD AGENT AGENT_PASSWORD AGENT_NAME OWN_CALL OTHER_CALL
// Prints one line per check passed and exits non-zero at the first failure.
import { chromium } from "playwright-core";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const [base, reviewer, reviewerPassword, agent, agentPassword, agentName, ownCall, otherCall] =
  process.argv.slice(2);
if (!otherCall) {
  console.error("usage: node replay.mjs BASE REVIEWER PASSWORD AGENT AGENT_PASSWORD AGENT_NAME OWN_CALL OTHER_CALL");
  process.exit(2);
}

function check(condition, what, detail) {
  if (!condition) {
    throw new Error(`FAILED: ${what}${detail === undefined ? "" : ": " + JSON.stringify(detail)}`);
  }
  console.log(`ok: ${what}`);
}

const profile = mkdtempSync(join(tmpdir(), "hotline-chromium-"));
// One fresh profile (a persistent context on a new temporary folder); each role starts
// with its cookies cleared.
const browser = await chromium.launchPersistentContext(profile, {
  executablePath: "/usr/bin/chromium",
  headless: true,
  args: [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--autoplay-policy=no-user-gesture-required",
  ],
  timeout: 30000,
});

async function fresh() {
  await browser.clearCookies();
  return browser;
}

// Where the markers and their clusters are: every visible one's box against the waveform's,
// its row, and the markers hidden in clusters.
async function markerLayout(page) {
  return page.evaluate(() => {
    const wave = document.getElementById("wave").getBoundingClientRect();
    const shown = Array.from(document.querySelectorAll("#markers .marker, #markers .marker-cluster")).filter(
      (m) => m.getClientRects().length > 0 && !m.closest(".marker-list"),
    );
    return {
      wave: { left: wave.left, right: wave.right },
      shown: shown.map((m) => {
        const box = m.getBoundingClientRect();
        return {
          kind: m.dataset.kind || m.id,
          left: box.left,
          right: box.right,
          lane: Number(m.dataset.lane),
          width: box.width,
          height: box.height,
        };
      }),
      clustered: Array.from(document.querySelectorAll("#markers .marker.in-cluster")).map((m) => ({
        kind: m.dataset.kind,
        cluster: m.dataset.cluster,
        clusterShown: !!document.getElementById(m.dataset.cluster),
      })),
      clusters: Array.from(document.querySelectorAll("#markers .marker-cluster")).map((c) => ({
        id: c.id,
        count: Number(c.dataset.count),
        text: c.textContent,
      })),
    };
  });
}

function checkLayout(layout, what) {
  const outside = layout.shown.filter((m) => m.left < layout.wave.left - 0.5 || m.right > layout.wave.right + 0.5);
  check(outside.length === 0, `${what}: no marker label runs out of the waveform box`, { wave: layout.wave, outside });
  const lanes = Math.max(...layout.shown.map((m) => m.lane));
  check(lanes <= 2, `${what}: the markers take at most 3 rows`, layout.shown);
  check(
    layout.shown.every((m) => m.width > 0 && m.height > 0) && layout.clustered.every((m) => m.clusterShown),
    `${what}: every marker is visible, or in a visible cluster`,
    layout,
  );
}

// Clicks the marker of `kind`, opening its cluster first when it is in one.
async function clickMarker(page, kind) {
  const cluster = await page.$eval(`#markers .marker[data-kind="${kind}"]`, (m) =>
    m.classList.contains("in-cluster") ? m.dataset.cluster : "",
  );
  if (cluster) await page.click(`#${cluster}`);
  await page.click(`#markers .marker[data-kind="${kind}"]`);
}

async function signIn(context, name, password) {
  const page = await context.newPage();
  page.setDefaultTimeout(15000);
  await page.goto(`${base}/calls`);
  check(new URL(page.url()).pathname === "/signin", "a page without a session goes to sign-in", page.url());
  await page.fill("input[name=name]", name);
  await page.fill("input[name=password]", password);
  await Promise.all([page.waitForURL(/\/calls/), page.click("form.signin button[type=submit]")]);
  check(new URL(page.url()).pathname === "/calls", `${name} signed in`, page.url());
  return page;
}

let failed = false;
try {
  // A reviewer finds yesterday's call of the agent in two clicks and opens it.
  const reviewerContext = await fresh();
  const page = await signIn(reviewerContext, reviewer, reviewerPassword);
  await Promise.all([page.waitForURL(/day=yesterday/), page.click("#day-yesterday")]);
  await Promise.all([
    page.waitForURL(/agent=/),
    page.click(`a.agent-link[data-agent="${agentName}"]`),
  ]);
  const rows = await page.$$eval("tr[data-call]", (trs) => trs.map((tr) => tr.dataset.call));
  check(rows.length === 1 && rows[0] === ownCall, "yesterday + agent lists exactly the agent's call", rows);
  await Promise.all([page.waitForURL(new RegExp(`/calls/${ownCall}$`)), page.click(`tr[data-call="${ownCall}"] a`)]);

  // The waveform is drawn from the server's peaks, with ink on it.
  await page.waitForFunction(() => {
    const c = document.getElementById("waveform");
    return c && (c.dataset.drawn === "yes" || c.dataset.error);
  });
  const canvas = await page.$eval("#waveform", (c) => {
    const context = c.getContext("2d");
    const pixels = context.getImageData(0, 0, c.width, c.height).data;
    let inked = 0;
    for (let i = 3; i < pixels.length; i += 4) if (pixels[i] > 0) inked++;
    return { drawn: c.dataset.drawn, error: c.dataset.error, buckets: Number(c.dataset.buckets), inked, width: c.width };
  });
  check(canvas.drawn === "yes" && !canvas.error, "the waveform canvas is drawn", canvas);
  check(canvas.buckets >= 200 && canvas.inked > canvas.width, "the waveform has both channels' peaks on it", canvas);

  // The markers render on the waveform.
  const markers = await page.$$eval("#markers .marker", (ms) =>
    ms.map((m) => {
      const box = m.getBoundingClientRect();
      return { kind: m.dataset.kind, t: Number(m.dataset.t), width: box.width, height: box.height };
    }),
  );
  const kinds = markers.map((m) => m.kind);
  check(
    ["answered", "queue_entered", "agent_answered", "hold", "hangup"].every((k) => kinds.includes(k)),
    "the timeline's markers are on the waveform",
    kinds,
  );
  checkLayout(await markerLayout(page), "at the page's width");
  const placed = await page.$eval('#markers .marker[data-kind="hold"]', (m) => {
    const wave = document.getElementById("wave").getBoundingClientRect();
    const box = m.getBoundingClientRect();
    const duration = Number(document.getElementById("replay").dataset.duration);
    const tick = parseFloat(m.style.getPropertyValue("--tick"));
    return { tick: box.left + tick - wave.left, expected: (Number(m.dataset.t) / duration) * wave.width };
  });
  check(Math.abs(placed.tick - placed.expected) < 3, "the hold marker's tick sits at its time on the waveform", placed);

  // Clicking the hold marker moves the player to the hold.
  await page.waitForFunction(() => document.getElementById("player").readyState >= 1);
  const hold = markers.find((m) => m.kind === "hold");
  await clickMarker(page, "hold");
  await page.waitForFunction((t) => Math.abs(document.getElementById("player").currentTime - t) < 0.05, hold.t);
  const at = await page.$eval("#player", (a) => a.currentTime);
  check(Math.abs(at - hold.t) < 0.05, `clicking the hold marker seeks to ${hold.t} s`, at);
  const hangup = markers.find((m) => m.kind === "hangup");
  await clickMarker(page, "hangup");
  await page.waitForFunction((t) => Math.abs(document.getElementById("player").currentTime - t) < 0.05, hangup.t);
  check(true, `clicking the hang-up marker seeks to ${hangup.t} s`);

  // The first 30 s button goes back to the start.
  await page.click("#first30");
  await page.waitForFunction(() => document.getElementById("player").currentTime < 1);
  check(true, "the first 30 s button plays from the start");
  await page.selectOption("#speed", "1.5");
  const rate = await page.$eval("#player", (a) => a.playbackRate);
  check(rate === 1.5, "the speed control sets the playback rate", rate);

  // On a narrow page the markers crowd: those with no room in the three rows go into a
  // cluster that says how many it holds; clicking it lists them, and a listed marker still
  // seeks to its time.
  await page.setViewportSize({ width: 320, height: 800 });
  await page.waitForFunction(
    () => document.getElementById("markers").dataset.width === String(document.getElementById("wave").clientWidth),
  );
  const narrow = await markerLayout(page);
  checkLayout(narrow, "on a narrow page");
  const cluster = narrow.clusters.find((c) => c.count >= 2);
  check(cluster && cluster.text.includes(String(cluster.count)), "a cluster shows how many markers it holds", narrow.clusters);
  await page.click(`#${cluster.id}`);
  const listed = await page.$$eval("#markers .marker-list .marker", (ms) =>
    ms.map((m) => {
      const box = m.getBoundingClientRect();
      const wave = document.getElementById("wave").getBoundingClientRect();
      return { kind: m.dataset.kind, t: Number(m.dataset.t), inside: box.left >= wave.left - 0.5 && box.right <= wave.right + 0.5, width: box.width };
    }),
  );
  check(
    listed.length === cluster.count && listed.every((m) => m.inside && m.width > 0),
    "clicking the cluster lists its markers inside the waveform box",
    listed,
  );
  const member = listed[listed.length - 1];
  await page.click(`#markers .marker-list .marker[data-kind="${member.kind}"]`);
  await page.waitForFunction((t) => Math.abs(document.getElementById("player").currentTime - t) < 0.05, member.t);
  check(true, `clicking a listed ${member.kind} marker seeks to ${member.t} s`);
  check(
    (await page.$$("#markers .marker-list")).length === 0,
    "the list closes once a marker is chosen",
  );

  // In Chinese the markers and the channels read in Chinese; data-kind keeps the ids.
  await browser.addCookies([{ name: "hotline_lang", value: "zh", url: base }]);
  await page.setViewportSize({ width: 1280, height: 800 });
  await page.reload();
  const zh = await page.$eval('#markers .marker[data-kind="agent_answered"]', (m) => ({ text: m.textContent, title: m.title }));
  check(zh.text === "坐席接听" && zh.title.startsWith("坐席接听 ") && !/[a-z]{3,}/.test(zh.title.replace("alice", "")), "in Chinese a marker reads in Chinese", zh);
  checkLayout(await markerLayout(page), "in Chinese");
  await page.close();

  // An agent cannot open another agent's call.
  const agentContext = await fresh();
  const agentPage = await signIn(agentContext, agent, agentPassword);
  const other = await agentPage.goto(`${base}/calls/${otherCall}`);
  check(other.status() === 404, "an agent gets 404 for another agent's call", other.status());
  const otherWav = await agentPage.goto(`${base}/calls/${otherCall}/recording.wav`);
  check(otherWav.status() === 404, "an agent gets 404 for another agent's recording", otherWav.status());
  const own = await agentPage.goto(`${base}/calls/${ownCall}`);
  check(own.status() === 200, "an agent opens their own call", own.status());
  await agentPage.close();

  // No session: the recording answers 401.
  const strangerContext = await fresh();
  const stranger = await strangerContext.newPage();
  const wav = await stranger.goto(`${base}/calls/${ownCall}/recording.wav`);
  check(wav.status() === 401, "a recording without a session gets 401", wav.status());
  await stranger.close();
} catch (error) {
  failed = true;
  console.error(String(error && error.stack ? error.stack : error));
} finally {
  await browser.close();
  rmSync(profile, { recursive: true, force: true });
}
process.exit(failed ? 1 : 0);
