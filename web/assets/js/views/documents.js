// The documents list: quotes, orders, invoices and credit notes, filtered by
// type and status, paged by cursor.

import {get} from '../api.js';
import {t} from '../i18n.js';
import {h, fill, table} from '../dom.js';
import {money, date} from '../format.js';

export const TYPES = ['quote', 'order', 'invoice', 'credit_note'];
export const STATUSES = ['draft', 'sent', 'refused', 'accepted', 'ordered', 'invoiced', 'paid', 'cancelled'];

export async function render(ctx) {
  const {el, query} = ctx;
  const state = {type: query.type || '', status: query.status || '', cursors: [null], page: 0};
  const type = h('select', {id: 'doc-filter-type'}, h('option', {value: ''}, t('docs.any')),
    TYPES.map((x) => h('option', {value: x, selected: state.type === x}, t(`doc.type.${x}`))));
  const status = h('select', {id: 'doc-filter-status'}, h('option', {value: ''}, t('docs.any')),
    STATUSES.map((x) => h('option', {value: x, selected: state.status === x}, t(`doc.status.${x}`))));
  const results = h('div', {id: 'documents-results', 'aria-live': 'polite'});
  const prev = h('button', {type: 'button', class: 'secondary', id: 'prev'}, t('paging.prev'));
  const next = h('button', {type: 'button', class: 'secondary', id: 'next'}, t('paging.next'));
  const pageLabel = h('span', {class: 'page-label', id: 'page'});

  fill(el, h('h1', {}, t('docs.title')),
    h('p', {class: 'muted'}, t('docs.new.hint')),
    h('div', {class: 'filter-row'},
      h('div', {class: 'field'}, h('label', {for: 'doc-filter-type'}, t('doc.type')), type),
      h('div', {class: 'field'}, h('label', {for: 'doc-filter-status'}, t('doc.status')), status)),
    results,
    h('nav', {class: 'pager', 'aria-label': t('paging.label')}, prev, pageLabel, next));

  async function load() {
    const r = await get('documents', {type: state.type, status: state.status, limit: 50, cursor: state.cursors[state.page]});
    if (!ctx.isCurrent()) return;
    state.cursors.length = state.page + 1;
    state.cursors.push(r.next);
    const items = r.items || [];
    fill(results, items.length ? table([
      {label: t('doc.type'), cell: (d) => t(`doc.type.${d.type}`)},
      {label: t('doc.number'), cell: (d) => h('a', {href: `#/documents/${d.id}`}, d.number || t('doc.draft'))},
      {label: t('doc.customer'), cell: (d) => (d.customer ? h('a', {href: `#/customers/${d.customer}`}, d.customer_label || d.customer.slice(0, 8)) : '')},
      {label: t('doc.date'), cell: (d) => date(d.date)},
      {label: t('doc.status'), cell: (d) => t(`doc.status.${d.status}`)},
      {label: t('doc.ht'), cell: (d) => money(d.totals && d.totals.ht)},
      {label: t('doc.ttc'), cell: (d) => money(d.totals && d.totals.ttc)},
    ], items, (d) => ({dataset: {id: d.id}})) : h('p', {class: 'empty'}, t('docs.none')));
    prev.disabled = state.page === 0;
    next.disabled = !r.next;
    pageLabel.textContent = t('paging.page', {n: state.page + 1});
  }
  const restart = () => {
    state.cursors = [null]; state.page = 0;
    ctx.setQuery({type: state.type, status: state.status});
    load().catch((e) => fill(results, h('p', {class: 'error'}, e.message)));
  };
  type.addEventListener('change', () => { state.type = type.value; restart(); });
  status.addEventListener('change', () => { state.status = status.value; restart(); });
  prev.addEventListener('click', () => { if (state.page > 0) { state.page--; load(); } });
  next.addEventListener('click', () => { if (state.cursors[state.page + 1]) { state.page++; load(); } });
  await load();

  let timer = null;
  return {
    onEvent(ev, data) {
      if (ev === 'reset' || (ev === 'change' && (data.overflow || (data.changes || []).some((c) => c.kind === 'document')))) {
        clearTimeout(timer);
        timer = setTimeout(() => load().catch(() => {}), 150);
      }
    },
    dispose() { clearTimeout(timer); },
  };
}
