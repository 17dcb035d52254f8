// The morning shift works the callback list: plays a voicemail, continues one caller's case
// with what they want, answers another caller with two messages (the answer asked for
// first, what was typed kept), and finds the call on the case's timeline.
//
// Usage: PASSWORD=… DATE=… node morning.mjs BASE_URL

import { axe, check, journey, noXss, shot, XSS } from "./lib.mjs";

await journey("all morning-shift browser checks passed", async ({ base, browser, signIn }) => {
  let context, page;
  // ---- morning shift: the callback list -----------------------------------------------
  ({ context, page } = await signIn("li"));
  await page.goto(`${base}/staff/callbacks?date=${process.env.DATE}`);
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

});
