// A visitor in real headless Chromium (Debian's, driven by playwright-core): fills the
// message form, makes a mistake and sees it explained with the input kept, submits, reads
// the case number, tracks it; the same with JavaScript off; axe-core on every page; the
// form at phone width and at 200% zoom; the keyboard order.
//
// Usage: node website.mjs http://127.0.0.1:PORT   (CHROMIUM overrides /usr/bin/chromium)
// Prints one line per check; exits non-zero on the first failure.

import { createRequire } from "node:module";
import { chromium } from "playwright-core";

const require = createRequire(import.meta.url);
const axePath = require.resolve("axe-core/axe.min.js");
const base = process.argv[2];
if (!base) throw new Error("usage: node website.mjs BASE_URL");

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  args: [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
  ],
});

function check(condition, message) {
  if (!condition) throw new Error(`FAILED: ${message}`);
  console.log(`ok - ${message}`);
}

// axe-core, injected into the page (the context bypasses the page's CSP to allow it).
async function axe(page, name) {
  await page.addScriptTag({ path: axePath });
  const result = await page.evaluate(async () =>
    // eslint-disable-next-line no-undef
    await axe.run(document, { runOnly: { type: "tag", values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "best-practice"] } }),
  );
  const summary = result.violations.map((v) => `${v.id}: ${v.nodes.map((n) => n.target.join(" ")).join(", ")}`);
  check(result.violations.length === 0, `axe finds no violations on ${name}${summary.length ? ` (${summary.join("; ")})` : ""}`);
}

async function shot(page, name) {
  if (process.env.SCREENSHOTS) await page.screenshot({ path: `${process.env.SCREENSHOTS}/${name}.png` });
}

// The form needs a few seconds between being served and posted (a bot defence).
async function waitFillTime() {
  await new Promise((r) => setTimeout(r, 3200));
}

