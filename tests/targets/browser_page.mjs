// Opens a page in Debian's chromium through playwright-core and prints the JSON the onnxjit demo
// page puts in #result once its title is "done" or "error" (test_wasm_browser.py, threads variant:
// --dump-dom cannot wait for Workers, its virtual time runs out first).
//   node browser_page.mjs URL PROFILE_DIR
import { createRequire } from 'node:module';

const require = createRequire(new URL('../../web/package.json', import.meta.url));
const { chromium } = require('playwright-core');
const [url, profile] = process.argv.slice(2);
const context = await chromium.launchPersistentContext(profile, {
  executablePath: '/usr/bin/chromium',
  headless: true,
  args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking',
         '--disable-component-update', '--disable-sync', '--no-first-run'],
});
try {
  const page = await context.newPage();
  page.on('console', (m) => console.error(`console: ${m.text()}`));
  await page.goto(url);
  await page.waitForFunction(() => ['done', 'error'].includes(document.title), null,
                             { timeout: 60_000 });
  console.log(await page.textContent('#result'));
} finally {
  await context.close();
}
