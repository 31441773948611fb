// What the drivers share: Chromium's flags and launch, waiting for the page, taking screenshots,
// and running a JupyterLab cell the way a student does.
import path from 'node:path';
import { chromium } from 'playwright-core';

export const LAUNCH_FLAGS = [
  '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync',
];
// Headless Chromium for plan.chromium; exit 2 (the Python test then skips with the message) if
// it cannot start.
export async function launchOrExit(plan) {
  try {
    return await chromium.launch({ executablePath: plan.chromium, args: LAUNCH_FLAGS,
                                   timeout: plan.timeoutMs });
  } catch (error) {
    console.error(`cannot launch ${plan.chromium}: ${error.message}`);
    process.exit(2);
  }
}

export const CELLS = '.jp-NotebookPanel:not(.lm-mod-hidden) .jp-Notebook .jp-Cell';
const POLL_MS = 100;

export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

export async function waitFor(what, timeoutMs, probe) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(POLL_MS);
  }
}

// screenshot(page, name): saved in `dir`, its path appended to `taken`.
export function screenshotter(dir, taken) {
  return async (page, name) => {
    const file = path.join(dir, name);
    await page.screenshot({ path: file });
    taken.push(file);
  };
}

export async function prompt(page, index) {
  return (await page.locator(CELLS).nth(index).locator('.jp-InputPrompt').textContent()).trim();
}

// runCell(page, index): run one code cell in place (select it, Ctrl+Enter) and wait until its
// prompt shows a new execution count: a student's Shift+Enter, without Lab appending a cell
// after the last one.
export function cellRunner(timeoutMs) {
  return async (page, index) => {
    const cell = page.locator(CELLS).nth(index);
    const before = await prompt(page, index);
    await cell.locator('.jp-InputPrompt').click();
    await page.keyboard.press('Escape');
    await page.keyboard.press('Control+Enter');
    await waitFor(`cell ${index} to finish (prompt was ${before})`, timeoutMs, async () => {
      const now = await prompt(page, index);
      return /^\[\d+\]:$/.test(now) && now !== before;
    });
  };
}
