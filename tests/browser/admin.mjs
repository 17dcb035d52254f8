// An administrator adds a colleague (a temporary password, which she replaces at her first
// sign-in), sees the calendar's official years, issues and revokes an API token, and adds a
// counter to the bureau's directory.
//
// Usage: PASSWORD=… node admin.mjs BASE_URL

import { axe, check, journey, noXss, shot, XSS } from "./lib.mjs";

await journey("all administrator browser checks passed", async ({ base, browser, signIn }) => {
  let context, page;
  // ---- administrator: an API token issued, seen once, and revoked ----------------------
  ({ context, page } = await signIn("root"));
  // A new colleague: added in the page with a temporary password, shown once.
  await page.getByRole("link", { name: "账号" }).click();
  await page.waitForSelector("#users");
  await axe(page, "the accounts page");
  check((await page.locator("#calendar-years").innerText()).includes("官方"), "the calendar's official years are shown");
  await page.locator("#calendar-years").scrollIntoViewIfNeeded();
  await shot(page, "calendar-years");
  await page.evaluate(() => window.scrollTo(0, 0));
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
  await sunPage.waitForSelector("#username");
  await shot(sunPage, "login");
  await sunPage.fill("#username", "sun");
  await sunPage.fill("#password", temporary);
  await sunPage.getByRole("button", { name: "登录" }).click();
  await sunPage.waitForSelector("#new-password");
  await axe(sunPage, "the choose-a-password page");
  await shot(sunPage, "password");
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

  // The bureau's directory: a new counter, with its department and head.
  await page.goto(`${base}/staff/directory`);
  await axe(page, "the directory");
  const add = page.locator("#add-entry");
  await add.getByLabel("代码（小写字母、数字、- 和 _）").fill("w12");
  await add.getByLabel("名称", { exact: true }).fill("12号综合窗口");
  await add.getByLabel("所属科室（窗口）").selectOption("pensions");
  await add.getByLabel("负责人", { exact: true }).fill("刘科长");
  await add.getByRole("button", { name: "新增", exact: true }).click();
  await page.waitForSelector("#directory");
  check((await page.locator("#directory").innerText()).includes("12号综合窗口"), "the new counter is in the directory");
  await shot(page, "directory");
  await context.close();
});
