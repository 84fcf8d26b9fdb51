// The erasure of a person (GDPR): a reason, and the customer's reference
// typed as confirmation; the button wakes only when it matches exactly,
// since an erasure cannot be undone, on any replica. On success the page
// moves to the audit, where the certificate shows. Before the confirmation
// it lists what will be erased: the whole person, every record merged with
// this one (GET customers/{id}/erase, as the command line says since issue
// 19).

import {get, post} from '../api.js';
import {t} from '../i18n.js';
import {h, fill, field, clearErrors, formFailed} from '../dom.js';

/** customer() gives the customer as last read; update() refreshes the
 * label once it changes (the reference to type). */
export function eraseForm(ctx, customer) {
  const reason = h('input', {type: 'text'});
  const confirmInput = h('input', {type: 'text', autocomplete: 'off', spellcheck: 'false'});
  const button = h('button', {type: 'submit', class: 'danger', id: 'erase-button', disabled: true}, t('erase.button'));
  const word = () => customer().ref || customer().id;
  const group = h('div', {id: 'erase-group', 'aria-live': 'polite'});
  const form = h('form', {id: 'erase-form', class: 'form'},
    h('p', {}, t('erase.explain')),
    group,
    field('erase-form-reason', t('erase.reason'), reason, t('erase.reason.hint')),
    field('erase-form-confirm', '', confirmInput),
    button,
    h('p', {class: 'form-error', role: 'alert'}));
  const label = form.querySelector('label[for="erase-form-confirm"]');
  const arm = () => { button.disabled = confirmInput.value.trim() !== word() || !reason.value.trim(); };
  confirmInput.addEventListener('input', arm);
  reason.addEventListener('input', arm);
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    clearErrors(form);
    button.disabled = true;
    try {
      const cert = await post(`customers/${customer().id}/erase`,
        {reason: reason.value.trim(), confirm: confirmInput.value.trim()});
      ctx.toast(t('erase.done'));
      ctx.go(`/erasures?id=${encodeURIComponent(cert.id)}`);
    } catch (err) { formFailed(form, err); arm(); }
  });
  const update = () => { label.textContent = t('erase.confirm', {ref: word()}); arm(); };
  // The records erased with this one (a merged group is one person).
  async function loadGroup() {
    const r = await get(`customers/${customer().id}/erase`);
    const others = r.items.filter((x) => x.id !== customer().id);
    fill(group, others.length ? [
      h('p', {class: 'warning'}, t('erase.group', {n: r.items.length})),
      h('ul', {class: 'erase-group'}, r.items.map((x) => h('li', {dataset: {id: x.id}},
        h('a', {href: `#/customers/${x.id}`}, `${x.ref || x.id.slice(0, 8)} ${x.name || x.company || ''}`),
        x.city ? ` (${x.city})` : ''))),
    ] : null);
  }
  update();
  return {form, update, loadGroup};
}
