// A customer's consents: one line per channel (off until granted), a note
// saying where a consent comes from, and the dated log of every change.

import {get, post} from '../api.js';
import {t} from '../i18n.js';
import {h, fill, field, table, clearErrors, formFailed} from '../dom.js';
import {date} from '../format.js';

const CHANNELS = ['email', 'sms', 'whatsapp', 'viber', 'phone', 'post'];

export function consentsSection(id) {
  const body = h('div', {id: 'consents-body'});
  const note = h('input', {type: 'text'});
  const form = h('form', {id: 'consent-form', class: 'inline-form'},
    field('consent-form-note', t('consent.note'), note),
    h('p', {class: 'form-error', role: 'alert'}));

  async function load() {
    const r = await get(`customers/${id}/consents`);
    const log = r.log || [];
    // Read again on every live change: the log stays open if it was.
    const wasOpen = !!body.querySelector('details.log[open]');
    fill(body,
      h('ul', {class: 'consents'}, CHANNELS.map((ch) => {
        const s = (r.consents || {})[ch] || {granted: false, at: null};
        return h('li', {dataset: {channel: ch, granted: String(!!s.granted)}},
          h('span', {class: `dot ${s.granted ? 'on' : 'off'}`, 'aria-hidden': 'true'}),
          h('span', {class: 'channel'}, t(`consent.${ch}`)), ' ',
          h('span', {class: 'muted'}, s.granted ? t('consent.granted', {at: date(s.at)}) : t('consent.off')), ' ',
          h('button', {type: 'button', class: 'secondary small', onclick: async (e) => {
            e.target.disabled = true;
            clearErrors(form);
            try {
              await post(`customers/${id}/consents`, {channel: ch, granted: !s.granted, note: note.value.trim() || null});
              note.value = '';
              await load();
            } catch (err) { formFailed(form, err); e.target.disabled = false; }
          }}, s.granted ? t('consent.withdraw') : t('consent.grant')));
      })),
      h('details', {class: 'log', open: wasOpen}, h('summary', {}, t('consent.log', {n: log.length})),
        log.length ? table([
          {label: t('consent.at'), cell: (x) => date(x.at)},
          {label: t('consent.channel'), cell: (x) => t(`consent.${x.channel}`)},
          {label: t('consent.state'), cell: (x) => (x.granted ? t('consent.yes') : t('consent.no'))},
          {label: t('consent.origin'), cell: (x) => x.origin || ''},
          {label: t('consent.note'), cell: (x) => x.note || ''},
        ], log) : h('p', {class: 'empty'}, t('consent.log.none'))));
  }
  return {body, form, load};
}
