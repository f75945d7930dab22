// The widget on a shop page served from another origin (as on a real shop's site): one
// script tag pointing at the gateway, and the conversation works across origins (CORS on the
// API, the socket by its own URL).

import http from 'node:http';
import { assert, demoArticle, newContext, run, shot, step, waitText, BASE } from './lib.mjs';

await run('cross-origin', async (browser) => {
  const faq = await demoArticle('shipping', 'zh-CN');
  const page = `<!doctype html><html lang="zh-CN"><head><meta charset="utf-8"><title>别家小店</title></head>
<body><h1>别家小店</h1><script src="${BASE}/widget.js" async></script></body></html>`;
  const server = http.createServer((req, res) => {
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
    res.end(page);
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const shopOrigin = `http://127.0.0.1:${server.address().port}`;
  assert(shopOrigin !== new URL(BASE).origin, 'the shop is another origin');
  try {
    const ctx = await newContext(browser, 'widget');
    const shop = await ctx.newPage();
    await shop.goto(shopOrigin + '/');
    await shop.getByTestId('bubble').click();
    const input = shop.getByTestId('input');
    await input.fill(faq.question);
    await input.press('Enter');
    await waitText(shop.getByTestId('log').locator('[data-role="bot"]'), faq.answer.slice(0, 12));
    step(`the bot answered on ${shopOrigin}, a page of another origin`);
    await shop.waitForSelector('#shopchat-root[data-connected="true"]', { state: 'attached' });
    step('the socket is connected across origins');
    await shot(shop, 'widget-cross-origin');
  } finally {
    server.close();
  }
});
