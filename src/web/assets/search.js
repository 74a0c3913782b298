/* /search — full-text case search with filters, facets, paging and CSV export.
 * All filters live in the URL query string (bookmarkable; back/forward re-run the search).
 */
(function () {
  'use strict';
  const { esc, $, api } = FQ;

  const LIMIT = 20;
  const FILTERS = ['q', 'region', 'type', 'risk', 'status', 'tier', 'mediator', 'from', 'to', 'sort'];
  const FACET_TITLES = { type: '类型', risk: '风险', status: '状态', tier: '层级', region: '属地', mediator: '调解员' };
  const FACET_ORDER = ['risk', 'type', 'status', 'tier', 'region', 'mediator'];

  const form = $('#search-form');
  const field = (k) => document.getElementById(k);
  const el = {
    q: $('#q'),
    results: $('#results'),
    total: $('#total'),
    pageInfo: $('#page-info'),
    facets: $('#facets'),
    error: $('#search-error'),
    exportBtn: $('#export-btn'),
    prev: [$('#prev-btn'), $('#prev-btn-2')],
    next: [$('#next-btn'), $('#next-btn-2')],
  };

  let offset = 0;
  let total = 0;
  let seq = 0;
  let current = new URLSearchParams();

  el.q.focus();

  FQ.boot().then(() => {
    field('type').innerHTML = FQ.options(FQ.labels.types, '', '全部');
    field('risk').innerHTML = FQ.options(FQ.RISK_ORDER.map((c) => ({ code: c, name: FQ.RISK_SHORT[c] })), '', '全部');
    field('status').innerHTML = FQ.options(FQ.labels.statuses, '', '全部');
    field('tier').innerHTML = FQ.options(FQ.tierItems(), '', '全部');
    fromUrl();
    run();
    api('/api/mediators').then((r) => {
      $('#mediator-list').innerHTML = ((r && r.mediators) || []).map((m) =>
        '<option value="' + esc(m.id) + '">' + esc(m.name + ' · ' + FQ.tierName(m.tier)) + '</option>').join('');
    }).catch(() => {});
  }).catch(() => {});

  // ------------------------------------------------------------------ URL <-> form
  function fromUrl() {
    const p = new URLSearchParams(location.search);
    for (const k of FILTERS) {
      const f = field(k);
      if (!f) continue;
      let v = p.get(k) || '';
      if (f.tagName === 'SELECT' && v && !Array.from(f.options).some((o) => o.value === v)) {
        f.insertAdjacentHTML('beforeend', '<option value="' + esc(v) + '">' + esc(v) + '</option>');
      }
      if (k === 'sort' && !v) v = 'relevance';
      f.value = v;
    }
    offset = Math.max(0, parseInt(p.get('offset') || '0', 10) || 0);
  }

  /** Filters from the form (non-empty only, default sort omitted). */
  function formParams() {
    const p = new URLSearchParams();
    for (const k of FILTERS) {
      const f = field(k);
      if (!f) continue;
      const v = f.value.trim();
      if (!v) continue;
      if (k === 'sort' && v === 'relevance') continue;
      p.set(k, v);
    }
    return p;
  }

  function go(newOffset, replace) {
    const p = formParams();
    offset = Math.max(0, newOffset || 0);
    if (offset) p.set('offset', String(offset));
    const qs = p.toString();
    const url = '/search' + (qs ? '?' + qs : '');
    if (url !== location.pathname + location.search) {
      if (replace) history.replaceState(null, '', url);
      else history.pushState(null, '', url);
    }
    run();
  }

  window.addEventListener('popstate', () => { fromUrl(); run(); });

  // ------------------------------------------------------------------ search
  async function run() {
    const my = ++seq;
    const p = formParams();
    current = new URLSearchParams(p);
    p.set('limit', String(LIMIT));
    p.set('offset', String(offset));
    el.results.classList.add('is-loading');
    el.results.setAttribute('aria-busy', 'true');
    try {
      const r = await api('/api/search?' + p.toString());
      if (my !== seq) return;
      FQ.showError(el.error, null);
      total = Number(r.total) || 0;
      // a bookmarked offset past the end: go back to the last page
      if (offset > 0 && offset >= total && total > 0) {
        go(Math.floor((total - 1) / LIMIT) * LIMIT, true);
        return;
      }
      renderHits(r.hits || []);
      renderFacets(r.facets || {});
      renderPager();
    } catch (err) {
      if (my !== seq) return;
      FQ.showError(el.error, err);
      el.results.innerHTML = '';
      el.facets.innerHTML = '';
      total = 0;
      renderPager();
    } finally {
      if (my === seq) {
        el.results.classList.remove('is-loading');
        el.results.setAttribute('aria-busy', 'false');
      }
    }
  }

  function renderHits(hits) {
    if (!hits.length) {
      el.results.innerHTML = '<li class="muted" id="no-results">没有符合条件的案件。可以减少关键词或放宽筛选条件。</li>';
      return;
    }
    el.results.innerHTML = hits.map((h) =>
      '<li class="hit" data-id="' + esc(h.id) + '">' +
        '<div class="meta">' +
          '<a href="/cases/' + encodeURIComponent(h.id) + '">案件 #' + esc(h.id) + '</a>' +
          '<time datetime="' + esc(h.received) + '">' + esc(FQ.fmtTime(h.received)) + '</time>' +
          '<span class="region">' + esc(h.region || '—') + '</span>' +
          '<span class="type" data-type="' + esc(h.type) + '">' + esc(FQ.typeName(h.type)) + '</span>' +
          FQ.riskBadge(h.risk) + FQ.statusTag(h.status) +
        '</div>' +
        (h.snippet ? '<div class="snippet">' + FQ.snippetHtml(h.snippet) + '</div>' : '') +
      '</li>').join('');
  }

  function facetLabel(key, code) {
    switch (key) {
      case 'type': return esc(FQ.typeName(code));
      case 'risk': return FQ.riskBadge(code);
      case 'status': return esc(FQ.statusName(code));
      case 'tier': return esc(FQ.tierName(code));
      default: return esc(code || '（空）');
    }
  }

  function renderFacets(facets) {
    const keys = Object.keys(facets).sort((a, b) => {
      const ia = FACET_ORDER.indexOf(a), ib = FACET_ORDER.indexOf(b);
      return (ia < 0 ? 99 : ia) - (ib < 0 ? 99 : ib);
    });
    let h = '';
    for (const key of keys) {
      const f = facets[key] || {};
      let entries = Object.entries(f).filter(([, n]) => n > 0);
      if (!entries.length) continue;
      if (key === 'risk') entries.sort((a, b) => FQ.RISK_ORDER.indexOf(b[0]) - FQ.RISK_ORDER.indexOf(a[0]));
      else entries.sort((a, b) => b[1] - a[1] || String(a[0]).localeCompare(String(b[0])));
      const settable = !!field(key);
      const tails = key === 'region' ? FQ.regionTails(entries.slice(0, 30).map((e) => e[0])) : null;
      const active = settable ? field(key).value : '';
      h += '<h3>' + esc(FACET_TITLES[key] || key) + '</h3><ul data-facet="' + esc(key) + '">';
      for (const [i, [code, n]] of entries.slice(0, 30).entries()) {
        const on = active === code;
        h += '<li><button type="button" class="facet' + (on ? ' is-active' : '') + '" data-key="' + esc(key) + '" data-value="' +
          esc(code) + '"' + (settable ? '' : ' disabled') + ' aria-pressed="' + on + '" title="' + esc(code) + (on ? '（再次点击取消）' : '') + '">' +
          '<span class="fl">' + (tails ? esc(tails[i]) : facetLabel(key, code)) + '</span><span class="n">' + esc(n) + '</span></button></li>';
      }
      h += '</ul>';
    }
    el.facets.innerHTML = h || '<p class="muted">无统计</p>';
  }

  function renderPager() {
    const pages = Math.max(1, Math.ceil(total / LIMIT));
    const page = Math.floor(offset / LIMIT) + 1;
    el.total.textContent = String(total);
    el.pageInfo.textContent = total ? '第 ' + page + ' / ' + pages + ' 页（' + (offset + 1) + '–' + Math.min(total, offset + LIMIT) + '）' : '';
    el.prev.forEach((b) => { b.disabled = offset <= 0; });
    el.next.forEach((b) => { b.disabled = offset + LIMIT >= total; });
  }

  // ------------------------------------------------------------------ export
  async function exportCsv() {
    FQ.showError(el.error, null);
    const p = formParams(); // exactly the filters shown (and in the URL); no paging
    try {
      await FQ.busy(el.exportBtn, async () => {
        const res = await api('/api/search/export' + (p.toString() ? '?' + p.toString() : ''), { raw: true });
        const blob = await res.blob();
        FQ.downloadBlob(blob, 'fengqiao-cases.csv');
      });
    } catch (err) {
      FQ.showError(el.error, err);
    }
  }

  // ------------------------------------------------------------------ events
  form.addEventListener('submit', (e) => { e.preventDefault(); go(0); });
  for (const k of ['type', 'risk', 'status', 'tier', 'sort']) field(k).addEventListener('change', () => go(0));
  for (const k of ['from', 'to']) field(k).addEventListener('change', () => { if (!field(k).value || /^\d{4}-\d{2}-\d{2}$/.test(field(k).value)) go(0); });
  $('#reset-btn').addEventListener('click', () => {
    for (const k of FILTERS) { const f = field(k); if (f) f.value = k === 'sort' ? 'relevance' : ''; }
    go(0);
    el.q.focus();
  });
  el.exportBtn.addEventListener('click', exportCsv);
  el.prev.forEach((b) => b.addEventListener('click', () => go(offset - LIMIT)));
  el.next.forEach((b) => b.addEventListener('click', () => go(offset + LIMIT)));

  el.facets.addEventListener('click', (e) => {
    const b = e.target.closest('button.facet');
    if (!b || b.disabled) return;
    const f = field(b.dataset.key);
    if (!f) return;
    const v = b.dataset.value;
    if (f.tagName === 'SELECT' && !Array.from(f.options).some((o) => o.value === v)) {
      f.insertAdjacentHTML('beforeend', '<option value="' + esc(v) + '">' + esc(v) + '</option>');
    }
    f.value = f.value === v ? '' : v;
    go(0);
  });

  document.addEventListener('keydown', (e) => {
    if (e.isComposing) return;
    if (e.key === 'Escape' && e.target === el.q && el.q.value) { e.preventDefault(); el.q.value = ''; return; }
    if (FQ.inField(e) || e.ctrlKey || e.altKey || e.metaKey) return;
    if (e.key === '/') { e.preventDefault(); el.q.focus(); el.q.select(); }
    else if (e.key === 'n' && offset + LIMIT < total) { go(offset + LIMIT); }
    else if (e.key === 'p' && offset > 0) { go(offset - LIMIT); }
  });
})();
