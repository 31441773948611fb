// A student on the course's JupyterHub, in Debian's headless Chromium: log in, fetch a lesson
// from nbgrader's Assignments tab, answer one exercise, run it, validate, submit; later (second
// run, same browser profile) fetch the feedback and open it. Records what the pages show; it
// judges nothing: tests/test_hub.py does.
//
//   node drive_hub.mjs PLAN.json        (the password comes from $HUB_PASSWORD)
//
// PLAN: chromium, userDataDir, hubUrl, user, lesson, phase ("submit" | "feedback"),
//   notebook (path under the user's home), fill {index, code}, run [cell index, ...],
//   screenshotDir, resultPath, timeouts {openMs, cellMs, validateMs}.
// Exit status: 0 the plan ran; 2 Chromium could not be launched; 1 the page did not behave.
import fs from 'node:fs';
import { chromium } from 'playwright-core';
import { LAUNCH_FLAGS, CELLS, waitFor, prompt, cellRunner, screenshotter } from './lab.mjs';

const plan = JSON.parse(fs.readFileSync(process.argv[2], 'utf8'));
const result = { phase: plan.phase, screenshots: [], timings: {} };
const screenshot = screenshotter(plan.screenshotDir, result.screenshots);
const runCell = cellRunner(plan.timeouts.cellMs);
const userUrl = `${plan.hubUrl}/user/${plan.user}`;

async function labReady(page) {
  await page.locator('#jp-main-dock-panel').waitFor({ timeout: plan.timeouts.openMs });
  // The menu bar is built once every plugin has started.
  await page.locator('.lm-MenuBar-item', { hasText: 'Nbgrader' })
    .waitFor({ timeout: plan.timeouts.openMs });
}

async function login(page) {
  const t0 = Date.now();
  await page.goto(`${plan.hubUrl}/hub/login`, { timeout: plan.timeouts.openMs });
  await page.locator('#username_input').fill(plan.user);
  await page.locator('#password_input').fill(process.env.HUB_PASSWORD ?? '');
  await page.locator('#login_submit').click();
  // The hub starts the user's server (a spawn page), then redirects to their Lab.
  await page.waitForURL(new RegExp(`/user/${plan.user}/lab`), { timeout: plan.timeouts.openMs });
  await labReady(page);
  result.timings.loginMs = Date.now() - t0;
  // What the Lab shows before the student clicks anything (the restored layout comes last).
  await page.locator('#nbgrader-assignment-list').waitFor({ timeout: 15_000 }).catch(() => {});
  result.landing = {
    assignments: await page.locator('#nbgrader-assignment-list').isVisible(),
    launcher: await page.locator('.jp-Launcher:not(.lm-mod-hidden)').isVisible(),
  };
  await screenshot(page, '0-landing.png');
}

// Nbgrader menu -> Assignment List; records which items the student's menu offers.
async function openAssignments(page, shot) {
  await page.locator('.lm-MenuBar-item', { hasText: 'Nbgrader' }).click();
  const menu = page.locator('.lm-Menu');
  await menu.first().waitFor({ timeout: 10_000 });
  result.menuItems = await menu.locator('.lm-Menu-item:not(.lm-mod-hidden) .lm-Menu-itemLabel')
    .allInnerTexts();
  if (shot) await screenshot(page, shot);
  await menu.locator('.lm-Menu-item', { hasText: 'Assignment List' }).click();
  await page.locator('#nbgrader-assignment-list').waitFor({ timeout: plan.timeouts.openMs });
}

function row(page, list) {
  return page.locator(`#${list} > .list_item`, { hasText: plan.lesson });
}

async function clickIn(page, list, label) {
  const button = row(page, list).locator('button', { hasText: label });
  await button.waitFor({ timeout: plan.timeouts.openMs });
  await button.click();
}

async function readCell(page, index) {
  return page.locator(CELLS).nth(index).evaluate((cell) => ({
    prompt: cell.querySelector('.jp-InputPrompt')?.textContent.trim() ?? '',
    outputs: [...cell.querySelectorAll('.jp-OutputArea-output')].map((out) => ({
      mime: out.getAttribute('data-mime-type') ?? '',
      text: out.innerText.slice(0, 4000),
    })),
  }));
}

