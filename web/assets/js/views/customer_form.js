// Create and edit a customer. The API checks every value as
// `carnet customer add` does; its error names the field at fault, and the
// message is shown under that field (the browser's own checks are kept
// minimal on purpose, so the rules live in one place: the library).

import {get, post, patch, ApiError} from '../api.js';
import {t} from '../i18n.js';
import {h, fill, field, setFieldError, clearErrors} from '../dom.js';
import {customerName} from '../format.js';

const ROLES = ['prospect', 'customer', 'supplier'];

// Comma- or line-separated lists in one input: "a@x.fr, b@y.fr".
const splitList = (s) => s.split(/[,;\n]/).map((x) => x.trim()).filter(Boolean);

export async function render(ctx) {
  const {el, params} = ctx;
  const editing = !!params.id;
  const c = editing ? await get(`customers/${encodeURIComponent(params.id)}`) : null;
  if (!ctx.isCurrent()) return;
  const v = (x) => (x === null || x === undefined ? '' : String(x));
  const addr = (c && c.address) || {};

  const input = (value, attrs) => h('input', Object.assign({type: 'text', value: v(value)}, attrs || {}));
  // A new customer's type may be left to the API ("auto": a company when a
  // company name is given), as on the command line.
  const type = h('select', {},
    editing ? null : h('option', {value: '', selected: true}, t('type.auto')),
    h('option', {value: 'individual', selected: c && c.type === 'individual'}, t('type.individual')),
    h('option', {value: 'company', selected: c && c.type === 'company'}, t('type.company')));
  const roleBoxes = ROLES.map((r) => h('label', {class: 'check'},
    h('input', {type: 'checkbox', name: 'roles', value: r, checked: c ? (c.roles || []).includes(r) : r === 'prospect'}),
    ' ', t(`role.${r}`)));

  const controls = {
    name: input(c && c.name, {autocomplete: 'name'}),
    company: input(c && c.company, {autocomplete: 'organization'}),
    type,
    emails: input(c && (c.emails || []).join(', '), {type: 'text', inputmode: 'email', autocomplete: 'email'}),
    phones: input(c && (c.phones || []).map((p) => p.number).join(', '), {type: 'text', inputmode: 'tel', autocomplete: 'tel'}),
    street: input(addr.street, {autocomplete: 'street-address'}),
    postcode: input(addr.postcode, {autocomplete: 'postal-code', inputmode: 'numeric'}),
    city: input(addr.city, {autocomplete: 'address-level2'}),
    country: input(addr.country, {maxlength: 2, size: 3}),
    siret: input(c && c.siret, {inputmode: 'numeric'}),
    vat_id: input(c && c.vat_id),
    tags: input(c && (c.tags || []).join(', ')),
    sales_rep: input(c && c.sales_rep),
    channel: input(c && c.channel),
    discount: input(c && c.discount, {inputmode: 'decimal'}),
    notes: h('textarea', {rows: 3}, v(c && c.notes)),
  };

  // Custom fields: each one kept, changed or removed; one new per save.
  const CUSTOM_TYPES = ['string', 'number', 'date', 'list', 'checkbox'];
  const customRows = Object.entries((c && c.custom) || {}).map(([name, f]) => {
    const value = h('input', {type: 'text', value: v(f && typeof f === 'object' ? f.value : f), 'aria-label': name});
    const drop = h('input', {type: 'checkbox', 'aria-label': t('custom.remove.label', {name})});
    return {name, type: (f && f.type) || 'string', before: v(f && typeof f === 'object' ? f.value : f), value, drop,
      row: h('div', {class: 'custom-row', dataset: {name}}, h('span', {class: 'custom-name'}, name),
        h('span', {class: 'muted'}, t(`custom.type.${(f && f.type) || 'string'}`)), value,
        h('label', {class: 'check'}, drop, ' ', t('custom.remove')))};
  });
  const newName = h('input', {type: 'text', id: 'custom-new-name', placeholder: t('custom.new.name')});
  const newType = h('select', {id: 'custom-new-type', 'aria-label': t('custom.new.type')},
    CUSTOM_TYPES.map((x) => h('option', {value: x}, t(`custom.type.${x}`))));
  const newValue = h('input', {type: 'text', id: 'custom-new-value', placeholder: t('custom.new.value')});
  const customBox = h('fieldset', {class: 'custom', id: 'custom'},
    h('legend', {}, t('custom.title')),
    customRows.map((r) => r.row),
    h('div', {class: 'custom-row new'},
      h('label', {class: 'sr', for: 'custom-new-name'}, t('custom.new.name')), newName,
      newType,
      h('label', {class: 'sr', for: 'custom-new-value'}, t('custom.new.value')), newValue),
    h('p', {class: 'field-error', id: 'custom-error', 'aria-live': 'polite'}));

  const formError = h('p', {class: 'form-error', role: 'alert', id: 'form-error'});
  const dupBox = h('div', {id: 'duplicates-found'});
  const save = h('button', {type: 'submit', id: 'save'}, editing ? t('form.save') : t('form.create'));
  const form = h('form', {id: 'customer-form', class: 'card form', novalidate: true},
    h('div', {class: 'grid2'},
      field('name', t('customer.name'), controls.name),
      field('company', t('customer.company'), controls.company),
      field('type', t('customer.type'), controls.type),
      h('fieldset', {class: 'field', id: 'roles'}, h('legend', {}, t('customer.roles')), roleBoxes,
        h('p', {class: 'field-error', id: 'roles-error'})),
      field('emails', t('customer.emails'), controls.emails, t('form.list.hint')),
      field('phones', t('customer.phones'), controls.phones, t('form.phones.hint')),
      field('street', t('customer.street'), controls.street),
      field('postcode', t('customer.postcode'), controls.postcode),
      field('city', t('customer.city'), controls.city),
      field('country', t('customer.country'), controls.country),
      field('siret', t('customer.siret'), controls.siret),
      field('vat_id', t('customer.vat_id'), controls.vat_id),
      field('tags', t('customer.tags'), controls.tags, t('form.list.hint')),
      field('sales_rep', t('customer.sales_rep'), controls.sales_rep),
      field('channel', t('customer.channel'), controls.channel),
      field('discount', t('customer.discount'), controls.discount)),
    field('notes', t('customer.notes'), controls.notes),
    customBox,
    formError, dupBox,
    h('div', {class: 'actions'}, save,
      h('a', {class: 'button secondary', href: editing ? `#/customers/${c.id}` : '#/'}, t('form.cancel'))));

  fill(el, h('h1', {}, editing ? t('form.edit.title', {name: customerName(c)}) : t('form.new.title')), form);

  // The body: every field of the form. When editing, only what changed is
  // sent (PATCH), so a concurrent edit of another field on another replica
  // is not overwritten with the value this form was opened with.
  function body() {
    const phonesBefore = new Map(((c && c.phones) || []).map((p) => [p.number, p.type]));
    const b = {
      name: controls.name.value.trim() || null,
      company: controls.company.value.trim() || null,
      type: type.value || undefined,
      roles: roleBoxes.map((l) => l.querySelector('input')).filter((i) => i.checked).map((i) => i.value),
      emails: splitList(controls.emails.value),
      // A number kept from before keeps its type (mobile, work, home); a new
      // one gets the API's default (mobile for 06/07, else work).
      phones: splitList(controls.phones.value).map((n) => (phonesBefore.has(n) ? {type: phonesBefore.get(n), number: n} : {number: n})),
      tags: splitList(controls.tags.value),
      siret: controls.siret.value.trim() || null,
      vat_id: controls.vat_id.value.trim() || null,
      address: {street: controls.street.value.trim() || null, postcode: controls.postcode.value.trim() || null,
        city: controls.city.value.trim() || null, country: controls.country.value.trim().toUpperCase() || null},
      sales_rep: controls.sales_rep.value.trim() || null,
      channel: controls.channel.value.trim() || null,
      discount: controls.discount.value.trim().replace(',', '.') || null,
      notes: controls.notes.value.trim() || null,
    };
    // Custom fields: what changed, what was removed (null), and a new one.
    const custom = {};
    for (const r of customRows) {
      if (r.drop.checked) custom[r.name] = null;
      else if (r.value.value.trim() !== r.before) custom[r.name] = {type: r.type, value: r.value.value.trim()};
    }
    if (newName.value.trim()) custom[newName.value.trim()] = {type: newType.value, value: newValue.value.trim()};
    if (Object.keys(custom).length) b.custom = custom;
    if (!editing) return b;
    const changed = b.custom ? {custom: b.custom} : {};
    const same = (x, y) => JSON.stringify(x) === JSON.stringify(y);
    const before = {
      name: c.name, company: c.company, type: c.type, roles: c.roles, emails: c.emails,
      phones: (c.phones || []).map((p) => ({type: p.type, number: p.number})), tags: c.tags, siret: c.siret,
      vat_id: c.vat_id, sales_rep: c.sales_rep, channel: c.channel,
      discount: c.discount === null ? null : String(c.discount), notes: c.notes,
    };
    for (const k of Object.keys(before)) if (!same(b[k], before[k])) changed[k] = b[k];
    const a = c.address || {};
    if (['street', 'postcode', 'city', 'country'].some((k) => (b.address[k] || null) !== (a[k] || null))) changed.address = b.address;
    return changed;
  }

  function showError(e) {
    if (!(e instanceof ApiError)) { formError.textContent = e.message; return; }
    // The field the API names, else the form's general message. "address"
    // fields come back as their own names (street, postcode, city...).
    // A custom field's own error ("custom.surface") shows under the custom
    // fields.
    const f = e.field && e.field.startsWith('custom.') ? 'custom' : e.field;
    if (!f || !setFieldError(form, f, e.message)) {
      if (f === 'roles' || f === 'custom') form.querySelector(`#${f}-error`).textContent = e.message;
      else formError.textContent = e.message;
    }
    const bad = f && form.querySelector(`#${CSS.escape(f)}`);
    if (bad && bad.focus) bad.focus();
  }

  async function submit(force) {
    clearErrors(form);
    fill(dupBox);
    const b = body();
    if (editing && !Object.keys(b).length) { ctx.go(`/customers/${c.id}`); return; }
    save.disabled = true;
    try {
      const saved = editing ? await patch(`customers/${c.id}`, b) : await post('customers', force ? Object.assign(b, {force: true}) : b);
      ctx.toast(editing ? t('form.saved') : t('form.created', {name: customerName(saved)}));
      ctx.go(`/customers/${saved.id}`);
    } catch (e) {
      if (e instanceof ApiError && e.status === 409 && e.error.duplicates !== undefined && !editing) showDuplicates(e);
      else showError(e);
    } finally {
      save.disabled = false;
    }
  }

  // 409 with `duplicates`: the customers it resembles, and a way to create
  // it anyway (the CLI's --force).
  function showDuplicates(e) {
    const pairs = e.error.duplicates || [];
    fill(dupBox, h('div', {class: 'warning', role: 'alert'},
      h('p', {}, e.message),
      h('ul', {id: 'duplicate-list'}, pairs.map((p) => {
        // `customer` is the one already in the book that this one resembles.
        const o = p.customer;
        const why = `${t('dupes.score', {score: Math.round(p.score * 100)})}: ${p.reasons.join(', ')}`;
        return h('li', {dataset: {id: o.id}}, h('a', {href: `#/customers/${o.id}`}, `${o.ref || ''} ${customerName(o)}`), ` (${why})`);
      })),
      h('button', {type: 'button', id: 'force-create', onclick: () => submit(true)}, t('form.create.anyway'))));
  }

  form.addEventListener('submit', (e) => { e.preventDefault(); submit(false); });
  controls.name.focus();
}
