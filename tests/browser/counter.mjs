// A counter clerk opens her guide from 帮助, registers a walk-in (a description full of markup, shown as text
// everywhere), refers it and prints the referral form and the receipt, is told of a repeat
// visitor, answers another walk-in on the spot and corrects its phone number; in headless
// Chromium at 1366×768, axe-core on each page.
//
// Usage: PASSWORD=… node counter.mjs BASE_URL

import { axe, check, journey, noXss, shot, XSS } from "./lib.mjs";

await journey("all counter browser checks passed", async ({ base, browser, signIn }) => {
  // ---- counter: a walk-in -----------------------------------------------------------
  let { context, page } = await signIn("wang");
  // 帮助 in the header opens the clerk's own page of the guide, screenshots and all.
  await page.getByRole("link", { name: "帮助" }).click();
  await page.waitForSelector(".help__page h1");
  check((await page.locator(".help__page h1").innerText()).includes("窗口工作人员"), "帮助 opens the counter clerk's guide");
  check(await page.locator(".help__page img").first().evaluate((i) => i.complete && i.naturalWidth > 0), "with its screenshots");
  await axe(page, "the help page");
  await shot(page, "help");
  await page.getByRole("navigation", { name: "用户手册目录" }).getByRole("link", { name: "术语表" }).click();
  await page.waitForSelector(".help__page h1");
  check(page.url().endsWith("/staff/help/glossary"), "the glossary is one click away");
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
  // As a real browser shows it, under the page's policy (the checks above bypass it to run
  // axe): the print's own stylesheet applies, so it prints as a form.
  const strict = await browser.newContext({ storageState: await context.storageState(), locale: "zh-CN", viewport: { width: 1366, height: 768 } });
  const strictPage = await strict.newPage();
  await strictPage.goto(`${base}/staff/cases/${walkIn}/referral`);
  check(await strictPage.locator("h1").evaluate((h) => getComputedStyle(h).textAlign) === "center", "the referral form keeps its layout under the page's policy");
  await strict.close();

  const [receipt] = await Promise.all([
    context.waitForEvent("page"),
    page.getByRole("button", { name: "打印回执（含查询码）" }).click(),
  ]);
  await receipt.waitForLoadState();
  await shot(receipt, "receipt");
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
  check((await page.locator("table").last().innerText()).includes("139 **** 1111 → 139 **** 1112"), "before and after are on the timeline");
  await axe(page, "the case page after a correction");
  await context.close();

});
