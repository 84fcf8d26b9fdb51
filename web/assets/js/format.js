// Display formats for the current language. Amounts arrive as decimal
// strings ("1234.50") and are formatted as strings, never through a float,
// so what is shown is exactly what the replica holds.

import {lang} from './i18n.js';

function groupDigits(intPart, sep) {
  return intPart.replace(/\B(?=(\d{3})+(?!\d))/g, sep);
}

/** "1234.5" -> "1 234,50 €" (fr) or "€1,234.50" (en); null -> "—". */
export function money(s) {
  if (s === null || s === undefined || s === '') return '—';
  const str = String(s);
  const neg = str.startsWith('-');
  const [i, d = ''] = str.replace(/^[-+]/, '').split('.');
  const dec = (d + '00').slice(0, Math.max(2, d.length));
  if (lang() === 'fr') return `${neg ? '-' : ''}${groupDigits(i, '\u202f')},${dec}\u00a0€`;
  return `${neg ? '-' : ''}€${groupDigits(i, ',')}.${dec}`;
}

/** A decimal string with the language's separator ("2.5" -> "2,5"). */
export function decimal(s) {
  if (s === null || s === undefined || s === '') return '—';
  return lang() === 'fr' ? String(s).replace('.', ',') : String(s);
}

export function percent(s) {
  if (s === null || s === undefined || s === '') return '—';
  return `${decimal(s)}\u00a0%`;
}

/** "2026-12-06" -> "06/12/2026" (fr) or "Dec 6, 2026" (en); a timestamp
 * ("2026-12-06T20:47:55Z") gets its local time too. */
export function date(s) {
  if (!s) return '—';
  const locale = lang() === 'fr' ? 'fr-FR' : 'en-GB';
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(s);
  if (m) {
    return new Date(+m[1], +m[2] - 1, +m[3]).toLocaleDateString(locale, {day: '2-digit', month: '2-digit', year: 'numeric'});
  }
  const d = new Date(s);
  if (isNaN(d)) return s;
  return d.toLocaleString(locale, {day: '2-digit', month: '2-digit', year: 'numeric', hour: '2-digit', minute: '2-digit'});
}

/** The time now, as the language writes it (21:24:32, or 9:24:32 pm). */
export function time() {
  return new Date().toLocaleTimeString(lang() === 'fr' ? 'fr-FR' : 'en-GB');
}

/** Today as YYYY-MM-DD in local time (the browser's, which on this machine
 * is also the replica's). */
export function today() {
  const d = new Date();
  const p = (n) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}`;
}

/** A customer's name for lists: the name, else the company. */
export function customerName(c) {
  if (!c) return '';
  return c.name || c.company || c.ref || c.id;
}

/** A phone as people write it: the replica keeps E.164 (+33612345678);
 * a French number reads 06 12 34 56 78, others stay international. */
export function phone(n) {
  const m = /^\+33(\d{9})$/.exec(n || '');
  return m ? `0${m[1]}`.replace(/(\d{2})(?=\d)/g, '$1 ') : (n || '');
}

export function phoneList(c) {
  return (c.phones || []).map((p) => phone(typeof p === 'string' ? p : p.number)).join(', ');
}
