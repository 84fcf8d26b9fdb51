// Sync: this replica, its peers (online or not, last sync, changes not yet
// confirmed), and an invite for a new device. Peer events from the node
// (connected, synced, disconnected...) refresh the table as they happen.

import {get, post} from '../api.js';
import {t} from '../i18n.js';
import {h, fill, field, table, clearErrors, formFailed} from '../dom.js';
import {date, time} from '../format.js';

export async function render(ctx) {
  const {el} = ctx;
  const statusBox = h('div', {id: 'replica-status'});
  const peersBox = h('div', {id: 'peers', 'aria-live': 'polite'});
  const inviteOut = h('div', {id: 'invite-result', 'aria-live': 'polite'});
  const activity = h('ul', {id: 'peer-activity', class: 'activity'});

  const ttl = h('select', {}, ['10m', '1h', '1d'].map((x) => h('option', {value: x}, t(`invite.ttl.${x}`))));
  const addr = h('input', {type: 'text', placeholder: '192.168.1.20:7373'});
  const inviteForm = h('form', {id: 'invite-form', class: 'inline-form'},
    field('invite-form-ttl', t('invite.ttl'), ttl),
    field('invite-form-addr', t('invite.addr'), addr, t('invite.addr.hint')),
    h('button', {type: 'submit', id: 'invite'}, t('invite.make')),
    h('p', {class: 'form-error', role: 'alert'}));
  inviteForm.addEventListener('submit', async (e) => {
    e.preventDefault();
    clearErrors(inviteForm);
    try {
      const r = await post('invite', {ttl: ttl.value, addr: addr.value.trim() || null});
      fill(inviteOut, h('div', {class: 'invite card'},
        h('p', {}, t('invite.give')),
        h('pre', {id: 'invite-command'}, `carnet join ${r.token}`),
        h('p', {class: 'muted'}, t('invite.meta', {addr: r.addr || '—', expires: date(r.expires)})),
        h('button', {type: 'button', class: 'secondary', onclick: () => navigator.clipboard && navigator.clipboard.writeText(`carnet join ${r.token}`).then(() => ctx.toast(t('invite.copied')))}, t('invite.copy'))));
    } catch (err) { formFailed(inviteForm, err); }
  });

  fill(el, h('h1', {}, t('sync.title')),
    h('section', {class: 'card'}, h('h2', {}, t('sync.replica')), statusBox),
    h('section', {class: 'card'}, h('h2', {}, t('sync.peers')), peersBox, activity),
    h('section', {class: 'card'}, h('h2', {}, t('invite.title')), h('p', {class: 'muted'}, t('invite.explain')), inviteForm, inviteOut));

  async function load() {
    const [s, p] = await Promise.all([get('status'), get('peers')]);
    if (!ctx.isCurrent()) return;
    const customers = typeof s.customers === 'object' && s.customers ? s.customers.live : s.customers;
    fill(statusBox, h('dl', {class: 'facts'},
      h('dt', {}, t('sync.replica.id')), h('dd', {}, h('code', {}, s.replica), s.tag ? ` (${s.tag})` : ''),
      h('dt', {}, t('sync.role')), h('dd', {id: 'role'}, t(`sync.role.${s.role}`)),
      h('dt', {}, t('sync.node')), h('dd', {}, s.node ? t('sync.node.on', {listen: s.listen || '—'}) : t('sync.node.off')),
      h('dt', {}, t('sync.customers')), h('dd', {}, String(customers ?? '—')),
      h('dt', {}, t('sync.seq')), h('dd', {}, String(s.seq ?? '—')),
      h('dt', {}, t('sync.key')), h('dd', {}, h('code', {class: 'key'}, s.key || '—')),
      h('dt', {}, t('sync.version')), h('dd', {}, s.version || '—')));
    const items = p.items || [];
    fill(peersBox, items.length ? table([
      // A peer's replica id is learned at its first session; until then, its key.
      {label: t('peer.replica'), cell: (x) => (x.replica ? h('code', {}, x.replica)
        : [h('code', {title: x.key}, `${(x.key || '').slice(0, 16)}…`), ' ', h('span', {class: 'muted'}, t('peer.key_only'))])},
      {label: t('peer.online'), cell: (x) => h('span', {class: `state ${x.online ? 'on' : 'off'}`}, x.online ? t('peer.online.yes') : t('peer.online.no'))},
      {label: t('peer.addr'), cell: (x) => x.addr || '—'},
      {label: t('peer.last_sync'), cell: (x) => (x.last_sync ? date(x.last_sync) : t('peer.never'))},
      {label: t('peer.pending'), cell: (x) => (x.pending === null || x.pending === undefined ? '—' : String(x.pending))},
    ], items, (x) => ({dataset: {key: x.key || '', replica: x.replica || '', online: String(!!x.online)}})) : h('p', {class: 'empty'}, t('peers.none')));
  }
  await load();

  let timer = null;
  return {
    onEvent(type, data) {
      if (type === 'peer') {
        activity.prepend(h('li', {}, `${time()} — ${t(`peer.event.${data.event}`)} ${data.replica || data.addr || ''}${data.message ? ` (${data.message})` : ''}`));
        while (activity.children.length > 10) activity.lastChild.remove();
      }
      if (type === 'peer' || type === 'reset' || type === 'change') {
        clearTimeout(timer);
        timer = setTimeout(() => load().catch(() => {}), 200);
      }
    },
    dispose() { clearTimeout(timer); },
  };
}
