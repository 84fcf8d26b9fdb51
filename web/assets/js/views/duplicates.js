// Duplicates review: the likely pairs side by side with their score and
// reasons; merge (keeping either side), "not the same" (dismiss), "later"
// (set aside), and unmerge of what was just merged. Pairs set aside and
// merges that met a "not the same" are listed below for a second look.

import {get, post} from '../api.js';
import {t} from '../i18n.js';
import {h, fill} from '../dom.js';
import {customerName, phone} from '../format.js';

// Merges made from this tab, newest first, so each can be undone from here
// (also after a reload: kept in sessionStorage, ids only).
const RECENT_KEY = 'carnet.recentMerges';
const recent = () => JSON.parse(sessionStorage.getItem(RECENT_KEY) || '[]');
const saveRecent = (list) => sessionStorage.setItem(RECENT_KEY, JSON.stringify(list.slice(0, 20)));

// A side is the customer's summary of docs/HTTP-API.md ("Duplicates and
// merges"): id, ref, name, company, type, emails, phones, tags, siret,
// deleted, city, postcode.
function side(p, label) {
  const city = [p.postcode, p.city].filter(Boolean).join(' ');
  const phones = p.phones.map((x) => phone(x.number));
  return h('div', {class: 'side'},
    h('p', {class: 'muted'}, label),
    h('h3', {}, h('a', {href: `#/customers/${p.id}`}, customerName(p))),
    h('dl', {class: 'facts'},
      h('dt', {}, t('customer.ref')), h('dd', {}, p.ref || p.id.slice(0, 8)),
      p.company ? [h('dt', {}, t('customer.company')), h('dd', {}, p.company)] : null,
      city ? [h('dt', {}, t('customer.city')), h('dd', {}, city)] : null,
      p.siret ? [h('dt', {}, t('customer.siret')), h('dd', {}, p.siret)] : null,
      p.emails.length ? [h('dt', {}, t('customer.emails')), h('dd', {}, p.emails.join(', '))] : null,
      phones.length ? [h('dt', {}, t('customer.phones')), h('dd', {}, phones.join(', '))] : null,
      p.tags.length ? [h('dt', {}, t('customer.tags')), h('dd', {}, p.tags.map((x) => h('span', {class: 'tag'}, x)))] : null));
}

export async function render(ctx) {
  const {el} = ctx;
  const pairsBox = h('div', {id: 'pairs', 'aria-live': 'polite'});
  const recentBox = h('div', {id: 'recent-merges'});
  const reviewBox = h('div', {id: 'review'});
  const message = h('p', {class: 'form-error', role: 'alert', id: 'dupes-error'});

  fill(el, h('h1', {}, t('dupes.title')), h('p', {class: 'muted'}, t('dupes.explain')), message,
    recentBox, pairsBox,
    h('section', {class: 'card'}, h('h2', {}, t('dupes.review.title')), reviewBox));

  async function act(button, fn) {
    message.textContent = '';
    button.disabled = true;
    try { await fn(); } catch (e) { message.textContent = e.message; button.disabled = false; }
  }

  function pairCard(pair, i, why) {
    const a = pair.a, b = pair.b;
    return h('article', {class: 'card pair', dataset: {a: a.id, b: b.id}, 'aria-labelledby': `pair-${why || 'p'}-${i}`},
      h('h2', {id: `pair-${why || 'p'}-${i}`, class: 'pair-title'},
        why ? t(`dupes.why.${why}`) : t('dupes.score', {score: Math.round((pair.score || 0) * 100)})),
      why ? null : h('ul', {class: 'reasons'}, pair.reasons.map((r) => h('li', {}, r))),
      h('div', {class: 'sides'}, side(a, 'A'), side(b, 'B')),
      h('div', {class: 'actions'},
        h('button', {type: 'button', class: 'merge-keep-a', onclick: (e) => act(e.target, () => merge(a, b))}, t('dupes.keep', {name: customerName(a), side: 'A'})),
        h('button', {type: 'button', class: 'merge-keep-b', onclick: (e) => act(e.target, () => merge(b, a))}, t('dupes.keep', {name: customerName(b), side: 'B'})),
        h('button', {type: 'button', class: 'secondary dismiss', onclick: (e) => act(e.target, async () => {
          await post('duplicates/dismiss', {a: a.id, b: b.id}); ctx.toast(t('dupes.dismissed')); load();
        })}, t('dupes.dismiss')),
        why === 'set_aside' ? null : h('button', {type: 'button', class: 'secondary later', onclick: (e) => act(e.target, async () => {
          await post('duplicates/set-aside', {a: a.id, b: b.id}); ctx.toast(t('dupes.set_aside')); load();
        })}, t('dupes.later'))));
  }

  async function merge(keep, other) {
    const survivor = await post('merge', {keep: keep.id, other: other.id});
    saveRecent([{keep: survivor.id || keep.id, other: other.id, keepName: customerName(survivor || keep), otherName: customerName(other)}, ...recent()]);
    ctx.toast(t('dupes.merged', {name: customerName(survivor)}));
    await load();
  }

  function showRecent() {
    const list = recent();
    fill(recentBox, list.length ? h('section', {class: 'card', id: 'recent'},
      h('h2', {}, t('dupes.recent')),
      h('ul', {class: 'recent'}, list.map((m, i) => h('li', {dataset: {keep: m.keep, other: m.other}},
        t('dupes.recent.item', {other: m.otherName, keep: m.keepName}), ' ',
        h('button', {type: 'button', class: 'secondary unmerge', onclick: (e) => act(e.target, async () => {
          await post('unmerge', {id: m.other, from: m.keep});
          const l = recent(); l.splice(i, 1); saveRecent(l);
          ctx.toast(t('merge.undone'));
          await load();
        })}, t('merge.unmerge')))))) : null);
  }

  async function load() {
    showRecent();
    const [pairs, review] = await Promise.all([get('duplicates'), get('duplicates/review')]);
    if (!ctx.isCurrent()) return;
    const items = pairs.items || [];
    fill(pairsBox, items.length ? items.map((p, i) => pairCard(p, i)) : h('p', {class: 'empty', id: 'no-pairs'}, t('dupes.none')));
    const rv = review.items || [];
    fill(reviewBox, rv.length ? rv.map((p, i) => pairCard(p, i, p.why)) : h('p', {class: 'empty'}, t('dupes.review.none')));
  }
  await load();

  let timer = null;
  return {
    onEvent(type, data) {
      if (type === 'reset' || (type === 'change' && (data.overflow || (data.changes || []).some((c) => c.kind === 'customer')))) {
        clearTimeout(timer);
        timer = setTimeout(() => load().catch(() => {}), 300);
      }
    },
    dispose() { clearTimeout(timer); },
  };
}
