// Export to a file (CSV for Excel, .xlsx, JSON): customers, contacts,
// documents, actions or reminders; customers may be filtered as the list is.

import {download} from '../api.js';
import {t} from '../i18n.js';
import {h, fill, field} from '../dom.js';

export async function render(ctx) {
  const {el} = ctx;
  const kind = h('select', {}, ['customer', 'contact', 'document', 'action', 'reminder'].map((k) => h('option', {value: k}, t(`export.kind.${k}`))));
  const format = h('select', {}, ['csv', 'xlsx', 'json'].map((f) => h('option', {value: f}, t(`export.format.${f}`))));
  const q = h('input', {type: 'text'});
  const tag = h('input', {type: 'text'});
  const role = h('select', {}, h('option', {value: ''}, t('customers.role.any')),
    ['prospect', 'customer', 'supplier'].map((r) => h('option', {value: r}, t(`role.${r}`))));
  const filters = h('fieldset', {class: 'filters'}, h('legend', {}, t('export.filters')),
    field('export-q', t('export.q'), q), field('export-tag', t('customers.tag'), tag), field('export-role', t('customers.role'), role));
  const result = h('p', {id: 'export-result', role: 'status'});
  const go = h('button', {type: 'submit', id: 'export-go'}, t('export.go'));
  const form = h('form', {id: 'export-form', class: 'card form'},
    field('export-kind', t('export.kind'), kind), field('export-format', t('export.format'), format), filters,
    h('div', {class: 'actions'}, go), result);
  kind.addEventListener('change', () => { filters.hidden = kind.value !== 'customer'; });

  fill(el, h('h1', {}, t('export.title')), h('p', {class: 'muted'}, t('export.explain')), form);

  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    result.textContent = '';
    result.classList.remove('error');
    go.disabled = true;
    const query = {kind: kind.value, format: format.value};
    if (kind.value === 'customer') Object.assign(query, {q: q.value.trim(), tag: tag.value.trim(), role: role.value});
    try {
      const r = await download('export', query, `carnet-${kind.value}s.${format.value}`);
      result.textContent = t('export.done', {name: r.name, size: r.size});
    } catch (err) {
      result.textContent = err.message;
      result.classList.add('error');
    } finally { go.disabled = false; }
  });
}
