/* /cases/{id} — case details, timeline and actions. */
(function () {
  'use strict';
  const { esc, $, api } = FQ;

  const ACTION_NAMES = {
    new: '退回新建', assigned: '分派', in_progress: '开始处理', resolved: '调解成功',
    failed: '调解失败', escalated: '上报上级', closed: '结案',
  };
  const EVENT_KINDS = {
    created: '受理登记', assigned: '分派', status: '状态变更', confirmed: '确认标签', corrected: '更正标签',
    note: '备注', overdue: '超期', reassigned: '改派', unmasked: '查看完整号码', labels: '标签', outcome: '调解结果', follow_up: '回访', cross_region: '跨区域知会',
  };
  const DETAIL_KEYS = {
    from: '原', to: '新', note: '说明', text: '内容', type: '类型', risk: '风险', tier: '层级',
    mediator: '调解员', mediator_id: '调解员', mediator_name: '调解员', status: '状态', channel: '渠道',
    due_at: '期限', reason: '原因', reasons: '依据', region: '属地', predicted_type: '预测类型',
    predicted_risk: '预测风险', confirmed_type: '确认类型', confirmed_risk: '确认风险', specialty: '专业',
    escalated_to: '升级至', by: '操作人', actor: '操作人', hours: '小时', overdue_hours: '超期小时',
    from_mediator: '原调解员', to_mediator: '新调解员', previous: '原', field: '标签', probability: '概率',
    predicted: '模型预测', value: '确认为', status_before: '原状态', escalate_to: '提醒', role: '角色',
    result: '结果', satisfaction: '满意度', criminal: '民转刑', regions: '地区', coordinated_by: '协调层级', mediators: '调解员',
  };
  const RESULT_NAMES = { written: '书面协议', oral: '口头协议', failed: '调解失败', escalated: '上报上级' };
  const TIME_RE = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}/;

  const m = /\/cases\/([^/?#]+)/.exec(location.pathname);
  const caseId = m ? decodeURIComponent(m[1]) : '';

  const el = {
    title: $('#case-title'),
    badges: $('#case-badges'),
    error: $('#case-error'),
    loading: $('#case-loading'),
    body: $('#case-body'),
    text: $('#case-text'),
    reasons: $('#case-reasons'),
    timeline: $('#timeline'),
    fields: $('#case-fields'),
    related: $('#case-related'),
    unmaskRow: $('#unmask-row'),
    unmaskBtn: $('#unmask-btn'),
    actionMsg: $('#action-msg'),
    transitionsBox: $('#transitions-box'),
    transitions: $('#transitions'),
    transitionNote: $('#transition-note'),
    labelsBox: $('#labels-box'),
    labelType: $('#label-type'),
    labelRisk: $('#label-risk'),
    labelsBtn: $('#labels-btn'),
    assignBox: $('#assign-box'),
    assignSel: $('#assign-mediator'),
    assignNote: $('#assign-note'),
    assignBtn: $('#assign-btn'),
    noteText: $('#note-text'),
    noteBtn: $('#note-btn'),
    back: $('#back-link'),
  };

  let me = null;
  let kase = null;
  let unmasked = false;
  let mediators = null; // [{id,name,...}] for supervisor/admin
  const medNames = {};

  // back link: previous page on this site, else the role's home
  el.back.addEventListener('click', (e) => {
    try {
      if (document.referrer && new URL(document.referrer).origin === location.origin && history.length > 1) {
        e.preventDefault();
        history.back();
      }
    } catch (_) { /* follow the link */ }
  });

  FQ.boot().then((ctx) => {
    me = ctx.me;
    el.back.href = FQ.ROLE_HOME[me.role] || '/';
    if (!caseId) {
      el.loading.hidden = true;
      FQ.fatal({ message: '地址中缺少案件编号', hint: '案件页地址形如 /cases/41。' });
      return;
    }
    if (canAssign()) loadMediators();
    load(false);
  }).catch(() => { el.loading.hidden = true; });

  function canAssign() { return me && (me.role === 'supervisor' || me.role === 'admin'); }
  function canTransition(c) {
    if (!me) return false;
    if (me.role === 'supervisor' || me.role === 'admin') return true;
    return me.role === 'mediator' && !!me.mediator_id && c.mediator_id === me.mediator_id;
  }
  // POST /labels: operator, supervisor, admin (mediators cannot relabel)
  function canLabel() { return !!me && me.role !== 'mediator'; }

  async function loadMediators() {
    try {
      const r = await api('/api/mediators');
      mediators = (r && r.mediators) || [];
      for (const x of mediators) medNames[x.id] = x.name;
      if (kase) renderAssign(kase);
    } catch (err) {
      el.assignSel.innerHTML = '<option value="">无法加载调解员名册</option>';
    }
  }

  async function load(unmask) {
    try {
      const r = await api('/api/cases/' + encodeURIComponent(caseId) + '?unmask=' + (unmask ? 'true' : 'false'));
      unmasked = !!unmask;
      el.loading.hidden = true;
      FQ.showError(el.error, null);
      render(r);
    } catch (err) {
      el.loading.hidden = true;
      if (kase) FQ.showError(el.error, err);
      else FQ.fatal(err);
    }
  }

  // ------------------------------------------------------------------ rendering
  function render(r) {
    const c = r.case;
    kase = c;
    if (c.mediator_id && c.mediator_name) medNames[c.mediator_id] = c.mediator_name;
    document.title = '案件 #' + c.id + ' · 枫桥';
    el.title.textContent = '案件 #' + c.id;
    el.title.dataset.caseId = String(c.id);
    el.badges.innerHTML = FQ.riskBadge(c.risk) + ' ' + FQ.statusTag(c.status, c.status_name) +
      (FQ.isOverdue(c) ? ' <span class="overdue-tag" id="overdue-flag">已超期</span>' : '');
    el.body.hidden = false;

    el.text.textContent = c.text || '';
    el.reasons.innerHTML = (c.reasons && c.reasons.length)
      ? c.reasons.map((x) => '<li>' + esc(typeof x === 'string' ? x : (x.text || JSON.stringify(x))) + '</li>').join('')
      : '<li class="muted">无</li>';

    const showUnmask = me && me.can_unmask && (c.masked || unmasked);
    el.unmaskRow.hidden = !showUnmask;
    el.unmaskBtn.textContent = unmasked ? '隐藏完整号码' : '显示完整号码';
    $('#unmask-note').textContent = unmasked ? '已显示完整号码（本次查看已记录）' : '查看将被记录';

    renderFields(c);
    el.related.innerHTML = FQ.relatedList(r.related);
    renderTimeline(r.events || []);
    renderActions(c);
  }

  function row(label, html) { return '<tr><th scope="row">' + esc(label) + '</th><td>' + html + '</td></tr>'; }
  const txt = (v) => (v === null || v === undefined || v === '' ? '<span class="muted">—</span>' : esc(v));

  function renderFields(c) {
    const pred = esc(FQ.typeName(c.predicted_type)) +
      (c.predicted_type_prob !== null && c.predicted_type_prob !== undefined ? ' <span class="muted">' + esc(FQ.fmtPct(c.predicted_type_prob)) + '</span>' : '');
    el.fields.innerHTML =
      row('编号', esc(c.id) + (c.external_id ? ' <span class="muted">外部编号 ' + esc(c.external_id) + '</span>' : '')) +
      row('受理时间', esc(FQ.fmtTime(c.received_at))) +
      row('渠道', esc(FQ.channelName(c.channel))) +
      row('来电人', txt(c.caller_name)) +
      row('来电号码', txt(c.caller_phone) + (c.masked ? ' <span class="muted small">（已脱敏）</span>' : '')) +
      row('属地', txt(c.region)) +
      ((c.other_regions && c.other_regions.length) ? row('跨区域', txt(c.other_regions.join('、'))) : '') +
      row('地址', txt(c.address)) +
      row('纠纷类型', esc(c.type_name || FQ.typeName(c.type)) + (c.confirmed_type ? ' <span class="muted small">已确认</span>' : '')) +
      row('风险等级', FQ.riskBadge(c.risk) + (c.confirmed_risk ? ' <span class="muted small">已确认</span>' : '')) +
      row('模型预测', pred + ' · ' + FQ.riskBadge(c.predicted_risk)) +
      row('确认标签', (c.confirmed_type ? esc(FQ.typeName(c.confirmed_type)) : '<span class="muted">类型未确认</span>') + ' · ' +
        (c.confirmed_risk ? FQ.riskBadge(c.confirmed_risk) : '<span class="muted">风险未确认</span>')) +
      row('分流层级', esc(FQ.tierName(c.tier)) + ' <span class="muted small">' + esc(c.tier_name || FQ.tierLongName(c.tier)) + '</span>') +
      row('调解员', c.mediator_id ? esc(c.mediator_name || medNames[c.mediator_id] || '') + ' <span class="muted">' + esc(c.mediator_id) + '</span>' : '<span class="muted">未分派</span>') +
      row('状态', FQ.statusTag(c.status, c.status_name)) +
      row('可转为', (c.next && c.next.length) ? c.next.map((s) => esc(FQ.statusName(s))).join('、') : '<span class="muted">无</span>') +
      row('处理期限', FQ.dueHtml(c)) +
      row('更新时间', esc(FQ.fmtTime(c.updated_at)));
  }

  // ---------- timeline
  function isCode(list, v) { return typeof v === 'string' && list.some((x) => x.code === v); }

  /** Render one value from an event's detail in a readable way. */
  function fmtValue(kind, key, v) {
    if (v === null || v === undefined || v === '') return '<span class="muted">—</span>';
    if (Array.isArray(v)) return v.map((x) => fmtValue(kind, key, x)).join('；');
    if (typeof v === 'object') {
      if ('from' in v || 'to' in v) return fmtValue(kind, key, v.from) + ' → ' + fmtValue(kind, key, v.to);
      if (v.name && v.id) return esc(v.name) + ' <span class="muted">' + esc(v.id) + '</span>';
      if (v.text) return esc(v.text);
      return '<code>' + esc(JSON.stringify(v)) + '</code>';
    }
    if (typeof v === 'boolean') return v ? '是' : '否';
    if (typeof v === 'number') return /prob/.test(key) ? esc(FQ.fmtPct(v)) : esc(v);
    const s = String(v);
    if (key === 'text' || key === 'note' || key === 'reason') return esc(s);
    if (key === 'field') return esc({ type: '类型', risk: '风险' }[s] || s);
    if ((key === 'escalate_to' || key === 'role') && FQ.ROLES[s]) return esc(FQ.roleName(s));
    if (FQ.RISK_ORDER.includes(s)) return FQ.riskBadge(s);
    if (/mediator/.test(key) || ((key === 'from' || key === 'to') && (kind === 'reassigned' || kind === 'assigned'))) {
      return medNames[s] ? esc(medNames[s]) + ' <span class="muted">' + esc(s) + '</span>' : esc(s);
    }
    if (key === 'channel') return esc(FQ.channelName(s));
    if (key === 'tier' || key === 'escalated_to' || isCode(FQ.labels.tiers, s)) return esc(FQ.tierName(s));
    if (key === 'status' || (kind === 'status' && (key === 'from' || key === 'to')) || isCode(FQ.labels.statuses, s)) {
      return FQ.statusTag(s);
    }
    if (isCode(FQ.labels.types, s)) return esc(FQ.typeName(s));
    if (TIME_RE.test(s)) return esc(FQ.fmtTime(s));
    return esc(s);
  }

  function renderDetail(kind, d) {
    if (d === null || d === undefined) return '';
    if (typeof d !== 'object' || Array.isArray(d)) return '<div class="ev-detail">' + fmtValue(kind, '', d) + '</div>';
    const keys = Object.keys(d);
    if (!keys.length) return '';
    let h = '';
    const longText = [];
    // status changes read best as "from → to"
    if (kind === 'status' && ('from' in d || 'to' in d)) {
      h += '<span class="kv-item">' + (d.from ? fmtValue(kind, 'from', d.from) + ' → ' : '') + fmtValue(kind, 'to', d.to) + '</span>';
    }
    for (const k of keys) {
      const v = d[k];
      if (kind === 'status' && (k === 'from' || k === 'to')) continue;
      if (k === 'mediator_id' && d.mediator_name) continue;
      if ((k === 'text' || k === 'note' || k === 'reason') && typeof v === 'string') { longText.push(v); continue; }
      if (v === null || v === undefined || v === '') continue;
      let val = fmtValue(kind, k, v);
      if (k === 'mediator_name' && d.mediator_id) val = esc(v) + ' <span class="muted">' + esc(d.mediator_id) + '</span>';
      h += '<span class="kv-item"><span class="k">' + esc(DETAIL_KEYS[k] || k) + '</span>' + val + '</span>';
    }
    for (const t of longText) h += '<div class="note-text">' + esc(t) + '</div>';
    return h ? '<div class="ev-detail">' + h + '</div>' : '';
  }

  function renderTimeline(events) {
    const list = events.slice().sort((a, b) => new Date(a.at) - new Date(b.at));
    if (!list.length) { el.timeline.innerHTML = '<li class="muted">暂无记录</li>'; return; }
    el.timeline.innerHTML = list.map((ev) =>
      '<li class="ev ev-' + esc(ev.kind) + '" data-kind="' + esc(ev.kind) + '">' +
        '<div class="ev-head"><time datetime="' + esc(ev.at) + '">' + esc(FQ.fmtTime(ev.at)) + '</time>' +
        '<span class="ev-kind">' + esc(EVENT_KINDS[ev.kind] || ev.kind) + '</span>' +
        '<span class="muted">' + esc(ev.actor || '系统') + '</span></div>' +
        renderDetail(ev.kind, ev.detail) +
      '</li>').join('');
  }

  // ---------- actions
  function renderActions(c) {
    const next = c.next || [];
    const tr = canTransition(c);
    el.transitionsBox.hidden = !tr;
    if (tr) {
      el.transitions.innerHTML = next.length
        ? next.map((s) => '<button type="button" class="btn transition-btn' + (s === 'failed' || s === 'closed' ? '' : ' btn-primary') +
            '" data-to="' + esc(s) + '" title="状态改为：' + esc(FQ.statusName(s)) + '">' + esc(ACTION_NAMES[s] || FQ.statusName(s)) +
            ' <span class="small">→ ' + esc(FQ.statusName(s)) + '</span></button>').join('')
        : '<span class="muted">当前状态无可用流转</span>';
    }

    // An outcome ends an open case; a follow-up comes after one.
    const open = ['assigned', 'in_progress'].includes(c.status);
    const done = ['resolved', 'failed', 'escalated', 'closed'].includes(c.status);
    $('#outcome-box').hidden = !(tr && (open || done));
    $('#outcome-btn').disabled = !open;
    $('#follow-btn').disabled = !done;

    el.labelsBox.hidden = !canLabel();
    el.labelType.innerHTML = FQ.options(withCurrent(FQ.labels.types, c.type), c.type);
    el.labelRisk.innerHTML = FQ.options(FQ.RISK_ORDER.map((x) => ({ code: x, name: FQ.RISK_SHORT[x] })), c.risk);

    el.assignBox.hidden = !canAssign();
    if (canAssign()) renderAssign(c);
  }

  function withCurrent(types, code) {
    if (!code || types.some((t) => t.code === code)) return types;
    return types.concat([{ code, name: FQ.typeName(code) }]);
  }

  function renderAssign(c) {
    if (!mediators) return;
    const sorted = mediators.slice().sort((a, b) => {
      const ta = FQ.labels.tiers.findIndex((t) => t.code === a.tier), tb = FQ.labels.tiers.findIndex((t) => t.code === b.tier);
      return ta - tb || String(a.region).localeCompare(String(b.region)) || String(a.name).localeCompare(String(b.name));
    });
    el.assignSel.innerHTML = '<option value="">选择调解员…</option>' + sorted.map((x) => {
      const full = Number(x.load) >= Number(x.capacity);
      return '<option value="' + esc(x.id) + '"' + (x.id === c.mediator_id ? ' selected' : '') + '>' +
        esc(x.name + '（' + x.id + '）· ' + FQ.tierName(x.tier) + ' · ' + '★'.repeat(Math.max(0, Math.min(5, x.stars || 0))) +
          ' · 在办 ' + x.load + '/' + x.capacity + (full ? ' 已满' : '') +
          ((x.specialties && x.specialties.length) ? ' · ' + x.specialties.map(FQ.typeName).join('、') : '') +
          (x.region ? ' · ' + x.region : '')) +
        (x.id === c.mediator_id ? '（当前）' : '') + '</option>';
    }).join('');
  }

  async function act(btn, path, body, okText) {
    FQ.showError(el.actionMsg, null);
    try {
      await FQ.busy(btn, () => api('/api/cases/' + encodeURIComponent(caseId) + path, { method: 'POST', body }));
      await load(false);
      FQ.showOk(el.actionMsg, esc(okText));
      return true;
    } catch (err) {
      FQ.showError(el.actionMsg, err);
      return false;
    }
  }

  el.transitions.addEventListener('click', async (e) => {
    const b = e.target.closest('button.transition-btn');
    if (!b) return;
    const to = b.dataset.to;
    const body = { to };
    const note = el.transitionNote.value.trim();
    if (note) body.note = note;
    if (await act(b, '/transition', body, '状态已改为：' + FQ.statusName(to))) el.transitionNote.value = '';
  });

  $('#outcome-btn').addEventListener('click', async (e) => {
    const body = { result: $('#outcome-result').value };
    const note = $('#outcome-note').value.trim();
    if (note) body.note = note;
    if (await act(e.currentTarget, '/outcome', body, '已记录结果：' + RESULT_NAMES[body.result])) $('#outcome-note').value = '';
  });

  $('#follow-btn').addEventListener('click', async (e) => {
    const body = { criminal: $('#follow-criminal').checked };
    if ($('#follow-satisfaction').value) body.satisfaction = Number($('#follow-satisfaction').value);
    await act(e.currentTarget, '/follow-up', body, '已记录回访');
  });

  el.labelsBtn.addEventListener('click', async () => {
    const body = {};
    if (el.labelType.value && el.labelType.value !== kase.type) body.type = el.labelType.value;
    if (el.labelRisk.value && el.labelRisk.value !== kase.risk) body.risk = el.labelRisk.value;
    if (!Object.keys(body).length) {
      // confirming the current labels is also meaningful when they were never confirmed
      if (kase.confirmed_type && kase.confirmed_risk) {
        FQ.showOk(el.actionMsg, '标签未改变');
        return;
      }
      body.type = kase.type;
      body.risk = kase.risk;
    }
    await act(el.labelsBtn, '/labels', body, '标签已保存');
  });

  el.assignBtn.addEventListener('click', async () => {
    const id = el.assignSel.value;
    if (!id) { FQ.showError(el.actionMsg, { message: '请选择调解员' }); el.assignSel.focus(); return; }
    const body = { mediator_id: id };
    const note = el.assignNote.value.trim();
    if (note) body.note = note;
    if (await act(el.assignBtn, '/assign', body, '已改派给 ' + (medNames[id] || id))) el.assignNote.value = '';
  });

  async function addNote() {
    const text = el.noteText.value.trim();
    if (!text) { FQ.showError(el.actionMsg, { message: '备注不能为空' }); el.noteText.focus(); return; }
    if (await act(el.noteBtn, '/notes', { text }, '备注已添加')) el.noteText.value = '';
  }
  el.noteBtn.addEventListener('click', addNote);
  el.noteText.addEventListener('keydown', (e) => {
    if ((e.ctrlKey || e.metaKey) && e.key === 'Enter' && !e.isComposing) { e.preventDefault(); addNote(); }
  });

  el.unmaskBtn.addEventListener('click', () => FQ.busy(el.unmaskBtn, () => load(!unmasked)));

  document.addEventListener('keydown', (e) => {
    if (e.altKey && !e.ctrlKey && (e.code === 'KeyN' || e.key === 'n' || e.key === 'N')) {
      e.preventDefault();
      el.noteText.focus();
    }
  });
})();