try {
  // ---- with JavaScript, as most visitors ------------------------------------------
  const context = await browser.newContext({ bypassCSP: true, locale: "zh-CN", viewport: { width: 1366, height: 768 } });
  const page = await context.newPage();
  await page.goto(`${base}/message`);
  check((await page.title()).startsWith("我要留言"), "the form opens in Chinese");
  await axe(page, "/message");
  await shot(page, "message");

  // The keyboard order follows the page.
  await page.locator("#name").focus();
  const order = ["name"];
  for (let i = 0; i < 8; i++) {
    await page.keyboard.press("Tab");
    order.push(await page.evaluate(() => document.activeElement.id || document.activeElement.tagName.toLowerCase()));
  }
  const expected = ["name", "phone", "email", "matter-1", "description", "failed_counter", "consent"];
  check(expected.every((id, i) => order.indexOf(id) === i), `Tab moves name → phone → email → matter → description → counter → consent (${order.join(", ")})`);

  await page.getByLabel("您的姓名").fill("王大爷");
  await page.getByLabel("电话号码").fill("12345");
  await page.getByLabel("社会保障卡").check();
  await page.getByLabel("什么事没办成？在哪里办的？").fill(`社保卡补办，窗口说系统故障，已经跑了三趟（${Date.now()}）`);
  await page.getByLabel("您之前在哪个窗口办理？").selectOption("social-security-card");
  await waitFillTime();
  await page.getByRole("button", { name: "提交留言" }).click();
  await page.waitForSelector(".error-summary");
  check((await page.title()).startsWith("错误："), "a mistake puts 错误 in the title");
  const focused = await page.evaluate(() => document.activeElement.classList.contains("error-summary"));
  check(focused, "the error summary takes the focus");
  const summary = await page.locator(".error-summary").innerText();
  check(summary.includes("电话号码无效") && summary.includes("请勾选同意"), "the summary names the phone and the consent");
  check((await page.locator("#phone-error").innerText()).includes("电话号码无效"), "the phone's error sits next to it");
  check((await page.getByLabel("您的姓名").inputValue()) === "王大爷", "the name typed is kept");
  check((await page.getByLabel("电话号码").inputValue()) === "12345", "the wrong phone is kept, to correct");
  check(await page.getByLabel("社会保障卡").isChecked(), "the chosen matter is kept");
  check((await page.getByLabel("您之前在哪个窗口办理？").inputValue()) === "social-security-card", "and the counter tried before");
  await axe(page, "/message with errors");
  await shot(page, "message-errors");
  // The summary's link takes the visitor to the field.
  await page.locator(".error-summary a[href='#phone']").click();
  check(await page.evaluate(() => document.activeElement.id === "phone"), "the summary link moves to the phone field");

  await page.getByLabel("电话号码").fill("138 0013 8000");
  await page.getByLabel("我同意工作人员使用我填写的信息办理此事").check();
  await waitFillTime();
  await page.getByRole("button", { name: "提交留言" }).click();
  await page.waitForSelector("#case-number");
  const caseNumber = (await page.locator("#case-number").innerText()).trim();
  const code = (await page.locator("#tracking-code").innerText()).trim();
  check(/^YM-\d{8}-\d{4,}$/.test(caseNumber), `the confirmation shows the case number ${caseNumber}`);
  check(/^[0-9A-Z]{5}-[0-9A-Z]{5}$/.test(code), "and a tracking code");
  check((await page.locator("#promise").innerText()).includes("与您联系"), "and when we will respond");
  check(await page.locator("[data-print]").isVisible(), "with JavaScript, a print button");
  await axe(page, "the confirmation");
  await shot(page, "confirmation");
  await page.emulateMedia({ media: "print" });
  check(!(await page.locator(".header").isVisible()), "the printed confirmation leaves out the header");
  await page.emulateMedia({ media: "screen" });

  await page.getByRole("link", { name: "查询办理进度" }).first().click();
  await page.waitForSelector("#case");
  await axe(page, "/track");
  await page.getByLabel("案件编号").fill(caseNumber.toLowerCase());
  await page.getByLabel("查询码", { exact: true }).fill(code);
  await page.getByRole("button", { name: "查询" }).click();
  await page.waitForSelector("#status");
  check((await page.locator("#status").innerText()).includes("等待受理"), "tracking shows the status");
  await axe(page, "the tracking result");
  await shot(page, "track-status");

  // A wrong code: explained, not revealing whether the case exists.
  await page.goto(`${base}/track`);
  await page.getByLabel("案件编号").fill(caseNumber);
  await page.getByLabel("查询码", { exact: true }).fill("AAAAA-AAAAA");
  await page.getByRole("button", { name: "查询" }).click();
  await page.waitForSelector(".error-summary");
  check((await page.locator(".error-summary").innerText()).includes("没有找到"), "a wrong code is told plainly");
  check((await page.locator("#lost-code").count()) === 1, "and what to do if the code is lost");
  await shot(page, "track");
  await axe(page, "/track with an error");

  // English by the visible switch.
  await page.goto(`${base}/message`);
  await page.getByRole("link", { name: "English" }).click();
  await page.waitForSelector("text=Leave a message");
  check((await page.locator("html").getAttribute("lang")) === "en", "the switch turns the page to English");
  await axe(page, "/message in English");
  await context.close();

  // ---- small screens and zoom --------------------------------------------------------
  for (const [name, options] of [
    ["a phone screen", { viewport: { width: 360, height: 740 }, isMobile: true, hasTouch: true }],
    ["200% zoom on a 1366×768 screen", { viewport: { width: 683, height: 384 }, deviceScaleFactor: 2 }],
  ]) {
    const ctx = await browser.newContext({ bypassCSP: true, locale: "zh-CN", ...options });
    const p = await ctx.newPage();
    await p.goto(`${base}/message`);
    const fits = await p.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth + 1);
    check(fits, `no sideways scrolling on ${name}`);
    const box = await p.getByRole("button", { name: "提交留言" }).boundingBox();
    check(box && box.height >= 40, `the send button is large enough to tap on ${name}`);
    await ctx.close();
  }

  // ---- with JavaScript switched off ---------------------------------------------------
  const noJs = await browser.newContext({ javaScriptEnabled: false, locale: "zh-CN" });
  const plain = await noJs.newPage();
  await plain.goto(`${base}/message`);
  await plain.getByLabel("您的姓名").fill("李阿姨");
  await plain.getByLabel("电话号码").fill("0415-3105883");
  await plain.getByLabel("养老保险").check();
  await plain.getByLabel("什么事没办成？在哪里办的？").fill(`养老金认证在窗口办不了（${Date.now()}）`);
  await waitFillTime();
  await plain.getByRole("button", { name: "提交留言" }).click();
  await plain.waitForSelector(".error-summary");
  check((await plain.locator(".error-summary").innerText()).includes("请勾选同意"), "without JavaScript the server explains the mistake");
  await plain.getByLabel("我同意工作人员使用我填写的信息办理此事").check();
  await waitFillTime();
  await plain.getByRole("button", { name: "提交留言" }).click();
  await plain.waitForSelector("#case-number");
  check(/^YM-/.test(await plain.locator("#case-number").innerText()), "without JavaScript the message is sent and numbered");
  check(!(await plain.locator("[data-print]").isVisible()), "without JavaScript no dead print button shows");
  await noJs.close();
  console.log("all browser checks passed");
} finally {
  await browser.close();
}
