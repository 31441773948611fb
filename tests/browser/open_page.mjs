// Opens a local HTML file (a report written by `course report`) in Debian's headless Chromium,
// with every request that is not the file itself or inline data refused, and records what the
// page shows. It judges nothing: the Python test does.
//
//   node open_page.mjs PLAN.json
//
// PLAN: chromium, path (the HTML file), screenshot (PNG to write), resultPath,
//   timeoutMs. Exit status: 0 the page was read (see the result); 2 Chromium could not be
//   launched (the test skips with the message); 1 the page did not load.
import fs from 'node:fs';
import { pathToFileURL } from 'node:url';
import { launchOrExit } from './lab.mjs';

const plan = JSON.parse(fs.readFileSync(process.argv[2], 'utf8'));
const url = pathToFileURL(plan.path).href;

const browser = await launchOrExit(plan);
try {
  const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  const refused = [];
  await page.route('**/*', (route) => {
    const wanted = route.request().url();
    if (wanted === url || wanted.startsWith('data:')) return route.continue();
    refused.push(wanted);
    return route.abort();
  });
  const consoleErrors = [];
  page.on('console', (msg) => { if (msg.type() === 'error') consoleErrors.push(msg.text()); });
  await page.goto(url, { waitUntil: 'load', timeout: plan.timeoutMs });
  const seen = await page.evaluate(() => ({
    title: document.title,
    headings: [...document.querySelectorAll('h1, h2, h3')].map((h) => h.innerText.trim()),
    images: [...document.images].map((img) => ({
      alt: img.alt, complete: img.complete, width: img.naturalWidth, height: img.naturalHeight,
    })),
    tables: document.querySelectorAll('table').length,
    scripts: document.scripts.length,
    text: document.body.innerText,
  }));
  await page.screenshot({ path: plan.screenshot, fullPage: true });
  fs.writeFileSync(plan.resultPath, JSON.stringify({ ...seen, refused, consoleErrors }, null, 1));
} catch (error) {
  console.error(`the page did not load: ${error.message}`);
  process.exitCode = 1;
} finally {
  await browser.close();
}
