/* fengqiao 枫桥 — shared front-end helpers (vanilla ES2020, no build step).
 *
 * Every page loads this file first. It exposes one global, `FQ`:
 *   token handling, the fetch wrapper `FQ.api`, `FQ.boot` (auth check + nav bar + labels),
 *   escaping/formatting helpers, badges, error boxes, downloads and small inline-SVG charts.
 */
(function () {
  'use strict';

  const TOKEN_KEY = 'fq_token';

  // ---------------------------------------------------------------- fixed scales
  const RISK_ORDER = ['blue', 'yellow', 'orange', 'red'];
  const RISK_COLORS = { blue: '#1f6feb', yellow: '#d4a72c', orange: '#e8590c', red: '#d1242f' };
  const RISK_SHORT = { blue: '蓝色', yellow: '黄色', orange: '橙色', red: '红色' };
  const DEFAULT_STATUSES = {
    new: '新建', assigned: '已分派', in_progress: '处理中', resolved: '已化解',
    failed: '调解不成', escalated: '已上报', closed: '已结案',
  };
  // Short tier names for dense displays; the server's long names (from /api/labels) go in tooltips.
  const DEFAULT_TIERS = { village: '村级', township: '乡镇级', county: '县级', emergency: '应急联动' };
  const CHANNELS = { hotline: '热线电话', web: '网上受理', wechat: '微信', walk_in: '来访', grid: '网格员上报', import: '批量导入' };
  const ROLES = { operator: '受理员', supervisor: '督导', mediator: '调解员', admin: '管理员' };
  const ROLE_HOME = { operator: '/desk', supervisor: '/search', mediator: '/queue', admin: '/dashboard' };
  const NAV_LINKS = [
    { href: '/desk', text: '分诊台', roles: ['operator', 'admin'] },
    { href: '/search', text: '检索', roles: ['supervisor', 'admin'] },
    { href: '/dashboard', text: '看板', roles: ['supervisor', 'admin'] },
    { href: '/queue', text: '我的案件', roles: ['mediator', 'admin'] },
    { href: '/admin', text: '管理', roles: ['admin'] },
  ];
  const PII_KINDS = { mobile: '手机号', landline: '固定电话', id_number: '身份证号' };
  const RELATIONS = { same_phone: '同一号码', same_address: '同一地址', similar_text: '内容相似' };
  const REASON_SOURCES = { cue: '线索', model: '模型', history: '历史' };

  // Labels: filled from /api/labels by boot(); defaults keep pages readable if that call fails.
  const labels = {
    types: [],
    risks: RISK_ORDER.map((c) => ({ code: c, name: RISK_SHORT[c] })),
    statuses: Object.keys(DEFAULT_STATUSES).map((c) => ({ code: c, name: DEFAULT_STATUSES[c] })),
    tiers: Object.keys(DEFAULT_TIERS).map((c) => ({ code: c, name: DEFAULT_TIERS[c] })),
  };
  const maps = { types: {}, risks: {}, statuses: {}, tiers: {} };
  function rebuildMaps() {
    for (const k of Object.keys(maps)) {
      maps[k] = {};
      for (const it of labels[k] || []) maps[k][it.code] = it.name;
    }
  }
  rebuildMaps();

  // ---------------------------------------------------------------- tiny helpers
  /** Escape any value for use in HTML text or a double/single-quoted attribute. */
  function esc(v) {
    if (v === null || v === undefined) return '';
    return String(v)
      .replace(/&/g, '&amp;')
      .replace(/</g, '&lt;')
      .replace(/>/g, '&gt;')
      .replace(/"/g, '&quot;')
      .replace(/'/g, '&#39;');
  }

  const $ = (sel, root) => (root || document).querySelector(sel);
  const $$ = (sel, root) => Array.from((root || document).querySelectorAll(sel));

  function pad2(n) { return n < 10 ? '0' + n : String(n); }

  /** RFC 3339 → local "YYYY-MM-DD HH:mm"; "—" for empty; the input itself if unparsable. */
  function fmtTime(s) {
    if (!s) return '—';
    const d = new Date(s);
    if (isNaN(d.getTime())) return String(s);
    return d.getFullYear() + '-' + pad2(d.getMonth() + 1) + '-' + pad2(d.getDate()) + ' ' +
      pad2(d.getHours()) + ':' + pad2(d.getMinutes());
  }

  /** Percent with no decimals above 10 %, one below. */
  function fmtPct(p) {
    if (p === null || p === undefined || isNaN(p)) return '—';
    const v = p * 100;
    return (v >= 10 || v === 0 ? Math.round(v) : v.toFixed(1)) + '%';
  }

  /** "2 小时" / "3 天" style duration from milliseconds. */
  function fmtDuration(ms) {
    const m = Math.round(Math.abs(ms) / 60000);
    if (m < 60) return m + ' 分钟';
    const h = Math.round(m / 60);
    if (h < 48) return h + ' 小时';
    return Math.round(h / 24) + ' 天';
  }

  const typeName = (c) => (c ? maps.types[c] || c : '—');
  const riskName = (c) => (c ? RISK_SHORT[c] || maps.risks[c] || c : '—');
  const statusName = (c) => (c ? maps.statuses[c] || DEFAULT_STATUSES[c] || c : '—');
  const tierName = (c) => (c ? DEFAULT_TIERS[c] || maps.tiers[c] || c : '—');
  const tierLongName = (c) => (c ? maps.tiers[c] || DEFAULT_TIERS[c] || c : '—');
  /** Tiers as select items with short names (long names are in /api/labels). */
  const tierItems = () => labels.tiers.map((t) => ({ code: t.code, name: tierName(t.code) }));
  const channelName = (c) => (c ? CHANNELS[c] || c : '—');
  const roleName = (c) => (c ? ROLES[c] || c : '—');

  /** Coloured risk badge with the short Chinese name; the server's long name goes in the tooltip. */
  function riskBadge(code) {
    if (!code) return '<span class="badge badge-none">—</span>';
    const known = RISK_ORDER.includes(code);
    const title = maps.risks[code] || RISK_SHORT[code] || code;
    return '<span class="badge risk-' + (known ? esc(code) : 'none') + '" title="' + esc(title) +
      '" data-risk="' + esc(code) + '">' + esc(riskName(code)) + '</span>';
  }

  function statusTag(code, name) {
    return '<span class="status status-' + esc(code || 'none') + '" data-status="' + esc(code || '') + '">' +
      esc(name || statusName(code)) + '</span>';
  }

  function stars(n) {
    const k = Math.max(0, Math.min(5, Number(n) || 0));
    return '<span class="stars" title="' + k + ' 星" aria-label="' + k + ' 星">' + '★'.repeat(k) +
      '<span class="stars-off">' + '★'.repeat(5 - k) + '</span></span>';
  }

  /** Decode the few HTML entities an escaped server text can contain (no DOM parsing). */
  function decodeEntities(s) {
    const named = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'", nbsp: '\u00a0' };
    return String(s).replace(/&(#x[0-9a-f]+|#\d+|[a-z]+);/gi, (m, e) => {
      if (e[0] === '#') {
        const n = e[1] === 'x' || e[1] === 'X' ? parseInt(e.slice(2), 16) : parseInt(e.slice(1), 10);
        return n > 0 && n <= 0x10ffff ? String.fromCodePoint(n) : m;
      }
      const v = named[e.toLowerCase()];
      return v === undefined ? m : v;
    });
  }

  /**
   * Search snippets are HTML whose only tags are <b>…</b> around matches; the text between is
   * already escaped by the server. Split on exactly those tags, decode each text piece and escape
   * it again, so only <b> survives and nothing is escaped twice. Tags are re-balanced.
   */
  function snippetHtml(s) {
    let out = '';
    let open = false;
    for (const part of String(s || '').split(/(<\/?b>)/i)) {
      if (/^<b>$/i.test(part)) { if (!open) { out += '<b>'; open = true; } }
      else if (/^<\/b>$/i.test(part)) { if (open) { out += '</b>'; open = false; } }
      else out += esc(decodeEntities(part));
    }
    return open ? out + '</b>' : out;
  }

  /** Options for a <select>; `items` are {code,name}; `blank` adds a first empty option with that text. */
  function options(items, selected, blank) {
    let h = blank !== undefined ? '<option value="">' + esc(blank) + '</option>' : '';
    for (const it of items) {
      h += '<option value="' + esc(it.code) + '"' + (it.code === selected ? ' selected' : '') + '>' +
        esc(it.name) + '</option>';
    }
    return h;
  }

  /** Strip the part of a region path that every entry shares, keeping at least the last segment. */
  function regionTails(regions) {
    const parts = regions.map((r) => String(r || '').split('/'));
    if (parts.length < 2) return regions.map((r) => r || '—');
    let common = 0;
    const minLen = Math.min(...parts.map((p) => p.length));
    while (common < minLen - 1 && parts.every((p) => p[common] === parts[0][common])) common++;
    return parts.map((p) => p.slice(common).join('/') || '—');
  }

  function debounce(fn, ms) {
    let t = null;
    return function (...args) {
      clearTimeout(t);
      t = setTimeout(() => fn.apply(this, args), ms);
    };
  }

  /** True when a keyboard event happens while typing in a field (for single-key shortcuts). */
  function inField(e) {
    const t = e.target;
    if (!t || !t.tagName) return false;
    return /^(INPUT|TEXTAREA|SELECT)$/.test(t.tagName) || t.isContentEditable;
  }

  // ---------------------------------------------------------------- token + API
  function getToken() {
    try { return localStorage.getItem(TOKEN_KEY) || ''; } catch (_) { return ''; }
  }
  function setToken(t) { localStorage.setItem(TOKEN_KEY, t); }
  function clearToken() {
    try { localStorage.removeItem(TOKEN_KEY); } catch (_) { /* ignore */ }
  }

  function isLoginPage() { return /^\/login(\.html)?\/?$/.test(location.pathname); }

  function currentPath() { return location.pathname + location.search; }

  function toLogin() {
    const next = currentPath();
    location.replace('/login' + (next && next !== '/' && !isLoginPage() ? '?next=' + encodeURIComponent(next) : ''));
  }

  /** Only same-site absolute paths are accepted as a post-login destination. */
  function safeNext(n) {
    if (!n || typeof n !== 'string') return '';
    if (!n.startsWith('/') || n.startsWith('//') || n.startsWith('/\\')) return '';
    if (/^\/login(\.html)?(\?|\/|$)/.test(n)) return '';
    return n;
  }

  class ApiError extends Error {
    constructor(status, code, message, hint) {
      super(message);
      this.name = 'ApiError';
      this.status = status;
      this.code = code;
      this.hint = hint || '';
    }
  }

  /**
   * fetch wrapper. opts: {method, body, token, raw, signal, noRedirect}
   * Returns parsed JSON (or the Response if raw). Throws ApiError with the server's message/hint.
   * A 401 clears the token and sends the user to /login (unless noRedirect).
   */
  async function api(path, opts) {
    opts = opts || {};
    const token = opts.token !== undefined ? opts.token : getToken();
    const headers = { Accept: 'application/json' };
    if (token) headers.Authorization = 'Bearer ' + token;
    const init = { method: opts.method || 'GET', headers, signal: opts.signal, cache: 'no-store' };
    if (opts.body !== undefined) {
      headers['Content-Type'] = 'application/json';
      init.body = JSON.stringify(opts.body);
    }
    let res;
    try {
      res = await fetch(path, init);
    } catch (e) {
      if (e && e.name === 'AbortError') throw e;
      throw new ApiError(0, 'network', '无法连接服务器', '请检查网络连接后重试。');
    }
    if (res.status === 401 && !opts.noRedirect) {
      clearToken();
      toLogin();
      throw new ApiError(401, 'unauthorized', '登录已失效，正在跳转到登录页…', '');
    }
    if (!res.ok) {
      let body = null;
      try { body = await res.json(); } catch (_) { /* not JSON */ }
      const e = (body && body.error) || {};
      let msg = e.message;
      if (!msg) {
        msg = res.status === 403 ? '没有权限执行此操作' :
          res.status === 404 ? '未找到' : '请求失败';
        msg += '（HTTP ' + res.status + '）';
      }
      throw new ApiError(res.status, e.code || 'http_' + res.status, msg, e.hint || '');
    }
    if (opts.raw) return res;
    if (res.status === 204) return null;
    const text = await res.text();
    if (!text) return null;
    try {
      return JSON.parse(text);
    } catch (_) {
      throw new ApiError(res.status, 'bad_json', '服务器返回的数据无法解析', '');
    }
  }

  /** HTML for an error box showing an API error's message and hint. */
  function errorHtml(err) {
    if (!err) return '';
    const msg = err.message || String(err);
    const hint = err.hint ? '<div class="hint">' + esc(err.hint) + '</div>' : '';
    const code = err.status ? '<span class="err-code">' + esc(err.status + (err.code ? ' · ' + err.code : '')) + '</span>' : '';
    return '<div class="msg msg-error" role="alert"><strong>' + esc(msg) + '</strong>' + code + hint + '</div>';
  }

  /** Render an error into `el` (element or id); clears it when err is null. */
  function showError(el, err) {
    if (typeof el === 'string') el = document.getElementById(el);
    if (!el) return;
    if (err && err.name === 'AbortError') return;
    el.innerHTML = err ? errorHtml(err) : '';
    el.hidden = !err;
  }

  function showOk(el, html) {
    if (typeof el === 'string') el = document.getElementById(el);
    if (!el) return;
    el.innerHTML = html ? '<div class="msg msg-ok" role="status">' + html + '</div>' : '';
    el.hidden = !html;
  }

  /** A page-level error at the top of <main> (used for 403 and load failures). */
  function fatal(err) {
    if (err && (err.name === 'AbortError' || err.status === 401)) return;
    let box = document.getElementById('page-error');
    if (!box) {
      box = document.createElement('div');
      box.id = 'page-error';
      const main = document.querySelector('main') || document.body;
      main.insertBefore(box, main.firstChild);
    }
    showError(box, err);
    const hide = document.querySelectorAll('[data-needs-data]');
    hide.forEach((n) => { n.hidden = true; });
  }

  /** Disable a button while a promise runs; returns the promise's result. */
  async function busy(btn, fn) {
    if (btn) { btn.disabled = true; btn.classList.add('is-busy'); }
    try { return await fn(); } finally {
      if (btn) { btn.disabled = false; btn.classList.remove('is-busy'); }
    }
  }

  function downloadBlob(blob, filename) {
    const url = URL.createObjectURL(blob);
    const a = document.createElement('a');
    a.href = url;
    a.download = filename;
    a.style.display = 'none';
    document.body.appendChild(a);
    a.click();
    setTimeout(() => { URL.revokeObjectURL(url); a.remove(); }, 1000);
  }

  // ---------------------------------------------------------------- boot + nav
  let meCache = null;

  function renderNav(me) {
    const nav = document.getElementById('nav');
    if (!nav) return;
    const here = location.pathname.replace(/\.html$/, '');
    const links = NAV_LINKS.filter((l) => l.roles.includes(me.role));
    let h = '<a class="brand" href="' + esc(ROLE_HOME[me.role] || '/') + '">枫桥<span class="brand-sub">矛盾纠纷预警与分流</span></a>';
    h += '<ul class="nav-links">';
    for (const l of links) {
      const cur = here === l.href || here.startsWith(l.href + '/');
      h += '<li><a href="' + l.href + '"' + (cur ? ' aria-current="page"' : '') + '>' + esc(l.text) + '</a></li>';
    }
    h += '</ul><div class="nav-user"><span class="nav-name" id="nav-name">' + esc(me.name) + '</span>' +
      '<span class="nav-role" id="nav-role" data-role="' + esc(me.role) + '">' + esc(roleName(me.role)) + '</span>' +
      '<span class="nav-region" id="nav-region" title="' + esc(me.region || '全部辖区') + '">' + esc(me.region || '全部辖区') + '</span>' +
      '<button type="button" class="btn btn-nav" id="logout-btn">退出</button></div>';
    nav.innerHTML = h;
    document.getElementById('logout-btn').addEventListener('click', () => {
      clearToken();
      location.href = '/login';
    });
  }

  /**
   * Start an authenticated page: redirect to /login without a token, load /api/me and /api/labels,
   * draw the nav bar. Resolves to {me, labels}. A failure of /api/me is shown as a page error.
   */
  async function boot() {
    if (!getToken()) {
      toLogin();
      return new Promise(() => {}); // never resolves; we are leaving
    }
    const meP = api('/api/me');
    const labelsP = api('/api/labels').catch(() => null);
    let me;
    try {
      me = await meP;
    } catch (e) {
      await domReady();
      fatal(e);
      throw e;
    }
    meCache = me;
    const l = await labelsP;
    if (l) {
      for (const k of ['types', 'risks', 'statuses', 'tiers']) {
        if (Array.isArray(l[k]) && l[k].length) labels[k] = l[k];
      }
      rebuildMaps();
    }
    await domReady();
    renderNav(me);
    return { me, labels };
  }

  function domReady() {
    if (document.readyState !== 'loading') return Promise.resolve();
    return new Promise((r) => document.addEventListener('DOMContentLoaded', r, { once: true }));
  }

  // Leave immediately (before the page paints) when there is no token.
  if (!isLoginPage() && !getToken()) toLogin();

  // ---------------------------------------------------------------- charts (inline SVG)
  function niceMax(v) {
    if (!(v > 0)) return 1;
    const p = Math.pow(10, Math.floor(Math.log10(v)));
    for (const m of [1, 2, 2.5, 5, 10]) if (m * p >= v) return m * p;
    return 10 * p;
  }

  function shortDay(d) {
    const m = /^(\d{4})-(\d{2})-(\d{2})/.exec(d || '');
    return m ? m[2] + '-' + m[3] : String(d || '');
  }

  /**
   * Stacked bar chart.
   * cfg: {x:[labels], series:[{name, color, values:[]}], height?, title?}
   */
  function stackedBars(cfg) {
    const W = 860, H = cfg.height || 220, L = 36, R = 8, T = 10, B = 24;
    const n = cfg.x.length;
    const pw = W - L - R, ph = H - T - B;
    const totals = cfg.x.map((_, i) => cfg.series.reduce((s, se) => s + (Number(se.values[i]) || 0), 0));
    const max = niceMax(Math.max(0, ...totals));
    const bw = n ? pw / n : pw;
    const gap = Math.min(4, bw * 0.2);
    const y = (v) => T + ph - (v / max) * ph;
    let s = '<svg class="chart" viewBox="0 0 ' + W + ' ' + H + '" role="img" aria-label="' + esc(cfg.title || '') + '">';
    for (let k = 0; k <= 4; k++) {
      const v = (max * k) / 4;
      const yy = y(v);
      s += '<line class="grid" x1="' + L + '" x2="' + (W - R) + '" y1="' + yy + '" y2="' + yy + '"/>';
      s += '<text class="axis" x="' + (L - 4) + '" y="' + (yy + 4) + '" text-anchor="end">' + esc(fmtNum(v)) + '</text>';
    }
    const every = Math.max(1, Math.ceil(n / 12));
    for (let i = 0; i < n; i++) {
      const x0 = L + i * bw + gap / 2;
      let acc = 0;
      const tip = [esc(cfg.x[i]) + '  合计 ' + totals[i]];
      for (const se of cfg.series) {
        const v = Number(se.values[i]) || 0;
        if (v > 0) tip.push(esc(se.name) + ' ' + v);
      }
      s += '<g class="bar"><title>' + tip.join('\n') + '</title>';
      s += '<rect class="hover" x="' + (L + i * bw) + '" y="' + T + '" width="' + bw + '" height="' + ph + '"/>';
      for (const se of cfg.series) {
        const v = Number(se.values[i]) || 0;
        if (v <= 0) continue;
        const y1 = y(acc + v), y0 = y(acc);
        s += '<rect x="' + x0.toFixed(1) + '" y="' + y1.toFixed(1) + '" width="' + Math.max(1, bw - gap).toFixed(1) +
          '" height="' + Math.max(0.5, y0 - y1).toFixed(1) + '" fill="' + esc(se.color) + '"/>';
        acc += v;
      }
      s += '</g>';
      if (i % every === 0) {
        s += '<text class="axis" x="' + (L + i * bw + bw / 2).toFixed(1) + '" y="' + (H - 6) + '" text-anchor="middle">' +
          esc(shortDay(cfg.x[i])) + '</text>';
      }
    }
    s += '<line class="axis-line" x1="' + L + '" x2="' + (W - R) + '" y1="' + (T + ph) + '" y2="' + (T + ph) + '"/>';
    s += '</svg>';
    return s;
  }

  /** Legend HTML for [{name,color}]. */
  function legend(items) {
    return '<ul class="legend">' + items.map((it) =>
      '<li><span class="swatch" style="background:' + esc(it.color) + '"></span>' + esc(it.name) + '</li>').join('') + '</ul>';
  }

  function fmtNum(v) {
    return Number.isInteger(v) ? String(v) : v.toFixed(1);
  }

  /**
   * One small line chart (for small multiples). cfg: {x, values, max, color, title, subtitle}
   */
  function sparkline(cfg) {
    const W = 400, H = 118, L = 26, R = 6, T = 8, B = 18;
    const n = cfg.x.length;
    const pw = W - L - R, ph = H - T - B;
    const max = cfg.max || niceMax(Math.max(0, ...cfg.values));
    const x = (i) => L + (n > 1 ? (i * pw) / (n - 1) : pw / 2);
    const y = (v) => T + ph - ((Number(v) || 0) / max) * ph;
    const pts = cfg.values.map((v, i) => x(i).toFixed(1) + ',' + y(v).toFixed(1));
    let s = '<svg class="chart spark" viewBox="0 0 ' + W + ' ' + H + '" role="img" aria-label="' + esc(cfg.title || '') + '">';
    s += '<line class="grid" x1="' + L + '" x2="' + (W - R) + '" y1="' + T + '" y2="' + T + '"/>';
    s += '<text class="axis" x="' + (L - 4) + '" y="' + (T + 4) + '" text-anchor="end">' + esc(fmtNum(max)) + '</text>';
    s += '<text class="axis" x="' + (L - 4) + '" y="' + (T + ph + 4) + '" text-anchor="end">0</text>';
    if (n) {
      s += '<polygon fill="' + esc(cfg.color) + '" fill-opacity="0.15" points="' + x(0).toFixed(1) + ',' + (T + ph) + ' ' +
        pts.join(' ') + ' ' + x(n - 1).toFixed(1) + ',' + (T + ph) + '"/>';
      s += '<polyline fill="none" stroke="' + esc(cfg.color) + '" stroke-width="1.8" points="' + pts.join(' ') + '"/>';
      for (let i = 0; i < n; i++) {
        s += '<circle class="pt" cx="' + x(i).toFixed(1) + '" cy="' + y(cfg.values[i]).toFixed(1) + '" r="5"><title>' +
          esc(cfg.x[i] + '  ' + (cfg.values[i] || 0)) + '</title></circle>';
      }
      s += '<text class="axis" x="' + L + '" y="' + (H - 4) + '">' + esc(shortDay(cfg.x[0])) + '</text>';
      s += '<text class="axis" x="' + (W - R) + '" y="' + (H - 4) + '" text-anchor="end">' + esc(shortDay(cfg.x[n - 1])) + '</text>';
    }
    s += '<line class="axis-line" x1="' + L + '" x2="' + (W - R) + '" y1="' + (T + ph) + '" y2="' + (T + ph) + '"/>';
    return s + '</svg>';
  }

  /** White → orange (#e8590c) background for a count; returns {bg, fg}. */
  function heat(v, max) {
    if (!(v > 0) || !(max > 0)) return { bg: '#ffffff', fg: '#57606a' };
    const t = Math.sqrt(Math.min(1, v / max));
    const c = (a, b) => Math.round(a + (b - a) * t);
    const r = c(255, 0xe8), g = c(255, 0x59), b = c(255, 0x0c);
    return { bg: 'rgb(' + r + ',' + g + ',' + b + ')', fg: t > 0.6 ? '#ffffff' : '#1f2328' };
  }

  // ---------------------------------------------------------------- shared renderers
  /** List of related cases (from triage or case detail). */
  function relatedList(items) {
    if (!items || !items.length) return '<p class="muted">无关联案件</p>';
    return '<ul class="related">' + items.map((r) =>
      '<li data-id="' + esc(r.id) + '"><a href="/cases/' + encodeURIComponent(r.id) + '">#' + esc(r.id) + '</a> ' +
      '<span class="rel rel-' + esc(r.relation) + '">' + esc(RELATIONS[r.relation] || r.relation || '') + '</span> ' +
      '<time>' + esc(fmtTime(r.received)) + '</time> ' + esc(typeName(r.type)) + ' ' + riskBadge(r.risk) + ' ' +
      statusTag(r.status) +
      (r.excerpt ? '<div class="excerpt">' + esc(r.excerpt) + '</div>' : '') + '</li>').join('') + '</ul>';
  }

  /** Is a case's due time passed (server flag or clock)? */
  function isOverdue(c) {
    if (c.overdue) return true;
    if (!c.due_at) return false;
    const open = ['new', 'assigned', 'in_progress', 'escalated'].includes(c.status);
    return open && new Date(c.due_at).getTime() < Date.now();
  }

  /** Due time with remaining / overdue text. */
  function dueHtml(c) {
    if (!c.due_at) return '<span class="muted">—</span>';
    const ms = new Date(c.due_at).getTime() - Date.now();
    const od = isOverdue(c);
    const rel = isNaN(ms) ? '' : od ? '超期 ' + fmtDuration(ms) : '剩余 ' + fmtDuration(ms);
    return '<time datetime="' + esc(c.due_at) + '">' + esc(fmtTime(c.due_at)) + '</time>' +
      (rel ? ' <span class="' + (od ? 'overdue-tag' : 'muted') + '">' + esc(rel) + '</span>' : '');
  }

  /** Compact list of cases with links (dashboard lists). */
  function caseList(cases, empty) {
    if (!cases || !cases.length) return '<p class="muted">' + esc(empty || '暂无') + '</p>';
    return '<ul class="case-list">' + cases.map((c) =>
      '<li data-id="' + esc(c.id) + '"' + (isOverdue(c) ? ' class="is-overdue"' : '') + '>' +
      '<a href="/cases/' + encodeURIComponent(c.id) + '">#' + esc(c.id) + '</a> ' + riskBadge(c.risk) + ' ' +
      esc(c.type_name || typeName(c.type)) + ' · ' + statusTag(c.status, c.status_name) +
      ' <span class="muted">' + esc(c.region || '') + '</span>' +
      (c.mediator_name ? ' <span class="muted">· ' + esc(c.mediator_name) + '</span>' : '') +
      (c.due_at ? ' <span class="due">' + dueHtml(c) + '</span>' : '') +
      '<div class="excerpt">' + esc(excerpt(c.text, 60)) + '</div></li>').join('') + '</ul>';
  }

  function excerpt(s, n) {
    s = String(s || '').replace(/\s+/g, ' ').trim();
    const chars = Array.from(s);
    return chars.length > n ? chars.slice(0, n).join('') + '…' : s;
  }

  window.FQ = {
    // scales & labels
    RISK_ORDER, RISK_COLORS, RISK_SHORT, CHANNELS, ROLES, ROLE_HOME, PII_KINDS, RELATIONS, REASON_SOURCES,
    labels, typeName, riskName, statusName, tierName, tierLongName, tierItems, channelName, roleName,
    // helpers
    esc, $, $$, fmtTime, fmtPct, fmtDuration, pad2, options, regionTails, debounce, inField, excerpt, shortDay,
    riskBadge, statusTag, stars, snippetHtml, isOverdue, dueHtml, relatedList, caseList,
    // auth + api
    getToken, setToken, clearToken, safeNext, api, ApiError, boot, domReady, me: () => meCache,
    // feedback
    errorHtml, showError, showOk, fatal, busy, downloadBlob,
    // charts
    chart: { stackedBars, sparkline, legend, heat, niceMax },
  };
})();
