// Drives /usr/bin/chromium with playwright-core through the hosted topic
// pages at 320 px: the subscribe form by keyboard alone, the confirmation
// button, the preference page (a box ticked with Space and saved with
// Enter) and the subscribe form again with JavaScript off. Runs axe-core's
// WCAG 2.1 A and AA rules on each page, through the DevTools protocol,
// which the pages' Content-Security-Policy (no scripts) does not govern.
// Saves screenshots and measures how much of each is not blank.
// Usage: node pages.js URL SUBSCRIBE_PATH CONFIRM_PATH PREFS_PATH OUTDIR;
// prints one JSON object.
const path = require("path");
const fs = require("fs");
const { chromium } = require("playwright-core");

const [url, subscribePath, confirmPath, prefsPath, outdir] =
  process.argv.slice(2);
const axeSource = fs.readFileSync(require.resolve("axe-core/axe.min.js"),
                                  "utf8");

async function check(page) {
  await page.evaluate(axeSource);
  const violations = await page.evaluate(async () => {
    const r = await window.axe.run(document, { runOnly: { type: "tag",
      values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"] } });
    return r.violations.map((v) => ({ id: v.id, nodes: v.nodes.length,
                                      help: v.help }));
  });
  return {
    violations,
    scripts: await page.locator("script").count(),
    forms: await page.locator("form").count(),
    scrollWidth: await page.evaluate(
      () => document.documentElement.scrollWidth),
    heading: (await page.locator("h1").textContent()).trim(),
    status: await page.locator("[role=status]").count() > 0
      ? (await page.locator("[role=status]").textContent()).trim() : null,
  };
}

async function focusedName(page) {
  return page.evaluate(() => {
    const el = document.activeElement;
    return el.id || el.getAttribute("type") || el.tagName;
  });
}

// Returns the share of pixels in a PNG file that are not near white.
async function inked(browser, file) {
  const page = await browser.newPage();
  const data = fs.readFileSync(file).toString("base64");
  const share = await page.evaluate(async (src) => {
    const img = new Image();
    img.src = src;
    await img.decode();
    const canvas = document.createElement("canvas");
    canvas.width = img.width;
    canvas.height = img.height;
    const ctx = canvas.getContext("2d");
    ctx.drawImage(img, 0, 0);
    const px = ctx.getImageData(0, 0, img.width, img.height).data;
    let dark = 0;
    for (let i = 0; i < px.length; i += 4)
      if (px[i] + px[i + 1] + px[i + 2] < 600) dark++;
    return dark / (px.length / 4);
  }, "data:image/png;base64," + data);
  await page.close();
  return share;
}

async function main() {
  const browser = await chromium.launch({
    executablePath: "/usr/bin/chromium",
    args: ["--no-sandbox", "--disable-gpu", "--disable-quic",
           "--no-first-run", "--disable-background-networking",
           "--disable-component-update", "--disable-sync"],
  });
  const result = { shots: {} };
  const shot = (name) => path.join(outdir, name);
  try {
    const context = await browser.newContext({ viewport: { width: 320,
                                                           height: 640 } });
    const page = await context.newPage();

    // The subscribe form, by keyboard alone.
    await page.goto(url + subscribePath);
    result.subscribe = await check(page);
    await page.locator("form").screenshot({
      path: shot("subscribe-form-320.png") });
    await page.keyboard.press("Tab");
    const focused = [await focusedName(page)];
    await page.keyboard.type("gus@example.gov");
    await page.keyboard.press("Tab");
    focused.push(await focusedName(page));
    result.subscribe.focused = focused;
    await Promise.all([page.waitForNavigation(),
                       page.keyboard.press("Enter")]);
    result.sent = await check(page);
    await page.screenshot({ path: shot("sent-320.png"), fullPage: true });

    // The confirmation page shows a button and changes nothing itself.
    await page.goto(url + confirmPath);
    result.confirm = await check(page);

    // The preference page: tick Snow days with Space, save with Enter.
    await page.goto(url + prefsPath);
    result.prefs = await check(page);
    await page.screenshot({ path: shot("prefs-320.png"), fullPage: true });
    await page.focus("#t-snow-days-email");
    await page.keyboard.press("Space");
    await page.keyboard.press("Tab");
    result.prefs.afterBox = await page.evaluate(
      () => document.activeElement.textContent.trim());
    await Promise.all([page.waitForNavigation(),
                       page.keyboard.press("Enter")]);
    result.saved = await check(page);

    // The subscribe form works with JavaScript off.
    const nojs = await browser.newContext({ javaScriptEnabled: false,
      viewport: { width: 320, height: 640 } });
    const plain = await nojs.newPage();
    await plain.goto(url + subscribePath);
    await plain.fill("#email", "hal@example.gov");
    await Promise.all([plain.waitForNavigation(),
                       plain.click("button[type=submit]")]);
    result.nojs = { heading: (await plain.locator("h1").textContent())
                      .trim() };

    for (const name of ["subscribe-form-320.png", "sent-320.png",
                        "prefs-320.png"])
      result.shots[name] = { inked: await inked(browser, shot(name)) };
  } finally {
    await browser.close();
  }
  process.stdout.write(JSON.stringify(result));
}

main().catch((e) => { console.error(e); process.exit(1); });
