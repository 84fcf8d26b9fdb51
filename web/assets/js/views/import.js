// Import customers from a CSV or Excel file: the file is sent as the
// request body; the report shows the counts and every rejected row with its
// line, column and reason. A dry run checks without writing.

import {upload} from '../api.js';
import {t} from '../i18n.js';
import {h, fill, field, table} from '../dom.js';

export async function render(ctx) {
  const {el} = ctx;
  const file = h('input', {type: 'file', accept: '.csv,.xlsx,text/csv,application/vnd.openxmlformats-officedocument.spreadsheetml.sheet', required: true});
  const dry = h('input', {type: 'checkbox', id: 'import-dry'});
  const onDup = h('select', {}, ['skip', 'merge', 'create'].map((m) => h('option', {value: m}, t(`import.dup.${m}`))));
  const go = h('button', {type: 'submit', id: 'import-go'}, t('import.go'));
  const report = h('div', {id: 'import-report', 'aria-live': 'polite'});
  const error = h('p', {class: 'form-error', role: 'alert', id: 'import-error'});
  const form = h('form', {id: 'import-form', class: 'card form'},
    field('import-file', t('import.file'), file, t('import.file.hint')),
    field('import-on-duplicate', t('import.on_duplicate'), onDup),
    h('label', {class: 'check'}, dry, ' ', t('import.dry_run')),
    h('div', {class: 'actions'}, go), error);

  fill(el, h('h1', {}, t('import.title')), h('p', {class: 'muted'}, t('import.explain')), form, report);

  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    error.textContent = '';
    const f = file.files[0];
    if (!f) { error.textContent = t('import.choose'); return; }
    go.disabled = true;
    fill(report, h('p', {class: 'muted'}, t('import.running')));
    try {
      const r = await upload('import', f, {name: f.name, dry_run: dry.checked ? 1 : '', on_duplicate: onDup.value});
      showReport(r);
    } catch (err) {
      fill(report);
      error.textContent = err.message;
    } finally { go.disabled = false; }
  });

  function showReport(r) {
    const rejects = r.rejects || [];
    const n = (k) => String(r[k] ?? 0);
    fill(report, h('section', {class: 'card'},
      h('h2', {}, r.dry_run ? t('import.report.dry') : t('import.report')),
      h('dl', {class: 'counts'},
        h('dt', {}, t('import.rows')), h('dd', {id: 'import-rows'}, n('rows')),
        h('dt', {}, t('import.imported')), h('dd', {id: 'import-imported'}, n('imported')),
        h('dt', {}, t('import.merged')), h('dd', {id: 'import-merged'}, n('merged')),
        h('dt', {}, t('import.skipped')), h('dd', {id: 'import-skipped'}, n('skipped')),
        h('dt', {}, t('import.rejected')), h('dd', {id: 'import-rejected'}, n('rejected'))),
      rejects.length ? [h('h3', {}, t('import.rejects')), table([
        {label: t('import.line'), cell: (x) => String(x.line)},
        {label: t('import.column'), cell: (x) => x.column || ''},
        {label: t('import.reason'), cell: (x) => x.reason},
        {label: t('import.row'), cell: (x) => (x.row || []).join(' ; ')},
      ], rejects, () => ({class: 'reject'}))] : null));
  }
}
