// A duty leader finds a walk-in by two words, accepts, escalates and approves it with
// missing materials (a clerk is told why that is not theirs); declines a request, reassigns a case, records accountability and closes the
// staff-side case, records the rating the citizen gave by phone and reads who played a
// recording, in the pages alone (headless Chromium, 1366×768, axe-core on each page).
//
// Usage: node leader.mjs BASE_URL   (PASSWORD, REQUESTED, STAFF_SIDE and CHROMIUM from the environment)

import { act, axe, check, launch, noXss, shot, signIn } from "./lib.mjs";

const base = process.argv[2];
const { PASSWORD: password, REQUESTED: requested, STAFF_SIDE: staffSide, WALK_IN: walkIn } = process.env;
if (!base || !password || !requested || !staffSide) throw new Error("usage: PASSWORD=… REQUESTED=… STAFF_SIDE=… node leader.mjs BASE_URL");

const browser = await launch();
try {
  const anonymous = await browser.newContext({ bypassCSP: true, locale: "zh-CN", viewport: { width: 1366, height: 768 } });
  const visitor = await anonymous.newPage();
  await visitor.goto(`${base}/staff/login`);
  await axe(visitor, "the sign-in page");
  await anonymous.close();
  // ---- duty leader: find, accept, escalate, approve ---------------------------------
  let { context, page } = await signIn(browser, base, "zhao", password);
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
  await act(page, "受理（由我负责到底）");
  check((await page.locator("#case-status").innerText()).includes("办理中"), "accepted: in progress, owned by the leader");
  await act(page, "升级到上一层级", (d) => d.locator("textarea").fill("涉及历史遗留问题，需中心党委研究"));
  check((await page.locator("table").last().innerText()).includes("升级"), "the escalation is on the timeline");
  await act(page, "批准容缺受理", (d) => d.locator("textarea").fill("户口本复印件，后补"));
  check((await page.locator("table").last().innerText()).includes("容缺受理"), "the approval is on the timeline");
  // A counter clerk is told why they cannot approve.
  await context.close();
  ({ context, page } = await signIn(browser, base, "wang", password));
  await page.goto(`${base}/staff/cases/${walkIn}`);
  check((await page.locator("summary", { hasText: "批准容缺受理" }).innerText()).includes("需由值班领导决定"), "a clerk sees why approval is not theirs");
  await context.close();
  ({ context, page } = await signIn(browser, base, "zhao", password));
  await page.goto(`${base}/staff/statistics`);
  await page.waitForSelector("#total");
  await axe(page, "the statistics page");
  await shot(page, "statistics");
  await page.goto(`${base}/staff/leader`);
  await axe(page, "the leader's page");
  await shot(page, "leader");
  check((await page.locator("#approvals").innerText()).includes(requested), "the request waits on the leader's page");
  await page.getByRole("link", { name: requested }).click();
  await page.waitForSelector("#case-number");

  // Declined, with a reason; then the form says there is nothing left to decline.
  await act(page, "不予批准", (d) => d.locator("textarea").fill("户口本是要件，不能容缺受理"));
  check((await page.locator("table").last().innerText()).includes("户口本是要件"), "the decline and its reason are on the timeline");
  check((await page.locator("summary", { hasText: "不予批准" }).innerText()).includes("没有待批准的请求"), "nothing is left to decline");

  // Given to 周敏, chosen from the accounts.
  await act(page, "改派给他人负责", async (d) => {
    await d.getByLabel("改由谁负责").selectOption("zhou");
    await d.getByLabel("改派理由").fill("王芳休假一周");
  });
  check((await page.locator(".facts").innerText()).includes("周敏"), "the case is 周敏's now");
  check((await page.locator("table").last().innerText()).includes("改由 周敏 负责"), "the reassignment is on the timeline");
  await axe(page, "the case page with the leader's actions");
  await page.goto(`${base}/staff/leader`);
  check(!(await page.locator("#approvals").innerText()).includes(requested), "the request no longer waits");

  // The staff-side case: closing waits for accountability, recorded in the page.
  await page.goto(`${base}/staff/cases/${staffSide}`);
  check((await page.locator("summary", { hasText: "销号" }).innerText()).includes("须先登记问责记录"), "closing says accountability comes first");
  await act(page, "登记问责记录", async (d) => {
    await d.getByLabel("经办人").fill("王芳");
    await d.getByLabel("科室负责人").fill("养老保险科 李科长");
    await d.getByLabel("分管领导").fill("张副局长");
    await d.getByLabel("存在的问题").fill("未一次性告知所需材料，群众往返三次");
    await d.getByLabel("问责结果").selectOption("admonishment_talk");
    await d.getByLabel("约谈时间（约谈谈话时填）").fill("12月7日下午3点");
    await d.getByLabel("约谈人（约谈谈话时填）", { exact: true }).fill("张副局长");
    await d.getByLabel("被约谈人（约谈谈话时填）").fill("王芳");
    await d.getByLabel("处理决定").fill("约谈提醒，全科通报");
  });
  await shot(page, "case-leader");
  const record = await page.locator("table").last().innerText();
  check(record.includes("约谈提醒") && record.includes("约谈谈话") && record.includes("由张副局长约谈王芳"), "the accountability record, with its talk, is on the timeline, for the leader");
  await act(page, "销号");
  check((await page.locator("#case-status").innerText()).includes("已销号"), "the staff-side case is closed");
  // The citizen rated it on the phone: recorded in the page.
  await page.locator("#rating").getByLabel("满意", { exact: true }).check();
  await page.getByLabel("群众意见（选填）").fill("问题解决了，但跑了两趟");
  await page.getByRole("button", { name: "登记评价" }).click();
  await page.waitForSelector("#rating");
  check((await page.locator("#rating").innerText()).includes("电话或窗口评价"), "a rating taken by phone is recorded");
  await axe(page, "the case page with its rating");

  // A common problem, the month's bulletin and the evaluation, each in its page.
  await page.getByRole("link", { name: "共性问题" }).click();
  await page.getByLabel("问题名称").fill("灵活就业人员社保补贴跨区认定");
  await page.getByLabel("卡在哪项政策或哪个系统").fill("补贴办法要求户籍地认定，系统不支持异地办理");
  await page.getByRole("button", { name: "登记", exact: true }).click();
  await page.waitForSelector("#problem-status");
  await axe(page, "a common problem");
  await page.goto(`${base}/staff/cases/${staffSide}`);
  await page.getByRole("button", { name: "关联", exact: true }).click();
  await page.goto(`${base}/staff/problems`);
  check((await page.locator("#problems").innerText()).includes("灵活就业人员社保补贴跨区认定\t1"), "the case is linked to the problem");
  await shot(page, "problems");
  await page.getByRole("link", { name: "通报" }).click();
  await page.waitForSelector("#bulletin");
  check((await page.locator("#bulletin").innerText()).includes("行风建设通报"), "the bulletin of last month");
  await axe(page, "the bulletin");
  await shot(page, "bulletin");
  await page.getByRole("link", { name: "评选" }).click();
  await page.waitForSelector("#rank-staff");
  await axe(page, "the evaluation");
  await shot(page, "evaluation");

  // Who played a recording: the audit page, filtered by kind.
  await page.getByRole("link", { name: "审计" }).click();
  await page.waitForSelector("#trail");
  await page.getByLabel("类别").selectOption("play");
  await page.getByRole("button", { name: "查看" }).click();
  await page.waitForSelector("#trail");
  const trail = await page.locator("#trail").innerText();
  check(trail.includes("王芳") && trail.includes("播放录音"), "the leader reads who played a recording");
  await page.getByRole("button", { name: "核验审计链" }).click();
  await page.waitForSelector("#verified");
  check(!(await page.locator("#verified").innerText()).includes("已被篡改"), "the audit chains verify");
  await axe(page, "the audit page");
  await shot(page, "audit");
  await context.close();

  // The clerk sees neither the record nor a way to decide.
  const clerk = await signIn(browser, base, "wang", password);
  await clerk.page.goto(`${base}/staff/cases/${staffSide}`);
  check(!(await clerk.page.content()).includes("约谈提醒"), "a clerk does not read the accountability record");
  check((await clerk.page.locator("summary", { hasText: "改派给他人负责" }).innerText()).includes("需由值班领导决定"), "a clerk is told reassigning is the leader's");
  await clerk.context.close();
  console.log("all leader browser checks passed");
} finally {
  await browser.close();
}
