// A minimal page that proves the server works: it takes the token from the
// URL's fragment (never sent to the server), keeps it in sessionStorage,
// and lists customers through the API. The console replaces it.
'use strict';
(function () {
  const m = /token=([0-9a-f]{64})/.exec(location.hash);
  if (m) {
    sessionStorage.setItem('carnet-token', m[1]);
    history.replaceState(null, '', location.pathname);
  }
  const token = sessionStorage.getItem('carnet-token');
  const state = document.getElementById('state');
  const list = document.getElementById('customers');
  async function api(path) {
    const r = await fetch('/api/' + path, { headers: { 'Authorization': 'Bearer ' + token } });
    const body = await r.json();
    if (!r.ok) throw new Error(body.error ? body.error.message : r.statusText);
    return body;
  }
  async function show(q) {
    try {
      const page = await api('customers?limit=50&q=' + encodeURIComponent(q || ''));
      list.replaceChildren(...page.items.map(function (c) {
        const li = document.createElement('li');
        li.textContent = (c.ref || '') + ' ' + (c.name || c.company || '');
        return li;
      }));
      const st = await api('status');
      state.textContent = 'Réplique ' + st.tag + ' (' + st.role + ') — ' + st.customers + ' clients';
    } catch (e) {
      state.textContent = 'Erreur : ' + e.message;
    }
  }
  document.getElementById('q').addEventListener('input', function (e) { show(e.target.value); });
  show('');
})();
