// A hotline operator logs a call that needs follow-up, and gets a fresh form for the next;
// then a call rings: the caller and their earlier case pop up within a second, and the
// answer fills the form in.
//
// Usage: PASSWORD=… PBX_TOKEN=… EARLIER=<case number> node operator.mjs BASE_URL

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

  // ---- a call rings at zhou: the screen pop -------------------------------------------
  ({ context, page } = await signIn("zhou"));
  // The stream is open before the PBX speaks.
  const streaming = page.waitForResponse((r) => r.url().includes("/staff/calls/stream"));
  await page.goto(`${base}/staff/calls`);
  await streaming;
  const cti = async (body) => {
    const r = await fetch(`${base}/api/v1/cti/${process.env.PBX_TOKEN}`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ callId: "pop-1", from: "13800138000", to: "3105883", direction: "in", ...body }),
    });
    check(r.status === 200 && JSON.stringify(await r.json()) === "{}", `the PBX's ${body.event} is taken`);
  };
  const rang = Date.now();
  await cti({ event: "newCall", user: ["zhou", "805"] });
  const banner = page.locator(".call-banner");
  await banner.waitFor({ timeout: 1000 });
  check(Date.now() - rang < 1000, `the caller is on screen ${Date.now() - rang} ms after newCall`);
  const text = await banner.innerText();
  check(text.includes("138 0013 8000"), "the number is shown the Chinese way");
  check(text.includes("投诉热线 3105883"), "the line called is shown");
  check(text.includes(process.env.EARLIER), `the caller's earlier case ${process.env.EARLIER} is shown`);
  check(text.includes("振铃中"), "the call is ringing");
  await axe(page, "the call form with a ringing call");
  await shot(page, "call-ringing");
  await cti({ event: "answer", user: "zhou" });
  await page.waitForFunction(() => document.querySelector("#caller_number").value !== "", null, { timeout: 2000 });
  check((await page.getByLabel("来电号码").inputValue()) === "138 0013 8000", "the answer fills in the number");
  check(await page.getByLabel("投诉热线 3105883").isChecked(), "and the line");
  check((await page.locator("input[name=call_id]").inputValue()) !== "", "and the call");
  check((await page.locator("#call-started").innerText()).length === 8, "and the start time");
  await page.getByLabel("事项类别").selectOption("pensions");
  await page.getByLabel("来电内容").fill("再次询问养老金认证");
  await page.getByRole("button", { name: "登记来电" }).click();
  await page.waitForSelector("#logged");
  await cti({ event: "hangup", cause: "normalClearing" });
  await page.locator("#logged a").click();
  const times = await page.locator("#call-times").innerText();
  check(/接听 \d\d:\d\d:\d\d（zhou）/.test(times) && times.includes("通话时长"), `the case keeps the call's times: ${times}`);
  await context.close();
});
