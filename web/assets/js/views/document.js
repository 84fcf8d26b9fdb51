// One document: header, lines, totals; on a draft, lines are added and
// removed and the draft validated (it then shows its number); a validated
// document moves its status forward or converts (quote -> order ->
// invoice -> credit note) into a new draft.

import {del, get, patch, post} from '../api.js';
import {clearErrors, field, fill, formFailed, h, table} from '../dom.js';
import {date, decimal, money, percent, today} from '../format.js';
import {t} from '../i18n.js';

import {attachmentsSection} from './attachments.js';
import {STATUSES} from './documents.js';

const CONVERT = {quote: ['order', 'invoice'], order: ['invoice'], invoice: ['credit_note'], credit_note: []};
const VAT_RATES = ['20', '10', '5.5', '2.1', '0'];
// The statuses each type goes through once validated (the library's rule:
// a validated invoice or credit note is never cancelled, a credit note
// is issued instead).
const TYPE_STATUSES = {
  quote: ['sent', 'refused', 'accepted', 'ordered', 'invoiced', 'cancelled'],
  order: ['sent', 'accepted', 'invoiced', 'cancelled'],
  invoice: ['sent', 'paid'],
  credit_note: ['sent', 'paid'],
};

export async function render(ctx) {
  const {el, params} = ctx;
  let d = await get(`documents/${encodeURIComponent(params.id)}`);
  if (!ctx.isCurrent()) return;

  const headBox = h('div', {id: 'doc-head'});
  const linesBox = h('div', {id: 'doc-lines'});
  const totalsBox = h('div', {id: 'doc-totals'});
  const actionsBox = h('div', {id: 'doc-actions', class: 'actions'});
  const message = h('p', {class: 'form-error', role: 'alert', id: 'doc-error'});

  const lineForm = h('form', {id: 'line-form', class: 'inline-form'},
    field('line-form-label', t('line.label'), h('input', {type: 'text'})),
    field('line-form-qty', t('line.qty'), h('input', {type: 'text', inputmode: 'decimal', value: '1', size: 6})),
    field('line-form-unit_price', t('line.unit_price'), h('input', {type: 'text', inputmode: 'decimal', size: 8})),
    field('line-form-vat_rate', t('line.vat_rate'), h('select', {}, VAT_RATES.map((r) => h('option', {value: r}, percent(r))))),
    field('line-form-discount', t('line.discount'), h('input', {type: 'text', inputmode: 'decimal', value: '0', size: 4})),
    field('line-form-product', t('line.product'), h('input', {type: 'text', size: 8})),
    h('button', {type: 'submit', id: 'add-line'}, t('line.add')),
    h('p', {class: 'form-error', role: 'alert'}));
  lineForm.addEventListener('submit', async (e) => {
    e.preventDefault();
    clearErrors(lineForm);
    const val = (k) => lineForm.querySelector(`#line-form-${k}`).value.trim().replace(/^(\d+),(\d+)$/, '$1.$2');
    const body = {label: val('label') || null, qty: val('qty') || '1', unit_price: val('unit_price') || '0',
      vat_rate: val('vat_rate'), discount: val('discount') || '0', product: val('product') || null};
    try {
      d = await post(`documents/${d.id}/lines`, body);
      for (const k of ['label', 'unit_price', 'product']) lineForm.querySelector(`#line-form-${k}`).value = '';
      show();
      lineForm.querySelector('#line-form-label').focus();
    } catch (err) { formFailed(lineForm, err); }
  });

  // A draft's header: dates, validity, terms, notes (read-only once validated).
  const hv = (x) => (x === null || x === undefined ? '' : String(x));
  const headerForm = h('form', {id: 'header-form', class: 'inline-form'},
    field('header-form-date', t('doc.date'), h('input', {type: 'date', value: hv(d.date)})),
    field('header-form-due_date', t('doc.due_date'), h('input', {type: 'date', value: hv(d.due_date)})),
    d.type === 'quote' ? field('header-form-validity_days', t('doc.validity_days'), h('input', {type: 'text', inputmode: 'numeric', size: 4, value: hv(d.validity_days)})) : null,
    field('header-form-payment_terms', t('doc.payment_terms'), h('input', {type: 'text', value: hv(d.payment_terms)})),
    field('header-form-notes', t('doc.notes'), h('input', {type: 'text', value: hv(d.notes)})),
    h('button', {type: 'submit', class: 'secondary', id: 'save-header'}, t('form.save')),
    h('p', {class: 'form-error', role: 'alert'}));
  headerForm.addEventListener('submit', async (e) => {
    e.preventDefault();
    clearErrors(headerForm);
    const body = {};
    for (const k of ['date', 'due_date', 'validity_days', 'payment_terms', 'notes']) {
      const input = headerForm.querySelector(`#header-form-${k}`);
      if (!input) continue;
      const val = input.value.trim();
      // Sent as typed: the API checks and converts (a number of days as well).
      if (val !== hv(d[k])) body[k] = val || null;
    }
    if (!Object.keys(body).length) return;
    try {
      d = await patch(`documents/${d.id}`, body);
      ctx.toast(t('form.saved'));
      show();
    } catch (err) { formFailed(headerForm, err); }
  });
  const headerCard = h('details', {class: 'card', id: 'doc-header-edit'}, h('summary', {}, t('doc.header.edit')), headerForm);

  // The document's files (a signed quote, a delivery note), as on a customer's page.
  const files = attachmentsSection(ctx, `documents/${d.id}`);
  const loadFiles = () =>
      files.load().catch((e) => fill(files.body, h('p', {class : 'error'}, e.message)));
  fill(el, headBox, message, headerCard,
       h('section', {class : 'card'}, h('h2', {}, t('doc.lines')), linesBox, lineForm),
       h('section', {class : 'card'}, h('h2', {}, t('doc.totals')), totalsBox), actionsBox,
       h('section', {class : 'card', id : 'attachments'}, h('h2', {}, t('customer.attachments')),
         files.body, files.form));
  loadFiles();

  // Runs a document action; the answer is the document (or a new one).
  async function act(button, fn) {
    message.textContent = '';
    button.disabled = true;
    try { await fn(); } catch (e) { message.textContent = e.message; } finally { button.disabled = false; }
  }

  function show() {
    const draft = d.status === 'draft' && !d.number;
    fill(headBox,
      h('div', {class: 'title-row'},
        h('h1', {}, t(`doc.type.${d.type}`), ' ',
          h('span', {id: 'doc-number', class: d.number ? 'number' : 'number draft'}, d.number || t('doc.draft'))),
        h('span', {class: 'badge', id: 'doc-status'}, t(`doc.status.${d.status}`))),
      h('dl', {class: 'facts'},
        h('dt', {}, t('doc.customer')), h('dd', {}, d.customer ? h('a', {href: `#/customers/${d.customer}`, id: 'doc-customer'}, d.customer_label || d.customer) : '—'),
        h('dt', {}, t('doc.date')), h('dd', {}, date(d.date)),
        d.due_date ? [h('dt', {}, t('doc.due_date')), h('dd', {}, date(d.due_date))] : null,
        d.source ? [h('dt', {}, t('doc.source')), h('dd', {}, h('a', {href: `#/documents/${d.source}`, id: 'doc-source'}, t('doc.source.link')))] : null,
        d.paid_date ? [h('dt', {}, t('doc.paid_date')), h('dd', {}, date(d.paid_date))] : null,
        d.validity_days ? [h('dt', {}, t('doc.validity_days')), h('dd', {}, String(d.validity_days))] : null,
        d.payment_terms ? [h('dt', {}, t('doc.payment_terms')), h('dd', {}, d.payment_terms)] : null,
        d.notes ? [h('dt', {}, t('doc.notes')), h('dd', {}, d.notes)] : null));

    const lines = d.lines || [];
    fill(linesBox, lines.length ? table([
      {label: '#', cell: (l) => l.position},
      {label: t('line.label'), cell: (l) => [l.product ? h('code', {}, l.product, ' ') : null, l.label || '']},
      {label: t('line.qty'), cell: (l) => decimal(l.qty)},
      {label: t('line.unit_price'), cell: (l) => money(l.unit_price)},
      {label: t('line.vat_rate'), cell: (l) => percent(l.vat_rate)},
      {label: t('line.discount'), cell: (l) => (l.discount && l.discount !== '0' ? percent(l.discount) : '')},
      {label: t('line.total_ht'), cell: (l) => money(l.total_ht)},
      {label: '', cell: (l) => (draft ? h('button', {type: 'button', class: 'link', onclick: (e) => act(e.target, async () => {
        d = await del(`documents/${d.id}/lines/${l.id}`); show();
      })}, t('line.remove')) : '')},
    ], lines, (l) => ({dataset: {id: l.id}})) : h('p', {class: 'empty'}, t('doc.lines.none')));
    lineForm.hidden = !draft;
    headerCard.hidden = !draft;

    const tt = d.totals || {};
    fill(totalsBox, h('table', {class: 'totals'}, h('tbody', {},
      h('tr', {}, h('th', {scope: 'row'}, t('doc.ht')), h('td', {id: 'total-ht'}, money(tt.ht))),
      (tt.vat_rates || []).map((r) => h('tr', {}, h('th', {scope: 'row'}, t('doc.vat_at', {rate: percent(r.rate), base: money(r.base)})), h('td', {}, money(r.vat)))),
      h('tr', {}, h('th', {scope: 'row'}, t('doc.vat')), h('td', {id: 'total-vat'}, money(tt.vat))),
      h('tr', {class: 'grand'}, h('th', {scope: 'row'}, t('doc.ttc')), h('td', {id: 'total-ttc'}, money(tt.ttc))),
      tt.margin !== null && tt.margin !== undefined ? h('tr', {}, h('th', {scope: 'row'}, t('doc.margin')), h('td', {}, money(tt.margin))) : null)),
    tt.altered_since_validation ? h('p', {class: 'warning'}, t('doc.altered')) : null);

    const buttons = [];
    if (draft) {
      buttons.push(h('button', {type: 'button', id: 'validate', onclick: (e) => act(e.target, async () => {
        d = await post(`documents/${d.id}/validate`, {});
        ctx.toast(t('doc.validated', {number: d.number}));
        show();
      })}, t('doc.validate')));
      buttons.push(h('button', {type: 'button', class: 'secondary', id: 'delete-doc', onclick: (e) => act(e.target, async () => {
        if (!confirm(t('doc.delete.confirm'))) return;
        const customer = d.customer;
        await del(`documents/${d.id}`);
        ctx.go(customer ? `/customers/${customer}` : '/documents');
      })}, t('doc.delete')));
    } else {
      for (const to of CONVERT[d.type] || []) {
        buttons.push(h('button', {type: 'button', id: `convert-${to}`, onclick: (e) => act(e.target, async () => {
          const n = await post(`documents/${d.id}/convert`, {to});
          ctx.go(`/documents/${n.id}`);
        })}, t(`doc.convert.${to}`)));
      }
      // Statuses not reached yet, after the current one (a status never goes back).
      const reached = new Set(d.statuses_reached || []);
      const after = STATUSES.slice(STATUSES.indexOf(d.status) + 1)
        .filter((s) => !reached.has(s) && (TYPE_STATUSES[d.type] || []).includes(s));
      if (after.length && d.status !== 'cancelled') {
        const sel = h('select', {id: 'status-select'}, after.map((s) => h('option', {value: s}, t(`doc.status.${s}`))));
        // "paid" takes the payment's date (today unless told).
        const paidOn = h('input', {type: 'date', id: 'paid-date', value: today(), 'aria-label': t('doc.paid_date')});
        const syncPaid = () => { paidOn.hidden = sel.value !== 'paid'; };
        sel.addEventListener('change', syncPaid);
        syncPaid();
        buttons.push(h('span', {class: 'status-move'},
          h('label', {for: 'status-select'}, t('doc.status.move')), ' ', sel, ' ', paidOn, ' ',
          h('button', {type: 'button', class: 'secondary', id: 'set-status', onclick: (e) => act(e.target, async () => {
            const body = {status: sel.value};
            if (sel.value === 'paid' && paidOn.value) body.date = paidOn.value;
            d = await post(`documents/${d.id}/status`, body);
            show();
          })}, t('doc.status.apply'))));
      }
    }
    fill(actionsBox, buttons);
  }
  show();

  let timer = null, filesTimer = null;
  return {
    onEvent(type, data) {
      // An attachment's change names the attachment, not the document.
      if (type === 'reset' || type === 'change') {
        clearTimeout(filesTimer);
        filesTimer = setTimeout(loadFiles, 150);
      }
      if (type === 'reset' || (type === 'change' && (data.overflow || (data.changes || []).some((c) => c.id === d.id)))) {
        clearTimeout(timer);
        timer = setTimeout(async () => { try { d = await get(`documents/${d.id}`); show(); } catch (_) { /* deleted */ } }, 150);
      }
    },
    dispose() {
      clearTimeout(timer);
      clearTimeout(filesTimer);
    },
  };
}
