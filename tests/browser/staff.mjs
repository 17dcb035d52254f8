// Staff in real headless Chromium, one role after another, each on its main path:
// the counter registers a walk-in (a description full of markup, shown as text everywhere)
// and prints the referral form and receipt; a repeat visitor is flagged; the hotline operator
// logs a call; the duty leader finds the case, accepts it, escalates it and approves
// acceptance with missing materials; the morning shift plays a voicemail, claims the caller
// and records the call. axe-core on every page. Screenshots go to $SCREENSHOTS if set.
//
// Usage: node staff.mjs BASE_URL   (PASSWORD, DATE and CHROMIUM from the environment)

import { createRequire } from "node:module";
import { chromium } from "playwright-core";

const require = createRequire(import.meta.url);
const axePath = require.resolve("axe-core/axe.min.js");
const base = process.argv[2];
const password = process.env.PASSWORD;
const date = process.env.DATE;
const shots = process.env.SCREENSHOTS;
if (!base || !password || !date) throw new Error("usage: PASSWORD=… DATE=… node staff.mjs BASE_URL");

const XSS = `<script>window.__xss=1</script>"><img src=x onerror="window.__xss=2"> 养老金认证三次没办成`;

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  args: [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--autoplay-policy=no-user-gesture-required",
  ],
});

function check(condition, message) {
  if (!condition) throw new Error(`FAILED: ${message}`);
  console.log(`ok - ${message}`);
}

