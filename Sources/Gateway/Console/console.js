// Memory Gateway console. Plain JavaScript, no framework, no build step. It calls the same /v1 API
// as any client, authenticated by the HttpOnly session cookie; writes carry the session's CSRF
// token. The key typed at sign-in is sent once and kept nowhere (not in storage, not in a cookie).
// Every text that comes from the API is put in the page with textContent, never as HTML.
'use strict';

(function () {
  const state = { session: null, csrf: null, env: 'live' };

  // ---------- DOM helpers (text only) ----------
  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [name, value] of Object.entries(attrs || {})) {
      if (value === null || value === undefined || value === false) continue;
      if (name === 'text') node.textContent = String(value);
      else if (name.startsWith('on')) node.addEventListener(name.slice(2), value);
      else if (name === 'className') node.className = value;
      else node.setAttribute(name, value === true ? '' : String(value));
    }
    for (const child of children.flat()) {
      if (child === null || child === undefined || child === false) continue;
      node.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return node;
  }
  const $ = (id) => document.getElementById(id);
  function clear(node) { while (node.firstChild) node.removeChild(node.firstChild); return node; }
  function show(text) { $('notice').textContent = text || ''; }
  function fmtTime(value) { return value ? String(value).replace('T', ' ').replace(/\.\d+Z$/, 'Z') : '—'; }
  function fmtNumber(value) { return value === null || value === undefined ? '—' : Number(value).toLocaleString('en-US'); }
  function fmtBytes(value) {
    const n = Number(value);
    if (!Number.isFinite(n)) return '—';
    for (const [unit, size] of [['TB', 1e12], ['GB', 1e9], ['MB', 1e6], ['kB', 1e3]]) {
      if (n >= size) return (n / size).toLocaleString('en-US', { maximumFractionDigits: 1 }) + ' ' + unit;
    }
    return n.toLocaleString('en-US') + ' B';
  }
  function pad(n) { return String(n).padStart(2, '0'); }
  function isoDate(d) { return d.getUTCFullYear() + '-' + pad(d.getUTCMonth() + 1) + '-' + pad(d.getUTCDate()); }

  // ---------- errors in words, with the request id ----------
  class APIFailure extends Error {
    constructor(status, body, requestID) {
      const error = (body && body.error) || {};
      super(error.message || ('the gateway answered HTTP ' + status));
      this.status = status;
      this.code = error.code || 'http_' + status;
      this.requestID = (body && body.meta && body.meta.request_id) || requestID || 'none';
    }
    get words() {
      return this.message + ' (HTTP ' + this.status + ', ' + this.code + ', request id ' + this.requestID + ')';
    }
  }
  function showError(error, context) {
    const words = error instanceof APIFailure ? error.words : String(error && error.message || error);
    $('error').textContent = (context ? context + ': ' : '') + words;
  }
  function clearError() { $('error').textContent = ''; }

  // ---------- the API ----------
  async function api(method, path, body) {
    const headers = { Accept: 'application/json' };
    if (body !== undefined) headers['Content-Type'] = 'application/json';
    if (method !== 'GET' && method !== 'HEAD' && state.csrf) headers['X-CSRF-Token'] = state.csrf;
    let response;
    try {
      response = await fetch(path, {
        method, headers, credentials: 'same-origin', cache: 'no-store',
        body: body === undefined ? undefined : JSON.stringify(body),
      });
    } catch (error) {
      throw new Error('the gateway could not be reached (' + error.message + ')');
    }
    let json = null;
    try { json = await response.json(); } catch (_) { json = null; }
    if (!response.ok || !json || json.success === false) {
      if (response.status === 401 && state.session && !path.startsWith('/console/session')) signedOut('Your session has ended; sign in again.');
      throw new APIFailure(response.status, json, response.headers.get('X-Request-ID'));
    }
    return json.data;
  }
  function query(params) {
    const parts = [];
    for (const [name, value] of Object.entries(params)) {
      if (value === undefined || value === null || value === '') continue;
      parts.push(encodeURIComponent(name) + '=' + encodeURIComponent(value));
    }
    return parts.length ? '?' + parts.join('&') : '';
  }

  // ---------- building blocks ----------
  function table(id, columns) {
    const head = el('tr', {}, columns.map((c) => el('th', { scope: 'col', className: c.num ? 'num' : null, text: c.title })));
    const body = el('tbody', {}, el('tr', { className: 'placeholder' }, el('td', { colspan: columns.length, text: 'Loading…' })));
    const node = el('table', { id }, el('thead', {}, head), body);
    return { node: el('div', { className: 'table-wrap' }, node), body, columns };
  }
  function fillRows(t, rows, emptyText) {
    clear(t.body);
    if (!rows.length) t.body.append(el('tr', { className: 'placeholder' }, el('td', { colspan: t.columns.length, text: emptyText })));
    for (const row of rows) t.body.append(row);
  }
  function appendRows(t, rows) {
    const first = t.body.firstChild;
    if (first && first.classList.contains('placeholder')) clear(t.body);
    for (const row of rows) t.body.append(row);
  }
  function cell(value, className) { return el('td', { className, text: value === null || value === undefined ? '—' : value }); }
  function failRows(t, error) {
    fillRows(t, [], '');
    clear(t.body).append(el('tr', { className: 'placeholder' }, el('td', { colspan: t.columns.length, text: 'Not loaded: ' + (error.words || error.message) })));
  }
  // A two-step confirmation in the page (keyboard reachable; no window.confirm).
  function confirmButton(label, question, action) {
    const holder = el('span', { className: 'actions' });
    const start = el('button', { type: 'button', className: 'danger', text: label });
    start.addEventListener('click', () => {
      const yes = el('button', { type: 'button', className: 'danger', text: 'Yes, ' + label.toLowerCase() });
      const no = el('button', { type: 'button', className: 'secondary', text: 'Cancel' });
      const box = el('span', { className: 'confirm', role: 'group', 'aria-label': question }, el('span', { text: question + ' ' }), yes, ' ', no);
      holder.replaceChildren(box);
      no.addEventListener('click', () => { holder.replaceChildren(start); start.focus(); });
      yes.addEventListener('click', async () => { yes.disabled = true; await action(); });
      yes.focus();
    });
    holder.append(start);
    return holder;
  }
  function onceBox(id, title, secret, note) {
    const value = el('code', { id: id + '-value', text: secret });
    const copy = el('button', { type: 'button', id: 'copy-' + id, className: 'secondary', text: 'Copy' });
    const status = el('span', { role: 'status' });
    copy.addEventListener('click', async () => {
      try { await navigator.clipboard.writeText(secret); status.textContent = ' Copied.'; } catch (_) {
        const range = document.createRange(); range.selectNodeContents(value);
        const selection = window.getSelection(); selection.removeAllRanges(); selection.addRange(range);
        status.textContent = ' Selected: press Ctrl+C to copy.';
      }
    });
    return el('div', { className: 'once', id, role: 'region', 'aria-label': title },
      el('strong', { text: title }), value, copy, status, el('p', { className: 'hint', text: note }));
  }
  function envMismatch(view, what) {
    if (!state.session || state.session.kind !== 'tenant' || state.env === state.session.environment) return false;
    view.append(el('p', { className: 'notice', id: 'env-notice', text:
      'This session acts as a ' + state.session.environment + ' key, which sees only ' + state.session.environment +
      ' ' + what + '. To see the ' + state.env + ' ' + what + ', sign in with a ' + state.env + ' admin key (mem_' +
      state.env + '_…). Usage can show either environment.' }));
    return true;
  }

  // ---------- pages ----------
  const tenantPages = [
    ['keys', 'API keys', keysPage], ['usage', 'Usage', usagePage], ['audit', 'Audit log', auditPage],
    ['memories', 'Memories', memoriesPage], ['webhooks', 'Webhooks', webhooksPage],
  ];
  const operatorPages = [['tenants', 'Tenants', tenantsPage], ['billing', 'Billing', billingPage]];
  function pages() { return state.session && state.session.kind === 'operator' ? operatorPages : tenantPages; }

  function render() {
    clearError(); show('');
    const list = pages();
    const name = location.hash.replace(/^#/, '');
    const page = list.find((p) => p[0] === name) || list[0];
    for (const link of $('nav').querySelectorAll('a')) {
      if (link.getAttribute('href') === '#' + page[0]) link.setAttribute('aria-current', 'page'); else link.removeAttribute('aria-current');
    }
    const view = clear($('view'));
    view.setAttribute('data-page', page[0]);
    const title = el('h2', { id: 'page-title', tabindex: '-1', text: page[1] });
    view.append(title);
    document.title = page[1] + ' · Memory Gateway console';
    page[2](view).catch((error) => showError(error, page[1]));
  }

  async function keysPage(view) {
    const canSeeEnv = (k) => k.environment === state.env;
    const form = el('form', { id: 'key-create', className: 'grid', 'aria-label': 'Create an API key' },
      el('label', {}, 'Name', el('input', { id: 'key-name', required: true, maxlength: 100, autocomplete: 'off' })),
      el('fieldset', {}, el('legend', { text: 'Scopes' }), ['read', 'write', 'delete', 'admin'].map((s) =>
        el('label', {}, el('input', { type: 'checkbox', id: 'key-scope-' + s, value: s, checked: s === 'read' }), s))),
      el('label', {}, 'Environment', el('select', { id: 'key-env' },
        el('option', { value: 'live', text: 'live', selected: state.env === 'live' }), el('option', { value: 'test', text: 'test', selected: state.env === 'test' }))),
      el('label', {}, 'Expires (UTC, optional)', el('input', { id: 'key-expires', type: 'datetime-local' })),
      el('label', {}, 'Requests per minute (optional)', el('input', { id: 'key-limit', type: 'number', min: 1, step: 1 })),
      el('label', {}, 'Allowed IPs (CIDRs, comma-separated, optional)', el('input', { id: 'key-ips', autocomplete: 'off', placeholder: '203.0.113.0/24, 2001:db8::/32' })),
      el('button', { type: 'submit', id: 'key-create-submit', text: 'Create key' }));
    const fresh = el('div', { id: 'new-key-slot' });
    const t = table('keys-table', [{ title: 'Name' }, { title: 'Prefix' }, { title: 'Env' }, { title: 'Scopes' },
      { title: 'Limit/min', num: true }, { title: 'Allowed IPs' }, { title: 'Created' }, { title: 'Last used' },
      { title: 'Expires' }, { title: 'Revoked' }, { title: 'Actions' }]);
    view.append(el('h3', { text: 'Create a key' }), form, fresh, el('h3', { text: 'Keys (' + state.env + ')' }), t.node);

    form.addEventListener('submit', async (event) => {
      event.preventDefault(); clearError();
      const body = { name: $('key-name').value, environment: $('key-env').value,
        scopes: ['read', 'write', 'delete', 'admin'].filter((s) => $('key-scope-' + s).checked) };
      if ($('key-expires').value) body.expires_at = new Date($('key-expires').value + 'Z').toISOString();
      if ($('key-limit').value) body.rate_limit_per_minute = Number($('key-limit').value);
      if ($('key-ips').value.trim()) body.allowed_ips = $('key-ips').value.split(',').map((s) => s.trim()).filter(Boolean);
      try {
        const key = await api('POST', '/v1/account/api-keys', body);
        fresh.replaceChildren(onceBox('new-key', 'New key "' + key.name + '"', key.key,
          'Shown only now: copy it to where it will be used. Only its hash is kept.'));
        form.reset();
        await load();
      } catch (error) { showError(error, 'Creating the key'); }
    });

    async function load() {
      try {
        const data = await api('GET', '/v1/account/api-keys');
        fillRows(t, data.api_keys.filter(canSeeEnv).map(keyRow), 'No ' + state.env + ' keys.');
      } catch (error) { failRows(t, error); throw error; }
    }
    function keyRow(k) {
      const actions = el('td', {}, el('span', { className: 'actions' }));
      const row = el('tr', { 'data-key-id': k.id, 'data-key-prefix': k.key_prefix },
        cell(k.name), el('td', {}, el('code', { text: k.key_prefix })), cell(k.environment), cell(k.scopes.join(', ')),
        cell(k.rate_limit_per_minute === null ? 'tenant' : fmtNumber(k.rate_limit_per_minute), 'num'),
        cell(k.allowed_ips ? k.allowed_ips.join(', ') : 'any'), cell(fmtTime(k.created_at)),
        el('td', { className: 'last-used', text: fmtTime(k.last_used_at) }), cell(fmtTime(k.expires_at)),
        el('td', { className: 'revoked', text: fmtTime(k.revoked_at) }), actions);
      if (!k.revoked_at) {
        const grace = el('input', { type: 'number', min: 0, max: 604800, value: 86400, className: 'grace', 'aria-label': 'Grace seconds for ' + k.name });
        const rotate = el('button', { type: 'button', className: 'secondary rotate', text: 'Rotate' });
        rotate.addEventListener('click', async () => {
          clearError();
          try {
            const created = await api('POST', '/v1/account/api-keys/' + encodeURIComponent(k.id) + '/rotate', { grace_seconds: Number(grace.value) });
            fresh.replaceChildren(onceBox('new-key', 'Rotated "' + created.name + '": the new key', created.key,
              'Shown only now. The old key stops working at ' + fmtTime(created.rotated_from && created.rotated_from.expires_at) + '.'));
            await load();
          } catch (error) { showError(error, 'Rotating ' + k.key_prefix); }
        });
        const revoke = confirmButton('Revoke', 'Revoke ' + k.key_prefix + ' now? It stops working at once.', async () => {
          clearError();
          try { await api('DELETE', '/v1/account/api-keys/' + encodeURIComponent(k.id)); show('Revoked ' + k.key_prefix + '.'); await load(); } catch (error) { showError(error, 'Revoking ' + k.key_prefix); await load(); }
        });
        revoke.classList.add('revoke');
        actions.firstChild.append(el('label', { className: 'inline' }, 'grace s', grace), rotate, revoke);
      }
      return row;
    }
    await load();
  }

  async function usagePage(view) {
    const range = el('select', { id: 'usage-days', 'aria-label': 'Days shown' },
      el('option', { value: '30', text: 'last 30 days' }), el('option', { value: '90', text: 'last 90 days' }));
    const refresh = el('button', { type: 'button', id: 'usage-refresh', className: 'secondary', text: 'Refresh' });
    const cards = el('div', { className: 'cards', id: 'usage-cards' });
    const chartBox = el('div', { className: 'chart-box' });
    const chart = document.createElementNS('http://www.w3.org/2000/svg', 'svg');
    chart.setAttribute('id', 'usage-chart'); chart.setAttribute('class', 'chart'); chart.setAttribute('role', 'img');
    chart.setAttribute('viewBox', '0 0 900 220'); chart.setAttribute('preserveAspectRatio', 'none');
    chartBox.append(chart);
    const endpoints = table('by-endpoint', [{ title: 'Endpoint' }, { title: 'Requests', num: true }]);
    const keys = table('by-key', [{ title: 'Key' }, { title: 'Name' }, { title: 'Requests', num: true }]);
    const alerts = table('alerts', [{ title: 'Metric' }, { title: 'Threshold' }, { title: 'Reached at' }]);
    view.append(el('form', { className: 'inline', 'aria-label': 'Usage range' }, range, refresh),
      el('h3', { text: 'This period (' + state.env + ')' }), cards,
      el('h3', { text: 'Requests per day' }), chartBox,
      el('h3', { text: 'By endpoint' }), endpoints.node, el('h3', { text: 'By key' }), keys.node,
      el('h3', { text: 'Alerts' }), alerts.node);
    // Decimal units, as the plan's max_storage_mb is (1 MB = 1,000,000 bytes); exact figures in
    // the title and data attributes.
    function storageCard(storage) {
      if (!storage) return card('Storage', 'not reported', 'card-storage');
      const node = card('Storage (both environments)', fmtBytes(storage.bytes) + ' of ' + fmtBytes(storage.quota_bytes) + ' (' + storage.percent + ' %)', 'card-storage');
      node.title = fmtNumber(storage.bytes) + ' of ' + fmtNumber(storage.quota_bytes) + ' bytes';
      node.dataset.bytes = String(storage.bytes); node.dataset.quotaBytes = String(storage.quota_bytes); node.dataset.percent = String(storage.percent);
      return node;
    }
    function card(label, value, id) { return el('div', { className: 'card', id }, el('div', { className: 'label', text: label }), el('div', { className: 'value', text: value })); }
    for (const label of ['Requests', 'Quota used', 'Memories', 'Storage', 'Projected', 'Projected cost']) cards.append(card(label, '…'));

    async function load() {
      const env = state.env;
      const days = Number(range.value);
      const today = new Date();
      const from = new Date(Date.UTC(today.getUTCFullYear(), today.getUTCMonth(), today.getUTCDate() - (days - 1)));
      try {
        const [summary, history, projection] = await Promise.all([
          api('GET', '/v1/usage' + query({ environment: env })),
          api('GET', '/v1/usage/history' + query({ environment: env, from: isoDate(from), to: isoDate(today) })),
          api('GET', '/v1/usage/projection' + query({ environment: env })),
        ]);
        const storage = summary.storage;
        cards.replaceChildren(
          card('Requests ' + summary.period.start + ' – ' + summary.period.end, fmtNumber(summary.requests.used) + ' of ' + fmtNumber(summary.requests.quota), 'card-requests'),
          card('Quota used', summary.requests.percent + ' %', 'card-percent'),
          card('Memories stored', fmtNumber(summary.memories.stored) + ' of ' + fmtNumber(summary.memories.quota), 'card-memories'),
          storageCard(storage),
          card('Projected requests', fmtNumber(projection.projected_requests) + ' (' + projection.projected_percent + ' %)', 'card-projection'),
          card('Projected cost', projection.projected_cost.total + ' ' + projection.projected_cost.currency +
            ' (base ' + projection.projected_cost.base + ', overage ' + projection.projected_cost.overage + ')', 'card-cost'),
          card('Rate limited', fmtNumber(summary.rate_limited), 'card-limited'));
        drawChart(chart, history.days);
        fillRows(endpoints, Object.entries(summary.by_endpoint).sort((a, b) => b[1] - a[1]).map(([name, n]) =>
          el('tr', {}, el('td', {}, el('code', { text: name })), cell(fmtNumber(n), 'num'))), 'No requests yet this period.');
        fillRows(keys, summary.by_key.map((k) => el('tr', { 'data-key-id': k.key_id }, el('td', {}, el('code', { text: k.key_prefix })), cell(k.name),
          cell(fmtNumber(k.requests), 'num'))), 'No requests yet this period.');
        fillRows(alerts, summary.alerts.map((a) => el('tr', {}, cell(a.metric), cell(a.threshold_percent + ' %'), cell(fmtTime(a.reached_at)))), 'No alert this period.');
      } catch (error) {
        for (const t of [endpoints, keys, alerts]) failRows(t, error);
        throw error;
      }
    }
    range.addEventListener('change', () => load().catch((e) => showError(e, 'Usage')));
    refresh.addEventListener('click', () => { clearError(); load().catch((e) => showError(e, 'Usage')); });
    await load();
  }

  function drawChart(svg, days) {
    const ns = 'http://www.w3.org/2000/svg';
    while (svg.firstChild) svg.removeChild(svg.firstChild);
    const width = 900, height = 220, left = 40, bottom = 20, top = 10;
    const max = Math.max(1, ...days.map((d) => d.requests));
    const total = days.reduce((sum, d) => sum + d.requests, 0);
    svg.setAttribute('aria-label', 'Requests per day, ' + days.length + ' days, ' + total + ' in all, at most ' + max + ' in a day');
    svg.setAttribute('data-total', String(total));
    const slot = (width - left) / Math.max(1, days.length);
    const add = (tag, attrs, text) => { const n = document.createElementNS(ns, tag); for (const [k, v] of Object.entries(attrs)) n.setAttribute(k, String(v)); if (text !== undefined) n.textContent = text; svg.append(n); return n; };
    add('line', { x1: left, y1: height - bottom, x2: width, y2: height - bottom, class: 'axis' });
    add('text', { x: 2, y: top + 10 }, String(max));
    add('text', { x: 2, y: height - bottom }, '0');
    days.forEach((d, i) => {
      const h = d.requests === 0 ? 1 : Math.max(2, (height - bottom - top) * d.requests / max);
      const bar = add('rect', { class: d.requests === 0 ? 'bar zero' : 'bar', x: left + i * slot + 1, y: height - bottom - h,
        width: Math.max(1, slot - 2), height: h, 'data-date': d.date, 'data-requests': d.requests });
      const title = document.createElementNS(ns, 'title'); title.textContent = d.date + ': ' + d.requests + ' requests, ' + d.errors + ' errors'; bar.append(title);
    });
    if (days.length) {
      add('text', { x: left, y: height - 4 }, days[0].date);
      add('text', { x: width - 70, y: height - 4 }, days[days.length - 1].date);
    }
  }

  async function auditPage(view) {
    if (envMismatch(view, 'audit events')) return;
    const t = table('audit-table', [{ title: 'At' }, { title: 'Action' }, { title: 'Actor' }, { title: 'Target' }, { title: 'Request id' }]);
    const more = el('button', { type: 'button', id: 'audit-more', className: 'secondary', text: 'Older events', disabled: true });
    view.append(t.node, el('div', { className: 'pager' }, more));
    let cursor = null;
    async function load(next) {
      const data = await api('GET', '/v1/account/audit-log' + query({ cursor: next }));
      const rows = data.events.map((e) => el('tr', {}, cell(fmtTime(e.at)), el('td', {}, el('code', { text: e.action })), cell(e.actor_key_prefix),
        cell(e.target ? e.target.type + ' ' + (e.target.id === null ? '(all)' : e.target.id) : '—'), el('td', {}, el('code', { text: e.request_id || '—' }))));
      if (next) appendRows(t, rows); else fillRows(t, rows, 'No events yet.');
      cursor = data.next_cursor; more.disabled = !cursor;
    }
    more.addEventListener('click', () => load(cursor).catch((e) => showError(e, 'Audit log')));
    try { await load(null); } catch (error) { failRows(t, error); throw error; }
  }

  async function memoriesPage(view) {
    if (envMismatch(view, 'memories')) return;
    const filters = el('form', { id: 'memory-filters', className: 'grid', 'aria-label': 'Filter memories' },
      el('label', {}, 'Space', el('input', { id: 'filter-space', autocomplete: 'off' })),
      el('label', {}, 'Source', el('select', { id: 'filter-source' }, el('option', { value: '', text: 'any' }), el('option', { value: 'api', text: 'api' }), el('option', { value: 'extraction', text: 'extraction' }))),
      el('label', {}, 'Metadata key', el('input', { id: 'filter-meta-key', autocomplete: 'off' })),
      el('label', {}, 'equals', el('input', { id: 'filter-meta-value', autocomplete: 'off' })),
      el('button', { type: 'submit', id: 'filter-submit', text: 'Filter' }));
    const search = el('form', { id: 'query-form', className: 'grid', role: 'search', 'aria-label': 'Query memories' },
      el('label', {}, 'Query', el('input', { id: 'query-context', required: true, maxlength: 2000, autocomplete: 'off' })),
      el('label', {}, 'Relevance threshold (0–1)', el('input', { id: 'query-threshold', type: 'number', min: 0, max: 1, step: '0.05', value: '0.1' })),
      el('button', { type: 'submit', id: 'query-submit', text: 'Search' }));
    const results = table('query-results', [{ title: 'Score', num: true }, { title: 'Text' }, { title: 'Id' }, { title: 'Space' }]);
    const list = table('memories-table', [{ title: 'Text' }, { title: 'Id' }, { title: 'Space' }, { title: 'Source' }, { title: 'Version', num: true }, { title: 'Updated' }, { title: 'Actions' }]);
    const more = el('button', { type: 'button', id: 'memories-more', className: 'secondary', text: 'More', disabled: true });
    const history = el('div', { id: 'history-slot' });
    fillRows(results, [], 'Type a query to see matching memories with their scores.');
    view.append(el('h3', { text: 'Query' }), search, results.node, el('h3', { text: 'Browse' }), filters, list.node,
      el('div', { className: 'pager' }, more), history);

    let cursor = null;
    function filterParams() {
      const params = { per_page: 25, space_id: $('filter-space').value.trim(), source: $('filter-source').value };
      const key = $('filter-meta-key').value.trim();
      if (key) params['metadata.' + key] = $('filter-meta-value').value;
      return params;
    }
    async function load(next) {
      const params = filterParams();
      if (next) params.cursor = next;
      const data = await api('GET', '/v1/memories' + query(params));
      const rows = data.memories.map(memoryRow);
      if (next) appendRows(list, rows); else fillRows(list, rows, 'No memories match.');
      cursor = data.has_more ? data.next_cursor : null; more.disabled = !cursor;
    }
    function memoryRow(m) {
      const historyButton = el('button', { type: 'button', className: 'secondary history', text: 'History' });
      historyButton.addEventListener('click', () => showHistory(m.id).catch((e) => showError(e, 'History of ' + m.id)));
      const del = confirmButton('Delete', 'Delete this memory and its history?', async () => {
        clearError();
        try { await api('DELETE', '/v1/memories/' + encodeURIComponent(m.id)); show('Deleted ' + m.id + '.'); await load(null); } catch (error) { showError(error, 'Deleting ' + m.id); }
      });
      return el('tr', { 'data-memory-id': m.id }, el('td', { className: 'text memory-text', text: m.text }), el('td', {}, el('code', { text: m.id })),
        cell(m.space_id), cell(m.source), cell(m.version, 'num'), cell(fmtTime(m.updated_at)), el('td', {}, el('span', { className: 'actions' }, historyButton, del)));
    }
    async function showHistory(id) {
      const t = table('history-table', [{ title: 'Version', num: true }, { title: 'Text' }, { title: 'Valid from' }, { title: 'Superseded' }, { title: 'By key' }]);
      history.replaceChildren(el('h3', { id: 'history-title', tabindex: '-1', text: 'History of ' + id }), t.node);
      $('history-title').focus();
      const data = await api('GET', '/v1/memories/' + encodeURIComponent(id) + '/history');
      fillRows(t, data.versions.map((v) => el('tr', {}, cell(v.version + (v.is_current ? ' (current)' : ''), 'num'), el('td', { className: 'text', text: v.text }),
        cell(fmtTime(v.valid_from)), cell(fmtTime(v.superseded_at)), el('td', {}, el('code', { text: v.key_prefix || '—' })))), 'No versions.');
    }
    filters.addEventListener('submit', (event) => { event.preventDefault(); clearError(); load(null).catch((e) => showError(e, 'Memories')); });
    more.addEventListener('click', () => load(cursor).catch((e) => showError(e, 'Memories')));
    search.addEventListener('submit', async (event) => {
      event.preventDefault(); clearError();
      try {
        const body = { context: $('query-context').value, relevance_threshold: Number($('query-threshold').value || 0), max_memories: 20 };
        const space = $('filter-space').value.trim();
        if (space) body.space_id = space;
        const data = await api('POST', '/v1/query', body);
        fillRows(results, data.memories.map((m) => el('tr', { 'data-memory-id': m.id }, el('td', { className: 'num score', text: Number(m.relevance_score).toFixed(3) }),
          el('td', { className: 'text', text: m.text }), el('td', {}, el('code', { text: m.id })), cell(m.space_id))), 'Nothing matches this query.');
      } catch (error) { showError(error, 'Query'); }
    });
    try { await load(null); } catch (error) { failRows(list, error); throw error; }
  }

  async function webhooksPage(view) {
    if (envMismatch(view, 'webhooks')) return;
    const eventNames = ['*', 'memory.created', 'memory.updated', 'memory.deleted', 'memories.erased', 'usage.alert', 'api_key.created', 'api_key.rotated', 'api_key.revoked'];
    const form = el('form', { id: 'webhook-create', className: 'grid', 'aria-label': 'Add a webhook' },
      el('label', {}, 'URL', el('input', { id: 'webhook-url', type: 'url', required: true, placeholder: 'https://example.com/hooks/memory' })),
      el('label', {}, 'Description (optional)', el('input', { id: 'webhook-description', maxlength: 200 })),
      el('fieldset', {}, el('legend', { text: 'Events' }), eventNames.map((name) =>
        el('label', {}, el('input', { type: 'checkbox', value: name, className: 'webhook-event', checked: name === '*' }), name))),
      el('button', { type: 'submit', id: 'webhook-create-submit', text: 'Add webhook' }));
    const fresh = el('div', { id: 'new-secret-slot' });
    const t = table('webhooks-table', [{ title: 'URL' }, { title: 'Events' }, { title: 'Description' }, { title: 'Created' }, { title: 'Actions' }]);
    const deliveries = el('div', { id: 'deliveries-slot' });
    view.append(el('h3', { text: 'Add a webhook' }), form, fresh, el('h3', { text: 'Webhooks (' + state.env + ')' }), t.node, deliveries);
    form.addEventListener('submit', async (event) => {
      event.preventDefault(); clearError();
      const events = Array.from(form.querySelectorAll('.webhook-event')).filter((b) => b.checked).map((b) => b.value);
      const body = { url: $('webhook-url').value, events };
      if ($('webhook-description').value) body.description = $('webhook-description').value;
      try {
        const hook = await api('POST', '/v1/webhooks', body);
        fresh.replaceChildren(onceBox('new-secret', 'Signing secret of ' + hook.url, hook.secret, 'Shown only now: verify each delivery\'s webhook-signature with it.'));
        form.reset(); await load();
      } catch (error) { showError(error, 'Adding the webhook'); }
    });
    async function load() {
      try {
        const data = await api('GET', '/v1/webhooks');
        fillRows(t, data.webhooks.map(hookRow), 'No webhooks.');
      } catch (error) {
        failRows(t, error);
        if (error.status === 404) throw new Error('Webhooks are not available on this gateway yet: ' + error.words);
        throw error;
      }
    }
    function hookRow(h) {
      const test = el('button', { type: 'button', className: 'secondary', text: 'Send test' });
      test.addEventListener('click', async () => { clearError(); try { await api('POST', '/v1/webhooks/' + encodeURIComponent(h.id) + '/test'); show('Test event sent to ' + h.url + '.'); await showDeliveries(h); } catch (e) { showError(e, 'Test event'); } });
      const list = el('button', { type: 'button', className: 'secondary', text: 'Deliveries' });
      list.addEventListener('click', () => showDeliveries(h).catch((e) => showError(e, 'Deliveries')));
      const del = confirmButton('Delete', 'Delete the webhook to ' + h.url + '?', async () => {
        clearError();
        try {
          await api('DELETE', '/v1/webhooks/' + encodeURIComponent(h.id));
          if (deliveries.firstChild && deliveries.firstChild.dataset.webhookId === h.id) deliveries.replaceChildren();
          show('Deleted the webhook to ' + h.url + '.');
          await load();
        } catch (e) { showError(e, 'Deleting the webhook'); }
      });
      return el('tr', { 'data-webhook-id': h.id }, el('td', {}, el('code', { text: h.url })), cell((h.events || []).join(', ')), cell(h.description),
        cell(fmtTime(h.created_at)), el('td', {}, el('span', { className: 'actions' }, test, list, del)));
    }
    // Deliveries of one webhook, newest first. While the newest page shows an attempt still
    // pending or retrying, it reloads itself once a second (for at most a minute, and only while it
    // is on screen), so "Send test" ends in a visible `delivered` or its error without a click.
    async function showDeliveries(h) {
      const d = table('deliveries-table', [{ title: 'At' }, { title: 'Event' }, { title: 'Type' }, { title: 'Attempt', num: true }, { title: 'Status' }, { title: 'HTTP', num: true }, { title: 'Error' }]);
      const refresh = el('button', { type: 'button', id: 'deliveries-refresh', className: 'secondary', text: 'Refresh' });
      const more = el('button', { type: 'button', className: 'secondary', text: 'Older deliveries', disabled: true });
      const slot = el('div', { 'data-webhook-id': h.id }, el('h3', { text: 'Deliveries to ' + h.url }), d.node, el('div', { className: 'pager' }, refresh, more));
      deliveries.replaceChildren(slot);
      let cursor = null;
      let paged = false;
      let timer = null;
      const pollUntil = Date.now() + 60000;
      async function page(next) {
        const data = await api('GET', '/v1/webhooks/' + encodeURIComponent(h.id) + '/deliveries' + query({ cursor: next }));
        const rows = data.deliveries.map((x) => el('tr', { 'data-delivery-id': x.id, 'data-status': x.status }, cell(fmtTime(x.at)), el('td', {}, el('code', { text: x.event_id })), cell(x.type),
          cell(x.attempt, 'num'), cell(x.status, 'status'), cell(x.response_status, 'num'), cell(x.error)));
        if (next) { appendRows(d, rows); paged = true; } else { fillRows(d, rows, 'No deliveries yet.'); paged = false; }
        cursor = data.next_cursor || null; more.disabled = !cursor;
        clearTimeout(timer);
        const unsettled = data.deliveries.some((x) => x.status === 'pending' || x.status === 'retrying');
        if (!next && unsettled && Date.now() < pollUntil) {
          timer = setTimeout(() => { if (slot.isConnected && !paged) page(null).catch((e) => showError(e, 'Deliveries')); }, 1000);
        }
      }
      refresh.addEventListener('click', () => { clearError(); page(null).catch((e) => showError(e, 'Deliveries')); });
      more.addEventListener('click', () => page(cursor).catch((e) => showError(e, 'Deliveries')));
      try { await page(null); } catch (error) { failRows(d, error); throw error; }
    }
    await load();
  }

  const plans = ['free', 'starter', 'professional'];
  async function tenantsPage(view) {
    const form = el('form', { id: 'tenant-create', className: 'inline', 'aria-label': 'Create a tenant' },
      el('label', {}, 'Name', el('input', { id: 'tenant-name', required: true, maxlength: 200, autocomplete: 'off' })),
      el('label', {}, 'Plan', el('select', { id: 'tenant-plan' }, plans.map((p) => el('option', { value: p, text: p })))),
      el('button', { type: 'submit', id: 'tenant-create-submit', text: 'Create tenant' }));
    const fresh = el('div', { id: 'new-tenant-slot' });
    const t = table('tenants-table', [{ title: 'Name' }, { title: 'Id' }, { title: 'Plan' }, { title: 'Limits' }, { title: 'Suspended' }, { title: 'Created' }]);
    view.append(el('h3', { text: 'Create a tenant' }), form, fresh, el('h3', { text: 'Tenants' }), t.node);
    form.addEventListener('submit', async (event) => {
      event.preventDefault(); clearError();
      try {
        const created = await api('POST', '/v1/admin/tenants', { name: $('tenant-name').value, plan: $('tenant-plan').value });
        fresh.replaceChildren(onceBox('new-tenant-key', 'First admin key of ' + created.tenant.name, created.api_key.key, 'Shown only now: hand it to the tenant\'s admin.'));
        form.reset(); await load();
      } catch (error) { showError(error, 'Creating the tenant'); }
    });
    async function patch(tenant, body, what) {
      clearError();
      try { await api('PATCH', '/v1/admin/tenants/' + encodeURIComponent(tenant.id), body); show(what + ' for ' + tenant.name + '.'); await load(); } catch (e) { showError(e, what); }
    }
    function tenantRow(tenant) {
      const plan = el('select', { className: 'plan-select', 'aria-label': 'Plan of ' + tenant.name }, plans.map((p) => el('option', { value: p, text: p, selected: p === tenant.plan })));
      const savePlan = el('button', { type: 'button', className: 'secondary save-plan', text: 'Change plan' });
      savePlan.addEventListener('click', () => patch(tenant, { plan: plan.value }, 'Plan changed to ' + plan.value));
      const limitNames = ['rate_limit_per_minute', 'monthly_request_quota', 'max_memories', 'max_storage_mb'];
      const limits = tenant.limits || {};
      const inputs = {};
      const limitForm = el('form', { className: 'inline limits-form', 'aria-label': 'Limits of ' + tenant.name },
        limitNames.filter((n) => n in limits || n !== 'max_storage_mb').map((n) => {
          inputs[n] = el('input', { type: 'number', min: 1, step: 1, value: limits[n] === undefined || limits[n] === null ? '' : limits[n], 'aria-label': n + ' of ' + tenant.name });
          return el('label', {}, n.replace(/_/g, ' '), inputs[n]);
        }),
        el('button', { type: 'submit', className: 'secondary', text: 'Save limits' }));
      limitForm.addEventListener('submit', (event) => {
        event.preventDefault();
        // Only the limits changed here become overrides; an emptied field returns to the plan's value.
        const body = {};
        for (const [n, input] of Object.entries(inputs)) {
          const before = limits[n] === undefined || limits[n] === null ? '' : String(limits[n]);
          if (input.value !== before) body[n] = input.value === '' ? null : Number(input.value);
        }
        if (!Object.keys(body).length) { show('No limit changed for ' + tenant.name + '.'); return; }
        patch(tenant, { limits: body }, 'Limits saved');
      });
      const suspend = tenant.suspended
        ? el('button', { type: 'button', className: 'secondary', text: 'Unsuspend' })
        : confirmButton('Suspend', 'Suspend ' + tenant.name + '? Its keys get 403 at once.', () => patch(tenant, { suspended: true }, 'Suspended'));
      if (tenant.suspended) suspend.addEventListener('click', () => patch(tenant, { suspended: false }, 'Unsuspended'));
      return el('tr', { 'data-tenant-id': tenant.id }, cell(tenant.name), el('td', {}, el('code', { text: tenant.id })),
        el('td', {}, el('span', { className: 'actions' }, plan, savePlan)), el('td', {}, limitForm),
        el('td', {}, el('span', { className: 'actions' }, tenant.suspended ? 'yes ' : 'no ', suspend)), cell(fmtTime(tenant.created_at)));
    }
    async function load() {
      try {
        const data = await api('GET', '/v1/admin/tenants');
        fillRows(t, data.tenants.map(tenantRow), 'No tenants.');
      } catch (error) { failRows(t, error); throw error; }
    }
    await load();
  }

  async function billingPage(view) {
    const now = new Date();
    const period = el('input', { id: 'billing-period', type: 'month', value: now.getUTCFullYear() + '-' + pad(now.getUTCMonth() + 1), required: true });
    const csv = el('a', { id: 'billing-csv', href: '#', download: 'billing.csv', text: 'Download CSV' });
    const form = el('form', { id: 'billing-form', className: 'inline', 'aria-label': 'Billing period' },
      el('label', {}, 'Month (UTC)', period), el('button', { type: 'submit', text: 'Show' }), csv);
    const t = table('billing-table', [{ title: 'Tenant' }, { title: 'Plan' }, { title: 'Requests', num: true }, { title: 'Rate limited', num: true },
      { title: 'Quota', num: true }, { title: 'Overage req.', num: true }, { title: 'Memories', num: true }, { title: 'Base', num: true }, { title: 'Overage', num: true }, { title: 'Total', num: true }]);
    view.append(form, t.node);
    async function load() {
      const p = period.value;
      csv.setAttribute('href', '/v1/admin/billing' + query({ period: p, format: 'csv' }));
      csv.setAttribute('download', 'billing-' + p + '.csv');
      try {
        const data = await api('GET', '/v1/admin/billing' + query({ period: p }));
        fillRows(t, data.tenants.map((r) => el('tr', { 'data-tenant-id': r.tenant_id }, cell(r.name), cell(r.plan), cell(fmtNumber(r.requests), 'num'),
          cell(fmtNumber(r.rate_limited), 'num'), cell(fmtNumber(r.quota), 'num'), cell(fmtNumber(r.overage_requests), 'num'), cell(fmtNumber(r.memories_stored), 'num'),
          cell(r.base, 'num'), cell(r.overage, 'num'), cell(r.total + ' ' + r.currency, 'num'))), 'No tenants billed in ' + p + '.');
      } catch (error) { failRows(t, error); throw error; }
    }
    form.addEventListener('submit', (event) => { event.preventDefault(); clearError(); load().catch((e) => showError(e, 'Billing')); });
    await load();
  }

  // ---------- session ----------
  function signedIn(session) {
    state.session = session; state.csrf = session.csrf_token;
    state.env = session.environment || 'live';
    $('signin').hidden = true; $('view').hidden = false; $('nav').hidden = false; $('session-bar').hidden = false;
    $('who').textContent = session.kind === 'operator' ? 'Operator' : 'Tenant ' + session.tenant_id + ' · key ' + session.key_prefix;
    $('env-switch').hidden = session.kind !== 'tenant';
    $('env').value = state.env;
    const nav = clear($('nav'));
    for (const [name, title] of pages()) nav.append(el('a', { href: '#' + name, text: title }));
    render();
  }
  function signedOut(message) {
    state.session = null; state.csrf = null;
    $('signin').hidden = false; $('view').hidden = true; $('nav').hidden = true; $('session-bar').hidden = true;
    clear($('view'));
    if (message) show(message);
  }
  async function signIn(event) {
    event.preventDefault(); clearError();
    const input = $('signin-key');
    const secret = input.value.trim();
    input.value = '';  // the key lives only in this function's scope, for this one request
    $('signin-submit').disabled = true;
    try {
      const response = await fetch('/console/session', { method: 'POST', credentials: 'same-origin', headers: { Authorization: 'Bearer ' + secret, Accept: 'application/json' } });
      let json = null; try { json = await response.json(); } catch (_) { json = null; }
      if (!response.ok || !json || !json.success) throw new APIFailure(response.status, json, response.headers.get('X-Request-ID'));
      signedIn(json.data);
    } catch (error) { showError(error, 'Signing in'); } finally { $('signin-submit').disabled = false; }
  }
  async function signOut() {
    clearError();
    try { await api('DELETE', '/console/session'); signedOut('Signed out: every session of this key has ended.'); } catch (error) { showError(error, 'Signing out'); }
  }

  document.addEventListener('DOMContentLoaded', async () => {
    $('signin-form').addEventListener('submit', signIn);
    $('signout').addEventListener('click', signOut);
    $('env').addEventListener('change', () => { state.env = $('env').value; render(); });
    window.addEventListener('hashchange', () => { if (state.session) { render(); const t = $('page-title'); if (t) t.focus(); } });
    try {
      const response = await fetch('/console/session', { credentials: 'same-origin', headers: { Accept: 'application/json' }, cache: 'no-store' });
      const json = await response.json();
      if (response.ok && json.success) { signedIn(json.data); return; }
    } catch (_) { /* not signed in */ }
    signedOut();
    $('signin-key').focus();
  });
})();
