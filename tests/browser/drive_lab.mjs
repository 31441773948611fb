// Drives an open JupyterLab notebook like a student does, in Debian's headless Chromium,
// and records what the page shows. It judges nothing: tests/test_browser.py does.
//
//   node drive_lab.mjs PLAN.json
//
// PLAN (written by the test): chromium, userDataDir, url (the token comes from $JUPYTER_TOKEN),
//   screenshotDir, resultPath,
//   fill: {index, code}   the answer cell to fill and the code to put in it,
//   rerun: [index, ...]   cells to run again after filling (the answer and its tests),
//   timeouts: {openMs, cellMs, validateMs}.
// Exit status: 0 the plan ran (the result says what the page showed); 2 Chromium could not
// be launched (the test skips with the message); 1 the page did not behave (message + screenshot).
import fs from 'node:fs';
import { chromium } from 'playwright-core';
import { LAUNCH_FLAGS, CELLS, waitFor, prompt, cellRunner, screenshotter } from './lab.mjs';

const plan = JSON.parse(fs.readFileSync(process.argv[2], 'utf8'));
const result = { screenshots: [], timings: {} };
const screenshot = screenshotter(plan.screenshotDir, result.screenshots);
const runCell = cellRunner(plan.timeouts.cellMs);

// What every cell shows: its type, prompt and outputs (mime type + text, as rendered).
async function readCells(page) {
  return page.locator(CELLS).evaluateAll((cells) => cells.map((cell, index) => ({
    index,
    type: cell.classList.contains('jp-CodeCell') ? 'code'
      : cell.classList.contains('jp-MarkdownCell') ? 'markdown' : 'raw',
    prompt: cell.querySelector('.jp-InputPrompt')?.textContent.trim() ?? '',
    outputs: [...cell.querySelectorAll('.jp-OutputArea-output')].map((out) => ({
      mime: out.getAttribute('data-mime-type') ?? '',
      text: out.innerText.slice(0, 4000),
    })),
  })));
}

async function openNotebook(page) {
  const t0 = Date.now();
  const url = `${plan.url}?token=${encodeURIComponent(process.env.JUPYTER_TOKEN ?? '')}`;
  await page.goto(url, { timeout: plan.timeouts.openMs });
  await page.locator(CELLS).first().waitFor({ timeout: plan.timeouts.openMs });
  // The kernel is ready when the status bar names it and says Idle. (The toolbar's execution
  // indicator also says idle before any kernel exists: keys pressed then are lost.)
  await waitFor('the kernel to be idle', plan.timeouts.openMs, () => page.evaluate(() =>
    [...document.querySelectorAll('.jp-StatusBar-TextItem')].some((item) =>
      /^(?!No Kernel).+ \| Idle$/.test(item.textContent.trim()))));
  result.timings.openMs = Date.now() - t0;
}

async function runThrough(page) {
  const t0 = Date.now();
  const cells = await readCells(page);
  for (const cell of cells) {
    if (cell.type === 'code') await runCell(page, cell.index);
  }
  result.runThrough = await readCells(page);
  result.timings.runThroughMs = Date.now() - t0;
  const firstError = result.runThrough.find((c) => c.outputs.some((o) => o.mime.includes('stderr')));
  await page.locator(CELLS).nth(firstError ? firstError.index : 0).scrollIntoViewIfNeeded();
  await screenshot(page, '1-run-all-stubs-fail.png');
}

async function fillAnswer(page) {
  const editor = page.locator(CELLS).nth(plan.fill.index).locator('.cm-content');
  await editor.click();
  await page.keyboard.press('Control+A');
  // insertText is a paste: CodeMirror neither auto-indents nor closes brackets.
  await page.keyboard.insertText(plan.fill.code);
  result.filledSource = await editor.evaluate(
    (el) => [...el.querySelectorAll('.cm-line')].map((line) => line.textContent).join('\n'));
  await page.keyboard.press('Escape');
  const t0 = Date.now();
  for (const index of plan.rerun) await runCell(page, index);
  result.timings.rerunMs = Date.now() - t0;
  const cells = await readCells(page);
  result.rerun = plan.rerun.map((index) => cells[index]);
  await page.locator(CELLS).nth(plan.rerun.at(-1)).scrollIntoViewIfNeeded();
  await screenshot(page, '2-answer-filled-test-passes.png');
}

async function validate(page) {
  const t0 = Date.now();
  // The nbgrader lab extension's toolbar button: class "validate-button", label "Validate".
  await page.locator('.jp-NotebookPanel:not(.lm-mod-hidden) .validate-button').click();
  // The first dialog is the verdict (#validation-message) or nbgrader's error dialog
  // ("Validation failed", "Version Mismatch"): record either, and the test judges.
  const dialog = page.locator('.jp-Dialog');
  await dialog.waitFor({ timeout: plan.timeouts.validateMs });
  result.validate = await dialog.evaluate((el) => {
    const message = el.querySelector('#validation-message');
    return {
      classes: message ? [...message.classList] : [],
      title: el.querySelector('.jp-Dialog-header')?.innerText.trim() ?? '',
      body: el.querySelector('.jp-Dialog-body')?.innerText.slice(0, 4000) ?? '',
      pres: message ? [...message.querySelectorAll('pre')].map((pre) => pre.innerText) : [],
    };
  });
  result.timings.validateMs = Date.now() - t0;
  await screenshot(page, '3-validate-verdict.png');
  await page.locator('.jp-Dialog .jp-mod-accept').click();
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
    await openNotebook(page);
    await runThrough(page);
    await fillAnswer(page);
    await validate(page);
    return 0;
  } catch (error) {
    console.error(error.stack ?? String(error));
    await screenshot(page, 'failure.png').catch(() => {});
    return 1;
  } finally {
    fs.writeFileSync(plan.resultPath, JSON.stringify(result, null, 1));
    await context.close();
  }
}

process.exitCode = await main();
