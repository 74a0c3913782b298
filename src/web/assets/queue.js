/* /queue — the signed-in mediator's open cases, soonest due first, with quick actions. */
(function () {
  'use strict';
  const { esc, $, $$, api } = FQ;

  const QUICK = [
    { to: 'in_progress', text: '开始处理', note: false, primary: true },
    { to: 'resolved', text: '调解成功', note: true, primary: true },
    { to: 'failed', text: '调解失败', note: true },
    { to: 'escalated', text: '上报', note: true },
  ];
  const NOTE_HINT = {
    resolved: '调解结果，如：双方达成协议，已签调解书',
    failed: '失败原因及后续建议',
    escalated: '上报原因，如：涉及人数多、需多部门联动',
  };

  const body = $('#queue-body');
  const el = {
    error: $('#queue-error'), msg: $('#queue-msg'), count: $('#queue-count'), refresh: $('#refresh-btn'),
    pickBox: $('#queue-for'), pick: $('#queue-mediator'),
  };
  let cases = [];
  let loading = false;
  let me = null;

  FQ.boot().then((ctx) => {
    me = ctx.me;
    if (me.role !== 'mediator') setupPicker();
    else load();
  }).catch(() => {});

  // Supervisors and admins look at one mediator's queue at a time (GET /api/queue?mediator=ID).
  function pickedFromUrl() { return new URLSearchParams(location.search).get('mediator') || ''; }

  async function setupPicker() {
    el.pickBox.hidden = false;
    try {
      const r = await api('/api/mediators');
      const list = ((r && r.mediators) || []).slice().sort((a, b) => String(a.id).localeCompare(String(b.id)));
      el.pick.innerHTML = '<option value="">选择调解员…</option>' + list.map((m) =>
        '<option value="' + esc(m.id) + '">' + esc(m.name + '（' + m.id + '）· ' + FQ.tierName(m.tier) + ' · 在办 ' + m.load + '/' + m.capacity) + '</option>').join('');
    } catch (err) {
      el.pick.innerHTML = '<option value="">无法加载名册</option>';
      FQ.showError(el.error, err);
    }
    const want = pickedFromUrl();
    if (want && !Array.from(el.pick.options).some((o) => o.value === want)) {
      el.pick.insertAdjacentHTML('beforeend', '<option value="' + esc(want) + '">' + esc(want) + '</option>');
    }
    el.pick.value = want;
    if (want) load();
    else body.innerHTML = '<tr><td colspan="8" class="muted">请先选择调解员</td></tr>';
    el.pick.addEventListener('change', () => {
      const v = el.pick.value;
      history.pushState(null, '', '/queue' + (v ? '?mediator=' + encodeURIComponent(v) : ''));
      if (v) load();
      else { cases = []; body.innerHTML = '<tr><td colspan="8" class="muted">请先选择调解员</td></tr>'; el.count.textContent = ''; }
    });
    window.addEventListener('popstate', () => {
      el.pick.value = pickedFromUrl();
      if (el.pick.value) load();
    });
  }

  function queuePath() {
    if (!me || me.role === 'mediator') return '/api/queue';
    return '/api/queue?mediator=' + encodeURIComponent(el.pick.value);
  }

  function dueKey(c) {
    const t = c.due_at ? new Date(c.due_at).getTime() : NaN;
    return isNaN(t) ? Infinity : t;
  }

  async function load() {
    if (loading) return;
    loading = true;
    try {
      if (me && me.role !== 'mediator' && !el.pick.value) return;
      const r = await FQ.busy(el.refresh, () => api(queuePath()));
      cases = ((r && r.cases) || []).slice().sort((a, b) =>
        dueKey(a) - dueKey(b) || new Date(a.received_at) - new Date(b.received_at));
      FQ.showError(el.error, null);
      render();
    } catch (err) {
      body.innerHTML = '<tr><td colspan="8" class="muted">无法加载</td></tr>';
      FQ.showError(el.error, err);
    } finally {
      loading = false;
    }
  }

  function render() {
    const od = cases.filter(FQ.isOverdue).length;
    el.count.innerHTML = '共 <strong id="queue-total">' + cases.length + '</strong> 件在办' +
      (od ? '，<span class="overdue-tag">超期 <span id="queue-overdue">' + od + '</span> 件</span>' : '');
    if (!cases.length) {
      body.innerHTML = '<tr><td colspan="8" class="muted">暂无在办案件</td></tr>';
      return;
    }
    body.innerHTML = cases.map((c) => {
      const next = c.next || [];
      const buttons = QUICK.filter((q) => next.includes(q.to)).map((q) =>
        '<button type="button" class="btn btn-small q-action' + (q.primary ? ' btn-primary' : '') + '" data-id="' + esc(c.id) +
        '" data-to="' + esc(q.to) + '">' + esc(q.text) + '</button>').join('');
      return '<tr data-id="' + esc(c.id) + '" tabindex="-1"' + (FQ.isOverdue(c) ? ' class="is-overdue"' : '') + '>' +
        '<td class="nowrap">' + FQ.dueHtml(c) + '</td>' +
        '<td class="nowrap"><a href="/cases/' + encodeURIComponent(c.id) + '">#' + esc(c.id) + '</a>' +
          '<div class="muted small">' + esc(FQ.fmtTime(c.received_at)) + '</div></td>' +
        '<td>' + FQ.riskBadge(c.risk) + '</td>' +
        '<td class="nowrap">' + esc(c.type_name || FQ.typeName(c.type)) + '</td>' +
        '<td>' + FQ.statusTag(c.status, c.status_name) + '</td>' +
        '<td class="small" title="' + esc(c.region || '') + '">' + esc(tail(c.region)) + '</td>' +
        '<td class="text-cell">' + esc(FQ.excerpt(c.text, 60)) +
          (c.caller_name || c.caller_phone ? '<div class="muted small">' + esc([c.caller_name, c.caller_phone].filter(Boolean).join(' ')) + '</div>' : '') + '</td>' +
        '<td><div class="actions">' + (buttons || '<span class="muted small">—</span>') + '</div></td>' +
      '</tr>';
    }).join('');
  }

  function tail(region) {
    if (!region) return '—';
    const p = String(region).split('/');
    return p.slice(-2).join('/');
  }

  function closeNoteRows() { $$('.note-row', body).forEach((r) => r.remove()); }

  function openNote(tr, q, id) {
    closeNoteRows();
    const rowId = 'note-' + id;
    tr.insertAdjacentHTML('afterend',
      '<tr class="note-row" data-for="' + esc(id) + '"><td colspan="8"><div class="actions">' +
        '<label for="' + esc(rowId) + '">' + esc(q.text) + ' · 说明</label>' +
        '<input type="text" class="note-input" id="' + esc(rowId) + '" placeholder="' + esc(NOTE_HINT[q.to] || '说明（可选）') + '">' +
        '<button type="button" class="btn btn-small btn-primary note-confirm" data-id="' + esc(id) + '" data-to="' + esc(q.to) + '">确认' + esc(q.text) + '</button>' +
        '<button type="button" class="btn btn-small note-cancel">取消</button>' +
      '</div></td></tr>');
    const input = document.getElementById(rowId);
    input.focus();
  }

  async function transition(btn, id, to, note) {
    FQ.showError(el.error, null);
    const payload = { to };
    if (note) payload.note = note;
    try {
      await FQ.busy(btn, () => api('/api/cases/' + encodeURIComponent(id) + '/transition', { method: 'POST', body: payload }));
      FQ.showOk(el.msg, '案件 <a href="/cases/' + encodeURIComponent(id) + '">#' + esc(id) + '</a> 已改为 ' + esc(FQ.statusName(to)));
      await load();
      const row = body.querySelector('tr[data-id="' + CSS.escape(String(id)) + '"]');
      if (row) row.focus();
    } catch (err) {
      FQ.showError(el.error, err);
    }
  }

  body.addEventListener('click', (e) => {
    const b = e.target.closest('button');
    if (!b) return;
    if (b.classList.contains('q-action')) {
      const q = QUICK.find((x) => x.to === b.dataset.to);
      if (!q) return;
      if (q.note) openNote(b.closest('tr'), q, b.dataset.id);
      else transition(b, b.dataset.id, q.to, '');
    } else if (b.classList.contains('note-confirm')) {
      const input = b.closest('tr').querySelector('.note-input');
      transition(b, b.dataset.id, b.dataset.to, input.value.trim());
    } else if (b.classList.contains('note-cancel')) {
      const tr = b.closest('tr');
      const id = tr.dataset.for;
      tr.remove();
      const row = body.querySelector('tr[data-id="' + CSS.escape(String(id)) + '"]');
      if (row) row.focus();
    }
  });

  body.addEventListener('keydown', (e) => {
    if (e.isComposing) return;
    if (e.target.classList && e.target.classList.contains('note-input')) {
      if (e.key === 'Enter') { e.preventDefault(); e.target.closest('tr').querySelector('.note-confirm').click(); }
      else if (e.key === 'Escape') { e.preventDefault(); e.target.closest('tr').querySelector('.note-cancel').click(); }
    }
  });

  el.refresh.addEventListener('click', () => load());

  // j/k row navigation, Enter opens the case, r refreshes
  document.addEventListener('keydown', (e) => {
    if (e.isComposing || FQ.inField(e) || e.ctrlKey || e.altKey || e.metaKey) return;
    const rows = $$('tr[data-id]', body);
    const cur = document.activeElement && document.activeElement.closest ? document.activeElement.closest('tr[data-id]') : null;
    const i = cur ? rows.indexOf(cur) : -1;
    if (e.key === 'j' || (e.key === 'ArrowDown' && cur)) {
      if (!rows.length) return;
      e.preventDefault();
      rows[Math.min(rows.length - 1, i + 1)].focus();
    } else if (e.key === 'k' || (e.key === 'ArrowUp' && cur)) {
      if (!rows.length) return;
      e.preventDefault();
      rows[Math.max(0, i - 1)].focus();
    } else if (e.key === 'Enter' && cur && document.activeElement === cur) {
      e.preventDefault();
      location.href = '/cases/' + encodeURIComponent(cur.dataset.id);
    } else if (e.key === 'r') {
      load();
    }
  });

  // keep the list fresh while nobody is typing a note
  setInterval(() => {
    if (document.hidden || loading || !me || $('.note-row', body)) return;
    load();
  }, 120000);
})();
