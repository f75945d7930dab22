// The widget loses its connection, an agent writes meanwhile, and the message appears once
// the connection is back: replayed from the store (`after_seq`), without a page reload and
// without showing anything twice.

import { api, assert, createAgent, newContext, run, shot, step, waitText, WAIT_MS, BASE } from './lib.mjs';

await run('reconnect', async (browser) => {
  const agent = await createAgent('重连客服');
  await api('PUT', '/v1/agents/me/presence', agent.token, { status: 'online' });
  step('agent online');

  const ctx = await newContext(browser, 'widget');
  const shop = await ctx.newPage();
  await shop.goto(BASE + '/');
  await shop.evaluate(() => { window.__sameDocument = true; });
  await shop.getByTestId('bubble').click();
  await shop.getByTestId('human').click();
  await waitText(shop.getByTestId('status'), '重连客服');
  const conv = await shop.evaluate(() => window.ShopChat.conversationId());
  const log = shop.getByTestId('log');
  await shop.waitForSelector('#shopchat-root[data-connected="true"]', { state: 'attached', timeout: WAIT_MS });
  step(`conversation ${conv} assigned`);

  const say = (text, id) => api('POST', `/v1/conversations/${conv}/messages`, agent.token, { text, client_message_id: id });
  await say('第一条：您好，请问有什么可以帮您？', 'a-1');
  await waitText(log.locator('[data-role="agent"]'), '第一条');

  // The network goes away: the widget drops its socket and waits for the network.
  await ctx.setOffline(true);
  await shop.waitForSelector('#shopchat-root:not([data-connected])', { state: 'attached', timeout: WAIT_MS });
  await waitText(shop.getByTestId('net'), '网络已断开');
  step('offline');

  await say('第二条：断线期间发出的消息', 'a-2');
  await say('第三条：还有这一条', 'a-3');
  assert((await log.locator('[data-role="agent"]').count()) === 1, 'nothing arrives while offline');
  await shot(shop, 'widget-offline');

  await ctx.setOffline(false);
  await waitText(log.locator('[data-role="agent"]'), '第三条');
  await shop.waitForSelector('#shopchat-root[data-connected="true"]', { state: 'attached', timeout: WAIT_MS });
  const texts = await log.locator('[data-role="agent"]').allTextContents();
  assert(texts.length === 3, `each agent message once, in order: ${JSON.stringify(texts)}`);
  assert(texts[0].includes('第一条') && texts[1].includes('第二条') && texts[2].includes('第三条'), `order: ${JSON.stringify(texts)}`);
  assert(await shop.evaluate(() => window.__sameDocument === true), 'no page reload');
  assert((await shop.getByTestId('net').textContent()) === '', 'the offline notice is gone');
  step('replayed after the reconnect');

  // A reload picks the conversation up again from storage and replays the whole transcript.
  await shop.reload();
  await shop.getByTestId('bubble').click();
  await waitText(log.locator('[data-role="agent"]'), '第三条');
  const again = await log.locator('[data-role="agent"]').count();
  assert(again === 3, `after a reload the transcript is back once (${again})`);
  await shot(shop, 'widget-after-reconnect');

  // The customer's conversation is closed elsewhere: the next message starts a new one, and
  // the bot answers it there.
  const saved = await shop.evaluate(() => {
    for (let i = 0; i < localStorage.length; i++) {
      const k = localStorage.key(i);
      if (k.startsWith('shopchat:')) return JSON.parse(localStorage.getItem(k));
    }
    return null;
  });
  assert(saved && saved.id === conv && saved.token, 'the widget keeps its conversation for the next page');
  await api('POST', `/v1/conversations/${conv}/close`, saved.token, {});
  await waitText(log.locator('.system'), '对话已结束');
  await shop.getByTestId('input').fill('下单后多久发货');
  await shop.getByTestId('input').press('Enter');
  await shop.waitForFunction((old) => window.ShopChat.conversationId() && window.ShopChat.conversationId() !== old, conv, { timeout: WAIT_MS });
  await waitText(log.locator('[data-role="bot"][data-seq]'), '发货');
  step('after a close, the next message starts a new conversation');

  // An English browser gets the English widget.
  const en = await newContext(browser, 'widget-en', { locale: 'en-US' });
  const enPage = await en.newPage();
  await enPage.goto(BASE + '/');
  await enPage.getByTestId('bubble').click();
  await waitText(enPage.getByTestId('human'), 'Talk to a person');
  assert((await enPage.getByTestId('input').getAttribute('placeholder')).startsWith('Type your question'), 'English placeholder');
  step('an English browser gets the English widget');
});
