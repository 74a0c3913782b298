/* /admin — mediator roster (inline edit, PUT/DELETE) and users (create → token shown once, revoke). */
(function () {
  'use strict';
  const { esc, $, api } = FQ;

  const el = {
    error: $('#admin-error'),
    rosterBody: $('#roster-body'),
    rosterMsg: $('#roster-msg'),
    rosterCount: $('#roster-count'),
    addMedBtn: $('#add-mediator-btn'),
    usersBody: $('#users-body'),
    usersMsg: $('#users-msg'),
    usersCount: $('#users-count'),
    userForm: $('#user-form'),
    userAddBtn: $('#user-add-btn'),
    tokenBox: $('#new-token'),
    tokenValue: $('#new-token-value'),
    tokenUser: $('#new-token-user'),
    copyStatus: $('#copy-status'),
  };

  let me = null;
  let mediators = [];

  FQ.boot().then((ctx) => {
    me = ctx.me;
    $('#new-med-tier').innerHTML = FQ.options(FQ.tierItems(), 'village');
    $('#type-codes').textContent = FQ.labels.types.length
      ? '类型代码：' + FQ.labels.types.map((t) => t.code + '=' + t.name).join('，') : '';
    loadRoster();
    loadUsers();
  }).catch(() => {});

  // ------------------------------------------------------------------ roster
  function parseSpecialties(s) {
    const byName = {};
    for (const t of FQ.labels.types) byName[t.name] = t.code;
    return String(s || '').split(/[,，、;；\s]+/).map((x) => x.trim()).filter(Boolean)
      .map((x) => byName[x] || x)
      .filter((x, i, a) => a.indexOf(x) === i);
  }

  function intOr(v, d) {
    const n = parseInt(v, 10);
    return isNaN(n) ? d : n;
  }

  async function loadRoster() {
    try {
      const r = await api('/api/mediators');
      mediators = (r && r.mediators) || [];
      renderRoster();
      $('#mediator-ids').innerHTML = mediators.map((m) => '<option value="' + esc(m.id) + '">' + esc(m.name) + '</option>').join('');
    } catch (err) {
      el.rosterBody.innerHTML = '<tr><td colspan="9" class="muted">无法加载</td></tr>';
      FQ.showError(el.rosterMsg, err);
    }
  }

  function rosterRow(m) {
    const id = esc(m.id);
    const full = Number(m.load) >= Number(m.capacity);
    return '<tr data-id="' + id + '">' +
      '<td class="nowrap"><strong>' + id + '</strong></td>' +
      '<td><input type="text" class="f-name" value="' + esc(m.name) + '" aria-label="' + id + ' 姓名"></td>' +
      '<td><input type="number" class="f-stars" min="1" max="5" value="' + esc(m.stars) + '" aria-label="' + id + ' 星级"></td>' +
      '<td><select class="f-tier" aria-label="' + id + ' 层级">' + FQ.options(FQ.tierItems(), m.tier) + '</select></td>' +
      '<td><input type="text" class="f-region reg" value="' + esc(m.region || '') + '" aria-label="' + id + ' 服务属地"></td>' +
      '<td><input type="text" class="f-spec spec" value="' + esc((m.specialties || []).join(', ')) + '" aria-label="' + id + ' 专业" title="' +
        esc((m.specialties || []).map(FQ.typeName).join('、') || '通用') + '"></td>' +
      '<td><input type="number" class="f-cap" min="0" value="' + esc(m.capacity) + '" aria-label="' + id + ' 容量"></td>' +
      '<td class="num' + (full ? ' overdue-tag' : '') + '">' + esc(m.load) + '</td>' +
      '<td class="nowrap"><button type="button" class="btn btn-small save-med">保存</button> ' +
      '<button type="button" class="btn btn-small btn-danger del-med">删除</button></td></tr>';
  }

  function renderRoster() {
    el.rosterCount.textContent = '(' + mediators.length + ')';
    el.rosterBody.innerHTML = mediators.length ? mediators.map(rosterRow).join('') :
      '<tr><td colspan="9" class="muted">名册为空，请在下方添加</td></tr>';
  }

  function rowBody(tr) {
    return {
      name: tr.querySelector('.f-name').value.trim(),
      stars: intOr(tr.querySelector('.f-stars').value, 1),
      tier: tr.querySelector('.f-tier').value,
      region: tr.querySelector('.f-region').value.trim(),
      specialties: parseSpecialties(tr.querySelector('.f-spec').value),
      capacity: intOr(tr.querySelector('.f-cap').value, 0),
    };
  }

  function validate(b) {
    if (!b.name) return { message: '姓名不能为空' };
    if (!(b.stars >= 1 && b.stars <= 5)) return { message: '星级应为 1–5' };
    if (!(b.capacity >= 0)) return { message: '容量应为非负整数' };
    return null;
  }

  async function saveRow(tr, btn) {
    const id = tr.dataset.id;
    const b = rowBody(tr);
    const bad = validate(b);
    if (bad) { FQ.showError(el.rosterMsg, bad); return; }
    try {
      const r = await FQ.busy(btn, () => api('/api/mediators/' + encodeURIComponent(id), { method: 'PUT', body: b }));
      const i = mediators.findIndex((x) => x.id === id);
      const m = (r && r.mediator) || Object.assign({ id }, b);
      if ((m.load === undefined || m.load === null) && i >= 0) m.load = mediators[i].load;
      if (i >= 0) mediators[i] = m; else mediators.push(m);
      tr.outerHTML = rosterRow(m);
      FQ.showOk(el.rosterMsg, '已保存 ' + esc(m.name) + '（' + esc(id) + '）');
      const row = el.rosterBody.querySelector('tr[data-id="' + CSS.escape(id) + '"] .save-med');
      if (row) row.focus();
    } catch (err) {
      FQ.showError(el.rosterMsg, err);
    }
  }

  el.rosterBody.addEventListener('input', (e) => {
    const tr = e.target.closest('tr[data-id]');
    if (tr) tr.classList.add('is-dirty');
  });
  el.rosterBody.addEventListener('change', (e) => {
    const tr = e.target.closest('tr[data-id]');
    if (tr) tr.classList.add('is-dirty');
  });
  el.rosterBody.addEventListener('keydown', (e) => {
    if (e.key === 'Enter' && !e.isComposing && e.target.tagName === 'INPUT') {
      const tr = e.target.closest('tr[data-id]');
      if (tr) { e.preventDefault(); saveRow(tr, tr.querySelector('.save-med')); }
    }
  });
  el.rosterBody.addEventListener('click', async (e) => {
    const b = e.target.closest('button');
    if (!b) return;
    const tr = b.closest('tr[data-id]');
    if (!tr) return;
    const id = tr.dataset.id;
    if (b.classList.contains('save-med')) {
      saveRow(tr, b);
    } else if (b.classList.contains('del-med')) {
      const m = mediators.find((x) => x.id === id) || { name: id, load: 0 };
      const warn = Number(m.load) > 0 ? '\n注意：该调解员仍有 ' + m.load + ' 件在办案件。' : '';
      if (!confirm('确定从名册中删除 ' + m.name + '（' + id + '）？' + warn)) return;
      try {
        await FQ.busy(b, () => api('/api/mediators/' + encodeURIComponent(id), { method: 'DELETE' }));
        mediators = mediators.filter((x) => x.id !== id);
        renderRoster();
        FQ.showOk(el.rosterMsg, '已删除 ' + esc(m.name) + '（' + esc(id) + '）');
      } catch (err) {
        FQ.showError(el.rosterMsg, err);
      }
    }
  });

  async function addMediator() {
    const id = $('#new-med-id').value.trim();
    const b = {
      name: $('#new-med-name').value.trim(),
      stars: intOr($('#new-med-stars').value, 1),
      tier: $('#new-med-tier').value,
      region: $('#new-med-region').value.trim(),
      specialties: parseSpecialties($('#new-med-specialties').value),
      capacity: intOr($('#new-med-capacity').value, 0),
    };
    if (!id) { FQ.showError(el.rosterMsg, { message: '请填写调解员编号' }); $('#new-med-id').focus(); return; }
    const bad = validate(b);
    if (bad) { FQ.showError(el.rosterMsg, bad); return; }
    if (mediators.some((x) => x.id === id) && !confirm('编号 ' + id + ' 已存在，覆盖该调解员的信息？')) return;
    try {
      const r = await FQ.busy(el.addMedBtn, () => api('/api/mediators/' + encodeURIComponent(id), { method: 'PUT', body: b }));
      const m = (r && r.mediator) || Object.assign({ id, load: 0 }, b);
      const i = mediators.findIndex((x) => x.id === id);
      if (i >= 0) mediators[i] = m; else mediators.push(m);
      renderRoster();
      for (const f of ['#new-med-id', '#new-med-name', '#new-med-region', '#new-med-specialties']) $(f).value = '';
      FQ.showOk(el.rosterMsg, '已添加 ' + esc(m.name) + '（' + esc(id) + '）');
      $('#new-med-id').focus();
    } catch (err) {
      FQ.showError(el.rosterMsg, err);
    }
  }
  el.addMedBtn.addEventListener('click', addMediator);
  $('#new-mediator-row').addEventListener('keydown', (e) => {
    if (e.key === 'Enter' && !e.isComposing && e.target.tagName === 'INPUT') { e.preventDefault(); addMediator(); }
  });

  // ------------------------------------------------------------------ users
  async function loadUsers() {
    try {
      const r = await api('/api/users');
      renderUsers((r && r.users) || []);
    } catch (err) {
      el.usersBody.innerHTML = '<tr><td colspan="8" class="muted">无法加载</td></tr>';
      FQ.showError(el.usersMsg, err);
    }
  }

  function renderUsers(users) {
    const active = users.filter((u) => !u.revoked).length;
    el.usersCount.textContent = '(有效 ' + active + ' / 共 ' + users.length + ')';
    if (!users.length) { el.usersBody.innerHTML = '<tr><td colspan="8" class="muted">暂无用户</td></tr>'; return; }
    const now = Date.now();
    el.usersBody.innerHTML = users.map((u) => {
      const expired = u.expires_at && new Date(u.expires_at).getTime() < now;
      const state = u.revoked ? '<span class="status status-failed">已吊销</span>' :
        expired ? '<span class="status status-closed">已过期</span>' : '<span class="status status-resolved">有效</span>';
      return '<tr data-name="' + esc(u.name) + '"' + (u.revoked ? ' class="is-revoked"' : '') + '>' +
        '<td><strong>' + esc(u.name) + '</strong></td>' +
        '<td>' + esc(FQ.roleName(u.role)) + ' <span class="muted small">' + esc(u.role) + '</span></td>' +
        '<td class="small">' + esc(u.region || '全部') + '</td>' +
        '<td>' + esc(u.mediator_id || '—') + '</td>' +
        '<td class="nowrap">' + esc(FQ.fmtTime(u.created_at)) + '</td>' +
        '<td class="nowrap">' + (u.expires_at ? esc(FQ.fmtTime(u.expires_at)) : '<span class="muted">长期</span>') + '</td>' +
        '<td>' + state + '</td>' +
        '<td>' + (u.revoked ? '' : '<button type="button" class="btn btn-small btn-danger revoke-btn">吊销</button>') + '</td></tr>';
    }).join('');
  }

  el.usersBody.addEventListener('click', async (e) => {
    const b = e.target.closest('button.revoke-btn');
    if (!b) return;
    const name = b.closest('tr').dataset.name;
    const self = me && me.name === name ? '\n注意：这是您当前登录的账号，吊销后将立即退出。' : '';
    if (!confirm('确定吊销用户“' + name + '”的令牌？吊销后该令牌立即失效，不可恢复。' + self)) return;
    try {
      await FQ.busy(b, () => api('/api/users/' + encodeURIComponent(name), { method: 'DELETE' }));
      FQ.showOk(el.usersMsg, '已吊销 ' + esc(name));
      loadUsers();
    } catch (err) {
      FQ.showError(el.usersMsg, err);
    }
  });

  el.userForm.addEventListener('submit', async (e) => {
    e.preventDefault();
    const body = { name: $('#user-name').value.trim(), role: $('#user-role').value };
    const region = $('#user-region').value.trim();
    const mid = $('#user-mediator').value.trim();
    const days = $('#user-days').value.trim();
    if (region) body.region = region;
    if (mid) body.mediator_id = mid;
    if (days) body.days = intOr(days, undefined);
    if (!body.name) { FQ.showError(el.usersMsg, { message: '请填写姓名' }); $('#user-name').focus(); return; }
    if (body.role === 'mediator' && !mid) {
      FQ.showError(el.usersMsg, { message: '调解员账号需要填写调解员编号', hint: '编号须与名册中的一致。' });
      $('#user-mediator').focus();
      return;
    }
    FQ.showError(el.usersMsg, null);
    try {
      const r = await FQ.busy(el.userAddBtn, () => api('/api/users', { method: 'POST', body }));
      showToken(r);
      for (const f of ['#user-name', '#user-region', '#user-mediator', '#user-days']) $(f).value = '';
      loadUsers();
    } catch (err) {
      FQ.showError(el.usersMsg, err);
    }
  });

  function showToken(r) {
    const u = (r && r.user) || {};
    el.tokenValue.textContent = (r && r.token) || '';
    el.tokenUser.textContent = '用户：' + (u.name || '') + ' · ' + FQ.roleName(u.role) +
      (u.expires_at ? ' · 到期 ' + FQ.fmtTime(u.expires_at) : '');
    el.copyStatus.textContent = '';
    el.tokenBox.hidden = false;
    $('#copy-token-btn').focus();
  }

  $('#copy-token-btn').addEventListener('click', async () => {
    const t = el.tokenValue.textContent;
    let ok = false;
    try {
      if (navigator.clipboard && window.isSecureContext) { await navigator.clipboard.writeText(t); ok = true; }
    } catch (_) { ok = false; }
    if (!ok) {
      const range = document.createRange();
      range.selectNodeContents(el.tokenValue);
      const sel = window.getSelection();
      sel.removeAllRanges();
      sel.addRange(range);
      try { ok = document.execCommand('copy'); } catch (_) { ok = false; }
    }
    el.copyStatus.textContent = ok ? '已复制' : '请手动选择并复制（Ctrl+C）';
  });
  $('#hide-token-btn').addEventListener('click', () => {
    el.tokenValue.textContent = '';
    el.tokenBox.hidden = true;
    $('#user-name').focus();
  });

  // ------------------------------------------------------------------ stars and subsidies
  /** The quarter before this one, e.g. "2026Q3". */
  function lastQuarter() {
    const d = new Date();
    let q = Math.floor(d.getMonth() / 3), y = d.getFullYear();
    if (q === 0) { q = 4; y -= 1; }
    return y + 'Q' + q;
  }
  $('#stars-period').value = lastQuarter();
  const pct = (v) => (v === null || v === undefined) ? '–' : Math.round(v * 100) + '%';

  async function loadStars() {
    const period = $('#stars-period').value.trim();
    FQ.showError($('#stars-msg'), null);
    try {
      const r = await FQ.busy($('#stars-btn'), () => api('/api/mediators/evaluation?period=' + encodeURIComponent(period)));
      $('#stars-table').hidden = false;
      $('#stars-body').innerHTML = r.mediators.map((m) => {
        const f = m.figures, s = m.suggestion;
        const change = s.suggested !== s.current;
        return '<tr data-id="' + esc(m.id) + '" data-stars="' + esc(s.suggested) + '"><td>' + esc(m.name) + ' <span class="muted">' + esc(m.id) + '</span></td>' +
          '<td>' + esc(f.with_outcome) + '/' + esc(f.cases) + '</td><td>' + esc(f.weighted.toFixed(1)) + '</td><td>' + pct(f.success_rate) + '</td>' +
          '<td>' + pct(f.written_share) + '</td><td>' + (f.satisfaction === null ? '–' : esc(f.satisfaction.toFixed(1))) + '</td><td>' + pct(f.overdue_share) + '</td>' +
          '<td>' + (f.criminal.length ? esc(f.criminal.map((i) => '#' + i).join(' ')) : '–') + '</td>' +
          '<td>' + '★'.repeat(s.current) + ' → <strong>' + '★'.repeat(s.suggested) + '</strong></td>' +
          '<td class="small">' + esc(s.reasons.join('；')) + '</td>' +
          '<td>' + (change ? '<button type="button" class="btn btn-small btn-primary" data-decision="confirm">确认</button> <button type="button" class="btn btn-small" data-decision="reject">驳回</button>' : '<span class="muted">不变</span>') + '</td></tr>';
      }).join('');
      if (r.unknown_mediators.length) FQ.showOk($('#stars-msg'), esc('名册外调解员的案件未评定：' + r.unknown_mediators.join('、')));
    } catch (err) {
      FQ.showError($('#stars-msg'), err);
    }
  }
  $('#stars-btn').addEventListener('click', loadStars);
  $('#stars-body').addEventListener('click', async (e) => {
    const b = e.target.closest('button[data-decision]');
    if (!b) return;
    const tr = b.closest('tr');
    const body = { decision: b.dataset.decision, stars: Number(tr.dataset.stars), period: $('#stars-period').value.trim() };
    try {
      await FQ.busy(b, () => api('/api/mediators/' + encodeURIComponent(tr.dataset.id) + '/stars', { method: 'POST', body }));
      FQ.showOk($('#stars-msg'), esc((body.decision === 'confirm' ? '已确认 ' : '已驳回 ') + tr.dataset.id));
      await loadStars();
      loadRoster();
    } catch (err) {
      FQ.showError($('#stars-msg'), err);
    }
  });

  async function openSubsidies(format) {
    const period = $('#stars-period').value.trim();
    try {
      const res = await api('/api/subsidies?period=' + encodeURIComponent(period) + '&format=' + format, { raw: true });
      const blob = await res.blob();
      const url = URL.createObjectURL(blob);
      if (format === 'csv') {
        const a = document.createElement('a');
        a.href = url;
        a.download = 'fengqiao-subsidies-' + period + '.csv';
        document.body.appendChild(a);
        a.click();
        a.remove();
      } else {
        window.open(url, '_blank');
      }
    } catch (err) {
      FQ.showError($('#stars-msg'), err);
    }
  }
  $('#subsidy-csv-btn').addEventListener('click', () => openSubsidies('csv'));
  $('#subsidy-html-btn').addEventListener('click', () => openSubsidies('html'));
})();
