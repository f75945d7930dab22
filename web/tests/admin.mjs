// The admin console: sign in with the admin key, the knowledge base, the search tester (what
// the bot would answer and why), creating an article and finding it, the gaps list with
// "write an article from this", agents, and the dashboard (the KPIs of the last seven local days from /v1/stats).

import { api, ADMIN_KEY, assert, demoArticle, newContext, pageProblems, run, shot, step, waitText, WAIT_MS, BASE } from './lib.mjs';

const UNIQUE = `浏览器测试专用问题${Date.now() % 100000}`;
const GAP = '你们店可以把快递寄到火星基地吗';

await run('admin', async (browser) => {
  const faq = await demoArticle('return_refund', 'zh-CN');
  // A question the bot cannot answer, so the gaps list has something to show.
  const started = await api('POST', '/v1/conversations', null, { customer: { locale: 'zh-CN' } });
  const c = started.data;
  await api('POST', `/v1/conversations/${c.conversation.id}/messages`, c.token, { text: GAP, client_message_id: 'gap-1' });

  const ctx = await newContext(browser, 'admin');
  const page = await ctx.newPage();
  const res = await page.goto(BASE + '/admin');
  const csp = res.headers()['content-security-policy'] || '';
  assert(/script-src 'self'/.test(csp) && !/unsafe-inline/.test(csp), `strict CSP on /admin, got ${csp}`);
  await page.getByTestId('admin-key').fill('wrong-key');
  await page.getByTestId('signin').click();
  await waitText(page.locator('#signin-error'), '密钥无效');
  await page.getByTestId('admin-key').fill(ADMIN_KEY);
  await page.getByTestId('signin').click();
  await page.getByTestId('kb-row').nth(50).waitFor({ timeout: WAIT_MS });
  step(`signed in; ${await page.getByTestId('kb-row').count()} articles listed`);
  await shot(page, 'admin-kb');

  // ---- the search tester: a demo question is answered, with its reasons ----------------------
  await page.getByTestId('tab-tester').click();
  await page.getByTestId('tester-q').fill(faq.question);
  await page.getByTestId('tester-go').click();
  const verdict = page.getByTestId('verdict');
  await verdict.waitFor({ timeout: WAIT_MS });
  assert((await verdict.getAttribute('data-kind')) === 'answer', `the tester predicts an answer for ${faq.question}`);
  await waitText(page.getByTestId('verdict-answer'), faq.answer.slice(0, 10));
  await waitText(page.getByTestId('hit').first(), faq.id);
  await waitText(page.getByTestId('nlu'), 'return_refund');
  await shot(page, 'admin-search-tester');
  step('the search tester explains the answer');

  // ---- create an article and find it --------------------------------------------------------------
  await page.getByTestId('tab-kb').click();
  await page.getByTestId('kb-new').click();
  await page.getByTestId('f-question').fill(UNIQUE);
  await page.getByTestId('f-similar').fill('浏览器测试的另一种问法');
  await page.getByTestId('f-answer').fill('这是浏览器测试写的答案：<b>不是粗体</b>\n第二行 https://example.com/help');
  await page.getByTestId('f-category').selectOption('promotion');
  await page.getByTestId('kb-save').click();
  await waitText(page.getByTestId('kb-form-msg'), '已保存');
  const saved = (await page.getByTestId('kb-form-msg').textContent()).replace(/^已保存\s*/, '').trim();
  await page.getByTestId('kb-filter').fill(UNIQUE);
  await waitText(page.getByTestId('kb-row'), saved);
  assert((await page.getByTestId('kb-row').count()) === 1, 'the filter finds exactly the new article');
  await page.getByTestId('tab-tester').click();
  await page.getByTestId('tester-q').fill(UNIQUE);
  await page.getByTestId('tester-go').click();
  await waitText(page.getByTestId('hit').first(), saved);
  await waitText(page.getByTestId('verdict-answer'), '<b>不是粗体</b>');
  assert((await page.getByTestId('verdict-answer').locator('b').count()) === 0, 'article answers are shown as text');
  assert((await page.getByTestId('verdict-answer').locator('a[href="https://example.com/help"]').count()) === 1, 'links in answers are links');
  step(`article ${saved} created and found by the search`);

  // ---- import: one good row and one broken row ----------------------------------------------------
  await page.getByTestId('tab-kb').click();
  await page.getByTestId('import-text').fill(JSON.stringify([
    { question: `${UNIQUE} 导入`, answer: '导入的答案', category: 'invoice', locale: 'zh-CN' },
    { question: '', answer: '没有问题的行' },
  ]));
  await page.getByTestId('import-go').click();
  await waitText(page.getByTestId('import-report'), '新增 1');
  assert(/#\d+|required|question/.test(await page.getByTestId('import-report').textContent()), 'the broken row is reported');
  await page.getByTestId('kb-filter').fill(`${UNIQUE} 导入`);
  await waitText(page.getByTestId('kb-row'), '导入');
  step('import: the good row is in, the broken one reported');

  // ---- gaps: write an article from one ----------------------------------------------------------------
  await page.getByTestId('tab-gaps').click();
  const gap = page.getByTestId('gap').filter({ hasText: GAP });
  await gap.waitFor({ timeout: WAIT_MS });
  await shot(page, 'admin-gaps');
  await gap.getByTestId('gap-write').click();
  await page.getByTestId('kb-form').waitFor({ timeout: WAIT_MS });
  assert((await page.getByTestId('f-question').inputValue()) === GAP, 'the editor starts from the gap question');
  step('a gap opens the article editor');

  // ---- agents ---------------------------------------------------------------------------------------------
  await page.getByTestId('tab-agents').click();
  await page.getByTestId('a-name').fill('后台新建客服');
  await page.getByTestId('a-skill-zh').check();
  await page.getByTestId('a-skill-orders').check();
  await page.getByTestId('a-create').click();
  await waitText(page.getByTestId('a-token'), '令牌');
  const token = (await page.getByTestId('a-token-value').textContent()).trim();
  const me = await api('GET', '/v1/agents/me', token);
  assert(me.data.name === '后台新建客服' && me.data.skills.includes('orders'), `the new agent's token works: ${JSON.stringify(me.data)}`);
  await waitText(page.getByTestId('agent-row'), '后台新建客服');
  await shot(page, 'admin-agents');
  step('agent created from the admin page');

  // ---- dashboard ------------------------------------------------------------------------------------------
  // The dashboard reads /v1/stats for the chosen local days; its tiles show the API's figures.
  const answer = page.waitForResponse((r) => new URL(r.url()).pathname === '/v1/stats');
  await page.getByTestId('tab-stats').click();
  const response = await answer;
  assert(response.status() === 200, `GET /v1/stats answers 200 (${response.status()})`);
  const query = new URL(response.url()).searchParams;
  assert(query.get('tz_offset_minutes') !== null && query.get('from') && query.get('to'), `local days asked for: ${response.url()}`);
  const figures = await response.json();
  assert(figures.conversations >= 1, `today's conversation is counted: ${JSON.stringify(figures).slice(0, 300)}`);
  assert(Array.isArray(figures.series) && figures.series.length === 7, `seven days in the series (${figures.series && figures.series.length})`);
  await waitText(page.getByTestId('tiles'), String(figures.conversations));
  const charts = await page.locator('#stats-out svg').count();
  assert(charts >= 4, `the trend charts are drawn (${charts})`);
  step(`dashboard: ${figures.conversations} conversations, containment ${figures.bot_containment_rate}, ${charts} charts`);
  await shot(page, 'admin-dashboard');

  const problems = pageProblems();
  assert(problems.length === 0, `no page errors: ${problems.join('; ')}`);
});
