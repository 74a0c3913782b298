/* /desk — the operator's triage desk.
 * Type the call, Ctrl+Enter → POST /api/triage → card; confirm/correct labels; Ctrl+Enter → POST /api/cases.
 */
(function () {
  'use strict';
  const { esc, $, api } = FQ;

  const el = {
    form: $('#desk-form'),
    text: $('#text'),
    region: $('#region'),
    phone: $('#phone'),
    address: $('#address'),
    callerName: $('#caller-name'),
    channel: $('#channel'),
    triageBtn: $('#triage-btn'),
    clearBtn: $('#clear-btn'),
    card: $('#card'),
    confirm: $('#confirm'),
    typeSel: $('#type-select'),
    riskSel: $('#risk-select'),
    saveBtn: $('#save-btn'),
    saved: $('#saved'),
    error: $('#desk-error'),
    info: $('#desk-info'),
    chars: $('#char-count'),
    correction: $('#correction-note'),
    regionList: $('#region-list'),
  };

  const REGIONS_KEY = 'fq_recent_regions';
  const state = {
    me: null,
    triage: null,        // last triage response shown on the card
    triagedText: null,   // the text that triage was computed for
    stale: false,        // text edited since the card was drawn
    triaging: false,
    saving: false,
    ctrl: null,          // AbortController of the running triage
    touchedType: false,  // operator changed the selects by hand for this call
    touchedRisk: false,
    lastCleared: null,   // for Alt+Z
  };

  el.text.focus();
  const ready = FQ.boot().then((ctx) => {
    state.me = ctx.me;
    if (ctx.me.region && !el.region.value) el.region.value = ctx.me.region;
    fillSelects();
    return ctx;
  });
  ready.catch(() => {});
  fillRegionList();

  // ------------------------------------------------------------------ inputs
  function inputs() {
    const body = { text: el.text.value };
    const opt = { region: el.region.value.trim(), phone: el.phone.value.trim(), address: el.address.value.trim() };
    for (const k of Object.keys(opt)) if (opt[k]) body[k] = opt[k];
    const others = $('#other-regions').value.split(/[;；]/).map((r) => r.trim()).filter(Boolean);
    if (others.length) body.other_regions = others;
    return body;
  }

  function countChars() {
    const n = Array.from(el.text.value).length;
    el.chars.textContent = n + ' 字';
  }

  function fillSelects(extraType) {
    const types = FQ.labels.types.length ? FQ.labels.types.slice() : [];
    const have = new Set(types.map((t) => t.code));
    if (extraType && !have.has(extraType)) types.push({ code: extraType, name: FQ.typeName(extraType) });
    const curT = el.typeSel.value;
    const curR = el.riskSel.value;
    el.typeSel.innerHTML = FQ.options(types, curT);
    el.riskSel.innerHTML = FQ.options(FQ.RISK_ORDER.map((c) => ({ code: c, name: FQ.RISK_SHORT[c] })), curR);
  }

  function fillRegionList() {
    let list = [];
    try { list = JSON.parse(localStorage.getItem(REGIONS_KEY) || '[]'); } catch (_) { list = []; }
    el.regionList.innerHTML = list.map((r) => '<option value="' + esc(r) + '">').join('');
  }

  function rememberRegion(r) {
    if (!r) return;
    let list = [];
    try { list = JSON.parse(localStorage.getItem(REGIONS_KEY) || '[]'); } catch (_) { list = []; }
    list = [r].concat(list.filter((x) => x !== r)).slice(0, 12);
    try { localStorage.setItem(REGIONS_KEY, JSON.stringify(list)); } catch (_) { /* full */ }
    fillRegionList();
  }

  // ------------------------------------------------------------------ card
  function cardShowing() { return !!state.triage && !el.confirm.hidden; }

  function setLoading(on) {
    el.card.setAttribute('aria-busy', on ? 'true' : 'false');
    if (on) {
      if (el.card.classList.contains('is-empty')) {
        el.card.classList.remove('is-empty');
        el.card.innerHTML = '<div class="card-overlay"><span class="spinner"></span>&nbsp;正在分析…</div><div class="card-body"></div>';
      } else if (!el.card.querySelector('.card-overlay')) {
        el.card.insertAdjacentHTML('afterbegin', '<div class="card-overlay"><span class="spinner"></span>&nbsp;正在分析…</div>');
      }
      el.card.classList.add('is-loading');
    } else {
      el.card.classList.remove('is-loading');
    }
  }

  function emptyCard() {
    el.card.className = 'is-empty';
    el.card.setAttribute('aria-busy', 'false');
    el.card.textContent = '输入来电内容后按 Ctrl+Enter 分析';
    el.confirm.hidden = true;
    state.triage = null;
    state.triagedText = null;
    state.stale = false;
  }

  function reasonItem(r) {
    const src = r.source || '';
    return '<li><span class="src src-' + esc(src) + '">' + esc(FQ.REASON_SOURCES[src] || src) + '</span>' +
      FQ.riskBadge(r.level) + ' <span class="lvl-' + esc(r.level) + '">' + esc(r.text) + '</span></li>';
  }

  function piiSummary(list) {
    if (!list || !list.length) return '未发现';
    const counts = {};
    for (const p of list) counts[p.kind] = (counts[p.kind] || 0) + 1;
    return Object.keys(counts).map((k) => esc(FQ.PII_KINDS[k] || k) + ' ' + counts[k] + ' 处').join('，') +
      ' <span class="muted">（存档时脱敏）</span>';
  }

  function renderCard(t) {
    const ty = t.type || {};
    const rk = t.risk || {};
    const rt = t.routing || {};

    // top type probabilities
    const probs = Object.entries(ty.probabilities || {}).sort((a, b) => b[1] - a[1]).slice(0, 3);
    const probBars = probs.map(([code, p]) =>
      '<li><span>' + esc(FQ.typeName(code)) + '</span><span class="bar"><span style="width:' +
      (Math.max(0, Math.min(1, p)) * 100).toFixed(1) + '%"></span></span><span class="pv">' + esc(FQ.fmtPct(p)) + '</span></li>').join('');

    // risk probability strip
    const rp = rk.probabilities || {};
    const riskStrip = FQ.RISK_ORDER.map((c) => {
      const p = Number(rp[c]) || 0;
      return p > 0 ? '<span style="width:' + (p * 100).toFixed(1) + '%;background:' + FQ.RISK_COLORS[c] +
        '" title="' + esc(FQ.RISK_SHORT[c] + ' ' + FQ.fmtPct(p)) + '"></span>' : '';
    }).join('');
    const riskProbText = FQ.RISK_ORDER.map((c) => FQ.RISK_SHORT[c] + ' ' + FQ.fmtPct(Number(rp[c]) || 0)).join(' · ');

    const notes = [];
    if (rk.model_level) notes.push('模型判断 ' + FQ.riskName(rk.model_level));
    if (rk.cue_floor) notes.push('线索下限 ' + FQ.riskName(rk.cue_floor));

    const terms = (ty.terms || []).slice(0, 8).map((w) => '<span class="chip">' + esc(w) + '</span>').join('');

    const med = rt.mediator;
    const medHtml = med
      ? '<strong>' + esc(med.name) + '</strong> <span class="muted">' + esc(med.id) + '</span> ' + FQ.stars(med.stars) +
        ' <span class="muted">' + esc(med.region || '') + ' · 在办 ' + esc(med.load) + '/' + esc(med.capacity) + '</span>'
      : '<span class="overdue-tag">暂无可分派调解员</span> <span class="muted">（保存后待人工分派）</span>';

    const body =
      '<div class="card-top">' +
        '<section aria-label="类型">' +
          '<div class="muted small">纠纷类型</div>' +
          '<div><span class="big" id="card-type" data-type="' + esc(ty.label) + '">' + esc(ty.name || FQ.typeName(ty.label)) + '</span>' +
          '<span class="prob">' + esc(FQ.fmtPct(ty.probability)) + '</span></div>' +
          (terms ? '<div class="terms" style="margin-top:4px">' + terms + '</div>' : '') +
          (probBars ? '<ul class="probbars">' + probBars + '</ul>' : '') +
        '</section>' +
        '<section aria-label="风险">' +
          '<div class="muted small">风险等级</div>' +
          '<div id="card-risk" data-risk="' + esc(rk.level) + '">' + FQ.riskBadge(rk.level).replace('class="badge', 'class="badge badge-lg') + '</div>' +
          '<div class="riskbar" aria-hidden="true">' + riskStrip + '</div>' +
          '<div class="muted small">' + esc(riskProbText) + '</div>' +
          (notes.length ? '<div class="small">' + esc(notes.join('；')) + '</div>' : '') +
        '</section>' +
      '</div>' +
      '<section aria-label="风险依据"><h3>风险依据</h3>' +
        ((rk.reasons && rk.reasons.length) ? '<ul class="reasons">' + rk.reasons.map(reasonItem).join('') + '</ul>' : '<p class="muted">无</p>') +
      '</section>' +
      '<section aria-label="要素"><dl class="facts">' +
        '<dt>涉及人数</dt><dd id="card-people">' + (t.people !== null && t.people !== undefined ? esc(t.people) + ' 人' : '<span class="muted">未识别</span>') + '</dd>' +
        '<dt>属地</dt><dd>' + esc(t.region || '—') + '</dd>' +
        '<dt>来电号码</dt><dd>' + esc(t.caller_phone || '—') + '</dd>' +
        (t.address ? '<dt>地址</dt><dd>' + esc(t.address) + '</dd>' : '') +
        '<dt>个人信息</dt><dd id="card-pii">' + piiSummary(t.personal_data) + '</dd>' +
        '<dt>字数</dt><dd>' + esc(t.chars) + '</dd>' +
      '</dl>' +
      (t.masked_text && t.personal_data && t.personal_data.length
        ? '<details><summary class="small">脱敏后文本</summary><div class="case-text small">' + esc(t.masked_text) + '</div></details>' : '') +
      '</section>' +
      '<section aria-label="关联案件"><h3>关联案件 <span class="muted">(' + ((t.related || []).length) + ')</span></h3>' +
        '<div id="card-related">' + FQ.relatedList(t.related) + '</div></section>' +
      '<section aria-label="分流建议"><h3>分流建议</h3><dl class="facts">' +
        '<dt>层级</dt><dd id="card-tier" data-tier="' + esc(rt.tier) + '"><strong title="' + esc(FQ.tierLongName(rt.tier)) + '">' + esc(FQ.tierName(rt.tier)) + '</strong>' +
          ' <span class="muted small">' + esc(FQ.tierLongName(rt.tier)) + '</span>' +
          (rt.escalated_to ? ' <span class="overdue-tag">→ 升级至 ' + esc(FQ.tierName(rt.escalated_to)) + '</span>' : '') + '</dd>' +
        '<dt>专业</dt><dd>' + (rt.specialty ? esc(FQ.typeName(rt.specialty)) : '<span class="muted">通用</span>') + '</dd>' +
        '<dt>调解员</dt><dd id="card-mediator" data-mediator-id="' + esc(med ? med.id : '') + '">' + medHtml + '</dd>' +
      '</dl>' +
      ((rt.reasons && rt.reasons.length) ? '<ol class="routing-reasons small">' + rt.reasons.map((r) => '<li>' + esc(r) + '</li>').join('') + '</ol>' : '') +
      '</section>';

    el.card.className = '';
    el.card.innerHTML = '<div class="card-overlay"><span class="spinner"></span>&nbsp;正在分析…</div><div class="card-body">' + body + '</div>';
    el.card.setAttribute('aria-busy', 'false');
  }

  function presetSelects(t) {
    fillSelects(t.type && t.type.label);
    if (!state.touchedType && t.type && t.type.label) el.typeSel.value = t.type.label;
    if (!state.touchedRisk && t.risk && t.risk.level) el.riskSel.value = t.risk.level;
    noteCorrection();
  }

  function noteCorrection() {
    const t = state.triage;
    if (!t) { el.correction.textContent = ''; return; }
    const parts = [];
    if (t.type && el.typeSel.value && el.typeSel.value !== t.type.label) parts.push('类型已更正（预测：' + FQ.typeName(t.type.label) + '）');
    if (t.risk && el.riskSel.value && el.riskSel.value !== t.risk.level) parts.push('风险已更正（预测：' + FQ.riskName(t.risk.level) + '）');
    el.correction.textContent = parts.join('；');
  }

  function markStale() {
    const stale = cardShowing() && el.text.value !== state.triagedText;
    if (stale === state.stale) return;
    state.stale = stale;
    el.card.classList.toggle('is-stale', stale);
    el.saveBtn.textContent = stale ? '内容已修改，重新分析 (Ctrl+Enter)' : '确认并保存 (Ctrl+Enter)';
  }

  // ------------------------------------------------------------------ actions
  async function triage() {
    if (state.saving) return;
    if (state.ctrl) state.ctrl.abort();
    const ctrl = new AbortController();
    state.ctrl = ctrl;
    state.triaging = true;
    const body = inputs();
    FQ.showError(el.error, null);
    el.info.textContent = '';
    setLoading(true);
    el.triageBtn.disabled = true;
    try {
      const t = await api('/api/triage', { method: 'POST', body, signal: ctrl.signal });
      await ready;
      if (state.ctrl !== ctrl) return;
      state.triage = t;
      state.triagedText = body.text;
      state.stale = false;
      renderCard(t);
      el.confirm.hidden = false;
      el.saveBtn.textContent = '确认并保存 (Ctrl+Enter)';
      presetSelects(t);
    } catch (err) {
      if (err && err.name === 'AbortError') return;
      if (state.ctrl !== ctrl) return;
      setLoading(false);
      if (!state.triage) emptyCard();
      FQ.showError(el.error, err);
    } finally {
      if (state.ctrl === ctrl) {
        state.ctrl = null;
        state.triaging = false;
        el.triageBtn.disabled = false;
      }
    }
  }

  async function save() {
    if (state.saving || state.triaging || !cardShowing()) return;
    if (state.stale) { triage(); return; }
    const body = inputs();
    const name = el.callerName.value.trim();
    if (name) body.caller_name = name;
    body.channel = el.channel.value || 'hotline';
    body.type = el.typeSel.value;
    body.risk = el.riskSel.value;
    state.saving = true;
    FQ.showError(el.error, null);
    try {
      const res = await FQ.busy(el.saveBtn, () => api('/api/cases', { method: 'POST', body }));
      const c = (res && res.case) || {};
      rememberRegion(body.region);
      showSaved(c);
      clearForm(false);
    } catch (err) {
      FQ.showError(el.error, err);
    } finally {
      state.saving = false;
    }
  }

  function showSaved(c) {
    const who = c.mediator_name || '待分派';
    el.saved.dataset.caseId = String(c.id);
    el.saved.innerHTML = '<div class="msg msg-ok" role="status">已保存 <a href="/cases/' + encodeURIComponent(c.id) +
      '" id="saved-link">案件 #' + esc(c.id) + '</a> → ' + esc(FQ.tierName(c.tier)) + ' ' + esc(who) + '</div>';
  }

  /** Clear the call inputs and the card; `remember` keeps a copy for Alt+Z. */
  function clearForm(remember) {
    if (state.ctrl) { state.ctrl.abort(); state.ctrl = null; state.triaging = false; el.triageBtn.disabled = false; }
    if (remember) {
      const snap = {
        text: el.text.value, region: el.region.value, phone: el.phone.value, address: el.address.value,
        callerName: el.callerName.value, channel: el.channel.value,
      };
      if (snap.text || snap.phone || snap.address || snap.callerName) {
        state.lastCleared = snap;
        el.info.textContent = '已清空，Alt+Z 恢复';
      }
    } else {
      state.lastCleared = null;
      el.info.textContent = '';
    }
    el.text.value = '';
    el.phone.value = '';
    el.address.value = '';
    $('#other-regions').value = '';
    el.callerName.value = '';
    el.region.value = (state.me && state.me.region) || '';
    state.touchedType = false;
    state.touchedRisk = false;
    el.correction.textContent = '';
    FQ.showError(el.error, null);
    emptyCard();
    countChars();
    el.text.focus();
  }

  function restore() {
    const s = state.lastCleared;
    if (!s) return;
    el.text.value = s.text;
    el.region.value = s.region;
    el.phone.value = s.phone;
    el.address.value = s.address;
    el.callerName.value = s.callerName;
    el.channel.value = s.channel;
    state.lastCleared = null;
    el.info.textContent = '已恢复';
    countChars();
    el.text.focus();
  }

  // ------------------------------------------------------------------ events
  el.triageBtn.addEventListener('click', () => triage());
  el.saveBtn.addEventListener('click', () => save());
  el.clearBtn.addEventListener('click', () => clearForm(true));
  el.form.addEventListener('submit', (e) => e.preventDefault());
  el.text.addEventListener('input', () => { countChars(); markStale(); });
  el.typeSel.addEventListener('change', () => { state.touchedType = true; noteCorrection(); });
  el.riskSel.addEventListener('change', () => { state.touchedRisk = true; noteCorrection(); });

  document.addEventListener('keydown', (e) => {
    if (e.isComposing || e.keyCode === 229) return;
    if ((e.ctrlKey || e.metaKey) && (e.key === 'Enter' || e.code === 'Enter' || e.code === 'NumpadEnter')) {
      e.preventDefault();
      if (state.saving) return;
      if (cardShowing() && !state.stale) save();
      else if (!state.triaging) triage();
      return;
    }
    if (e.altKey && !e.ctrlKey && !e.metaKey) {
      if (e.code === 'KeyT' || e.key === 't' || e.key === 'T') {
        if (cardShowing()) { e.preventDefault(); el.typeSel.focus(); }
        return;
      }
      if (e.code === 'KeyR' || e.key === 'r' || e.key === 'R') {
        if (cardShowing()) { e.preventDefault(); el.riskSel.focus(); }
        return;
      }
      if (e.code === 'KeyZ' || e.key === 'z' || e.key === 'Z') {
        if (state.lastCleared) { e.preventDefault(); restore(); }
        return;
      }
    }
    if (e.key === 'Escape' && !e.ctrlKey && !e.altKey) {
      if (state.saving) return;
      e.preventDefault();
      clearForm(true);
    }
  });

  countChars();
})();
