// Runs axe-core's WCAG 2 A and AA rules on local HTML files in Debian's headless Chromium, with
// every request that is not the file itself or inline data refused, and walks each page with the
// Tab key. It judges nothing: the Python test (tests/test_accessibility.py) does.
//
//   node axe_page.mjs PLAN.json
//
// PLAN: chromium, pages ([{name, path}]), tags (axe tags, e.g. ["wcag2a", "wcag2aa"]),
//   maxTabs (Tab presses per page), resultPath, timeoutMs. Result: {axe: version, pages: {name:
//   {violations: [{id, impact, help, nodes: [{target, html, summary}]}], tabStops: [{tag, href,
//   text}], refused}}}. Exit status: 0 every page was read; 2 Chromium could not be launched (the
//   test skips with the message); 1 a page did not load.
import fs from 'node:fs';
import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';
import { launchOrExit } from './lab.mjs';

const require = createRequire(import.meta.url);
const AXE_SOURCE = fs.readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');
const AXE_VERSION = require('axe-core/package.json').version;
const plan = JSON.parse(fs.readFileSync(process.argv[2], 'utf8'));

const browser = await launchOrExit(plan);

async function audit(path) {
  const url = pathToFileURL(path).href;
  const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  const refused = [];
  await page.route('**/*', (route) => {
    const wanted = route.request().url();
    if (wanted === url || wanted.startsWith('data:')) return route.continue();
    refused.push(wanted);
    return route.abort();
  });
  await page.goto(url, { waitUntil: 'load', timeout: plan.timeoutMs });
  // Inline, so the page's own request filter lets it in; axe must not see itself as content.
  await page.addScriptTag({ content: AXE_SOURCE });
  const violations = await page.evaluate(async (tags) => {
    const found = await window.axe.run(document, { runOnly: { type: 'tag', values: tags },
                                                   resultTypes: ['violations'] });
    return found.violations.map((v) => ({
      id: v.id, impact: v.impact, help: v.help,
      nodes: v.nodes.map((n) => ({ target: n.target.join(' '), html: n.html.slice(0, 300),
                                  summary: (n.failureSummary || '').slice(0, 400) })),
    }));
  }, plan.tags);
  // Keyboard only: where each Tab press lands, from the top of the page.
  const tabStops = [];
  await page.evaluate(() => { document.activeElement?.blur(); window.scrollTo(0, 0); });
  for (let i = 0; i < plan.maxTabs; i += 1) {
    await page.keyboard.press('Tab');
    const stop = await page.evaluate(() => {
      const el = document.activeElement;
      if (!el || el === document.body) return null;
      return { tag: el.tagName.toLowerCase(), href: el.getAttribute('href'),
               text: (el.innerText || el.getAttribute('aria-label') || '').trim().slice(0, 200),
               id: el.id || null };
    });
    if (stop === null) break; // focus left the page: every stop was seen
    // Back at the first stop: Tab went round the whole page.
    if (tabStops.length > 1 && JSON.stringify(stop) === JSON.stringify(tabStops[0])) break;
    tabStops.push(stop);
  }
  await page.close();
  return { violations, tabStops, refused };
}

const result = { axe: AXE_VERSION, pages: {} };
try {
  for (const { name, path } of plan.pages) result.pages[name] = await audit(path);
  fs.writeFileSync(plan.resultPath, JSON.stringify(result, null, 1));
} catch (error) {
  console.error(`a page did not load: ${error.message}`);
  process.exitCode = 1;
} finally {
  await browser.close();
}
