/* /dashboard — daily volumes by risk and type, open cases by region × type, high-risk and overdue lists, alerts. */
(function () {
  'use strict';
  const { esc, $, api } = FQ;

  const TYPE_COLORS = ['#1f6feb', '#8250df', '#1a7f37', '#bf3989', '#0a7ea4', '#9a6700'];
  const DAY_CHOICES = ['7', '30', '90'];

  const el = {
    days: $('#days'),
    range: $('#dash-range'),
    error: $('#dash-error'),
    loading: $('#dash-loading'),
    refresh: $('#refresh-btn'),
    riskChart: $('#risk-chart'),
    riskTotal: $('#risk-total'),
    typeCharts: $('#type-charts'),
    heatmap: $('#heatmap'),
    red: $('#open-red'),
    orange: $('#open-orange'),
    overdue: $('#overdue-list'),
    alerts: $('#alerts'),
    openReport: $('#open-report'),
    reportStatus: $('#report-status'),
  };

  let seq = 0;

  function daysFromUrl() {
    const d = new URLSearchParams(location.search).get('days');
    return DAY_CHOICES.includes(d) ? d : '30';
  }

  FQ.boot().then(() => {
    el.days.value = daysFromUrl();
    load();
  }).catch(() => { el.loading.hidden = true; });

  el.days.addEventListener('change', () => {
    const url = '/dashboard' + (el.days.value === '30' ? '' : '?days=' + el.days.value);
    history.pushState(null, '', url);
    load();
  });
  window.addEventListener('popstate', () => { el.days.value = daysFromUrl(); load(); });
  el.refresh.addEventListener('click', () => load());
  el.openReport.addEventListener('click', () => openReport());

  async function load() {
    const my = ++seq;
    el.loading.hidden = false;
    try {
      const d = await FQ.busy(el.refresh, () => api('/api/dashboard?days=' + encodeURIComponent(el.days.value)));
      if (my !== seq) return;
      FQ.showError(el.error, null);
      render(d || {});
    } catch (err) {
      if (my !== seq) return;
      FQ.showError(el.error, err);
      if (err && err.status === 403) $('#dash-body').hidden = true;
    } finally {
      if (my === seq) el.loading.hidden = true;
    }
  }

  function sum(a) { return (a || []).reduce((s, v) => s + (Number(v) || 0), 0); }

  function render(d) {
    const days = d.days || [];
    el.range.textContent = days.length ? days[0] + ' 至 ' + days[days.length - 1] : '';
    renderRisk(days, d.by_risk || {});
    renderTypes(days, d.by_type || {});
    renderHeat(d.region_type || {});
    const high = d.open_high || [];
    const red = high.filter((c) => c.risk === 'red');
    const orange = high.filter((c) => c.risk === 'orange');
    el.red.innerHTML = FQ.caseList(red, '暂无红色在办案件');
    el.orange.innerHTML = FQ.caseList(orange, '暂无橙色在办案件');
    $('#red-count').textContent = '(' + red.length + ')';
    $('#orange-count').textContent = '(' + orange.length + ')';
    const overdue = d.overdue || [];
    el.overdue.innerHTML = FQ.caseList(overdue, '暂无超期案件');
    $('#overdue-count').textContent = '(' + overdue.length + ')';
    renderAlerts(d.alerts || []);
  }

  function renderRisk(days, byRisk) {
    const series = FQ.RISK_ORDER.map((c) => ({ name: FQ.RISK_SHORT[c], color: FQ.RISK_COLORS[c], values: byRisk[c] || [] }));
    const total = series.reduce((s, se) => s + sum(se.values), 0);
    el.riskTotal.textContent = '（合计 ' + total + ' 件）';
    if (!days.length) { el.riskChart.innerHTML = '<p class="muted">暂无数据</p>'; return; }
    el.riskChart.innerHTML = FQ.chart.stackedBars({ x: days, series, title: '每日受理量按风险分层' }) +
      FQ.chart.legend(series.map((se) => ({ name: se.name + ' ' + sum(se.values), color: se.color })));
  }

  function renderTypes(days, byType) {
    const top = Object.keys(byType).map((k) => ({ code: k, values: byType[k] || [], total: sum(byType[k]) }))
      .filter((t) => t.total > 0)
      .sort((a, b) => b.total - a.total)
      .slice(0, 6);
    if (!days.length || !top.length) { el.typeCharts.innerHTML = '<p class="muted">暂无数据</p>'; return; }
    const max = FQ.chart.niceMax(Math.max(...top.map((t) => Math.max(0, ...t.values.map(Number)))));
    el.typeCharts.innerHTML = top.map((t, i) =>
      '<div class="multiple" data-type="' + esc(t.code) + '"><h3>' + esc(FQ.typeName(t.code)) +
      ' <span class="muted">合计 ' + t.total + '</span></h3>' +
      FQ.chart.sparkline({ x: days, values: t.values, max, color: TYPE_COLORS[i % TYPE_COLORS.length], title: FQ.typeName(t.code) + '每日受理量' }) +
      '</div>').join('');
  }

  function searchLink(params) {
    const p = new URLSearchParams();
    for (const [k, v] of Object.entries(params)) if (v) p.set(k, v);
    return '/search?' + p.toString();
  }

  function renderHeat(rt) {
    const regions = rt.regions || [];
    const types = rt.types || [];
    const open = rt.open || [];
    if (!regions.length || !types.length) { el.heatmap.innerHTML = '<p class="muted">暂无在办案件</p>'; return; }
    const cell = (r, t) => Number((open[r] || [])[t]) || 0;
    const colTotals = types.map((_, t) => regions.reduce((s, __, r) => s + cell(r, t), 0));
    const cols = types.map((code, t) => ({ code, t })).filter((c) => colTotals[c.t] > 0);
    if (!cols.length) { el.heatmap.innerHTML = '<p class="muted">暂无在办案件</p>'; return; }
    const rows = regions.map((name, r) => ({ name, r, total: cols.reduce((s, c) => s + cell(r, c.t), 0) }))
      .filter((x) => x.total > 0)
      .sort((a, b) => b.total - a.total);
    const labels = FQ.regionTails(rows.map((x) => x.name));
    let max = 0;
    for (const x of rows) for (const c of cols) max = Math.max(max, cell(x.r, c.t));
    let h = '<table class="data heat" id="heat-table"><thead><tr><th scope="col">属地</th>' +
      cols.map((c) => '<th scope="col" data-type="' + esc(c.code) + '">' + esc(FQ.typeName(c.code)) + '</th>').join('') +
      '<th scope="col" class="num">合计</th></tr></thead><tbody>';
    rows.forEach((x, i) => {
      h += '<tr data-region="' + esc(x.name) + '"><th scope="row" class="rh" title="' + esc(x.name) + '">' + esc(labels[i]) + '</th>';
      for (const c of cols) {
        const v = cell(x.r, c.t);
        const col = FQ.chart.heat(v, max);
        h += '<td class="cell" style="background:' + col.bg + ';color:' + col.fg + '" title="' +
          esc(x.name + ' · ' + FQ.typeName(c.code) + '：在办 ' + v + ' 件') + '">' +
          (v ? '<a style="color:inherit" href="' + esc(searchLink({ region: x.name, type: c.code })) + '">' + v + '</a>' : '') + '</td>';
      }
      h += '<td class="num"><strong>' + x.total + '</strong></td></tr>';
    });
    h += '</tbody><tfoot><tr><th scope="row">合计</th>' +
      cols.map((c) => '<td>' + colTotals[c.t] + '</td>').join('') +
      '<td class="num"><strong>' + rows.reduce((s, x) => s + x.total, 0) + '</strong></td></tr></tfoot></table>';
    el.heatmap.innerHTML = h;
  }

  const KINDS = [['cell', '异常升高'], ['topic', '新话题'], ['caller', '重复来电']];

  function renderAlerts(alerts) {
    if (!alerts.length) { el.alerts.innerHTML = '<p class="muted" id="no-alerts">暂无预警</p>'; return; }
    const list = alerts.slice().sort((a, b) => String(b.day).localeCompare(String(a.day)) || (a.score - b.score));
    el.alerts.innerHTML = KINDS.map(([kind, title]) => {
      const of = list.filter((a) => (a.kind || 'cell') === kind);
      if (!of.length) return '';
      return '<h3 class="small">' + esc(title) + '（' + of.length + '）</h3><ul class="alerts" data-kind="' + kind + '">' + of.slice(0, 10).map((a) => {
        const score = Number(a.score);
        const scoreText = kind === 'cell' && isFinite(score) ? (score < 0.001 ? score.toExponential(1) : String(+score.toFixed(3))) : '';
        const where = esc(a.region || '全部辖区') + ' · ' + esc(a.type ? FQ.typeName(a.type) : '全部类型');
        const head = kind === 'caller' ? where :
          '<a href="' + esc(searchLink({ region: a.region, type: a.type, from: a.day, to: nextDay(a.day) })) + '">' + where + '</a>';
        const nums = kind === 'cell' ? '<div class="nums">观测 <strong>' + esc(a.observed) + '</strong> 件 · 期望 ' + esc(fmt1(a.expected)) +
          ' · 上限 ' + esc(fmt1(a.upper)) + (scoreText ? ' · q = ' + esc(scoreText) : '') + '</div>' : '';
        return '<li data-id="' + esc(a.id) + '"><div><strong>' + esc(a.day) + '</strong> ' + head + '</div>' + nums +
          (a.reason ? '<div>' + esc(a.reason) + '</div>' : '') + '</li>';
      }).join('') + '</ul>' + (of.length > 10 ? '<p class="muted small">仅显示最近 10 条</p>' : '');
    }).join('');
  }

  /** Fetches the latest report with the user's token and opens it in a new tab. */
  async function openReport() {
    el.reportStatus.textContent = '';
    const tab = window.open('', '_blank');
    try {
      const res = await api('/api/hotspots/report', { raw: true });
      const html = await res.text();
      const url = URL.createObjectURL(new Blob([html], { type: 'text/html' }));
      if (tab) tab.location.href = url; else location.href = url;
    } catch (e) {
      if (tab) tab.close();
      el.reportStatus.textContent = e.message || '无法打开日报';
    }
  }

  /** "2026-11-20" → "2026-11-21" (the search's `to` is exclusive). */
  function nextDay(day) {
    const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(day || '');
    if (!m) return '';
    const d = new Date(Date.UTC(+m[1], +m[2] - 1, +m[3] + 1));
    return d.getUTCFullYear() + '-' + FQ.pad2(d.getUTCMonth() + 1) + '-' + FQ.pad2(d.getUTCDate());
  }

  function fmt1(v) {
    const n = Number(v);
    return isFinite(n) ? (Number.isInteger(n) ? String(n) : n.toFixed(1)) : '—';
  }
})();
