/* The admin console: the knowledge base (list, edit, import), a search tester that shows what
 * the bot would do with a sentence and why, the gaps to write articles from, agents and
 * skills, and the KPI dashboard. Signed in with the admin key. */
(function () {
  'use strict';
  var G = window.GW, el = G.el, t = G.t;
  var KEY = 'admin:key';
  var $ = function (id) { return document.getElementById(id); };
  var INTENTS = ['greeting', 'product_inquiry', 'order_status', 'shipping', 'change_order', 'cancel_order',
    'return_refund', 'payment', 'invoice', 'promotion', 'complaint', 'human_agent', 'thanks_goodbye', 'other'];
  var SKILLS = ['zh', 'en', 'presales', 'orders', 'logistics', 'aftersales', 'complaints', 'vip'];
  /** The bot's default thresholds (bot::BotConfig), for the tester's explanation. */
  var BOT = { nearExact: 0.9, answerAlone: 0.55, answer: 0.35, clarify: 0.35, clearMargin: 0.12, closeMargin: 0.02, vetoConfidence: 0.95, vetoBelow: 0.75 };
  var GAP_REASONS = { unanswered: ['未答上', 'unanswered'], handed_off: ['转人工时未解决', 'open at handoff'], rated_badly: ['答后差评', 'rated badly'] };
  var REASONS = {
    explicit_request: t('要求人工', 'asked for a person'), customer_button: t('点击转人工', 'button'), anger: t('愤怒', 'anger'),
    complaint: t('投诉', 'complaint'), vip_sensitive: t('VIP 敏感', 'VIP sensitive'), repeated_failure: t('多次未答上', 'repeated failure'),
    repeated_question: t('重复提问', 'repeated question'), human_only_action: t('需人工操作', 'human-only action')
  };
  var S = { key: null, articles: [], editing: null };

  Array.prototype.forEach.call(document.querySelectorAll('[data-i18n]'), function (n) {
    var parts = n.getAttribute('data-i18n').split('|');
    n.textContent = t(parts[0], parts[1]);
  });
  Array.prototype.forEach.call(document.querySelectorAll('[data-i18n-placeholder]'), function (n) {
    var parts = n.getAttribute('data-i18n-placeholder').split('|');
    n.placeholder = t(parts[0], parts[1]);
  });
  document.documentElement.lang = G.ZH ? 'zh-CN' : 'en';
  INTENTS.forEach(function (i) { $('f-category').appendChild(el('option', null, i, { value: i })); });
  SKILLS.forEach(function (s) {
    var l = $('a-skills').appendChild(el('label', 'check'));
    l.appendChild(el('input', null, null, { type: 'checkbox', value: s, 'data-testid': 'a-skill-' + s }));
    l.appendChild(document.createTextNode(' ' + s));
  });

  function call(method, path, body, contentType) { return G.api(S.key, method, path, body, contentType); }
  function toast(text) {
    var n = document.body.appendChild(el('div', 'toast', text, { role: 'status' }));
    setTimeout(function () { n.remove(); }, 4000);
  }

  // ---- sign in and tabs ------------------------------------------------------------------------
  $('signin-form').addEventListener('submit', function (e) {
    e.preventDefault();
    signIn($('key').value.trim());
  });
  $('signout').addEventListener('click', function () { sessionStorage.removeItem(KEY); location.reload(); });
  function signIn(key) {
    S.key = key;
    $('signin-error').textContent = '';
    // Only an admin may import: listing agents proves the role without changing anything.
    call('GET', '/v1/agents').then(function () {
      sessionStorage.setItem(KEY, key);
      $('signin').hidden = true;
      $('app').hidden = false;
      show(location.hash.slice(1) || 'kb');
    }, function (err) {
      S.key = null;
      $('signin-error').textContent = err.status === 401 || err.status === 403
        ? t('密钥无效。', 'Invalid key.') : t('无法登录：', 'Cannot sign in: ') + err.message;
    });
  }
  var loaders = { kb: loadKb, gaps: loadGaps, agents: loadAgents, stats: loadStats, tester: function () { $('tester-q').focus(); } };
  function show(tab) {
    if (!loaders[tab]) tab = 'kb';
    Array.prototype.forEach.call(document.querySelectorAll('.tab'), function (m) { m.hidden = m.id !== 'tab-' + tab; });
    Array.prototype.forEach.call(document.querySelectorAll('#tabs button'), function (b) {
      b.classList.toggle('on', b.getAttribute('data-tab') === tab);
    });
    history.replaceState(null, '', '#' + tab);
    loaders[tab]();
  }
  Array.prototype.forEach.call(document.querySelectorAll('#tabs button'), function (b) {
    b.addEventListener('click', function () { show(b.getAttribute('data-tab')); });
  });

  // ---- knowledge base -----------------------------------------------------------------------------
  function loadKb() {
    var all = [];
    (function page(cursor) {
      call('GET', '/v1/kb/articles?limit=1000' + (cursor ? '&cursor=' + encodeURIComponent(cursor) : '')).then(function (r) {
        all = all.concat(r.data.items || []);
        if (r.data.next_cursor) return page(r.data.next_cursor);
        S.articles = all;
        renderKb();
      }, function (err) { toast(err.message); });
    })(null);
  }
  function renderKb() {
    var f = $('kb-filter').value.trim().toLowerCase(), loc = $('kb-locale').value;
    var rows = S.articles.filter(function (a) {
      if (loc && a.locale !== loc) return false;
      if (!f) return true;
      return [a.id, a.question, a.answer, a.category].concat(a.similar || []).join('\n').toLowerCase().indexOf(f) >= 0;
    });
    var tbody = G.clear($('kb-rows'));
    rows.slice(0, 300).forEach(function (a) {
      var tr = tbody.appendChild(el('tr', S.editing === a.id ? 'on' : '', null, { 'data-id': a.id, 'data-testid': 'kb-row' }));
      tr.appendChild(el('td', 'mono', a.id));
      tr.appendChild(el('td', null, a.question));
      tr.appendChild(el('td', null, a.category));
      tr.appendChild(el('td', null, a.locale));
      tr.appendChild(el('td', null, a.enabled === false ? '✗' : '✓'));
      tr.addEventListener('click', function () { edit(a); });
    });
    $('kb-count').textContent = t('共 ', '') + rows.length + t(' 篇', ' articles') + (rows.length > 300 ? t('（显示前 300 篇）', ' (first 300 shown)') : '');
  }
  $('kb-filter').addEventListener('input', renderKb);
  $('kb-locale').addEventListener('change', renderKb);
  $('kb-new').addEventListener('click', function () { edit(null); });
  $('kb-cancel').addEventListener('click', function () { $('kb-form').hidden = true; S.editing = null; renderKb(); });

  /** Opens the editor on an article, or on a new one (`a` null; `draft` prefills it). */
  function edit(a, draft) {
    S.editing = a ? a.id : null;
    var d = a || draft || {};
    $('kb-form').hidden = false;
    $('kb-form-title').textContent = a ? t('编辑 ', 'Edit ') + a.id : t('新建文章', 'New article');
    $('f-question').value = d.question || '';
    $('f-similar').value = (d.similar || []).join('\n');
    $('f-answer').value = d.answer || '';
    $('f-category').value = d.category || 'other';
    $('f-locale').value = d.locale || (G.ZH ? 'zh-CN' : 'en');
    $('f-enabled').checked = d.enabled !== false;
    $('f-tags').value = (d.tags || []).join(', ');
    $('kb-delete').hidden = !a;
    $('kb-form-msg').textContent = '';
    renderKb();
    (a ? $('f-answer') : $('f-question')).focus();
  }
  $('kb-form').addEventListener('submit', function (e) {
    e.preventDefault();
    var body = {
      question: $('f-question').value.trim(),
      similar: $('f-similar').value.split('\n').map(function (s) { return s.trim(); }).filter(Boolean),
      answer: $('f-answer').value.trim(),
      category: $('f-category').value,
      locale: $('f-locale').value,
      tags: $('f-tags').value.split(/[,，]/).map(function (s) { return s.trim(); }).filter(Boolean),
      enabled: $('f-enabled').checked
    };
    var req = S.editing ? call('PUT', '/v1/kb/articles/' + encodeURIComponent(S.editing), body) : call('POST', '/v1/kb/articles', body);
    req.then(function (r) {
      var saved = r.data;
      S.articles = S.articles.filter(function (x) { return x.id !== saved.id; }).concat([saved])
        .sort(function (x, y) { return x.id < y.id ? -1 : 1; });
      S.editing = saved.id;
      $('kb-form-title').textContent = t('编辑 ', 'Edit ') + saved.id;
      $('kb-delete').hidden = false;
      $('kb-form-msg').textContent = t('已保存 ', 'Saved ') + saved.id;
      renderKb();
    }, function (err) { $('kb-form-msg').textContent = err.message; });
  });
  $('kb-delete').addEventListener('click', function () {
    var id = S.editing;
    if (!id || !window.confirm(t('删除这篇文章？', 'Delete this article?'))) return;
    call('DELETE', '/v1/kb/articles/' + encodeURIComponent(id)).then(function () {
      S.articles = S.articles.filter(function (x) { return x.id !== id; });
      S.editing = null;
      $('kb-form').hidden = true;
      renderKb();
    }, function (err) { toast(err.message); });
  });

  $('import-file').addEventListener('change', function () {
    var file = $('import-file').files[0];
    if (file) file.text().then(function (text) { $('import-text').value = text; });
  });
  $('import-form').addEventListener('submit', function (e) {
    e.preventDefault();
    var text = $('import-text').value.trim();
    if (!text) return;
    var mode = $('import-mode').value;
    if (mode === 'replace' && !window.confirm(t('全部替换会删除不在导入内容中的文章，继续？', 'Replace deletes every article not in the import. Continue?'))) return;
    var csv = !/^[[{]/.test(text);
    call('POST', '/v1/kb/import?mode=' + mode, text, csv ? 'text/csv' : 'application/json').then(function (r) {
      var d = r.data;
      var lines = [t('新增 ', 'created ') + d.created + t('，更新 ', ', updated ') + d.updated + t('，删除 ', ', deleted ') + d.deleted];
      (d.errors || []).forEach(function (x) { lines.push((x.line != null ? '#' + x.line + ' ' : '') + (x.message || x.error || JSON.stringify(x))); });
      $('import-report').textContent = lines.join('\n');
      loadKb();
    }, function (err) { $('import-report').textContent = err.message; });
  });

  // ---- search tester ---------------------------------------------------------------------------------
  $('tester-form').addEventListener('submit', function (e) {
    e.preventDefault();
    var q = $('tester-q').value.trim(), loc = $('tester-locale').value;
    if (!q) return;
    var out = G.clear($('tester-out'));
    out.appendChild(el('p', 'muted', '…'));
    Promise.all([
      call('GET', '/v1/kb/search?limit=5&q=' + encodeURIComponent(q) + '&locale=' + encodeURIComponent(loc)),
      call('POST', '/v1/nlu/analyze', { text: q, locale: loc })
    ]).then(function (rs) { renderTester(rs[0].data.items || [], rs[1].data); }, function (err) {
      G.clear(out).appendChild(el('p', 'error', err.message));
    });
  });

  /** What the bot would do, by its rules (bot::Bot::turn) with the default thresholds. */
  function predict(hits, nlu) {
    var why = [], intent = nlu.resolved_intent || (nlu.intent && nlu.intent.label);
    var conf = (nlu.intent && nlu.intent.confidence) || 0;
    var neg = nlu.sentiment && nlu.sentiment.label === 'negative';
    if (intent === 'human_agent') return { kind: 'handoff', why: [t('意图是「转人工」', 'the intent is human_agent')] };
    if (intent === 'complaint' && neg) return { kind: 'handoff', why: [t('负面情绪的投诉', 'a complaint with negative sentiment')] };
    var top = hits[0], second = hits[1];
    if (!top || top.score < BOT.clarify) {
      return { kind: 'none', why: [t('没有文章得分 ≥ ', 'no article scores ≥ ') + BOT.clarify + t('：机器人会说答不了，并记为知识缺口', ': the bot says it cannot help, and the question becomes a gap')] };
    }
    var runner = second ? second.score : 0, agrees = top.category === intent && conf >= 0.4;
    why.push(t('最佳文章得分 ', 'best score ') + top.score.toFixed(3) + t('，第二 ', ', runner-up ') + runner.toFixed(3));
    if (top.score >= BOT.nearExact) { why.push(t('几乎完全匹配（≥ 0.9）', 'near-exact match (≥ 0.9)')); return { kind: 'answer', hit: top, why: why }; }
    if (top.score - runner < BOT.closeMargin && !(agrees && second && second.category !== top.category)) {
      why.push(t('前两篇几乎并列：先追问', 'the two best are nearly tied: ask which'));
      return { kind: 'clarify', why: why };
    }
    if (conf >= BOT.vetoConfidence && top.category !== intent && top.score < BOT.vetoBelow) {
      why.push(t('意图模型很确定是别的话题（', 'the intent model is sure of another topic (') + intent + ')');
      return { kind: 'clarify', why: why };
    }
    if (top.score >= BOT.answerAlone) { why.push(t('得分 ≥ 0.55，直接回答', 'score ≥ 0.55: answered')); return { kind: 'answer', hit: top, why: why }; }
    if (agrees) { why.push(t('得分 ≥ 0.35 且意图与分类一致', 'score ≥ 0.35 and the intent agrees with the category')); return { kind: 'answer', hit: top, why: why }; }
    if (top.score - runner >= BOT.clearMargin) { why.push(t('明显领先第二名（≥ 0.12）', 'clearly ahead of the runner-up (≥ 0.12)')); return { kind: 'answer', hit: top, why: why }; }
    why.push(t('得分一般，意图不一致：给出选项让顾客选', 'a fair score the intent does not confirm: offer options'));
    return { kind: 'clarify', why: why };
  }

  function renderTester(hits, nlu) {
    var out = G.clear($('tester-out'));
    var p = predict(hits, nlu);
    var verdict = out.appendChild(el('div', 'card verdict ' + p.kind, null, { 'data-testid': 'verdict', 'data-kind': p.kind }));
    var names = { answer: t('回答', 'Answer'), clarify: t('追问（给出选项）', 'Clarify (offer options)'), handoff: t('转人工', 'Hand off'), none: t('答不了', 'No answer') };
    verdict.appendChild(el('h2', null, t('机器人会：', 'The bot would: ') + names[p.kind]));
    var ul = verdict.appendChild(el('ul'));
    p.why.forEach(function (w) { ul.appendChild(el('li', null, w)); });
    if (p.hit) {
      verdict.appendChild(el('p', 'muted', p.hit.article_id + ' · ' + p.hit.question));
      G.renderText(verdict.appendChild(el('blockquote', null, null, { 'data-testid': 'verdict-answer' })), p.hit.answer);
    }
    verdict.appendChild(el('p', 'muted', t('按机器人的默认阈值推算；多轮规则（重复提问、连续未答上）不在此列。', 'Derived from the bot\'s default thresholds; multi-turn rules (repeats, repeated failures) are not shown.')));

    var hitsBox = out.appendChild(el('div', 'card'));
    hitsBox.appendChild(el('h2', null, t('知识库命中', 'Knowledge-base hits')));
    var tbl = hitsBox.appendChild(el('table', 'grid'));
    var tb = tbl.appendChild(el('tbody', null, null, { 'data-testid': 'hits' }));
    if (!hits.length) tb.appendChild(el('tr')).appendChild(el('td', 'muted', t('没有命中', 'No hits')));
    hits.forEach(function (h) {
      var tr = tb.appendChild(el('tr', null, null, { 'data-testid': 'hit' }));
      var bar = el('div', 'score');
      var fill = bar.appendChild(el('span'));
      fill.style.width = Math.round(Math.max(0, Math.min(1, h.score)) * 100) + '%';
      var td = tr.appendChild(el('td'));
      td.appendChild(bar);
      td.appendChild(el('span', 'mono', h.score.toFixed(3)));
      tr.appendChild(el('td', 'mono', h.article_id));
      var q = tr.appendChild(el('td'));
      q.appendChild(el('div', null, h.question));
      if (h.matched && h.matched !== h.question) q.appendChild(el('div', 'muted', t('匹配：', 'matched: ') + h.matched));
      tr.appendChild(el('td', null, h.category));
    });

    var nluBox = out.appendChild(el('div', 'card', null, { 'data-testid': 'nlu' }));
    nluBox.appendChild(el('h2', null, t('语言理解', 'What the models read')));
    var dl = nluBox.appendChild(el('dl'));
    function row(k, v) { dl.appendChild(el('dt', null, k)); dl.appendChild(el('dd', null, v)); }
    row(t('语言', 'Language'), nlu.language);
    row(t('规范化', 'Normalized'), nlu.normalized);
    row(t('意图', 'Intent'), (nlu.intent.label) + ' ' + (nlu.intent.confidence * 100).toFixed(1) + '%' + (nlu.resolved_intent && nlu.resolved_intent !== nlu.intent.label ? t('（低于阈值，按 ', ' (below the threshold: acts as ') + nlu.resolved_intent + t(' 处理）', ')') : ''));
    row(t('候选意图', 'Top intents'), (nlu.intents || []).map(function (i) { return i.label + ' ' + (i.confidence * 100).toFixed(0) + '%'; }).join(' · '));
    row(t('情绪', 'Sentiment'), nlu.sentiment.label + ' ' + (nlu.sentiment.score != null ? nlu.sentiment.score.toFixed(2) : ''));
    var ents = [];
    Object.keys(nlu.entities || {}).forEach(function (k) { (nlu.entities[k] || []).forEach(function (v) { ents.push(k + ': ' + v); }); });
    row(t('实体', 'Entities'), ents.join(' · ') || '—');
  }

  // ---- gaps --------------------------------------------------------------------------------------------
  function loadGaps() {
    call('GET', '/v1/kb/gaps?limit=100').then(function (r) {
      var tb = G.clear($('gap-rows'));
      var items = r.data.items || [];
      if (!items.length) tb.appendChild(el('tr')).appendChild(el('td', 'muted', t('暂无缺口', 'No gaps yet'), { colspan: 6 }));
      items.forEach(function (g) {
        var tr = tb.appendChild(el('tr', null, null, { 'data-testid': 'gap' }));
        tr.appendChild(el('td', null, g.question));
        tr.appendChild(el('td', 'num', String(g.count)));
        tr.appendChild(el('td', null, Object.keys(g.reasons || {}).map(function (k) {
          var l = GAP_REASONS[k]; return (l ? t(l[0], l[1]) : k) + ' ×' + g.reasons[k];
        }).join(', ')));
        tr.appendChild(el('td', 'muted', (g.examples || []).join(' / ')));
        tr.appendChild(el('td', 'muted', g.last_seen_at ? new Date(g.last_seen_at).toLocaleString() : ''));
        var b = tr.appendChild(el('td')).appendChild(el('button', null, t('据此写文章', 'Write an article'), { type: 'button', 'data-testid': 'gap-write' }));
        b.addEventListener('click', function () { writeFromGap(g); });
      });
    }, function (err) { toast(err.message); });
  }
  function writeFromGap(g) {
    var draft = {
      question: g.question,
      similar: (g.examples || []).filter(function (x) { return x !== g.question; }),
      locale: /[\u4e00-\u9fff]/.test(g.question) ? 'zh-CN' : 'en'
    };
    show('kb');
    edit(null, draft);
    // The intent model's reading suggests the category.
    call('POST', '/v1/nlu/analyze', { text: g.question }).then(function (r) {
      var c = r.data.resolved_intent || (r.data.intent && r.data.intent.label);
      if (c && !S.editing) $('f-category').value = c;
    }, function () {});
  }

  // ---- agents and skills -----------------------------------------------------------------------------
  function loadAgents() {
    call('GET', '/v1/agents').then(function (r) {
      var tb = G.clear($('agent-rows'));
      (r.data.items || []).forEach(function (a) {
        var tr = tb.appendChild(el('tr', null, null, { 'data-testid': 'agent-row', 'data-id': a.id }));
        tr.appendChild(el('td', null, a.name));
        tr.appendChild(el('td', null, a.role === 'supervisor' ? t('主管', 'supervisor') : t('客服', 'agent')));
        var skillsTd = tr.appendChild(el('td'));
        var skills = skillsTd.appendChild(el('input', 'skills', null, { value: (a.skills || []).join(', '), 'aria-label': t('技能', 'Skills') }));
        var save = skillsTd.appendChild(el('button', null, t('保存', 'Save'), { type: 'button' }));
        save.addEventListener('click', function () {
          var list = skills.value.split(/[,，\s]+/).map(function (s) { return s.trim(); }).filter(Boolean);
          call('PATCH', '/v1/agents/' + a.id, { skills: list }).then(function () { toast(t('已保存', 'Saved')); loadAgents(); }, function (err) { toast(err.message); });
        });
        var st = tr.appendChild(el('td')).appendChild(el('select'));
        ['online', 'away', 'offline'].forEach(function (s) { st.appendChild(el('option', null, s, { value: s })); });
        st.value = a.status;
        st.addEventListener('change', function () {
          call('PUT', '/v1/agents/' + a.id + '/presence', { status: st.value }).then(loadAgents, function (err) { toast(err.message); });
        });
        tr.appendChild(el('td', 'num', a.load + ' / ' + a.max_concurrent));
        var del = tr.appendChild(el('td')).appendChild(el('button', 'danger', t('删除', 'Delete'), { type: 'button' }));
        del.addEventListener('click', function () {
          if (!window.confirm(t('删除客服 ', 'Delete agent ') + a.name + '?')) return;
          call('DELETE', '/v1/agents/' + a.id).then(loadAgents, function (err) { toast(err.message); });
        });
      });
    }, function (err) { toast(err.message); });
  }
  $('agent-form').addEventListener('submit', function (e) {
    e.preventDefault();
    var skills = Array.prototype.filter.call(document.querySelectorAll('#a-skills input'), function (c) { return c.checked; })
      .map(function (c) { return c.value; });
    call('POST', '/v1/agents', { name: $('a-name').value.trim(), skills: skills, max_concurrent: Number($('a-max').value) || 5, role: $('a-role').value }).then(function (r) {
      var box = G.clear($('a-token'));
      box.hidden = false;
      box.appendChild(el('p', null, t('令牌只显示这一次，请交给 ', 'The token is shown once; give it to ') + r.data.agent.name + t('：', ':')));
      box.appendChild(el('code', 'mono', r.data.token, { 'data-testid': 'a-token-value' }));
      $('a-name').value = '';
      loadAgents();
    }, function (err) { toast(err.message); });
  });

  // ---- KPI dashboard ---------------------------------------------------------------------------------
  function isoDay(d) { return d.toISOString().slice(0, 10); }
  var now = new Date();
  $('s-to').value = isoDay(now);
  $('s-from').value = isoDay(new Date(now.getTime() - 6 * 86400000));
  $('stats-form').addEventListener('submit', function (e) { e.preventDefault(); loadStats(); });

  function loadStats() {
    // Local days: from the first day's midnight to the midnight after the last day, and the
    // daily series in the browser's time zone.
    var from = new Date($('s-from').value + 'T00:00:00'), to = new Date($('s-to').value + 'T00:00:00');
    to = new Date(to.getTime() + 86400000);
    var out = G.clear($('stats-out'));
    if (isNaN(from.getTime()) || isNaN(to.getTime()) || from >= to) {
      out.appendChild(el('div', 'card nodata', t('请选择有效的日期范围', 'Choose a valid period'), { 'data-testid': 'no-data' }));
      return;
    }
    var q = '?from=' + encodeURIComponent(from.toISOString()) + '&to=' + encodeURIComponent(to.toISOString()) +
      '&tz_offset_minutes=' + (-from.getTimezoneOffset());
    call('GET', '/v1/stats' + q).then(function (r) { renderStats(r.data || {}); }, function (err) {
      G.clear(out);
      out.appendChild(el('div', 'card nodata', err.status === 404 ? t('暂无数据', 'No data') : err.message, { 'data-testid': 'no-data' }));
    });
  }

  /** The first numeric value among `keys` in `o` (p50 of a {p50, p90} object). */
  function pick(o, keys) {
    for (var i = 0; i < keys.length; i++) {
      var v = o && o[keys[i]];
      if (typeof v === 'number') return v;
      if (v && typeof v === 'object' && typeof v.p50 === 'number') return v.p50;
    }
    return null;
  }
  var METRICS = [
    { keys: ['conversations', 'conversation_count', 'total'], name: t('会话数', 'Conversations'), fmt: String },
    { keys: ['bot_containment_rate', 'containment_rate', 'containment'], name: t('机器人独立解决率', 'Bot containment'), fmt: G.pct, rate: true },
    { keys: ['handoff_rate'], name: t('转人工率', 'Handoff rate'), fmt: G.pct, rate: true },
    { keys: ['first_response_seconds', 'first_response_time', 'first_response'], name: t('首次响应（p50）', 'First response (p50)'), fmt: G.fmtDuration },
    { keys: ['resolution_rate'], name: t('解决率', 'Resolution rate'), fmt: G.pct, rate: true },
    { keys: ['transfer_rate'], name: t('转接率', 'Transfer rate'), fmt: G.pct, rate: true },
    { keys: ['good_rate', 'csat_good_rate'], name: t('好评率', 'Good rate'), fmt: G.pct, rate: true },
    { keys: ['attitude_complaint_rate'], name: t('服务态度投诉率', 'Attitude complaints'), fmt: G.pct, rate: true },
    { keys: ['response_within_3min_rate'], name: t('3分钟响应率', '3-minute response'), fmt: G.pct, rate: true },
    { keys: ['average_response_seconds'], name: t('平均响应时间', 'Average response'), fmt: G.fmtDuration },
    { keys: ['first_contact_resolution_rate'], name: t('首次接触解决率', 'First-contact resolution'), fmt: G.pct, rate: true },
    { keys: ['left_with_bot_rate'], name: t('机器人阶段离开率', 'Left with the bot'), fmt: G.pct, rate: true },
    { keys: ['repeated_rate'], name: t('顾客重复提问率', 'Customer repeated'), fmt: G.pct, rate: true }
  ];

  function renderStats(d) {
    var out = G.clear($('stats-out'));
    var tiles = out.appendChild(el('div', 'tiles', null, { 'data-testid': 'tiles' }));
    METRICS.forEach(function (m) {
      var v = pick(d, m.keys);
      var tile = tiles.appendChild(el('div', 'tile'));
      tile.appendChild(el('div', 'muted', m.name));
      tile.appendChild(el('div', 'big', v == null ? '–' : m.fmt(v)));
      var fr = d.first_response_seconds || d.first_response_time || d.first_response;
      if (m.keys[0] === 'first_response_seconds' && fr && typeof fr === 'object' && fr.p90 != null) {
        tile.appendChild(el('div', 'muted', 'p90 ' + G.fmtDuration(fr.p90)));
      }
      if (m.keys[0] === 'good_rate' && v != null) tile.classList.toggle('bad', v < 0.8);
    });
    var charts = out.appendChild(el('div', 'charts'));
    var series = d.series || d.daily || d.days || d.buckets;
    if (Array.isArray(series) && series.length) {
      METRICS.filter(function (m) { return ['conversations', 'bot_containment_rate', 'first_response_seconds', 'good_rate'].indexOf(m.keys[0]) >= 0; })
        .forEach(function (m) {
          var pts = series.map(function (b) { return [b.date || b.day || b.from || b.start || '', pick(b, m.keys) || 0]; });
          var card = charts.appendChild(el('div', 'card'));
          card.appendChild(el('h3', null, m.name));
          card.appendChild(G.lineChart(pts, { fmt: m.fmt, max: m.rate ? 1 : null, title: m.name }));
        });
    } else {
      var rates = METRICS.filter(function (m) { return m.rate && pick(d, m.keys) != null; })
        .map(function (m) { return [m.name, pick(d, m.keys)]; });
      if (rates.length) {
        var rc = charts.appendChild(el('div', 'card'));
        rc.appendChild(el('h3', null, t('各项比率', 'Rates')));
        rc.appendChild(G.barChart(rates, { fmt: G.pct }));
      }
    }
    var reasons = d.handoff_reasons;
    if (reasons) {
      var pairs = Array.isArray(reasons)
        ? reasons.map(function (x) { return [x.reason || x.label, x.count || x.value || 0]; })
        : Object.keys(reasons).map(function (k) { return [k, reasons[k]]; });
      pairs = pairs.map(function (p) { return [REASONS[p[0]] || p[0], p[1]]; }).sort(function (a, b) { return b[1] - a[1]; });
      var hc = charts.appendChild(el('div', 'card'));
      hc.appendChild(el('h3', null, t('转人工原因', 'Handoff reasons')));
      hc.appendChild(G.barChart(pairs));
    }
    var agents = d.per_agent || d.agents;
    if (Array.isArray(agents) && agents.length) {
      var ac = out.appendChild(el('div', 'card'));
      ac.appendChild(el('h3', null, t('按客服', 'Per agent')));
      var tbl = ac.appendChild(el('table', 'grid'));
      var head = tbl.appendChild(el('tr'));
      [t('客服', 'Agent'), t('会话', 'Conversations'), t('首次响应', 'First response'), t('解决率', 'Resolved'), t('好评率', 'Good rate')].forEach(function (h) { head.appendChild(el('th', null, h)); });
      agents.forEach(function (a) {
        var tr = tbl.appendChild(el('tr'));
        tr.appendChild(el('td', null, a.name || a.agent_id || ''));
        tr.appendChild(el('td', 'num', String(pick(a, ['conversations']) == null ? '–' : pick(a, ['conversations']))));
        var fr = pick(a, ['first_response_seconds', 'first_response_time', 'first_response']);
        tr.appendChild(el('td', 'num', fr == null ? '–' : G.fmtDuration(fr)));
        tr.appendChild(el('td', 'num', G.pct(pick(a, ['resolution_rate']))));
        tr.appendChild(el('td', 'num', G.pct(pick(a, ['good_rate']))));
      });
    }
  }

  var saved = sessionStorage.getItem(KEY);
  if (saved) signIn(saved);
})();
