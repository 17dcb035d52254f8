// What the staff journeys share: Chromium, sign-in, checks, axe-core and screenshots.

import { createRequire } from "node:module";
import { chromium } from "playwright-core";

const require = createRequire(import.meta.url);
const axePath = require.resolve("axe-core/axe.min.js");

export function check(condition, message) {
  if (!condition) throw new Error(`FAILED: ${message}`);
  console.log(`ok - ${message}`);
}

export async function launch() {
  return chromium.launch({
    executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
    args: [
      "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
      "--disable-background-networking", "--disable-component-update", "--disable-sync",
      "--autoplay-policy=no-user-gesture-required",
    ],
  });
}

// axe-core on the page: no WCAG 2.1 A/AA violation.
export async function axe(page, name) {
  await page.addScriptTag({ path: axePath });
  const result = await page.evaluate(async () =>
    // eslint-disable-next-line no-undef
    await axe.run(document, { runOnly: { type: "tag", values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"] } }),
  );
  const summary = result.violations.map((v) => `${v.id}: ${v.nodes.map((n) => n.target.join(" ")).join(", ")}`);
  check(result.violations.length === 0, `axe finds no violations on ${name}${summary.length ? ` (${summary.join("; ")})` : ""}`);
}

export async function shot(page, name) {
  const shots = process.env.SCREENSHOTS;
  if (shots) await page.screenshot({ path: `${shots}/${name}.png`, fullPage: false });
}

// A person signed in, at 1366×768, in Chinese.
export async function signIn(browser, base, username, password) {
  const context = await browser.newContext({ bypassCSP: true, locale: "zh-CN", viewport: { width: 1366, height: 768 } });
  const page = await context.newPage();
  await page.goto(`${base}/staff`);
  await page.waitForSelector("#username");
  await page.fill("#username", username);
  await page.fill("#password", password);
  await page.getByRole("button", { name: "登录" }).click();
  await page.waitForSelector("header.bar");
  return { context, page };
}

// Opens an action of the case page by its summary, fills it with the keyboard, submits it.
export async function act(page, summary, fill) {
  const details = page.locator("details", { has: page.locator("summary", { hasText: summary }) }).first();
  await details.locator("summary").focus();
  await page.keyboard.press("Enter");
  if (fill) await fill(details);
  await details.getByRole("button").click();
  await page.waitForSelector("#timeline");
}

// A description full of markup: shown as text everywhere, never run.
export const XSS = `<script>window.__xss=1</script>"><img src=x onerror="window.__xss=2"> 养老金认证三次没办成`;

export async function noXss(page, where) {
  check(await page.evaluate(() => window.__xss === undefined), `no script ran on ${where}`);
}

// A journey's frame: the base URL and password, a browser, `signIn(username)`; the checks
// printed as they pass, then `passed` as the last line.
export async function journey(passed, body) {
  const base = process.argv[2];
  const password = process.env.PASSWORD;
  if (!base || !password) throw new Error("usage: PASSWORD=… node <journey>.mjs BASE_URL");
  const browser = await launch();
  try {
    await body({ base, browser, signIn: (username) => signIn(browser, base, username, password) });
    console.log(passed);
  } finally {
    await browser.close();
  }
}
