// The customer list: instant accent-insensitive search (the API folds
// accents: "helene" finds "Hélène"), filters, and cursor paging, so a book
// of 100,000 customers is read one page at a time, never whole.

import {get} from '../api.js';
import {t} from '../i18n.js';
import {h, fill, table} from '../dom.js';
import {customerName, phoneList} from '../format.js';

const PAGE = 50;

export async function render(ctx) {
  const {el, query} = ctx;
  const state = {
    q: query.q || '', tag: query.tag || '', role: query.role || '',
    sales_rep: query.sales_rep || '',
    cursors: [null],   // cursors[i] reads page i; the back button pops
    page: 0,
  };
  // One list request at a time. An abandoned request still runs to its end
  // on the replica's one thread (the server cannot stop a search half
  // way), so a fast typist on a large book would queue a search per key:
  // instead, keys typed during a request only mark that the latest text
  // is to be searched once it returns.
  let running = false;
  let again = false;
  let lastMs = 0;         // how long the last request took
  let timer = null;

  const search = h('input', {type: 'search', id: 'search', value: state.q, autocomplete: 'off',
    placeholder: t('customers.search.placeholder'), 'aria-controls': 'results'});
  const role = h('select', {id: 'filter-role'},
    h('option', {value: ''}, t('customers.role.any')),
    ['prospect', 'customer', 'supplier'].map((r) => h('option', {value: r, selected: state.role === r}, t(`role.${r}`))));
  const tag = h('input', {type: 'text', id: 'filter-tag', value: state.tag, autocomplete: 'off'});
  const rep = h('input', {type: 'text', id: 'filter-rep', value: state.sales_rep, autocomplete: 'off'});
  // The count is announced (a live region); the table is not, or a screen
  // reader would read fifty rows at every key typed.
  const results = h('div', {id: 'results', 'aria-busy': 'false'});
  const prev = h('button', {type: 'button', id: 'prev', class: 'secondary'}, t('paging.prev'));
  const next = h('button', {type: 'button', id: 'next', class: 'secondary'}, t('paging.next'));
  const pageLabel = h('span', {id: 'page', class: 'page-label'});
  const count = h('p', {id: 'count', class: 'muted', role: 'status', 'aria-live': 'polite'});

  fill(el,
    h('div', {class: 'title-row'},
      h('h1', {}, t('customers.title')),
      h('a', {class: 'button', href: '#/customers/new', id: 'new-customer'}, t('customers.new'))),
    h('form', {class: 'search', role: 'search', onsubmit: (e) => { e.preventDefault(); reload(true); }},
      h('div', {class: 'field grow'}, h('label', {for: 'search'}, t('customers.search.label')), search),
      h('details', {class: 'filters'},
        h('summary', {}, t('customers.filters')),
        h('div', {class: 'filter-row'},
          h('div', {class: 'field'}, h('label', {for: 'filter-role'}, t('customers.role')), role),
          h('div', {class: 'field'}, h('label', {for: 'filter-tag'}, t('customers.tag')), tag),
          h('div', {class: 'field'}, h('label', {for: 'filter-rep'}, t('customers.sales_rep')), rep)))),
    count,
    results,
    h('nav', {class: 'pager', 'aria-label': t('paging.label')}, prev, pageLabel, next));

  async function load() {
    if (running) { again = true; return; }
    running = true;
    results.setAttribute('aria-busy', 'true');
    try {
      do {
        again = false;
        const t0 = performance.now();
        const sent = {q: state.q, tag: state.tag, role: state.role, sales_rep: state.sales_rep,
          limit: PAGE, cursor: state.cursors[state.page]};
        let page;
        try {
          page = await get('customers', sent);
        } catch (e) {
          if (!again && ctx.isCurrent()) fill(results, h('p', {class: 'error', role: 'alert'}, e.message));
          continue;
        }
        lastMs = performance.now() - t0;
        // A newer text is waiting: this answer is already stale.
        if (!again && ctx.isCurrent()) show(page, sent);
      } while (again && ctx.isCurrent());
    } finally {
      running = false;
      results.setAttribute('aria-busy', 'false');
    }
  }

  function show(page, sent) {
    // What the rows on screen answer (the tests rely on it rather than on
    // timing): the text sent, which may be older than the one in the box.
    results.dataset.q = sent.q;
    results.dataset.page = String(state.page + 1);
    state.cursors.length = state.page + 1;
    state.cursors.push(page.next);
    const items = page.items || [];
    if (!items.length) {
      fill(results, h('p', {class: 'empty', id: 'empty'}, sent.q ? t('customers.none.search', {q: sent.q}) : t('customers.none')));
    } else {
      fill(results, table([
        {label: t('customer.ref'), cell: (c) => c.ref || c.id.slice(0, 8)},
        {label: t('customer.name'), cell: (c) => h('a', {href: `#/customers/${c.id}`, class: 'name'}, customerName(c))},
        {label: t('customer.company'), cell: (c) => (c.name && c.company) ? c.company : ''},
        {label: t('customer.city'), cell: (c) => (c.address && c.address.city) || ''},
        {label: t('customer.phones'), cell: (c) => phoneList(c)},
        {label: t('customer.emails'), cell: (c) => (c.emails || []).join(', ')},
        {label: t('customer.tags'), cell: (c) => (c.tags || []).map((x) => h('span', {class: 'tag'}, x))},
      ], items, (c) => ({dataset: {id: c.id}, class: c.deleted ? 'deleted' : null})));
    }
    prev.disabled = state.page === 0;
    next.disabled = !page.next;
    pageLabel.textContent = t('paging.page', {n: state.page + 1});
    count.textContent = items.length ? t('customers.shown', {from: state.page * PAGE + 1, to: state.page * PAGE + items.length})
      : t('customers.shown.none');
  }

  // A new search or filter starts again at the first page.
  function reload(fromStart) {
    if (fromStart) { state.cursors = [null]; state.page = 0; }
    ctx.setQuery({q: state.q, tag: state.tag, role: state.role, sales_rep: state.sales_rep});
    return load();
  }

  // "Instant": each keystroke searches, after a pause short enough not to
  // be felt (80 ms) and long enough not to send one request per key of a
  // fast typist; longer when the book is large and a search takes long.
  search.addEventListener('input', () => {
    state.q = search.value.trim();
    clearTimeout(timer);
    timer = setTimeout(() => reload(true), Math.min(400, Math.max(80, lastMs / 2)));
  });
  role.addEventListener('change', () => { state.role = role.value; reload(true); });
  for (const [input, key] of [[tag, 'tag'], [rep, 'sales_rep']]) {
    input.addEventListener('change', () => { state[key] = input.value.trim(); reload(true); });
  }
  prev.addEventListener('click', () => { if (state.page > 0) { state.page--; load(); } });
  next.addEventListener('click', () => { if (state.cursors[state.page + 1]) { state.page++; load(); } });

  await load();
  search.focus();

  let liveTimer = null;
  return {
    // A change from a peer (or another process) shows on the open list: the
    // page on screen is read again. Changes come in bursts during a sync,
    // so they are gathered for 100 ms.
    onEvent(type, data) {
      const relevant = type === 'reset' ||
        (type === 'change' && (data.overflow || (data.changes || []).some((c) => c.kind === 'customer')));
      if (!relevant) return;
      clearTimeout(liveTimer);
      liveTimer = setTimeout(() => load(), 100);
    },
    dispose() {
      clearTimeout(timer);
      clearTimeout(liveTimer);
    },
  };
}
