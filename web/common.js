/* Shared by the agent console and the admin console: HTTP calls, safe DOM building, small
 * formatting and chart helpers. Nothing here ever puts a string into innerHTML: text from
 * customers, agents or articles becomes text nodes (plus links and line breaks). */
(function () {
  'use strict';

  var ZH = !/^en/i.test(navigator.language || 'zh');

  /** An element with a class and text; attributes and children optional. */
  function el(tag, cls, text, attrs) {
    var e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text != null) e.textContent = text;
    if (attrs) {
      Object.keys(attrs).forEach(function (k) {
        if (attrs[k] != null) e.setAttribute(k, attrs[k]);
      });
    }
    return e;
  }

  function clear(node) {
    while (node.firstChild) node.removeChild(node.firstChild);
    return node;
  }

  var URL_RE = /\bhttps?:\/\/[^\s<>"'，。！？、）)]+/g;
  /** Text as nodes: plain text, line breaks, and http(s) links; never markup. */
  function renderText(target, text) {
    String(text == null ? '' : text).split('\n').forEach(function (line, i) {
      if (i) target.appendChild(document.createElement('br'));
      var last = 0;
      line.replace(URL_RE, function (url, at) {
        if (at > last) target.appendChild(document.createTextNode(line.slice(last, at)));
        var a = el('a', null, url, { href: url, target: '_blank', rel: 'noopener noreferrer nofollow' });
        target.appendChild(a);
        last = at + url.length;
        return url;
      });
      if (last < line.length) target.appendChild(document.createTextNode(line.slice(last)));
    });
    return target;
  }

  /** A failed call: the HTTP status and the contract's error code. */
  function ApiError(status, code, message) {
    var e = new Error(message || code || String(status));
    e.status = status;
    e.code = code;
    return e;
  }

  /** Calls the gateway with a bearer token; JSON in and out. */
  function api(token, method, path, body, contentType) {
    var headers = {};
    if (token) headers.authorization = 'Bearer ' + token;
    var payload;
    if (body != null) {
      headers['content-type'] = contentType || 'application/json';
      payload = typeof body === 'string' ? body : JSON.stringify(body);
    }
    return fetch(path, { method: method, headers: headers, body: payload }).then(function (res) {
      return res.text().then(function (t) {
        var data = null;
        try { data = t ? JSON.parse(t) : null; } catch (e) { data = t; }
        if (!res.ok) {
          var err = data && data.error;
          throw ApiError(res.status, err && err.code, (err && err.message) || res.statusText);
        }
        return { status: res.status, data: data };
      });
    });
  }

  function pad(n) { return n < 10 ? '0' + n : String(n); }
  function fmtTime(iso) {
    var d = new Date(iso);
    if (isNaN(d)) return '';
    return pad(d.getHours()) + ':' + pad(d.getMinutes());
  }
  function fmtDuration(seconds) {
    seconds = Math.max(0, Math.round(seconds));
    if (seconds < 60) return seconds + (ZH ? '秒' : 's');
    var m = Math.floor(seconds / 60), s = seconds % 60;
    if (m < 60) return m + (ZH ? '分' : 'm') + (s ? pad(s) + (ZH ? '秒' : 's') : '');
    return Math.floor(m / 60) + (ZH ? '小时' : 'h') + pad(m % 60) + (ZH ? '分' : 'm');
  }
  function pct(x) { return x == null || isNaN(x) ? '–' : (x * 100).toFixed(1) + '%'; }

  // ---- inline SVG charts (no library) ----------------------------------------------------
  var SVG = 'http://www.w3.org/2000/svg';
  function svg(tag, attrs) {
    var e = document.createElementNS(SVG, tag);
    Object.keys(attrs || {}).forEach(function (k) { e.setAttribute(k, attrs[k]); });
    return e;
  }
  function svgText(x, y, text, attrs) {
    var t = svg('text', Object.assign({ x: x, y: y, 'font-size': 11, fill: '#555' }, attrs || {}));
    t.textContent = text;
    return t;
  }

  /** A line chart of `points` ([label, value]); `fmt` labels the values. */
  function lineChart(points, opts) {
    opts = opts || {};
    var w = opts.width || 360, h = opts.height || 160, padL = 40, padB = 22, padT = 12;
    var root = svg('svg', { viewBox: '0 0 ' + w + ' ' + h, width: w, height: h, role: 'img', class: 'chart' });
    if (opts.title) root.appendChild(svg('title')).textContent = opts.title;
    var values = points.map(function (p) { return Number(p[1]) || 0; });
    var max = opts.max != null ? opts.max : Math.max.apply(null, values.concat([1]));
    var fmt = opts.fmt || function (v) { return String(Math.round(v * 100) / 100); };
    root.appendChild(svg('line', { x1: padL, y1: h - padB, x2: w - 6, y2: h - padB, stroke: '#ccc' }));
    root.appendChild(svgText(2, padT + 4, fmt(max)));
    root.appendChild(svgText(2, h - padB, fmt(0)));
    if (!points.length) return root;
    var step = points.length > 1 ? (w - padL - 10) / (points.length - 1) : 0;
    var xy = points.map(function (p, i) {
      var x = padL + i * step + (points.length === 1 ? (w - padL) / 2 : 0);
      var y = h - padB - (values[i] / (max || 1)) * (h - padB - padT);
      return [x, y];
    });
    root.appendChild(svg('polyline', {
      points: xy.map(function (p) { return p[0].toFixed(1) + ',' + p[1].toFixed(1); }).join(' '),
      fill: 'none', stroke: opts.color || '#ff5000', 'stroke-width': 2
    }));
    xy.forEach(function (p, i) {
      var dot = svg('circle', { cx: p[0], cy: p[1], r: 3, fill: opts.color || '#ff5000' });
      dot.appendChild(svg('title')).textContent = points[i][0] + ': ' + fmt(values[i]);
      root.appendChild(dot);
    });
    var every = Math.ceil(points.length / 6);
    points.forEach(function (p, i) {
      if (i % every !== 0) return;
      var x = Math.min(Math.max(xy[i][0], padL + 12), w - 16);
      root.appendChild(svgText(x, h - 6, String(p[0]).slice(5, 10) || String(p[0]), { 'text-anchor': 'middle' }));
    });
    return root;
  }

  /** A horizontal bar chart of `bars` ([label, value]). */
  function barChart(bars, opts) {
    opts = opts || {};
    var w = opts.width || 360, row = 22, h = Math.max(row, bars.length * row) + 4, padL = 130;
    var root = svg('svg', { viewBox: '0 0 ' + w + ' ' + h, width: w, height: h, role: 'img', class: 'chart' });
    var max = Math.max.apply(null, bars.map(function (b) { return Number(b[1]) || 0; }).concat([1]));
    bars.forEach(function (b, i) {
      var y = i * row + 2, len = ((Number(b[1]) || 0) / max) * (w - padL - 50);
      root.appendChild(svgText(0, y + 14, String(b[0]).slice(0, 20)));
      root.appendChild(svg('rect', { x: padL, y: y + 3, width: Math.max(1, len), height: row - 8, fill: opts.color || '#ff8a3d', rx: 2 }));
      root.appendChild(svgText(padL + len + 4, y + 14, opts.fmt ? opts.fmt(b[1]) : String(b[1])));
    });
    return root;
  }

  /** A tiny trend line for values in 0..1 (e.g. P(negative) per message). */
  function sparkline(values, opts) {
    opts = opts || {};
    var w = opts.width || 160, h = opts.height || 36;
    var root = svg('svg', { viewBox: '0 0 ' + w + ' ' + h, width: w, height: h, class: 'spark' });
    root.appendChild(svg('line', { x1: 0, y1: h / 2, x2: w, y2: h / 2, stroke: '#eee' }));
    if (!values.length) return root;
    var step = values.length > 1 ? (w - 8) / (values.length - 1) : 0;
    var pts = values.map(function (v, i) { return [4 + i * step, h - 4 - v * (h - 8)]; });
    root.appendChild(svg('polyline', {
      points: pts.map(function (p) { return p[0].toFixed(1) + ',' + p[1].toFixed(1); }).join(' '),
      fill: 'none', stroke: '#d33', 'stroke-width': 2
    }));
    pts.forEach(function (p) { root.appendChild(svg('circle', { cx: p[0], cy: p[1], r: 2.5, fill: '#d33' })); });
    return root;
  }

  window.GW = {
    ZH: ZH, el: el, clear: clear, renderText: renderText, api: api, fmtTime: fmtTime,
    fmtDuration: fmtDuration, pct: pct, lineChart: lineChart, barChart: barChart, sparkline: sparkline,
    /** A random client_message_id. */
    uid: function (prefix) {
      return (prefix || 'c') + '-' + Date.now().toString(36) + '-' + Math.random().toString(36).slice(2, 10);
    },
    /** One of two strings by the browser's language. */
    t: function (zh, en) { return ZH ? zh : en; }
  };
})();