async function axe(page, name) {
  await page.addScriptTag({ path: axePath });
  const result = await page.evaluate(async () =>
    // eslint-disable-next-line no-undef
    await axe.run(document, { runOnly: { type: "tag", values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"] } }),
  );
  const summary = result.violations.map((v) => `${v.id}: ${v.nodes.map((n) => n.target.join(" ")).join(", ")}`);
  check(result.violations.length === 0, `axe finds no violations on ${name}${summary.length ? ` (${summary.join("; ")})` : ""}`);
}

async function shot(page, name) {
  if (shots) await page.screenshot({ path: `${shots}/${name}.png`, fullPage: false });
}

async function signIn(username) {
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

async function noXss(page, where) {
  check(await page.evaluate(() => window.__xss === undefined), `no script ran on ${where}`);
}

try {
  // ---- counter: a walk-in -----------------------------------------------------------
  let { context, page } = await signIn("wang");
  await page.goto(`${base}/staff/register`);
  await axe(page, "the walk-in form");
  await page.getByLabel("姓名").fill("张大爷");
  await page.getByLabel("电话").fill("138 0013 8000");
  await page.getByLabel("身份证号（选填，只保存打码后的号码）").fill("11010519491231002X");
  await page.getByLabel("事项类别").selectOption("pensions");
  await page.getByLabel("什么事没办成、在哪个窗口").fill(XSS);
  await shot(page, "register");
  await page.getByRole("button", { name: "登记" }).click();
  await page.waitForSelector("#case-number");
  const walkIn = (await page.locator("#case-number").innerText()).trim();
  check(/^YM-\d{8}-\d{4,}$/.test(walkIn), `the walk-in is registered as ${walkIn}`);
  check((await page.locator("#description").innerText()).startsWith("<script>window.__xss=1</script>"), "the description shows its markup as text");
  check((await page.locator("body").innerText()).includes("11**************2X"), "the ID card number is shown masked");
  await noXss(page, "the case page");
  await axe(page, "the case page");
  await shot(page, "case");

  // Referred to a department before the referral form is printed.
  const refer = page.locator("details", { has: page.locator("summary", { hasText: "转办（打印转办单前填写）" }) });
  await refer.locator("summary").click();
  await refer.getByLabel("转往科室").selectOption("pensions");
  await refer.getByLabel("转办事项和要求").fill("请核实缴费记录，三个工作日内答复");
  await refer.getByRole("button").click();
  await page.waitForSelector("#timeline");

  const [referral] = await Promise.all([
    context.waitForEvent("page"),
    page.getByRole("link", { name: "打印转办单" }).click(),
  ]);
  await referral.waitForLoadState();
  const referralText = await referral.locator("body").innerText();
  check(referralText.includes("受理问题转办单") && referralText.includes(walkIn), "the referral form prints with the case number");
  check(referralText.includes("养老保险科"), "and the department it goes to");
  check(referralText.includes("<script>window.__xss=1</script>"), "the referral form shows the description as text");
  await noXss(referral, "the referral form");
  await shot(referral, "referral");
  await referral.close();

  const [receipt] = await Promise.all([
    context.waitForEvent("page"),
    page.getByRole("button", { name: "打印回执（含查询码）" }).click(),
  ]);
  await receipt.waitForLoadState();
  const code = (await receipt.locator("#receipt-code").innerText()).trim();
  check(/^[0-9A-Z]{5}-[0-9A-Z]{5}$/.test(code), "the receipt carries a tracking code");
  check(await receipt.locator(".qr svg").count() === 1, "and a QR code");
  await receipt.close();
  // The code on the receipt opens the public tracking page.
  const visitor = await browser.newPage({ locale: "zh-CN" });
  await visitor.goto(`${base}/track#case=${walkIn}&code=${code}`);
  await visitor.waitForSelector("#status");
  check((await visitor.locator("#status").innerText()).includes("等待受理"), "the receipt's link tracks the case");
  check(!visitor.url().includes(code), "and the code leaves the address bar");
  await visitor.close();

  // The same phone again: the repeat-visitor banner, as the clerk types.
  await page.goto(`${base}/staff/register`);
  await page.getByLabel("电话").fill("13800138000");
  await page.getByLabel("姓名").focus();
  await page.waitForSelector("#repeat-banner .repeat");
  check((await page.locator("#repeat-banner").innerText()).includes(walkIn), "a repeat visitor is flagged with the earlier case");
  // Another walk-in, answered on the spot: the answer is asked for, then the case closes.
  await page.goto(`${base}/staff/register`);
  await page.getByLabel("姓名").fill("刘大爷");
  await page.getByLabel("电话").fill("13900001111");
  await page.getByLabel("事项类别").selectOption("pensions");
  await page.getByLabel("什么事没办成、在哪个窗口").fill("问养老金资格认证在哪里办");
  await page.getByLabel("当场解答（咨询，登记后即办结）").check();
  await page.getByRole("button", { name: "登记" }).click();
  await page.waitForSelector("#answer-error");
  check(await page.getByLabel("什么事没办成、在哪个窗口").inputValue() === "问养老金资格认证在哪里办", "a missing answer keeps what was typed");
  await page.getByLabel("当场答复的内容").fill("可在手机上认证，已现场演示");
  await page.getByRole("button", { name: "登记" }).click();
  await page.waitForSelector("#case-number");
  check((await page.locator("#case-status").innerText()).includes("已销号"), "a walk-in answered on the spot is closed at once");
  // The phone number was mistyped: corrected in the page, with a reason, by keyboard.
  await page.locator("#correct summary").focus();
  await page.keyboard.press("Enter");
  await page.getByLabel("电话", { exact: true }).fill("139 0000 1112");
  await page.getByLabel("更正理由").fill("群众核对后发现号码记错一位");
  await page.locator("#correct").scrollIntoViewIfNeeded();
  await shot(page, "case-correct");
  await page.getByRole("button", { name: "更正", exact: true }).click();
  await page.waitForSelector("#timeline");
  check((await page.locator("#case-phone").innerText()).includes("139 0000 1112"), "the corrected number is on the case");
  check((await page.locator("table").last().innerText()).includes("139 0000 1111 → 139 0000 1112"), "before and after are on the timeline");
  await axe(page, "the case page after a correction");
  await context.close();

  // ---- hotline operator: a call -----------------------------------------------------
  ({ context, page } = await signIn("zhou"));
  await page.goto(`${base}/staff/calls`);
  await axe(page, "the call form");
  await page.getByLabel("来电号码").fill("13912345678");
  await page.getByLabel("来电人姓名").fill("刘女士");
  await page.getByLabel("事项类别").selectOption("wages");
  await page.getByLabel("来电内容").fill("公司拖欠两个月工资，劳动监察说要等");
  await page.getByLabel("需后续办理（立案）").check();
  await shot(page, "call");
  await page.getByRole("button", { name: "登记来电" }).click();
  await page.waitForSelector("#logged");
  const call = (await page.locator("#logged a").innerText()).trim();
  check(/^YM-/.test(call), `the call is logged as ${call}`);
  check((await page.getByLabel("来电号码").inputValue()) === "", "a fresh form for the next call");
  await context.close();

  // ---- duty leader: find, accept, escalate, approve ---------------------------------
  ({ context, page } = await signIn("zhao"));
  await page.goto(`${base}/staff/queue`);
  await page.getByLabel("搜索").fill("养老金");
  await page.getByRole("button", { name: "筛选" }).click();
  await page.waitForSelector("#queue-rows");
  check((await page.locator("#queue-rows").innerText()).includes(walkIn), "a two-word search finds the walk-in");
  await noXss(page, "the queue");
  await axe(page, "the queue");
  await shot(page, "queue");
  await page.getByRole("link", { name: walkIn }).click();
  await page.waitForSelector("#case-number");
  const act = async (summary, fill) => {
    await page.locator("summary", { hasText: summary }).first().click();
    const details = page.locator("details", { has: page.locator("summary", { hasText: summary }) }).first();
    if (fill) await fill(details);
    await details.getByRole("button").click();
    await page.waitForSelector("#timeline");
  };
  await act("受理（由我负责到底）");
  check((await page.locator("#case-status").innerText()).includes("办理中"), "accepted: in progress, owned by the leader");
  await act("升级到上一层级", (d) => d.locator("textarea").fill("涉及历史遗留问题，需中心党委研究"));
  check((await page.locator("table").last().innerText()).includes("升级"), "the escalation is on the timeline");
  await act("批准容缺受理", (d) => d.locator("textarea").fill("户口本复印件，后补"));
  check((await page.locator("table").last().innerText()).includes("容缺受理"), "the approval is on the timeline");
  // A counter clerk is told why they cannot approve.
  await context.close();
  ({ context, page } = await signIn("wang"));
  await page.goto(`${base}/staff/cases/${walkIn}`);
  check((await page.locator("summary", { hasText: "批准容缺受理" }).innerText()).includes("需由值班领导决定"), "a clerk sees why approval is not theirs");
  await context.close();

  // ---- morning shift: the callback list -----------------------------------------------
  ({ context, page } = await signIn("li"));
  await page.goto(`${base}/staff/callbacks?date=${date}`);
  await page.waitForSelector(".entry");
  await axe(page, "the callback list");
  await shot(page, "callbacks");
  const played = await page.evaluate(async () => {
    const audio = document.querySelector(".entry audio");
    audio.muted = true;
    await audio.play();
    await new Promise((r) => setTimeout(r, 600));
    return { duration: audio.duration, time: audio.currentTime };
  });
  check(played.duration > 2.5 && played.time > 0, `the voicemail plays in the page (${played.duration.toFixed(1)} s)`);
  const chen = page.locator(".entry", { hasText: "137 0013 7000" });
  await chen.getByRole("button", { name: "我来联系" }).click();
  await page.waitForSelector("form.attempt");
  await page.getByLabel("已联系，继续办理").check();
  await page.getByLabel("事项类别").selectOption("pensions");
  await page.getByLabel("诉求摘要").fill("养老金资格认证在手机上做不了，约周一上午来窗口");
  await page.getByLabel("备注").fill("已约周一上午来窗口");
  await page.getByRole("button", { name: "记录" }).click();
  await page.waitForSelector(".entry.done");
  check((await chen.innerText()).includes("已约周一上午来窗口"), "the call is recorded on the entry");
  // 孙先生's two messages: answered on the phone, both close as consultations. The answer
  // is asked for first; what was typed stays.
  const sun = page.locator(".entry", { hasText: "139 0013 9000" });
  await sun.getByRole("button", { name: "我来联系" }).click();
  await page.waitForSelector(".entry form.attempt");
  const sunForm = page.locator(".entry", { hasText: "139 0013 9000" }).locator("form.attempt");
  await sunForm.getByLabel("已联系，电话中已解决").check();
  await sunForm.getByLabel("备注").fill("9:05 拨通");
  await sunForm.getByRole("button", { name: "记录" }).click();
  await page.waitForSelector(".entry .error-message");
  check((await sunForm.locator(".error-message").innerText()).length > 0, "the missing answer is named");
  await sunForm.scrollIntoViewIfNeeded();
  await shot(page, "callbacks-form");
  check(await sunForm.getByLabel("备注").inputValue() === "9:05 拨通", "a refused outcome keeps what was typed");
  check(await sunForm.getByLabel("已联系，电话中已解决").isChecked(), "and the outcome chosen");
  await sunForm.getByLabel("答复内容").fill("社保卡补办可在手机上办理，已告知步骤");
  await sunForm.getByRole("button", { name: "记录" }).click();
  await page.waitForSelector(".entry.done >> text=139 0013 9000");
  const sunText = await page.locator(".entry", { hasText: "139 0013 9000" }).innerText();
  check((sunText.match(/已销号/g) || []).length === 2, "both of his messages are closed");
  await shot(page, "callbacks-worked");
  // The voicemail's case page plays it too.
  await chen.locator(".cases a").first().click();
  await page.waitForSelector("#case-number");
  const onCase = await page.evaluate(async () => {
    const audio = document.querySelector("audio");
    audio.muted = true;
    await audio.play();
    await new Promise((r) => setTimeout(r, 300));
    return audio.currentTime > 0;
  });
  check(onCase, "the case page plays the voicemail");
  check((await page.locator("table").last().innerText()).includes("回访"), "the callback is on the case's timeline");
  await context.close();

  // ---- administrator: an API token issued, seen once, and revoked ----------------------
  ({ context, page } = await signIn("root"));
  // A new colleague: added in the page with a temporary password, shown once.
  await page.getByRole("link", { name: "账号" }).click();
  await page.waitForSelector("#users");
  await axe(page, "the accounts page");
  check((await page.locator("#calendar-years").innerText()).includes("官方"), "the calendar's official years are shown");
  await page.getByLabel("用户名（登录用）").fill("sun");
  await page.locator("#add-user").getByLabel("姓名", { exact: true }).fill("孙敏");
  await page.locator("#add-user").getByLabel("热线接线员").check();
  await page.getByRole("button", { name: "新增（生成临时密码）" }).click();
  await page.waitForSelector("#temporary-password");
  check((await page.locator("#temporary-password").innerText()).length === 14, "the new account's temporary password is shown once");
  check((await page.locator("#users").innerText()).includes("孙敏"), "and the account is listed");
  await shot(page, "users");
  // 孙敏 signs in with it and must choose a password of her own first.
  const temporary = (await page.locator("#temporary-password").innerText()).trim();
  const sunContext = await browser.newContext({ bypassCSP: true, locale: "zh-CN", viewport: { width: 1366, height: 768 } });
  const sunPage = await sunContext.newPage();
  await sunPage.goto(`${base}/staff`);
  await sunPage.fill("#username", "sun");
  await sunPage.fill("#password", temporary);
  await sunPage.getByRole("button", { name: "登录" }).click();
  await sunPage.waitForSelector("#new-password");
  await axe(sunPage, "the choose-a-password page");
  await sunPage.getByLabel("新密码").fill("孙敏自己设置的新密码2026");
  await sunPage.getByLabel("再输入一次").fill("孙敏自己设置的新密码2026");
  await sunPage.getByRole("button", { name: "设置密码" }).click();
  await sunPage.waitForURL((url) => !url.pathname.startsWith("/staff/password"));
  check(sunPage.url().includes("/staff/"), "with her own password she is at work");
  await sunContext.close();
  await page.getByRole("link", { name: "访问令牌" }).click();
  await page.waitForSelector("#tokens");
  await axe(page, "the tokens page");
  await page.getByLabel("使用者").fill("区政务服务网");
  await page.getByLabel("角色").selectOption("counter");
  await page.getByLabel("有效天数（留空为直到吊销）").fill("365");
  await page.getByRole("button", { name: "签发" }).click();
  await page.waitForSelector("#issued-secret");
  const secret = (await page.locator("#issued-secret").innerText()).trim();
  check(secret.startsWith("ym_"), "the new token is shown once");
  await axe(page, "the tokens page with a new token");
  await shot(page, "tokens");
  await page.getByRole("button", { name: /^吊销令牌/ }).first().click();
  await page.waitForSelector("#tokens");
  check((await page.locator("#tokens").innerText()).includes("已吊销"), "the token is revoked");
  check(!(await page.content()).includes(secret), "and its secret is never shown again");
  await context.close();
  console.log("all staff browser checks passed");
} finally {
  await browser.close();
}
