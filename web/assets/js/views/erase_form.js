// The erasure of a person (GDPR): a reason, and the customer's reference
// typed as confirmation; the button wakes only when it matches exactly,
// since an erasure cannot be undone, on any replica. On success the page
// moves to the audit, where the certificate shows.

import {post} from '../api.js';
import {t} from '../i18n.js';
import {h, field, clearErrors, formFailed} from '../dom.js';

/** customer() gives the customer as last read; update() refreshes the
 * label once it changes (the reference to type). */
export function eraseForm(ctx, customer) {
  const reason = h('input', {type: 'text'});
  const confirmInput = h('input', {type: 'text', autocomplete: 'off', spellcheck: 'false'});
  const button = h('button', {type: 'submit', class: 'danger', id: 'erase-button', disabled: true}, t('erase.button'));
  const word = () => customer().ref || customer().id;
  const form = h('form', {id: 'erase-form', class: 'form'},
    h('p', {}, t('erase.explain')),
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
  update();
  return {form, update};
}
