// Small DOM helpers. Everything on screen is built with createElement and
// textContent, never innerHTML: customer data cannot inject markup, and the
// Content-Security-Policy (no inline script or style) holds by construction.

/** h('button', {class: 'x', onclick: f}, 'text', child, ...) */
export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
    else if (k === 'class') el.className = v;
    else if (k === 'dataset') Object.assign(el.dataset, v);
    else if (k === 'value') el.value = v;
    else if (k === 'checked' || k === 'disabled' || k === 'selected' || k === 'hidden') el[k] = !!v;
    else el.setAttribute(k, v === true ? '' : String(v));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue;
    if (Array.isArray(c)) append(el, c);
    else el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
}

/** Replaces the children of el. */
export function fill(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

/** A labelled form field: label, control, and the place for its error
 * message (aria-describedby), so the API's message can sit next to it. */
export function field(id, label, control, hint) {
  control.id = id;
  const err = h('p', {class: 'field-error', id: `${id}-error`, 'aria-live': 'polite'});
  control.setAttribute('aria-describedby', `${id}-error`);
  return h('div', {class: 'field', dataset: {field: id}},
    h('label', {for: id}, label),
    control,
    hint ? h('p', {class: 'hint'}, hint) : null,
    err);
}

/** Shows `message` under the control with that id (or clears it). */
export function setFieldError(form, id, message) {
  const control = form.querySelector(`#${CSS.escape(id)}`);
  const err = form.querySelector(`#${CSS.escape(id)}-error`);
  if (!control || !err) return false;
  err.textContent = message || '';
  if (message) control.setAttribute('aria-invalid', 'true');
  else control.removeAttribute('aria-invalid');
  return true;
}

/** The message of a failed form action, next to its field when the API
 * names one the form has (ids are FORMID-FIELD), else under the form. */
export function formFailed(form, e) {
  const f = e && e.field;
  if (!f || !setFieldError(form, `${form.id}-${f}`, e.message)) {
    form.querySelector('.form-error').textContent = e.message;
  }
}

export function clearErrors(form) {
  for (const e of form.querySelectorAll('.field-error')) e.textContent = '';
  for (const c of form.querySelectorAll('[aria-invalid]')) c.removeAttribute('aria-invalid');
  const g = form.querySelector('.form-error');
  if (g) g.textContent = '';
}

/** A table whose cells carry their column's label (data-label), which the
 * phone layout shows in front of each value instead of a header row. */
export function table(columns, rows, rowAttrs) {
  return h('table', {class: 'list'},
    h('thead', {}, h('tr', {}, columns.map((c) => h('th', {scope: 'col'}, c.label)))),
    h('tbody', {}, rows.map((r) => h('tr', rowAttrs ? rowAttrs(r) : {},
      columns.map((c) => h('td', {dataset: {label: c.label}}, c.cell(r)))))));
}
