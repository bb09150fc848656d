// Drives /usr/bin/chromium with playwright-core: logs in to the
// dashboard through its form, reads the DOM, saves screenshots at 320 px
// and 1024 px, and runs axe-core's WCAG 2.1 A and AA rules.
// axe-core is evaluated through the DevTools protocol, which the page's
// Content-Security-Policy (no scripts) does not govern.
// Usage: node dashboard.js URL TOKEN OUTDIR; prints one JSON object.
const path = require("path");
const fs = require("fs");
const { chromium } = require("playwright-core");

const [url, token, outdir] = process.argv.slice(2);
const axeSource = fs.readFileSync(require.resolve("axe-core/axe.min.js"),
                                  "utf8");

async function main() {
  const browser = await chromium.launch({
    executablePath: "/usr/bin/chromium",
    args: ["--no-sandbox", "--disable-gpu", "--disable-quic",
           "--no-first-run", "--disable-background-networking",
           "--disable-component-update", "--disable-sync"],
  });
  const result = {};
  try {
    const context = await browser.newContext({ viewport: { width: 320,
                                                           height: 640 } });
    const page = await context.newPage();
    await page.goto(url + "/admin/");
    await page.fill("#token", token);
    await page.click("button[type=submit]");
    await page.waitForSelector("svg.funnel");
    result.title = await page.title();
    result.funnels = await page.locator("svg.funnel").count();
    result.bars = await page.locator("svg.funnel rect.bar").count();
    result.lines = await page.locator("svg.flow polyline.line").count();
    result.tables = await page.locator("table").count();
    result.rules = await page.locator("#rules tbody tr").allTextContents();
    result.scripts = await page.locator("script").count();
    result.cookies = (await context.cookies()).map(
      (c) => ({ name: c.name, httpOnly: c.httpOnly, sameSite: c.sameSite }));
    result.scrollWidth = await page.evaluate(
      () => document.documentElement.scrollWidth);
    await page.screenshot({ path: path.join(outdir, "dashboard-320.png"),
                            fullPage: true });
    await page.setViewportSize({ width: 1024, height: 768 });
    await page.screenshot({ path: path.join(outdir, "dashboard-1024.png"),
                            fullPage: true });
    await page.evaluate(axeSource);
    result.violations = await page.evaluate(async () => {
      const r = await window.axe.run(document, { runOnly: { type: "tag",
        values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"] } });
      return r.violations.map((v) => ({ id: v.id, nodes: v.nodes.length,
                                        help: v.help }));
    });
    // The login page is checked too.
    const login = await browser.newPage();
    await login.goto(url + "/admin/");
    await login.evaluate(axeSource);
    result.loginViolations = await login.evaluate(async () => {
      const r = await window.axe.run(document, { runOnly: { type: "tag",
        values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"] } });
      return r.violations.map((v) => v.id);
    });
  } finally {
    await browser.close();
  }
  process.stdout.write(JSON.stringify(result));
}

main().catch((e) => { console.error(e); process.exit(1); });
