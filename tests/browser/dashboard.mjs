// Drives headless Chromium (Debian's /usr/bin/chromium) through `weir web`
// with playwright-core. Run by tests/web_browser.rs, which starts the
// dashboard and a worker and seeds the queues; it passes everything in
// WEIR_BROWSER_* variables. Prints one line per check and exits non-zero on
// the first failure.
import { chromium } from "playwright-core";
import { mkdtempSync, mkdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const env = (k) => {
  const v = process.env[k];
  if (!v) throw new Error(`missing ${k}`);
  return v;
};
const base = env("WEIR_BROWSER_URL");
const shots = env("WEIR_BROWSER_SHOTS");
const queues = env("WEIR_BROWSER_QUEUES").split(",");
const deadQueue = env("WEIR_BROWSER_DEAD_QUEUE");
const deadId = env("WEIR_BROWSER_DEAD_ID");
const xssPath = env("WEIR_BROWSER_XSS_PATH");
const exe = process.env.WEIR_CHROMIUM || "/usr/bin/chromium";
mkdirSync(shots, { recursive: true });

let passed = 0;
function ok(cond, what) {
  if (!cond) throw new Error(`check failed: ${what}`);
  passed += 1;
  console.log(`ok: ${what}`);
}

let browser;
try {
  browser = await chromium.launchPersistentContext(mkdtempSync(join(tmpdir(), "weir-chromium-")), {
    executablePath: exe,
    headless: true,
    args: [
      "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
      "--disable-background-networking", "--disable-component-update", "--disable-sync",
    ],
    viewport: { width: 1280, height: 860 },
  });
} catch (e) {
  console.error(`cannot start Chromium at ${exe}: ${e.message.split("\n")[0]}`);
  console.error("install it with `apt-get install chromium` (scripts/test does)");
  process.exit(3);
}

const alerts = [];
const errors = [];
const page = browser.pages()[0] || (await browser.newPage());
page.on("dialog", async (d) => {
  if (d.type() === "confirm") return d.accept();
  alerts.push(d.message());
  return d.dismiss();
});
page.on("console", (m) => { if (m.type() === "error") errors.push(m.text()); });
page.on("pageerror", (e) => errors.push(e.message));

try {
  // Overview with three queues; let the live chart gather a few seconds.
  await page.goto(`${base}/`);
  for (const q of queues) {
    ok(await page.locator(`table.queues a[href$="/queues/${q}"]`).count() === 1, `overview lists queue ${q}`);
  }
  await page.waitForFunction(() => document.querySelectorAll("polyline.s0")[0]?.getAttribute("points").split(" ").length > 5,
    null, { timeout: 20000 });
  ok(true, "the live chart fills in without a reload");
  await page.screenshot({ path: join(shots, "overview.png"), fullPage: true });

  // The dead job: open it from the dead-jobs page, retry it, see it processed.
  await page.goto(`${base}/dead?queue=${deadQueue}`);
  await page.screenshot({ path: join(shots, "dead.png"), fullPage: true });
  await page.click(`a[href$="/jobs/${deadId}"]`);
  ok((await page.textContent("main")).includes("boom 1"), "the dead job's page shows its errors");
  await page.screenshot({ path: join(shots, "job.png"), fullPage: true });
  await page.click("button:has-text('Retry now')");
  ok((await page.textContent(".notice")).includes("retried 1"), "retry through the UI says it retried 1");
  let state = "";
  for (let i = 0; i < 100 && state !== "done"; i++) {
    await page.goto(`${base}/queues/${deadQueue}/jobs/${deadId}`);
    state = (await page.locator("dd .badge").first().textContent()).trim();
    if (state !== "done") await page.waitForTimeout(200);
  }
  ok(state === "done", "the retried job is processed by the worker (done)");

  // Pause and resume a queue.
  const q = queues[0];
  await page.goto(`${base}/queues/${q}`);
  await page.click("button:has-text('Pause')");
  ok(await page.locator("h1 .badge.paused").count() === 1, `${q} shows paused`);
  await page.screenshot({ path: join(shots, "queue.png"), fullPage: true });
  await page.click("button:has-text('Resume')");
  ok(await page.locator("h1 .badge.paused").count() === 0, `${q} is resumed`);

  // An XSS payload is inert: shown as text, no dialog, no script ran.
  await page.goto(`${base}${xssPath}`);
  await page.waitForTimeout(1500); // one live refresh
  ok((await page.textContent("pre.payload")).includes("<script>alert(1)</script>"), "the XSS payload shows as text");
  ok(await page.locator("main script").count() === 0, "no script element inside the page's content");
  ok(alerts.length === 0, `no alert fired (${alerts.join(", ")})`);

  await page.goto(`${base}/workers`);
  await page.screenshot({ path: join(shots, "workers.png"), fullPage: true });

  // A phone, and dark mode.
  await page.setViewportSize({ width: 390, height: 844 });
  await page.goto(`${base}/`);
  await page.screenshot({ path: join(shots, "overview-phone.png"), fullPage: true });
  await page.setViewportSize({ width: 1280, height: 860 });
  await page.emulateMedia({ colorScheme: "dark" });
  await page.goto(`${base}/queues/${queues[1]}`);
  await page.screenshot({ path: join(shots, "queue-dark.png"), fullPage: true });
  ok(errors.length === 0, `no script or console errors (${errors.join(" | ")})`);
} catch (e) {
  console.error(e.stack || String(e));
  await page.screenshot({ path: join(shots, "failure.png"), fullPage: true }).catch(() => {});
  console.log(`browser: ${passed} passed, 1 failed`);
  await browser.close();
  process.exit(1);
}
console.log(`browser: ${passed} passed, 0 failed`);
await browser.close();
