/*! Shop chat widget: one script tag on any page, no framework needed.
 *
 *   <script src="https://gateway.example/widget.js" data-locale="zh-CN" async></script>
 *
 * Talks to the gateway the script was loaded from (REST + one WebSocket). Everything a
 * message says is shown as text (links and line breaks only), never as HTML. The UI lives
 * in a shadow root, so the shop's CSS and the widget's never meet.
 */
(function () {
  'use strict';
  if (window.ShopChat) return;

  var script = document.currentScript;
  var BASE = new URL((script && script.src) || location.href).origin;
  var WS_BASE = BASE.replace(/^http/, 'ws');
  var STORE_KEY = 'shopchat:' + BASE;
  /** Reconnect backoff: first retry soon, then doubling up to this. */
  var MAX_BACKOFF_MS = 10000;
  /** A typing indicator with no news for this long disappears. */
  var TYPING_SHOW_MS = 4000;
  /** The customer's own typing is announced at most this often. */
  var TYPING_SEND_MS = 2500;

  // ---- language: the shop's (data-locale), else the browser's --------------------------
  function pickLocale() {
    var wanted = (script && script.getAttribute('data-locale')) || '';
    var list = wanted ? [wanted] : navigator.languages || [navigator.language || 'en'];
    for (var i = 0; i < list.length; i++) {
      var l = String(list[i]).toLowerCase();
      if (/^zh-(tw|hk|mo|hant)/.test(l)) return 'zh-TW';
      if (l.indexOf('zh') === 0) return 'zh-CN';
      if (l.indexOf('en') === 0) return 'en';
    }
    return 'en';
  }
  var LOCALE = pickLocale();
  var ZH = LOCALE !== 'en';
  var T = ZH
    ? {
        title: '在线客服', open: '打开客服对话', close: '关闭', send: '发送',
        placeholder: '请输入您的问题…', human: '转人工', hello: '您好，我是智能客服，请问有什么可以帮您？',
        bot: '智能客服', you: '我', agent: '客服', queued: function (p, m) {
          return '正在为您转接人工客服，您前面还有 ' + p + ' 位，预计等待约 ' + m + ' 分钟。';
        },
        waiting: '正在为您转接人工客服…', served: function (n) { return '客服「' + n + '」正在为您服务'; },
        typing: '对方正在输入…', reconnecting: '连接中断，正在重新连接…', offline: '网络已断开，恢复后自动重连',
        resolved: '本次服务已结束，如有问题可继续留言。', closed: '对话已结束。',
        rateTitle: '请对本次服务进行评价', rates: ['满意', '一般', '失望'],
        reasonsTitle: '哪里没做好？', reasons: { attitude: '服务态度', unresolved: '问题没解决', slow: '响应太慢', other: '其他' },
        comment: '还有什么想说的（可选）', submit: '提交评价', thanks: '感谢您的评价！', failed: '发送失败，将自动重试',
        pending: '发送中…', tooFast: '发送太频繁，请稍后再试'
      }
    : {
        title: 'Customer service', open: 'Open chat', close: 'Close', send: 'Send',
        placeholder: 'Type your question…', human: 'Talk to a person', hello: 'Hi! I am the shop assistant. How can I help?',
        bot: 'Assistant', you: 'You', agent: 'Agent', queued: function (p, m) {
          return 'Connecting you to a person: ' + p + ' ahead of you, about ' + m + ' min.';
        },
        waiting: 'Connecting you to a person…', served: function (n) { return n + ' is helping you'; },
        typing: 'Typing…', reconnecting: 'Connection lost, reconnecting…', offline: 'You are offline; we will reconnect',
        resolved: 'This chat was resolved. Write again any time.', closed: 'This chat has ended.',
        rateTitle: 'How did we do?', rates: ['Satisfied', 'Neutral', 'Disappointed'],
        reasonsTitle: 'What went wrong?', reasons: { attitude: 'Attitude', unresolved: 'Not resolved', slow: 'Too slow', other: 'Other' },
        comment: 'Anything else? (optional)', submit: 'Send rating', thanks: 'Thank you for your rating!', failed: 'Not sent yet; retrying',
        pending: 'Sending…', tooFast: 'Too many messages; wait a moment'
      };
  var RATINGS = ['satisfied', 'neutral', 'disappointed'];

  // ---- tiny DOM helpers: text only, never innerHTML --------------------------------------
  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text != null) e.textContent = text;
    return e;
  }
  var URL_RE = /\bhttps?:\/\/[^\s<>"'，。！？、）)]+/g;
  /** Message text as nodes: plain text, line breaks, and http(s) links. */
  function renderText(target, text) {
    String(text).split('\n').forEach(function (line, i) {
      if (i) target.appendChild(document.createElement('br'));
      var last = 0;
      line.replace(URL_RE, function (url, at) {
        if (at > last) target.appendChild(document.createTextNode(line.slice(last, at)));
        var a = el('a', null, url);
        a.href = url;
        a.target = '_blank';
        a.rel = 'noopener noreferrer nofollow';
        target.appendChild(a);
        last = at + url.length;
        return url;
      });
      if (last < line.length) target.appendChild(document.createTextNode(line.slice(last)));
    });
  }
  function uid() {
    return 'w-' + Date.now().toString(36) + '-' + Math.random().toString(36).slice(2, 10);
  }

  // ---- state -----------------------------------------------------------------------------
  var saved = {};
  try { saved = JSON.parse(localStorage.getItem(STORE_KEY) || '{}') || {}; } catch (e) { saved = {}; }
  var conv = saved.id && saved.token ? { id: saved.id, token: saved.token } : null;
  var lastSeq = 0;
  var seen = {};          // seq -> true: every message is drawn once
  var pending = {};       // client_message_id -> {text, node}
  var outbox = [];        // client_message_ids not yet acknowledged, oldest first
  var ws = null, wsWanted = false, backoff = 500, retryTimer = null, held = false;
  var state = 'bot', assignee = null, queue = null, unread = 0, lastTypingSent = 0, typingTimer = null;
  var starting = null;

  function persist() {
    try {
      if (conv) localStorage.setItem(STORE_KEY, JSON.stringify({ id: conv.id, token: conv.token, rate: saved.rate || null }));
      else localStorage.removeItem(STORE_KEY);
    } catch (e) { /* private mode: the chat still works for this page */ }
  }

  // ---- UI ----------------------------------------------------------------------------------
  var CSS =
    ':host{all:initial}*{box-sizing:border-box;font-family:-apple-system,"PingFang SC","Microsoft YaHei",system-ui,sans-serif}' +
    '.bubble{position:fixed;right:20px;bottom:20px;width:56px;height:56px;border-radius:50%;border:0;background:#ff5000;color:#fff;display:flex;align-items:center;justify-content:center;cursor:pointer;box-shadow:0 4px 14px rgba(0,0,0,.25);z-index:2147483000}' +
    '.badge{position:absolute;top:-4px;right:-4px;min-width:20px;height:20px;border-radius:10px;background:#e00;color:#fff;font-size:12px;line-height:20px;padding:0 5px}' +
    '.panel{position:fixed;right:20px;bottom:88px;width:360px;max-width:calc(100vw - 24px);height:540px;max-height:calc(100vh - 110px);background:#fff;border-radius:12px;box-shadow:0 8px 30px rgba(0,0,0,.25);display:flex;flex-direction:column;overflow:hidden;z-index:2147483000;font-size:14px;color:#222}' +
    '.panel[hidden]{display:none}.head{background:#ff5000;color:#fff;padding:10px 12px;display:flex;align-items:center;gap:8px}' +
    '.head b{flex:1;font-size:15px}.head button{background:rgba(255,255,255,.2);color:#fff;border:0;border-radius:14px;padding:4px 10px;cursor:pointer;font-size:13px}' +
    '.head button:disabled{opacity:.5;cursor:default}.status{background:#fff7f0;color:#a04000;padding:6px 12px;font-size:12px;border-bottom:1px solid #fde3cf}' +
    '.status:empty{display:none}.net{background:#fee;color:#a00}' +
    '.log{flex:1;overflow-y:auto;padding:12px;background:#f6f6f6;display:flex;flex-direction:column;gap:8px}' +
    '.msg{max-width:82%;padding:8px 10px;border-radius:10px;line-height:1.45;word-wrap:break-word;overflow-wrap:anywhere;white-space:normal}' +
    '.msg .who{display:block;font-size:11px;color:#888;margin-bottom:2px}.msg a{color:#0a58ca}' +
    '.customer{align-self:flex-end;background:#ffe3d1}.bot,.agent{align-self:flex-start;background:#fff;border:1px solid #eee}' +
    '.agent{border-color:#ffd2b3}.system{align-self:center;background:none;color:#888;font-size:12px;text-align:center}' +
    '.pending{opacity:.6}.opts{display:flex;flex-direction:column;gap:4px;margin-top:6px}' +
    '.opts button{text-align:left;background:#fff7f0;border:1px solid #ffb27f;color:#a04000;border-radius:6px;padding:5px 8px;cursor:pointer;font-size:13px}' +
    '.typing{font-size:12px;color:#888;padding:0 12px 4px;min-height:16px;background:#f6f6f6}' +
    '.foot{display:flex;gap:6px;padding:8px;border-top:1px solid #eee}.foot textarea{flex:1;resize:none;height:40px;border:1px solid #ddd;border-radius:6px;padding:6px;font-size:14px}' +
    '.foot button{background:#ff5000;color:#fff;border:0;border-radius:6px;padding:0 14px;cursor:pointer}' +
    '.rate{align-self:stretch;background:#fff;border:1px solid #ffd2b3;border-radius:10px;padding:10px}.rate p{margin:0 0 6px}' +
    '.rate .row{display:flex;gap:6px;flex-wrap:wrap;margin-bottom:6px}.rate button{border:1px solid #ffb27f;background:#fff;border-radius:14px;padding:4px 12px;cursor:pointer}' +
    '.rate button.on{background:#ff5000;color:#fff}.rate label{font-size:12px;margin-right:8px}.rate textarea{width:100%;height:44px;margin:4px 0}' +
    '.rate .go{background:#ff5000;color:#fff;border:0}';

  var host = el('div');
  host.id = 'shopchat-root';
  var root = host.attachShadow({ mode: 'open' });
  try {
    var sheet = new CSSStyleSheet();
    sheet.replaceSync(CSS);
    root.adoptedStyleSheets = [sheet];
  } catch (e) {
    root.appendChild(el('style', null, CSS));
  }
  var bubble = el('button', 'bubble');
  bubble.appendChild(icon());
  bubble.setAttribute('aria-label', T.open);
  bubble.setAttribute('data-testid', 'bubble');
  var badge = el('span', 'badge');
  badge.hidden = true;
  bubble.appendChild(badge);
  var panel = el('section', 'panel');
  panel.hidden = true;
  panel.setAttribute('role', 'dialog');
  panel.setAttribute('aria-label', T.title);
  var head = el('div', 'head');
  head.appendChild(el('b', null, T.title));
  var humanBtn = el('button', 'human', T.human);
  humanBtn.setAttribute('data-testid', 'human');
  var closeBtn = el('button', 'x', '×');
  closeBtn.setAttribute('aria-label', T.close);
  head.appendChild(humanBtn);
  head.appendChild(closeBtn);
  var status = el('div', 'status');
  status.setAttribute('data-testid', 'status');
  status.setAttribute('aria-live', 'polite');
  var net = el('div', 'status net');
  net.setAttribute('data-testid', 'net');
  var log = el('div', 'log');
  log.setAttribute('data-testid', 'log');
  log.setAttribute('aria-live', 'polite');
  var typing = el('div', 'typing');
  typing.setAttribute('data-testid', 'typing');
  var foot = el('form', 'foot');
  var input = el('textarea');
  input.placeholder = T.placeholder;
  input.setAttribute('data-testid', 'input');
  input.maxLength = 4000;
  var sendBtn = el('button', null, T.send);
  sendBtn.type = 'submit';
  foot.appendChild(input);
  foot.appendChild(sendBtn);
  [head, status, net, log, typing, foot].forEach(function (n) { panel.appendChild(n); });
  root.appendChild(panel);
  root.appendChild(bubble);
  log.appendChild(system(T.hello, 'bot'));

  /** A speech-bubble icon (SVG: no emoji font needed). */
  function icon() {
    var NS = 'http://www.w3.org/2000/svg';
    var svg = document.createElementNS(NS, 'svg');
    svg.setAttribute('viewBox', '0 0 24 24');
    svg.setAttribute('width', '26');
    svg.setAttribute('height', '26');
    var path = document.createElementNS(NS, 'path');
    path.setAttribute('fill', 'currentColor');
    path.setAttribute('d', 'M4 3h16a2 2 0 0 1 2 2v10a2 2 0 0 1-2 2H9l-5 4v-4a2 2 0 0 1-2-2V5a2 2 0 0 1 2-2zm3 6a1.5 1.5 0 1 0 0 3 1.5 1.5 0 0 0 0-3zm5 0a1.5 1.5 0 1 0 0 3 1.5 1.5 0 0 0 0-3zm5 0a1.5 1.5 0 1 0 0 3 1.5 1.5 0 0 0 0-3z');
    svg.appendChild(path);
    return svg;
  }

  function system(text, cls) {
    var m = el('div', 'msg ' + (cls || 'system'));
    renderText(m, text);
    return m;
  }
  function scroll() { log.scrollTop = log.scrollHeight; }
  function setOpen(open) {
    panel.hidden = !open;
    if (open) {
      unread = 0;
      badge.hidden = true;
      input.focus();
      scroll();
    }
  }
  bubble.addEventListener('click', function () { setOpen(panel.hidden); });
  closeBtn.addEventListener('click', function () { setOpen(false); });

  function showStatus() {
    var text = '';
    if (state === 'queued') {
      text = queue ? T.queued(queue.position, Math.max(1, Math.ceil(queue.eta_seconds / 60))) : T.waiting;
    } else if (state === 'assigned' && assignee) {
      text = T.served(assignee.name);
    }
    status.textContent = text;
    humanBtn.disabled = state === 'queued' || state === 'assigned';
  }

  function authorLabel(m) {
    var role = m.author && m.author.role;
    if (role === 'customer') return T.you;
    if (role === 'bot') return T.bot;
    if (role === 'agent') return (m.author.name || T.agent);
    return '';
  }

  function drawMessage(m) {
    if (seen[m.seq]) return;
    seen[m.seq] = true;
    if (m.seq > lastSeq) lastSeq = m.seq;
    var role = (m.author && m.author.role) || 'system';
    var node;
    var mine = m.client_message_id && pending[m.client_message_id];
    if (mine) {
      node = mine.node;
      node.classList.remove('pending');
      node.removeAttribute('data-pending');
      delete pending[m.client_message_id];
    } else {
      node = el('div', 'msg ' + role);
      if (role !== 'system') node.appendChild(el('span', 'who', authorLabel(m)));
      var body = el('span', 'text');
      renderText(body, m.text);
      node.appendChild(body);
      log.appendChild(node);
    }
    node.setAttribute('data-seq', m.seq);
    node.setAttribute('data-role', role);
    if (role === 'bot' && m.bot && m.bot.decision === 'clarify' && (m.bot.options || []).length) {
      var opts = el('div', 'opts');
      String(m.text).split('\n').forEach(function (line) {
        var found = /^\s*(\d+)[.、]\s*(.+)$/.exec(line);
        if (!found) return;
        var b = el('button', null, found[2]);
        b.type = 'button';
        b.addEventListener('click', function () { send(found[2]); });
        opts.appendChild(b);
      });
      node.appendChild(opts);
    }
    if (role === 'agent' && m.author.name) {
      assignee = assignee || { name: m.author.name };
    }
    if (role !== 'customer') {
      typing.textContent = '';
      if (panel.hidden) {
        unread++;
        badge.textContent = String(unread);
        badge.hidden = false;
      }
    }
    scroll();
  }

  function onEvent(ev) {
    switch (ev.type) {
      case 'message':
        drawMessage(ev.message);
        break;
      case 'state':
        var changed = state !== ev.state;
        state = ev.state;
        assignee = ev.assignee || (state === 'assigned' ? assignee : null);
        if (state !== 'queued') queue = null;
        if (changed && (state === 'resolved' || state === 'follow_up')) log.appendChild(system(T.resolved));
        if (changed && state === 'closed') log.appendChild(system(T.closed));
        if (state === 'closed') endConversation();
        showStatus();
        scroll();
        break;
      case 'queue':
        state = 'queued';
        queue = { position: ev.position, eta_seconds: ev.eta_seconds };
        showStatus();
        break;
      case 'typing':
        if (ev.role === 'customer') break;
        typing.textContent = T.typing;
        clearTimeout(typingTimer);
        typingTimer = setTimeout(function () { typing.textContent = ''; }, TYPING_SHOW_MS);
        break;
      case 'rating_request':
        saved.rate = conv && conv.id;
        persist();
        showRating();
        break;
      case 'error':
        if (ev.error && ev.error.code === 'rate_limited') log.appendChild(system(T.tooFast));
        break;
    }
  }

  // ---- rating ------------------------------------------------------------------------------
  var rateBox = null;
  function showRating() {
    if (rateBox) return;
    var choice = null, reasons = {};
    rateBox = el('div', 'rate');
    rateBox.setAttribute('data-testid', 'rating');
    rateBox.appendChild(el('p', null, T.rateTitle));
    var row = el('div', 'row');
    var why = el('div');
    why.hidden = true;
    why.appendChild(el('p', null, T.reasonsTitle));
    Object.keys(T.reasons).forEach(function (k) {
      var lab = el('label');
      var cb = el('input');
      cb.type = 'checkbox';
      cb.value = k;
      cb.addEventListener('change', function () { reasons[k] = cb.checked; });
      lab.appendChild(cb);
      lab.appendChild(document.createTextNode(T.reasons[k]));
      why.appendChild(lab);
    });
    RATINGS.forEach(function (r, i) {
      var b = el('button', null, T.rates[i]);
      b.type = 'button';
      b.setAttribute('data-rating', r);
      b.addEventListener('click', function () {
        choice = r;
        Array.prototype.forEach.call(row.children, function (c) { c.classList.toggle('on', c === b); });
        why.hidden = r === 'satisfied';
      });
      row.appendChild(b);
    });
    var comment = el('textarea');
    comment.placeholder = T.comment;
    comment.maxLength = 1000;
    var go = el('button', 'go', T.submit);
    go.type = 'button';
    go.addEventListener('click', function () {
      if (!choice || !conv) return;
      go.disabled = true;
      var body = { rating: choice, reasons: choice === 'satisfied' ? [] : Object.keys(reasons).filter(function (k) { return reasons[k]; }) };
      if (comment.value.trim()) body.comment = comment.value.trim();
      api('POST', '/v1/conversations/' + conv.id + '/rating', body).then(function () {
        done();
      }, function (err) {
        if (err && err.status === 409) done(); else go.disabled = false;
      });
    });
    function done() {
      saved.rate = null;
      persist();
      rateBox.textContent = '';
      rateBox.appendChild(el('p', 'thanks', T.thanks));
    }
    [row, why, comment, go].forEach(function (n) { rateBox.appendChild(n); });
    log.appendChild(rateBox);
    scroll();
  }

  // ---- network ----------------------------------------------------------------------------
  function api(method, path, body) {
    var headers = { 'content-type': 'application/json' };
    if (conv) headers.authorization = 'Bearer ' + conv.token;
    return fetch(BASE + path, { method: method, headers: headers, body: body ? JSON.stringify(body) : undefined })
      .then(function (res) {
        return res.text().then(function (t) {
          var data = null;
          try { data = t ? JSON.parse(t) : null; } catch (e) { data = null; }
          if (!res.ok) {
            var err = new Error((data && data.error && data.error.message) || res.statusText);
            err.status = res.status;
            err.code = data && data.error && data.error.code;
            throw err;
          }
          return data;
        });
      });
  }

  /** The conversation, started on the first message or button press. */
  function ensureConversation() {
    if (conv) return Promise.resolve(conv);
    if (starting) return starting;
    var body = { customer: { locale: LOCALE }, channel: 'widget', context: { page_url: location.href.slice(0, 2048) } };
    starting = api('POST', '/v1/conversations', body).then(function (data) {
      conv = { id: data.conversation.id, token: data.token };
      state = data.conversation.state;
      persist();
      connect();
      return conv;
    });
    starting.then(null, function () { starting = null; });
    return starting;
  }

  function connect() {
    if (!conv) return;
    wsWanted = true;
    clearTimeout(retryTimer);
    if (held || navigator.onLine === false) {
      net.textContent = T.offline;
      return;
    }
    if (ws && ws.readyState <= 1) return;
    var url = WS_BASE + '/v1/conversations/' + encodeURIComponent(conv.id) + '/ws?token=' +
      encodeURIComponent(conv.token) + '&after_seq=' + lastSeq;
    var socket = new WebSocket(url);
    ws = socket;
    socket.onopen = function () {
      backoff = 500;
      net.textContent = '';
      host.setAttribute('data-connected', 'true');
      flush();
    };
    socket.onmessage = function (e) {
      var ev;
      try { ev = JSON.parse(e.data); } catch (x) { return; }
      onEvent(ev);
    };
    socket.onclose = function () {
      if (ws !== socket) return;
      ws = null;
      host.removeAttribute('data-connected');
      if (!wsWanted) return;
      net.textContent = navigator.onLine === false || held ? T.offline : T.reconnecting;
      retryTimer = setTimeout(connect, backoff);
      backoff = Math.min(backoff * 2, MAX_BACKOFF_MS);
    };
  }
  window.addEventListener('online', function () { backoff = 500; connect(); });
  window.addEventListener('offline', function () {
    net.textContent = T.offline;
    if (ws) ws.close();
  });

  /** Forgets a closed conversation: the next message starts a new one (whose seq restart). */
  function endConversation() {
    conv = null;
    starting = null;
    persist();
    wsWanted = false;
    if (ws) { var old = ws; ws = null; old.close(); }
    host.removeAttribute('data-connected');
    lastSeq = 0;
    seen = {};
    state = 'bot';
    assignee = null;
    queue = null;
    showStatus();
  }

  /** Where a conversation stands, as an HTTP answer said. The socket's events are newer
   *  when it is open (they are sent in order), so the answer counts only without one. */
  function fromHttp(view) {
    if (ws && ws.readyState === 1) return;
    onEvent({ type: 'state', state: view.state, assignee: view.assignee });
    if (view.queue) onEvent({ type: 'queue', position: view.queue.position, eta_seconds: view.queue.eta_seconds });
  }

  /** Sends every unacknowledged message again (same client_message_id: never twice). */
  function flush() {
    outbox.slice().forEach(post);
  }

  function post(cmid) {
    var p = pending[cmid];
    if (!p) outbox = outbox.filter(function (c) { return c !== cmid; });
    if (!p || p.inflight) return;
    p.inflight = true;
    ensureConversation().then(function () {
      return api('POST', '/v1/conversations/' + conv.id + '/messages', { text: p.text, client_message_id: cmid });
    }).then(function (data) {
      p.inflight = false;
      outbox = outbox.filter(function (c) { return c !== cmid; });
      drawMessage(data.message);
      (data.replies || []).forEach(drawMessage);
      if (data.conversation) fromHttp(data.conversation);
    }, function (err) {
      p.inflight = false;
      if (err && err.code === 'conversation_ended') {
        // The conversation was closed meanwhile: this message starts a new one.
        endConversation();
        post(cmid);
        return;
      }
      if (err && err.status >= 400 && err.status < 500 && err.status !== 429 && err.status !== 408) {
        outbox = outbox.filter(function (c) { return c !== cmid; });
        p.node.classList.add('failed');
        p.node.appendChild(el('span', 'who', err.message));
        return;
      }
      // Offline, rate-limited or a server hiccup: the same message again, later (and at once
      // when the socket comes back).
      p.node.setAttribute('title', T.failed);
      p.retryMs = Math.min((p.retryMs || 1000) * 2, MAX_BACKOFF_MS);
      setTimeout(function () { post(cmid); }, p.retryMs);
      if (!ws && conv) connect();
    });
  }

  function send(text) {
    text = String(text || '').trim();
    if (!text) return;
    var cmid = uid();
    var node = el('div', 'msg customer pending');
    node.setAttribute('data-pending', 'true');
    node.appendChild(el('span', 'who', T.you));
    var body = el('span', 'text');
    renderText(body, text);
    node.appendChild(body);
    log.appendChild(node);
    scroll();
    pending[cmid] = { text: text, node: node };
    outbox.push(cmid);
    post(cmid);
  }

  foot.addEventListener('submit', function (e) {
    e.preventDefault();
    var text = input.value;
    input.value = '';
    send(text);
  });
  input.addEventListener('keydown', function (e) {
    if (e.key === 'Enter' && !e.shiftKey && !e.isComposing) {
      e.preventDefault();
      foot.requestSubmit ? foot.requestSubmit() : foot.dispatchEvent(new Event('submit'));
    }
  });
  input.addEventListener('input', function () {
    var now = Date.now();
    if (ws && ws.readyState === 1 && now - lastTypingSent > TYPING_SEND_MS && (state === 'assigned')) {
      lastTypingSent = now;
      ws.send(JSON.stringify({ type: 'typing' }));
    }
  });
  humanBtn.addEventListener('click', function () {
    humanBtn.disabled = true;
    ensureConversation().then(function () {
      return api('POST', '/v1/conversations/' + conv.id + '/handoff');
    }).then(fromHttp, function () { showStatus(); });
  });

  // A conversation from an earlier page: pick it up where it was.
  if (conv) {
    api('GET', '/v1/conversations/' + conv.id).then(function (view) {
      if (view.state === 'closed') { conv = null; persist(); return; }
      state = view.state;
      assignee = view.assignee || null;
      queue = view.queue || null;
      showStatus();
      connect();
      if (saved.rate === conv.id) showRating();
    }, function (err) {
      if (err && (err.status === 401 || err.status === 403 || err.status === 404)) { conv = null; persist(); }
    });
  }

  function mount() { document.body.appendChild(host); }
  if (document.body) mount(); else document.addEventListener('DOMContentLoaded', mount);

  window.ShopChat = {
    open: function () { setOpen(true); },
    close: function () { setOpen(false); },
    send: send,
    /** The current conversation's id (null before the first message). */
    conversationId: function () { return conv && conv.id; },
    /** Drops the socket and holds reconnects until resume(): what a network loss does. */
    hold: function () { held = true; if (ws) ws.close(); },
    resume: function () { held = false; backoff = 500; connect(); }
  };
})();
