// Today's reminders (or this week's, or another day's), each marked done
// from here, with a link to its customer.

import {get, patch} from '../api.js';
import {t} from '../i18n.js';
import {h, fill, table} from '../dom.js';
import {date, today} from '../format.js';

export async function render(ctx) {
  const {el, query} = ctx;
  const day = h('input', {type: 'date', id: 'reminders-date', value: query.date || today()});
  const week = h('input', {type: 'checkbox', id: 'reminders-week', checked: query.week === '1'});
  const list = h('div', {id: 'reminders-due', 'aria-live': 'polite'});
  const range = h('p', {class: 'muted', id: 'reminders-range'});

  fill(el, h('h1', {}, t('reminders.title')),
    h('div', {class: 'filter-row'},
      h('div', {class: 'field'}, h('label', {for: 'reminders-date'}, t('reminders.day')), day),
      h('label', {class: 'check'}, week, ' ', t('reminders.week'))),
    range, list);

  async function load() {
    const q = week.checked ? {week: 1, date: day.value} : {date: day.value};
    const r = await get('reminders/due', q);
    if (!ctx.isCurrent()) return;
    range.textContent = r.from && r.to && r.from !== r.to ? t('reminders.range', {from: date(r.from), to: date(r.to)}) : date(r.from || day.value);
    const items = r.items || [];
    fill(list, items.length ? table([
      {label: t('reminder.date'), cell: (x) => date(x.date) + (x.mode === 'week' ? ` (${t('reminder.mode.week')})` : '')},
      {label: t('reminder.customer'), cell: (x) => h('a', {href: `#/customers/${x.customer}`}, x.customer_label || x.customer)},
      {label: t('reminder.comment'), cell: (x) => x.comment || ''},
      {label: '', cell: (x) => (x.done ? t('reminder.done') : h('button', {type: 'button', class: 'secondary small', onclick: async (e) => {
        e.target.disabled = true;
        try { await patch(`reminders/${x.id}`, {done: true}); await load(); } catch (err) { ctx.toast(err.message); e.target.disabled = false; }
      }}, t('reminder.mark_done')))},
    ], items, (x) => ({dataset: {id: x.id}})) : h('p', {class: 'empty'}, t('reminders.none')));
  }
  const reload = () => {
    ctx.setQuery({date: day.value === today() ? '' : day.value, week: week.checked ? '1' : ''});
    load().catch((e) => fill(list, h('p', {class: 'error'}, e.message)));
  };
  day.addEventListener('change', reload);
  week.addEventListener('change', reload);
  await load();

  let timer = null;
  return {
    onEvent(type, data) {
      if (type === 'reset' || (type === 'change' && (data.overflow || (data.changes || []).some((c) => c.kind === 'reminder' || c.kind === 'customer')))) {
        clearTimeout(timer);
        timer = setTimeout(() => load().catch(() => {}), 150);
      }
    },
    dispose() { clearTimeout(timer); },
  };
}
