// The erasure audit: every certificate (who was erased, when, where, why)
// and which replicas of the team have applied it. The erasure itself starts
// from the customer's page (typed confirmation); it lands here.

import {get} from '../api.js';
import {t} from '../i18n.js';
import {h, fill, table} from '../dom.js';
import {date} from '../format.js';

export async function render(ctx) {
  const {el, query} = ctx;
  const list = h('div', {id: 'erasures', 'aria-live': 'polite'});
  fill(el, h('h1', {}, t('erasures.title')), h('p', {class: 'muted'}, t('erasures.explain')), list);

  // This replica's id, to name it "this book" among the others.
  const self = (await get('status')).replica;
  async function load() {
    const r = await get('erasures');
    if (!ctx.isCurrent()) return;
    const items = r.items || [];
    const replicas = (xs) => (xs && xs.length ? xs.map((x) => h('span', {class: 'replica'}, h('code', {}, x),
      x === self ? [' ', h('span', {class: 'muted'}, t('erasure.self'))] : null, ' ')) : '—');
    fill(list, items.length ? table([
      {label: t('erasure.id'), cell: (x) => h('code', {}, x.id)},
      {label: t('erasure.at'), cell: (x) => date(x.erased_at)},
      {label: t('erasure.origin'), cell: (x) => replicas([x.origin])},
      {label: t('erasure.reason'), cell: (x) => x.reason || ''},
      {label: t('erasure.confirmed'), cell: (x) => h('span', {class: 'confirmed'}, replicas(x.confirmed))},
      {label: t('erasure.pending'), cell: (x) => h('span', {class: 'pending'}, (x.pending || []).length ? replicas(x.pending) : t('erasure.pending.none'))},
    ], items, (x) => ({dataset: {id: x.id}, class: x.id === query.id ? 'highlight' : null, 'aria-current': x.id === query.id ? 'true' : null}))
      : h('p', {class: 'empty'}, t('erasures.none')));
  }
  await load();

  let timer = null;
  return {
    // A peer confirming a certificate is a change too: the audit refreshes.
    onEvent(type) {
      if (type === 'change' || type === 'reset' || type === 'peer') {
        clearTimeout(timer);
        timer = setTimeout(() => load().catch(() => {}), 200);
      }
    },
    dispose() { clearTimeout(timer); },
  };
}