async function answerAndValidate(page) {
  const t0 = Date.now();
  await page.goto(`${userUrl}/lab/tree/${plan.notebook}`, { timeout: plan.timeouts.openMs });
  await page.locator(CELLS).first().waitFor({ timeout: plan.timeouts.openMs });
  await waitFor('the kernel to be idle', plan.timeouts.openMs, () => page.evaluate(() =>
    [...document.querySelectorAll('.jp-StatusBar-TextItem')].some((item) =>
      /^(?!No Kernel).+ \| Idle$/.test(item.textContent.trim()))));
  const editor = page.locator(CELLS).nth(plan.fill.index).locator('.cm-content');
  await editor.click();
  await page.keyboard.press('Control+A');
  await page.keyboard.insertText(plan.fill.code);
  await page.keyboard.press('Escape');
  for (const index of plan.run) await runCell(page, index);
  result.ran = [];
  for (const index of plan.run) result.ran.push({ index, ...(await readCell(page, index)) });
  await page.locator(CELLS).nth(plan.fill.index).scrollIntoViewIfNeeded();
  await screenshot(page, '3-answered-and-run.png');
  result.timings.answerMs = Date.now() - t0;

  await page.locator('.jp-NotebookPanel:not(.lm-mod-hidden) .validate-button').click();
  const dialog = page.locator('.jp-Dialog');
  await dialog.waitFor({ timeout: plan.timeouts.validateMs });
  result.validate = await dialog.evaluate((el) => ({
    classes: [...(el.querySelector('#validation-message')?.classList ?? [])],
    body: el.querySelector('.jp-Dialog-body')?.innerText.slice(0, 4000) ?? '',
  }));
  await screenshot(page, '4-validated.png');
  await page.locator('.jp-Dialog .jp-mod-accept').click();
}

async function submitPhase(page) {
  await login(page);
  await openAssignments(page, '1-student-nbgrader-menu.png');
  await clickIn(page, 'released_assignments_list', 'Fetch');
  await row(page, 'fetched_assignments_list').waitFor({ timeout: plan.timeouts.openMs });
  await screenshot(page, '2-fetched.png');
  await answerAndValidate(page);
  await openAssignments(page, null);
  await clickIn(page, 'fetched_assignments_list', 'Submit');
  const submitted = row(page, 'submitted_assignments_list');
  await submitted.waitFor({ timeout: plan.timeouts.openMs });
  result.submitted = await submitted.innerText();
  await screenshot(page, '5-submitted.png');
}

async function feedbackPhase(page) {
  const t0 = Date.now();
  await page.goto(`${userUrl}/lab`, { timeout: plan.timeouts.openMs });
  await labReady(page);
  await openAssignments(page, null);
  await clickIn(page, 'submitted_assignments_list', 'Fetch Feedback');
  const view = row(page, 'submitted_assignments_list').locator('a', { hasText: 'view feedback' });
  await view.waitFor({ timeout: plan.timeouts.openMs });
  await view.click();  // the file browser goes to the feedback folder
  const page_html = page.locator('.jp-DirListing-item', { hasText: `${plan.lesson}.html` });
  await page_html.waitFor({ timeout: plan.timeouts.openMs });
  await page_html.dblclick();
  const frame = page.frameLocator('.jp-HTMLViewer:not(.lm-mod-hidden) iframe');
  await frame.locator('body').waitFor({ timeout: plan.timeouts.openMs });
  await waitFor('the feedback page to render', plan.timeouts.openMs, async () =>
    (await frame.locator('body').innerText()).trim().length > 0);
  result.feedbackText = (await frame.locator('body').innerText()).slice(0, 20000);
  await screenshot(page, '6-feedback.png');
  result.timings.feedbackMs = Date.now() - t0;
}

async function main() {
  let context;
  try {
    context = await chromium.launchPersistentContext(plan.userDataDir, {
      executablePath: plan.chromium, headless: true, args: LAUNCH_FLAGS,
      viewport: { width: 1400, height: 1000 }, timeout: 60_000,
    });
  } catch (error) {
    console.error(`cannot launch ${plan.chromium}: ${error.message.split('\n')[0]}`);
    return 2;
  }
  const page = context.pages()[0] ?? await context.newPage();
  result.consoleErrors = [];
  page.on('console', (msg) => { if (msg.type() === 'error') result.consoleErrors.push(msg.text()); });
  try {
    if (plan.phase === 'submit') await submitPhase(page);
    else await feedbackPhase(page);
    return 0;
  } catch (error) {
    console.error(error.stack ?? String(error));
    await screenshot(page, `failure-${plan.phase}.png`).catch(() => {});
    return 1;
  } finally {
    fs.writeFileSync(plan.resultPath, JSON.stringify(result, null, 1));
    await context.close();
  }
}

process.exitCode = await main();
