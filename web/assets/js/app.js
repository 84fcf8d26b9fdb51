// The console's entry point: takes the token from the address bar, then
// routes `#/...` to a view, forwards live events to it, and switches the
// language. Views are modules under views/, each with render(ctx).

import {takeTokenFromUrl, hasToken} from './api.js';
import {t, lang, setLang, translateStatic} from './i18n.js';
import {h, fill} from './dom.js';
import * as events from './events.js';

import * as customers from './views/customers.js';
import * as customer from './views/customer.js';
import * as customerForm from './views/customer_form.js';
import * as duplicates from './views/duplicates.js';
import * as documents from './views/documents.js';
import * as documentView from './views/document.js';
import * as reminders from './views/reminders.js';
import * as sync from './views/sync.js';
import * as erasures from './views/erasures.js';
import * as importView from './views/import.js';
import * as exportView from './views/export.js';

// [pattern, view, nav section]; ':id' captures one path segment.
const routes = [
  ['/', customers, 'customers'],
  ['/customers/new', customerForm, 'customers'],
  ['/customers/:id/edit', customerForm, 'customers'],
  ['/customers/:id', customer, 'customers'],
  ['/duplicates', duplicates, 'duplicates'],
  ['/documents', documents, 'documents'],
  ['/documents/:id', documentView, 'documents'],
  ['/reminders', reminders, 'reminders'],
  ['/sync', sync, 'sync'],
  ['/erasures', erasures, 'erasures'],
  ['/import', importView, 'import'],
  ['/export', exportView, 'export'],
];

function match(path) {
  for (const [pattern, view, section] of routes) {
    const ps = pattern.split('/'), xs = path.split('/');
    if (ps.length !== xs.length) continue;
    const params = {};
    let ok = true;
    for (let i = 0; i < ps.length && ok; i++) {
      if (ps[i].startsWith(':')) params[ps[i].slice(1)] = decodeURIComponent(xs[i]);
      else ok = ps[i] === xs[i];
    }
    if (ok && (xs.length < 2 || xs[1] !== '' || pattern === '/')) return {view, section, params};
  }
  return null;
}

/** The route in the address bar: #/path?query. */
function current() {
  const raw = location.hash.replace(/^#/, '') || '/';
  const [path, qs = ''] = raw.split('?');
  return {path: path || '/', query: Object.fromEntries(new URLSearchParams(qs))};
}

/** Navigates to a route (#/...). */
export function go(path) {
  if (location.hash === `#${path}`) route();
  else location.hash = path;
}

/** Rewrites the query of the current route without navigating (search
 * text kept across reloads and the back button, no re-render per key). */
export function setQuery(query) {
  const {path} = current();
  const qs = new URLSearchParams(Object.entries(query).filter(([, v]) => v !== '' && v != null)).toString();
  history.replaceState(null, '', `#${path}${qs ? `?${qs}` : ''}`);
}

let toastTimer = null;
/** A short message at the top of the page ("Saved", a live change...). */
export function toast(message) {
  const el = document.getElementById('toast');
  el.textContent = message;
  el.hidden = false;
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => { el.hidden = true; }, 4000);
}

const view = () => document.getElementById('view');
let active = null;      // what the current view's render returned
let generation = 0;     // guards against a slow render finishing after a newer one
let locked = false;     // the token screen is up

async function route() {
  if (locked) return;
  const gen = ++generation;
  if (active && active.dispose) active.dispose();
  active = null;
  const {path, query} = current();
  const m = match(path);
  for (const a of document.querySelectorAll('#nav a'))
    a.toggleAttribute('aria-current', !!m && a.dataset.route === m.section);
  const el = view();
  // A new screen starts at its top (the browser keeps the old scroll
  // position across hash changes, which could leave a page half-hidden).
  window.scrollTo(0, 0);
  if (!m) {
    fill(el, h('h1', {}, t('notfound.title')), h('p', {}, h('a', {href: '#/'}, t('notfound.back'))));
    return;
  }
  const ctx = {el, params: m.params, query, go, setQuery, toast, isCurrent: () => gen === generation};
  try {
    const handle = await m.view.render(ctx);
    if (gen === generation) {
      active = handle || null;
      // Keyboard and screen reader users start on the new screen (unless
      // the view put the focus somewhere itself, as the list's search).
      if (!el.contains(document.activeElement)) el.focus({preventScroll: true});
    } else if (handle && handle.dispose) handle.dispose();
  } catch (e) {
    if (gen !== generation || locked) return;
    fill(el, h('h1', {}, t('error.title')), h('p', {class: 'error', role: 'alert'}, e.message));
  }
}

/** The token is missing or wrong (a 401, or none at all): nothing else can
 * work, so the whole page says what to do. */
function showTokenScreen() {
  locked = true;
  events.stop();
  document.body.classList.add('locked');
  fill(view(), h('section', {class: 'token-screen', id: 'token-screen', role: 'alert'},
    h('h1', {}, t('token.title')),
    h('p', {}, t('token.text')),
    h('pre', {}, 'console: http://127.0.0.1:PORT/#token=…'),
    h('p', {}, t('token.hint'))));
}

function liveLabel(state) {
  const el = document.getElementById('live');
  el.dataset.state = state;
  el.textContent = t(`live.${state}`);
}

function applyLanguage() {
  document.documentElement.lang = lang();
  document.getElementById('lang').value = lang();
  translateStatic(document);
  liveLabel(events.liveState());
}

function start() {
  takeTokenFromUrl();
  applyLanguage();
  document.getElementById('lang').addEventListener('change', (e) => {
    setLang(e.target.value);
    applyLanguage();
    if (locked) showTokenScreen(); else route();
  });
  window.addEventListener('carnet:unauthorized', showTokenScreen);
  window.addEventListener('hashchange', () => {
    // The printed link opened in this tab (#token=...): it replaces the
    // stored token, also from the token screen.
    if (/token=/.test(location.hash)) {
      takeTokenFromUrl();
      locked = false;
      document.body.classList.remove('locked');
      events.restart();
    }
    route();
  });
  events.onState(liveLabel);
  events.onEvent((type, data) => {
    if (active && active.onEvent) active.onEvent(type, data);
  });
  if (!hasToken()) { showTokenScreen(); return; }
  events.start();
  route();
}

start();
