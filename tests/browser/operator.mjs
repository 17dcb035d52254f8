// A hotline operator logs a call that needs follow-up, and gets a fresh form for the next.
//
// Usage: PASSWORD=… node operator.mjs BASE_URL

import { axe, check, journey, noXss, shot, XSS } from "./lib.mjs";

await journey("all operator browser checks passed", async ({ base, browser, signIn }) => {
  let context, page;
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

});
