// A customer's page: identity, contacts, consents with their log,
// documents, actions, reminders, history with balance, merges, and the
// erasure (typed confirmation). Each section loads on its own, so one that
// fails does not hide the others, and a live change reloads the data
// without rebuilding the forms being typed in.

import {ApiError, del, download, get, patch, post} from '../api.js';
import {clearErrors, field, fill, formFailed, h, table} from '../dom.js';
import {customerName, date, money, phone, today} from '../format.js';
import {t} from '../i18n.js';

import {attachmentsSection} from './attachments.js';
import {consentsSection} from './consents.js';
import {eraseForm} from './erase_form.js';

const ACTION_CHANNELS = ['visit', 'phone', 'email', 'mail', 'sms', 'trade_fair', 'other'];
const DOC_TYPES = ['quote', 'order', 'invoice', 'credit_note'];

function section(id, title, ...children) {
  return h('section', {class: 'card', id, 'aria-labelledby': `${id}-title`},
    h('h2', {id: `${id}-title`}, title), ...children);
}


export async function render(ctx) {
  const {el, params} = ctx;
  const ref = encodeURIComponent(params.id);
  let c;
  try {
    c = await get(`customers/${ref}`);
  } catch (e) {
    if (e instanceof ApiError && e.status === 404) {
      if (!ctx.isCurrent()) return; // navigated away meanwhile (after an erasure, to its audit)
      fill(el, h('h1', {}, t('customer.gone.title')), h('p', {id: 'gone'}, t('customer.gone.text')),
        h('p', {}, h('a', {href: '#/'}, t('notfound.back'))));
      return;
    }
    throw e;
  }
  if (!ctx.isCurrent()) return;
  // A merged member's id answers with its survivor: show the survivor's page.
  const id = c.id;

  const head = h('div', {id: 'customer-head'});
  const identity = h('div', {id: 'identity-body'});
  const contactsList = h('div', {id: 'contacts-list'});
  const docsList = h('div', {id: 'documents-list'});
  const actionsList = h('div', {id: 'actions-list'});
  const remindersList = h('div', {id: 'reminders-list'});
  const historyBody = h('div', {id: 'history-body'});
  const mergedBody = h('div', {id: 'merged-body'});

  // --- forms (built once) ---------------------------------------------------
  const contactForm = h('form', {id: 'contact-form', class: 'inline-form'},
    field('contact-form-name', t('contact.name'), h('input', {type: 'text'})),
    field('contact-form-role', t('contact.role'), h('select', {},
      h('option', {value: ''}, '—'),
      ['director', 'assistant', 'delivery', 'legal', 'other'].map((r) => h('option', {value: r}, t(`contact.role.${r}`))))),
    field('contact-form-emails', t('customer.emails'), h('input', {type: 'text', inputmode: 'email'})),
    field('contact-form-phones', t('customer.phones'), h('input', {type: 'text', inputmode: 'tel'})),
    h('button', {type: 'submit'}, t('contact.add')),
    h('p', {class: 'form-error', role: 'alert'}));
  contactForm.addEventListener('submit', async (e) => {
    e.preventDefault();
    clearErrors(contactForm);
    const val = (k) => contactForm.querySelector(`#contact-form-${k}`).value.trim();
    const list = (k) => val(k).split(/[,;]/).map((x) => x.trim()).filter(Boolean);
    try {
      await post('contacts', {customer: id, name: val('name') || null, role: val('role') || null,
        emails: list('emails'), phones: list('phones').map((n) => ({number: n}))});
      contactForm.reset();
      loadContacts();
    } catch (err) { formFailed(contactForm, err); }
  });

  const consents = consentsSection(id);
  const files = attachmentsSection(ctx, `customers/${id}`);

  const actionForm = h('form', {id: 'action-form', class: 'inline-form'},
    field('action-form-channel', t('action.channel'), h('select', {},
      ACTION_CHANNELS.map((ch) => h('option', {value: ch}, t(`action.channel.${ch}`))))),
    field('action-form-details', t('action.details'), h('input', {type: 'text'})),
    h('button', {type: 'submit'}, t('action.add')),
    h('p', {class: 'form-error', role: 'alert'}));
  actionForm.addEventListener('submit', async (e) => {
    e.preventDefault();
    clearErrors(actionForm);
    const val = (k) => actionForm.querySelector(`#action-form-${k}`).value.trim();
    try {
      await post('actions', {channel: val('channel'), customers: [id], details: val('details') || null});
      actionForm.reset();
      loadActions();
      loadHistory();
    } catch (err) { formFailed(actionForm, err); }
  });

  const reminderForm = h('form', {id: 'reminder-form', class: 'inline-form'},
    field('reminder-form-date', t('reminder.date'), h('input', {type: 'date', value: today()})),
    field('reminder-form-mode', t('reminder.mode'), h('select', {},
      h('option', {value: 'day'}, t('reminder.mode.day')), h('option', {value: 'week'}, t('reminder.mode.week')))),
    field('reminder-form-comment', t('reminder.comment'), h('input', {type: 'text'})),
    h('button', {type: 'submit'}, t('reminder.add')),
    h('p', {class: 'form-error', role: 'alert'}));
  reminderForm.addEventListener('submit', async (e) => {
    e.preventDefault();
    clearErrors(reminderForm);
    const val = (k) => reminderForm.querySelector(`#reminder-form-${k}`).value.trim();
    try {
      await post('reminders', {customer: id, date: val('date') || null, mode: val('mode'), comment: val('comment') || null});
      reminderForm.querySelector('#reminder-form-comment').value = '';
      loadReminders();
    } catch (err) { formFailed(reminderForm, err); }
  });

  const newDoc = h('div', {class: 'actions', id: 'new-document'},
    DOC_TYPES.slice(0, 3).map((type) => h('button', {type: 'button', class: 'secondary', id: `new-${type}`,
      onclick: async (e) => {
        e.target.disabled = true;
        try {
          const d = await post('documents', {type, customer: id});
          ctx.go(`/documents/${d.id}`);
        } catch (err) { ctx.toast(err.message); e.target.disabled = false; }
      }}, t(`doc.new.${type}`))));

  const erase = eraseForm(ctx, () => c);

  fill(
      el, head,
      h('div', {class : 'columns'},
        h('div', {class : 'col'}, section('identity', t('customer.identity'), identity, mergedBody),
          section('contacts', t('customer.contacts'), contactsList, contactForm),
          section('consents', t('customer.consents'), consents.body, consents.form),
          section('reminders', t('customer.reminders'), remindersList, reminderForm)),
        h('div', {class : 'col'}, section('history', t('customer.history'), historyBody),
          section('documents', t('customer.documents'), newDoc, docsList),
          section('actions', t('customer.actions'), actionsList, actionForm),
          section('attachments', t('customer.attachments'), files.body, files.form))),
      h('details', {
        class : 'card danger-zone',
        id : 'erase',
        ontoggle : (e) => {
          if (e.target.open) erase.loadGroup().catch((err) => ctx.toast(err.message));
        }
      },
        h('summary', {}, t('erase.title')), erase.form));

  // --- loaders ---------------------------------------------------------------
  function showHead() {
    fill(head,
         h('div', {class : 'title-row'},
           h('h1', {id : 'customer-name'}, customerName(c),
             c.ref ? h('span', {class : 'ref', id : 'customer-ref'}, c.ref) : null),
           h('div', {class : 'actions'},
             h('a', {class : 'button', href : `#/customers/${id}/edit`, id : 'edit'},
               t('customer.edit')),
             h('button', {
               type : 'button',
               class : 'secondary',
               id : 'subject-export',
               onclick : () =>
                   download(`customers/${id}/subject-export`, null, `carnet-${c.ref || id}.json`)
                       .catch((e) => ctx.toast(e.message))
             },
               t('customer.subject_export')),
             h('button', {
               type : 'button',
               class : 'secondary',
               id : 'subject-archive',
               onclick : () => download(`customers/${id}/subject-export`, {archive : 1},
                                        `carnet-${c.ref || id}.zip`)
                                   .catch((e) => ctx.toast(e.message))
             },
               t('customer.subject_archive')),
             c.deleted ? null
                       : h('button', {
                           type : 'button',
                           class : 'secondary',
                           id : 'delete',
                           onclick : async () => {
                             if (!confirm(t('customer.delete.confirm', {name : customerName(c)})))
                               return;
                             try {
                               c = await del(`customers/${id}`);
                               ctx.toast(t('customer.deleted'));
                               showHead();
                             } catch (e) {
                               ctx.toast(e.message);
                             }
                           }
                         },
                           t('customer.delete')))),
         h('p', {class : 'badges'},
           c.deleted
               ? h('span', {class : 'badge bad', id : 'deleted-badge'}, t('customer.deleted.badge'))
               : null,
           h('span', {class : 'badge'}, t(`type.${c.type || 'individual'}`)),
           (c.roles || []).map((r) => h('span', {class : 'badge'}, t(`role.${r}`))),
           (c.tags || []).map((x) => h('span', {class : 'tag'}, x)),
           c.conflict ? h('span', {class : 'badge bad'}, t('customer.conflict')) : null,
           c.review ? h('span', {class : 'badge warn'}, t('customer.review')) : null));
    const a = c.address || {};
    const row = (label, value) => ((Array.isArray(value) ? value.length : value) ? [h('dt', {}, label), h('dd', {}, value)] : null);
    fill(identity, h('dl', {class: 'facts'},
      row(t('customer.company'), c.company),
      row(t('customer.emails'), (c.emails || []).map((m) => h('a', {href: `mailto:${m}`}, m, ' '))),
      row(t('customer.phones'), (c.phones || []).map((p) => h('span', {class: 'phone'}, `${phone(p.number)} (${t(`phone.${p.type}`)})`, ' '))),
      row(t('customer.address'), [a.street, [a.postcode, a.city].filter(Boolean).join(' '), a.country].filter(Boolean).join(', ')),
      row(t('customer.siret'), c.siret),
      row(t('customer.vat_id'), c.vat_id),
      row(t('customer.sales_rep'), c.sales_rep),
      row(t('customer.channel'), c.channel),
      row(t('customer.discount'), c.discount !== null && c.discount !== undefined ? `${c.discount} %` : null),
      row(t('customer.notes'), c.notes),
      Object.entries(c.custom || {}).map(([k, f]) => row(k, f && typeof f === 'object' ? String(f.value) : String(f))),
      row(t('customer.updated'), date(c.updated))));
    erase.update();
    // Members merged into this customer, each with a way back (unmerge).
    const members = c.merged || [];
    fill(mergedBody, members.length ? h('div', {class: 'merged'},
      h('h3', {}, t('merge.members')),
      h('ul', {id: 'merged-list'}, members.map((m) => {
        const mid = typeof m === 'string' ? m : m.id;
        return h('li', {dataset: {id: mid}}, h('code', {}, mid.slice(0, 12)), ' ',
          h('button', {type: 'button', class: 'secondary unmerge', onclick: async (e) => {
            e.target.disabled = true;
            try { await post('unmerge', {id: mid, from: null}); ctx.toast(t('merge.undone')); refresh(); }
            catch (err) { ctx.toast(err.message); e.target.disabled = false; }
          }}, t('merge.unmerge')));
      }))) : null);
  }

  async function loadCustomer() {
    c = await get(`customers/${id}`);
    showHead();
  }

  // Each loader fills its own part; an error stays in that part.
  const guard = (target, fn) => async () => {
    try { await fn(); } catch (e) {
      if (e instanceof ApiError && e.status === 401) return;
      fill(target, h('p', {class: 'error'}, e.message));
    }
  };

  const loadContacts = guard(contactsList, async () => {
    const r = await get(`customers/${id}/contacts`);
    const items = r.items || [];
    fill(contactsList, items.length ? table([
      {label: t('contact.name'), cell: (x) => x.name || '—'},
      {label: t('contact.role'), cell: (x) => (x.role ? t(`contact.role.${x.role}`) : '')},
      {label: t('customer.emails'), cell: (x) => (x.emails || []).join(', ')},
      {label: t('customer.phones'), cell: (x) => (x.phones || []).map((p) => phone(p.number || p)).join(', ')},
      {label: '', cell: (x) => h('button', {type: 'button', class: 'link', onclick: async () => {
        try { await del(`contacts/${x.id}`); loadContacts(); } catch (e) { ctx.toast(e.message); }
      }}, t('contact.remove'))},
    ], items, (x) => ({dataset: {id: x.id}})) : h('p', {class: 'empty'}, t('contacts.none')));
  });

  const loadConsents = guard(consents.body, consents.load);
  const loadFiles = guard(files.body, files.load);

  const loadDocs = guard(docsList, async () => {
    const r = await get('documents', {customer: id, limit: 100});
    const items = r.items || [];
    fill(docsList, items.length ? table([
      {label: t('doc.type'), cell: (d) => t(`doc.type.${d.type}`)},
      {label: t('doc.number'), cell: (d) => h('a', {href: `#/documents/${d.id}`}, d.number || t('doc.draft'))},
      {label: t('doc.date'), cell: (d) => date(d.date)},
      {label: t('doc.status'), cell: (d) => t(`doc.status.${d.status}`)},
      {label: t('doc.ttc'), cell: (d) => money(d.totals && d.totals.ttc)},
    ], items, (d) => ({dataset: {id: d.id}})) : h('p', {class: 'empty'}, t('docs.none')));
  });

  const loadActions = guard(actionsList, async () => {
    const r = await get('actions', {customer: id, limit: 100});
    const items = r.items || [];
    fill(actionsList, items.length ? table([
      {label: t('action.at'), cell: (x) => date(x.at)},
      {label: t('action.channel'), cell: (x) => t(`action.channel.${x.channel}`)},
      {label: t('action.details'), cell: (x) => x.details || ''},
      {label: t('action.campaign'), cell: (x) => x.campaign || ''},
    ], items, (x) => ({dataset: {id: x.id}})) : h('p', {class: 'empty'}, t('actions.none')));
  });

  const loadReminders = guard(remindersList, async () => {
    const r = await get('reminders', {customer: id, limit: 100});
    const items = (r.items || []).filter((x) => !x.deleted);
    fill(remindersList, items.length ? table([
      {label: t('reminder.date'), cell: (x) => date(x.date) + (x.mode === 'week' ? ` (${t('reminder.mode.week')})` : '')},
      {label: t('reminder.comment'), cell: (x) => x.comment || ''},
      {label: '', cell: (x) => (x.done ? t('reminder.done') : h('button', {type: 'button', class: 'secondary small', onclick: async () => {
        try { await patch(`reminders/${x.id}`, {done: true}); loadReminders(); } catch (e) { ctx.toast(e.message); }
      }}, t('reminder.mark_done')))},
    ], items, (x) => ({dataset: {id: x.id}})) : h('p', {class: 'empty'}, t('reminders.none.customer')));
  });

  const loadHistory = guard(historyBody, async () => {
    const r = await get(`customers/${id}/history`);
    const entries = r.entries || [];
    fill(historyBody,
      h('p', {class: 'balance'}, t('history.balance'), ' ', h('strong', {id: 'balance'}, money(r.balance))),
      entries.length ? table([
        {label: t('history.date'), cell: (x) => date(x.date)},
        {label: t('history.kind'), cell: (x) => t(`history.kind.${x.kind}`)},
        {label: t('history.description'), cell: (x) => (x.kind === 'action' || !x.id ? x.description : h('a', {href: `#/documents/${x.id}`}, x.description))},
        {label: t('history.amount'), cell: (x) => money(x.amount)},
        {label: t('history.balance.col'), cell: (x) => money(x.balance)},
      ], entries) : h('p', {class: 'empty'}, t('history.none')));
  });

  const loadHead = guard(head, loadCustomer);
  async function refresh() {
    await loadHead();
    await Promise.all([
      loadContacts(), loadConsents(), loadDocs(), loadActions(), loadReminders(), loadHistory(),
      loadFiles()
    ]);
  }
  showHead();
  await Promise.all([
    loadContacts(), loadConsents(), loadDocs(), loadActions(), loadReminders(), loadHistory(),
    loadFiles()
  ]);

  let timer = null;
  return {
    // Any change may touch this page (a contact's id does not name its
    // customer), so the page's data is read again, gathered over 150 ms.
    onEvent(type, data) {
      if (type !== 'change' && type !== 'reset') return;
      clearTimeout(timer);
      timer = setTimeout(async () => {
        try { await get(`customers/${id}`); } catch (e) {
          // Erased or merged away on another replica while open.
          if (e instanceof ApiError && e.status === 404) { ctx.go(`/customers/${id}`); return; }
        }
        refresh();
      }, 150);
    },
    dispose() { clearTimeout(timer); },
  };
}
