/* /login — exchange a token for /api/me, store it, go to ?next= or the role's home page. */
(function () {
  'use strict';
  const input = document.getElementById('token');
  const btn = document.getElementById('login-btn');
  const form = document.getElementById('login-form');
  const errBox = document.getElementById('login-error');

  input.focus();

  const params = new URLSearchParams(location.search);
  if (params.get('reason') === 'expired') {
    FQ.showError(errBox, { message: '登录已失效，请重新输入令牌。' });
  }

  let pending = false;
  async function login(e) {
    if (e) e.preventDefault();
    if (pending) return;
    const token = input.value.trim();
    if (!token) {
      FQ.showError(errBox, { message: '请输入访问令牌', hint: '令牌由管理员在“管理”页面创建，以 fq_ 开头。' });
      input.focus();
      return;
    }
    pending = true;
    FQ.showError(errBox, null);
    try {
      const me = await FQ.busy(btn, () => FQ.api('/api/me', { token, noRedirect: true }));
      FQ.setToken(token);
      const next = FQ.safeNext(params.get('next'));
      location.replace(next || FQ.ROLE_HOME[me.role] || '/desk');
    } catch (err) {
      FQ.showError(errBox, err);
      input.select();
      input.focus();
    } finally {
      pending = false;
    }
  }

  form.addEventListener('submit', login);
  input.addEventListener('keydown', (e) => {
    if (e.key === 'Enter' && !e.isComposing) login(e);
  });
})();
