/* The agent console: sign in with an agent token, go online, answer the conversations the
 * router assigns, with the handoff package beside each chat. Live updates come over the
 * agent socket (`/v1/agents/me/ws`); every action is one REST call. */
(function () {
  'use strict';
  var G = window.GW, el = G.el, t = G.t;
  var TOKEN_KEY = 'console:token', RUNG_KEY = 'console:rung';
  /** Reconnect backoff: first retry soon, then doubling up to this. */
  var MAX_BACKOFF_MS = 10000;
  /** The customer's typing indicator disappears after this long without news. */
  var TYPING_SHOW_MS = 4000;
  /** The agent's typing is announced to the customer at most this often. */
  var TYPING_SEND_MS = 2500;
  var SKILLS = ['presales', 'orders', 'logistics', 'aftersales', 'complaints', 'zh', 'en', 'vip'];
  var REASONS = {
    explicit_request: ['顾客要求转人工', 'Asked for a person'],
    customer_button: ['顾客点击转人工', 'Pressed "talk to a person"'],
    anger: ['顾客情绪激动', 'Angry customer'],
    complaint: ['投诉', 'Complaint'],
    vip_sensitive: ['VIP 敏感事项', 'VIP, sensitive matter'],
    repeated_failure: ['机器人多次未答上', 'Bot failed repeatedly'],
    repeated_question: ['顾客重复提问', 'Question repeated'],
    human_only_action: ['需人工处理的操作', 'Needs a person to act']
  };
  var SENTIMENT = { negative: ['负面', 'negative'], neutral: ['中性', 'neutral'], positive: ['正面', 'positive'] };
  function label(map, key) { var v = map[key]; return v ? t(v[0], v[1]) : key; }

  var $ = function (id) { return document.getElementById(id); };
  var S = {
    token: null, me: null, convs: {}, selected: null, ws: null, wsWanted: false, backoff: 500,
    kb: null, lastTyping: 0, pendingSend: null, action: null, tagsUnsupported: false
  };

  // ---- language -----------------------------------------------------------------------------
  Array.prototype.forEach.call(document.querySelectorAll('[data-i18n]'), function (n) {
    var parts = n.getAttribute('data-i18n').split('|');
    n.textContent = t(parts[0], parts[1]);
  });
  Array.prototype.forEach.call(document.querySelectorAll('[data-i18n-placeholder]'), function (n) {
    var parts = n.getAttribute('data-i18n-placeholder').split('|');
    n.placeholder = t(parts[0], parts[1]);
  });
  document.documentElement.lang = G.ZH ? 'zh-CN' : 'en';

  function call(method, path, body) { return G.api(S.token, method, path, body); }

  // ---- sign in --------------------------------------------------------------------------------
  $('signin-form').addEventListener('submit', function (e) {
    e.preventDefault();
    signIn($('token').value.trim());
  });
  $('signout').addEventListener('click', function () {
    sessionStorage.removeItem(TOKEN_KEY);
    location.reload();
  });

  function signIn(token) {
    $('signin-error').textContent = '';
    S.token = token;
    call('GET', '/v1/agents/me').then(function (r) {
      S.me = r.data;
      sessionStorage.setItem(TOKEN_KEY, token);
      $('signin').hidden = true;
      $('app').hidden = false;
      $('me').textContent = S.me.name + (S.me.role === 'supervisor' ? t('（主管）', ' (supervisor)') : '');
      $('presence').value = S.me.status;
      document.body.setAttribute('data-presence', S.me.status);
      unlockAudio();
      loadKb();
      connect();
    }, function (err) {
      S.token = null;
      $('signin-error').textContent = err.status === 401 || err.status === 403
        ? t('令牌无效，或不是客服账号。', 'Invalid token, or not an agent account.')
        : t('无法登录：', 'Cannot sign in: ') + err.message;
    });
  }

  $('presence').addEventListener('change', function () {
    var status = $('presence').value;
    call('PUT', '/v1/agents/me/presence', { status: status }).then(function (r) {
      S.me = r.data;
      $('presence').value = r.data.status;
      document.body.setAttribute('data-presence', r.data.status);
    }, function (err) {
      $('presence').value = S.me.status;
      toast(err.message);
    });
  });

  /** The knowledge base's answers, for quick replies (readable by supervisors; agents may
   *  get 403, and then the console offers none). */
  function loadKb() {
    call('GET', '/v1/kb/articles?limit=1000').then(function (r) {
      S.kb = (r.data.items || []).filter(function (a) { return a.enabled !== false; });
      renderQuick();
    }, function () { S.kb = null; });
  }

  // ---- the agent socket ---------------------------------------------------------------------
  function connect() {
    S.wsWanted = true;
    if (S.ws && S.ws.readyState <= 1) return;
    var url = location.origin.replace(/^http/, 'ws') + '/v1/agents/me/ws?token=' + encodeURIComponent(S.token);
    var ws = new WebSocket(url);
    S.ws = ws;
    var fresh = {};
    ws.onopen = function () {
      S.backoff = 500;
      $('conn').textContent = '';
      document.body.setAttribute('data-connected', 'true');
      // After a reconnect: forget conversations that are no longer ours.
      call('GET', '/v1/agents/me/conversations').then(function (r) {
        var held = {};
        (r.data.items || []).forEach(function (v) { held[v.id] = true; });
        Object.keys(S.convs).forEach(function (id) { if (!held[id] && !fresh[id]) drop(id); });
      }, function () {});
    };
    ws.onmessage = function (e) {
      var ev;
      try { ev = JSON.parse(e.data); } catch (x) { return; }
      if (ev.type === 'assigned') fresh[ev.conversation_id] = true;
      onEvent(ev);
    };
    ws.onclose = function () {
      if (S.ws !== ws) return;
      S.ws = null;
      document.body.removeAttribute('data-connected');
      if (!S.wsWanted) return;
      $('conn').textContent = t('连接中断，正在重连…', 'Connection lost, reconnecting…');
      setTimeout(connect, S.backoff);
      S.backoff = Math.min(S.backoff * 2, MAX_BACKOFF_MS);
    };
  }

  function onEvent(ev) {
    var c = ev.conversation_id && S.convs[ev.conversation_id];
    switch (ev.type) {
      case 'assigned':
        var isNew = !c;
        c = c || { id: ev.conversation_id, msgs: {}, unread: 0, typingUntil: 0 };
        c.view = ev.conversation;
        c.context = ev.context;
        (ev.context.transcript || []).forEach(function (m) { c.msgs[m.seq] = m; });
        S.convs[c.id] = c;
        if (isNew) ring(c);
        if (!S.selected) select(c.id);
        else if (S.selected === c.id) { renderChat(); renderPackage(); }
        renderList();
        break;
      case 'message':
        if (!c) return;
        var m = ev.message;
        if (c.msgs[m.seq]) return;
        c.msgs[m.seq] = m;
        if (m.author.role === 'customer') {
          c.typingUntil = 0;
          if (S.selected !== c.id || document.hidden) c.unread++;
        }
        if (S.selected === c.id) { appendMessage(m); renderTyping(); renderQuick(); }
        renderList();
        break;
      case 'typing':
        if (!c || ev.role !== 'customer') return;
        c.typingUntil = Date.now() + TYPING_SHOW_MS;
        renderTyping();
        break;
      case 'unassigned':
        if (c) {
          drop(c.id);
          toast(t('会话已移出：', 'Conversation removed: ') + (ev.reason || ''));
        }
        break;
      case 'error':
        if (ev.error) toast(ev.error.message);
        break;
    }
  }

  function drop(id) {
    delete S.convs[id];
    if (S.selected === id) {
      S.selected = null;
      var next = Object.keys(S.convs)[0];
      if (next) select(next); else { $('chat').hidden = true; $('pkg').hidden = true; }
    }
    renderList();
  }

  // ---- new assignments ring ----------------------------------------------------------------
  var audio = null, flashTimer = null, baseTitle = document.title;
  function unlockAudio() {
    try { audio = audio || new (window.AudioContext || window.webkitAudioContext)(); } catch (e) { audio = null; }
  }
  function ring(c) {
    var rung = {};
    try { rung = JSON.parse(sessionStorage.getItem(RUNG_KEY) || '{}'); } catch (e) { rung = {}; }
    if (rung[c.id]) return;
    rung[c.id] = 1;
    sessionStorage.setItem(RUNG_KEY, JSON.stringify(rung));
    document.body.setAttribute('data-rings', String(Number(document.body.getAttribute('data-rings') || 0) + 1));
    c.isNew = true;
    if (audio) {
      try {
        var osc = audio.createOscillator(), gain = audio.createGain();
        osc.frequency.value = 880;
        gain.gain.value = 0.08;
        osc.connect(gain);
        gain.connect(audio.destination);
        osc.start();
        osc.stop(audio.currentTime + 0.25);
      } catch (e) { /* no sound: the title still flashes */ }
    }
    if (!flashTimer) {
      var on = false;
      flashTimer = setInterval(function () {
        on = !on;
        document.title = on ? t('【新会话】', '[New chat] ') + baseTitle : baseTitle;
      }, 1000);
    }
  }
  function stopFlash() {
    if (flashTimer) { clearInterval(flashTimer); flashTimer = null; document.title = baseTitle; }
  }
  window.addEventListener('focus', stopFlash);
  document.addEventListener('click', stopFlash);

  // ---- the list ------------------------------------------------------------------------------
  function sorted(c) {
    return Object.keys(c.msgs).map(Number).sort(function (a, b) { return a - b; }).map(function (s) { return c.msgs[s]; });
  }
  /** Seconds the customer has waited for an answer (null when the agent spoke last). */
  function waiting(c) {
    var msgs = sorted(c), lastCustomer = null;
    for (var i = msgs.length - 1; i >= 0; i--) {
      var role = msgs[i].author.role;
      if (role === 'agent') break;
      if (role === 'customer') lastCustomer = msgs[i];
    }
    if (!lastCustomer) return null;
    var since = Date.parse(lastCustomer.created_at);
    var handed = c.context && Date.parse(c.context.handed_off_at);
    if (handed && handed > since) since = handed;
    return (Date.now() - since) / 1000;
  }
  function customerName(c) {
    var cu = c.context && c.context.customer;
    return (cu && cu.name) || t('访客 ', 'Visitor ') + c.id.slice(-4);
  }

  function renderList() {
    var ul = G.clear($('convs'));
    var ids = Object.keys(S.convs);
    $('empty').hidden = ids.length > 0;
    ids.sort(function (a, b) { return (waiting(S.convs[b]) || -1) - (waiting(S.convs[a]) || -1); });
    ids.forEach(function (id) {
      var c = S.convs[id];
      var li = el('li', 'conv' + (S.selected === id ? ' on' : '') + (c.isNew ? ' new' : ''), null, { 'data-id': id, 'data-testid': 'conv' });
      var top = el('div', 'row');
      top.appendChild(el('b', null, customerName(c)));
      if (c.context && c.context.customer && c.context.customer.vip) top.appendChild(el('span', 'vip', 'VIP'));
      if (c.unread) top.appendChild(el('span', 'unread', String(c.unread), { 'data-testid': 'unread' }));
      li.appendChild(top);
      var msgs = sorted(c), last = msgs[msgs.length - 1];
      li.appendChild(el('div', 'snippet', last ? String(last.text).slice(0, 40) : ''));
      li.appendChild(el('div', 'wait', null, { 'data-testid': 'waiting' }));
      li.addEventListener('click', function () { select(id); });
      ul.appendChild(li);
    });
    updateWaits();
  }
  /** Waiting times move every second; only their text is redrawn. */
  function updateWaits() {
    Array.prototype.forEach.call($('convs').children, function (li) {
      var c = S.convs[li.getAttribute('data-id')], node = li.querySelector('.wait');
      if (!c || !node) return;
      var w = waiting(c);
      node.textContent = w == null ? t('已回复', 'answered') : t('等待 ', 'waiting ') + G.fmtDuration(w);
      node.classList.toggle('late', w != null && w > 180);
    });
  }
  setInterval(function () { if (S.me) { updateWaits(); renderTyping(); } }, 1000);

  function select(id) {
    S.selected = id;
    var c = S.convs[id];
    if (!c) return;
    c.unread = 0;
    c.isNew = false;
    S.pendingSend = null;
    hideWarnings();
    closeAction();
    $('chat').hidden = false;
    $('pkg').hidden = false;
    renderChat();
    renderPackage();
    renderQuick();
    renderList();
  }
  document.addEventListener('visibilitychange', function () {
    var c = S.selected && S.convs[S.selected];
    if (!document.hidden && c) { c.unread = 0; renderList(); }
  });

  // ---- the chat ------------------------------------------------------------------------------
  function messageNode(m) {
    var role = m.author.role;
    var node = el('div', 'msg ' + role, null, { 'data-seq': m.seq, 'data-role': role });
    var who = role === 'customer' ? t('顾客', 'Customer') : role === 'bot' ? t('机器人', 'Bot')
      : role === 'agent' ? (m.author.name || t('客服', 'Agent')) : t('系统', 'System');
    var meta = el('div', 'meta', who + ' · ' + G.fmtTime(m.created_at));
    if (m.bot) meta.appendChild(el('span', 'tag', m.bot.decision + (m.bot.intent ? ' · ' + m.bot.intent : '')));
    node.appendChild(meta);
    G.renderText(node.appendChild(el('div', 'text')), m.text);
    return node;
  }
  function renderChat() {
    var c = S.convs[S.selected];
    var log = G.clear($('log'));
    $('chat-title').textContent = customerName(c);
    sorted(c).forEach(function (m) { log.appendChild(messageNode(m)); });
    log.scrollTop = log.scrollHeight;
    renderTyping();
  }
  function appendMessage(m) {
    var log = $('log');
    var after = null;
    Array.prototype.some.call(log.children, function (n) {
      if (Number(n.getAttribute('data-seq')) > m.seq) { after = n; return true; }
      return false;
    });
    log.insertBefore(messageNode(m), after);
    log.scrollTop = log.scrollHeight;
  }
  function renderTyping() {
    var c = S.selected && S.convs[S.selected];
    $('chat-typing').textContent = c && c.typingUntil > Date.now() ? t('顾客正在输入…', 'Customer is typing…') : '';
  }

  // ---- the handoff package -------------------------------------------------------------------
  function section(parent, title, testid) {
    var s = el('section', 'box', null, testid ? { 'data-testid': testid } : null);
    s.appendChild(el('h3', null, title));
    parent.appendChild(s);
    return s;
  }
  function chips(parent, items, cls) {
    var wrap = el('div', 'chips');
    (items || []).forEach(function (i) { wrap.appendChild(el('span', 'chip ' + (cls || ''), String(i))); });
    if (!items || !items.length) wrap.appendChild(el('span', 'muted', '—'));
    parent.appendChild(wrap);
    return wrap;
  }

  function renderPackage() {
    var c = S.convs[S.selected], ctx = c.context || {}, pkg = G.clear($('pkg'));
    var cu = ctx.customer || {};
    pkg.appendChild(el('h2', null, t('交接信息', 'Handoff package')));
    var sum = section(pkg, t('摘要', 'Summary'), 'summary');
    G.renderText(sum.appendChild(el('p')), ctx.summary || '—');
    var meta = [];
    if (ctx.priority != null) meta.push(t('优先级 ', 'priority ') + ctx.priority);
    if (ctx.language) meta.push(ctx.language);
    if (ctx.handed_off_at) meta.push(t('转人工于 ', 'handed off ') + G.fmtTime(ctx.handed_off_at));
    sum.appendChild(el('p', 'muted', meta.join(' · ')));

    var rs = section(pkg, t('转人工原因', 'Why it was handed off'), 'reasons');
    chips(rs, (ctx.handoff_reasons || []).map(function (r) { return label(REASONS, r); }), 'warn');
    if ((ctx.required_skills || []).length) {
      rs.appendChild(el('p', 'muted', t('所需技能：', 'Skills: ') + ctx.required_skills.join(', ')));
    }

    var en = section(pkg, t('识别到的信息', 'What the bot understood'), 'entities');
    var e = ctx.entities || {};
    var dl = el('dl');
    [['order_ids', t('订单号', 'Orders')], ['tracking_numbers', t('运单号', 'Tracking')], ['phones', t('电话', 'Phones')],
      ['amounts', t('金额', 'Amounts')], ['emails', t('邮箱', 'E-mails')]].forEach(function (f) {
      if (!(e[f[0]] || []).length) return;
      dl.appendChild(el('dt', null, f[1]));
      var dd = dl.appendChild(el('dd', null, null, { 'data-testid': 'entity-' + f[0] }));
      chips(dd, e[f[0]], 'entity');
    });
    if (ctx.page && ctx.page.order_id) {
      dl.appendChild(el('dt', null, t('页面订单', 'Page order')));
      dl.appendChild(el('dd', null, ctx.page.order_id));
    }
    if (!dl.children.length) dl.appendChild(el('dd', 'muted', '—'));
    en.appendChild(dl);
    en.appendChild(el('p', 'muted', t('意图：', 'Intents: ') + ((ctx.intents || []).join(' → ') || '—')));

    // The sentiment trend: P(negative) of each customer message the bot read.
    var se = section(pkg, t('情绪走势', 'Sentiment trend'), 'sentiment');
    var trend = [], current = null;
    sorted(c).forEach(function (m) {
      if (m.bot && m.bot.negativity != null) trend.push(m.bot.negativity);
      if (m.bot && m.bot.sentiment) current = m.bot.sentiment;
    });
    if (ctx.sentiment && ctx.sentiment.trend) trend = ctx.sentiment.trend;
    if (ctx.sentiment && ctx.sentiment.current) current = ctx.sentiment.current;
    se.appendChild(G.sparkline(trend));
    se.appendChild(el('p', 'muted', t('当前：', 'Now: ') + (current ? label(SENTIMENT, current) : '—')));

    var ba = section(pkg, t('机器人已尝试', 'What the bot tried'), 'bot-attempts');
    if (!(ctx.bot_attempts || []).length) ba.appendChild(el('p', 'muted', '—'));
    (ctx.bot_attempts || []).forEach(function (a) {
      var d = ba.appendChild(el('details'));
      d.appendChild(el('summary', null, a.question));
      G.renderText(d.appendChild(el('p')), a.answer);
    });

    var cs = section(pkg, t('顾客', 'Customer'), 'customer');
    cs.appendChild(el('p', null, customerName(c) + (cu.vip ? ' · VIP' : '') + (cu.verified ? t(' · 已验证', ' · verified') : t(' · 匿名', ' · anonymous')) + (cu.locale ? ' · ' + cu.locale : '')));
    renderTags(cs, c, cu);
    var prev = cu.previous_conversations || [];
    cs.appendChild(el('p', 'muted', t('历史会话：', 'Past conversations: ') + (prev.length ? prev.length : t('无', 'none'))));
    if (prev.length) {
      var ul = cs.appendChild(el('ul', 'prev'));
      prev.slice(0, 10).forEach(function (p) { ul.appendChild(el('li', null, typeof p === 'string' ? p : (p.summary || p.id || JSON.stringify(p)))); });
    }

    if ((ctx.notes || []).length) {
      var ns = section(pkg, t('转接备注', 'Notes'), 'notes');
      ctx.notes.forEach(function (n) {
        var p = ns.appendChild(el('p'));
        p.appendChild(el('b', null, n.from_agent_name + ' (' + n.kind + ' → ' + n.target + '): '));
        G.renderText(p, n.note);
      });
    }
    if (ctx.page && ctx.page.page_url) {
      var pg = section(pkg, t('来源页面', 'Page'));
      pg.appendChild(el('p', 'muted url', ctx.page.page_url));
    }
  }

  /** The customer's tags, editable when the server offers `PUT /v1/customers/{id}/tags`. */
  function renderTags(parent, c, cu) {
    var box = parent.appendChild(el('div', 'tags', null, { 'data-testid': 'tags' }));
    var tags = (cu.tags || []).slice();
    function draw() {
      G.clear(box);
      tags.forEach(function (tag, i) {
        var chip = box.appendChild(el('span', 'chip tag', tag));
        if (!S.tagsUnsupported) {
          var x = chip.appendChild(el('button', 'x', '×', { type: 'button', 'aria-label': t('删除标签', 'Remove tag') }));
          x.addEventListener('click', function () { save(tags.filter(function (_, j) { return j !== i; })); });
        }
      });
      if (S.tagsUnsupported) return;
      var form = box.appendChild(el('form', 'tag-form'));
      var input = form.appendChild(el('input', null, null, { maxlength: 32, placeholder: t('添加标签', 'Add a tag'), 'data-testid': 'tag-input' }));
      form.appendChild(el('button', null, '+', { type: 'submit' }));
      form.addEventListener('submit', function (e) {
        e.preventDefault();
        var v = input.value.trim();
        if (v && tags.indexOf(v) < 0) save(tags.concat([v]));
      });
    }
    function save(next) {
      call('PUT', '/v1/customers/' + encodeURIComponent(cu.id) + '/tags', { tags: next }).then(function (r) {
        tags = (r.data && r.data.tags) || next;
        cu.tags = tags;
        draw();
      }, function (err) {
        if (err.status === 404 || err.status === 405) { S.tagsUnsupported = true; draw(); return; }
        toast(err.message);
      });
    }
    draw();
  }

  // ---- quick replies -------------------------------------------------------------------------
  function bigrams(s) {
    s = String(s).toLowerCase().replace(/\s+/g, '');
    var out = {};
    for (var i = 0; i < s.length - 1; i++) out[s.slice(i, i + 2)] = 1;
    return out;
  }
  function overlap(a, b) {
    var n = 0, k;
    for (k in a) if (b[k]) n++;
    return n;
  }
  function renderQuick() {
    var box = G.clear($('quick'));
    var c = S.selected && S.convs[S.selected];
    if (!c || !S.kb || !S.kb.length) return;
    var msgs = sorted(c), lastQ = '';
    for (var i = msgs.length - 1; i >= 0; i--) if (msgs[i].author.role === 'customer') { lastQ = msgs[i].text; break; }
    var q = bigrams(lastQ + ' ' + ((c.context && c.context.questions) || []).join(' '));
    var intents = (c.context && c.context.intents) || [];
    // Only answers in the customer's language: the package's, else the customer's locale.
    var lang = String((c.context && c.context.language) || (c.customer && c.customer.locale) || 'zh').slice(0, 2);
    var ranked = S.kb.filter(function (a) {
      return String(a.locale || 'zh').slice(0, 2) === lang;
    }).map(function (a) {
      var score = overlap(q, bigrams(a.question + ' ' + (a.similar || []).join(' ')));
      if (intents.indexOf(a.category) >= 0) score += 2;
      return [score, a];
    }).filter(function (x) { return x[0] > 0; }).sort(function (x, y) { return y[0] - x[0]; }).slice(0, 4);
    if (!ranked.length) return;
    box.appendChild(el('span', 'muted', t('快捷回复：', 'Quick replies: ')));
    ranked.forEach(function (x) {
      var b = box.appendChild(el('button', 'chip', x[1].question, { type: 'button', title: x[1].answer, 'data-testid': 'quick-reply' }));
      b.addEventListener('click', function () {
        $('reply-text').value = x[1].answer;
        $('reply-text').focus();
      });
    });
  }

  // ---- replying, with the pre-send check -----------------------------------------------------
  function warningsOf(data) {
    if (!data || typeof data !== 'object') return [];
    var list = data.warnings || data.flags || data.issues || (data.check && data.check.warnings) || [];
    return (Array.isArray(list) ? list : []).map(function (w) {
      return typeof w === 'string' ? w : (w.message || w.phrase || w.code || JSON.stringify(w));
    });
  }
  function hideWarnings() { $('warnings').hidden = true; G.clear($('warnings')); }
  function showWarnings(list) {
    var box = G.clear($('warnings'));
    box.hidden = false;
    box.appendChild(el('b', null, t('发送前请注意：', 'Before you send:')));
    var ul = box.appendChild(el('ul'));
    list.forEach(function (w) { ul.appendChild(el('li', null, w)); });
    var go = box.appendChild(el('button', null, t('仍然发送', 'Send anyway'), { type: 'button', 'data-testid': 'send-anyway' }));
    var edit = box.appendChild(el('button', null, t('修改', 'Edit'), { type: 'button' }));
    go.addEventListener('click', function () { hideWarnings(); deliver(); });
    edit.addEventListener('click', function () { hideWarnings(); S.pendingSend = null; $('reply-text').focus(); });
  }

  $('reply').addEventListener('submit', function (e) {
    e.preventDefault();
    var text = $('reply-text').value.trim();
    if (!text || !S.selected) return;
    // One client_message_id per reply: the check and the send share it, so a server that
    // does not know `check_only` yet stores it once and the real send returns the same.
    if (!S.pendingSend || S.pendingSend.text !== text || S.pendingSend.conv !== S.selected) {
      S.pendingSend = { text: text, conv: S.selected, cmid: G.uid('agent') };
    }
    var p = S.pendingSend;
    call('POST', '/v1/conversations/' + p.conv + '/messages?check_only=true', { text: p.text, client_message_id: p.cmid }).then(function (r) {
      // A server without the check stored the message (201): it is sent, once.
      if (r.data && r.data.message) { sent(p, r.data.message); return; }
      var list = warningsOf(r.data);
      if (list.length) showWarnings(list); else deliver();
    }, function (err) { toast(err.message); });
  });
  $('reply-text').addEventListener('keydown', function (e) {
    if (e.key === 'Enter' && !e.shiftKey && !e.isComposing) {
      e.preventDefault();
      $('reply').requestSubmit();
    }
  });
  $('reply-text').addEventListener('input', function () {
    var now = Date.now();
    if (S.ws && S.ws.readyState === 1 && S.selected && now - S.lastTyping > TYPING_SEND_MS) {
      S.lastTyping = now;
      S.ws.send(JSON.stringify({ type: 'typing', conversation_id: S.selected }));
    }
  });

  function deliver() {
    var p = S.pendingSend;
    if (!p) return;
    call('POST', '/v1/conversations/' + p.conv + '/messages', { text: p.text, client_message_id: p.cmid }).then(function (r) {
      sent(p, r.data.message);
    }, function (err) { toast(err.message); });
  }
  function sent(p, message) {
    if (S.pendingSend === p) S.pendingSend = null;
    if (S.selected === p.conv) $('reply-text').value = '';
    hideWarnings();
    if (message) onEvent({ type: 'message', conversation_id: p.conv, message: message });
  }

  // ---- transfer, escalate, resolve -------------------------------------------------------------
  SKILLS.forEach(function (s) { $('action-skill').appendChild(el('option', null, s, { value: s })); });
  function openAction(kind) {
    S.action = kind;
    $('action-form').hidden = false;
    $('action-skill').hidden = kind !== 'transfer';
    $('action-note').value = '';
    $('action-note').focus();
  }
  function closeAction() { S.action = null; $('action-form').hidden = true; }
  $('btn-transfer').addEventListener('click', function () { openAction('transfer'); });
  $('btn-escalate').addEventListener('click', function () { openAction('escalate'); });
  $('action-cancel').addEventListener('click', closeAction);
  $('action-form').addEventListener('submit', function (e) {
    e.preventDefault();
    var id = S.selected, note = $('action-note').value.trim();
    if (!id || !note) return;
    var body = S.action === 'transfer' ? { skill: $('action-skill').value, note: note } : { note: note };
    call('POST', '/v1/conversations/' + id + '/' + S.action, body).then(function () {
      closeAction();
      drop(id);
    }, function (err) { toast(err.message); });
  });
  $('btn-resolve').addEventListener('click', function () {
    var id = S.selected;
    if (!id) return;
    call('POST', '/v1/conversations/' + id + '/resolve', { outcome: 'resolved' }).then(function () {
      drop(id);
      toast(t('已解决', 'Resolved'));
    }, function (err) { toast(err.message); });
  });

  // ---- notices ------------------------------------------------------------------------------
  function toast(text) {
    var n = document.body.appendChild(el('div', 'toast', text, { role: 'status', 'data-testid': 'toast' }));
    setTimeout(function () { n.remove(); }, 4000);
  }

  var saved = sessionStorage.getItem(TOKEN_KEY);
  if (saved) signIn(saved);
})();
