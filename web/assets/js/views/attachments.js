// The files attached to a customer, contact, document or action: the list
// (name, size, caption; the name downloads the file), an upload form and a
// delete button per file. The file goes to the server as the request body
// (POST OWNER/ID/attachments?name=...&caption=...), which stores it
// encrypted and makes it visible only once whole and verified.

import {del, download, get, upload} from '../api.js';
import {clearErrors, field, fill, formFailed, h, table} from '../dom.js';
import {date} from '../format.js';
import {t} from '../i18n.js';

/** "12.3 MB", "640 KB", "18 B" (decimal units, as `carnet attachments`). */
export function size(n) {
  if (n >= 1e9) return `${(n / 1e9).toFixed(1)} GB`;
  if (n >= 1e6) return `${(n / 1e6).toFixed(1)} MB`;
  if (n >= 1e3) return `${(n / 1e3).toFixed(1)} KB`;
  return `${n} B`;
}

/**
 * `owner` is the API path of the owner ("customers/ID", "documents/ID").
 * Returns {body, form, load}: the list's box, the upload form, and the
 * loader that fills the list (the page calls it, and again on changes).
 */
export function attachmentsSection(ctx, owner) {
  let maxSize = null;
  const body = h('div', {id : 'attachments-list'});
  const file = h('input', {type : 'file'});
  const caption = h('input', {type : 'text', maxlength : '2000'});
  const go = h('button', {type : 'submit', id : 'attach-go'}, t('attach.add'));
  const form = h('form', {id : 'attach-form', class : 'inline-form'},
                 field('attach-form-file', t('attach.file'), file),
                 field('attach-form-caption', t('attach.caption'), caption), go,
                 h('p', {class : 'form-error', role : 'alert', id : 'attach-error'}));

  async function load() {
    const r = await get(`${owner}/attachments`);
    maxSize = r.max_size;
    const items = r.items || [];
    fill(body, items.length ? table(
                                  [
                                    {
                                      label : t('attach.name'),
                                      cell : (a) =>
                                          (a.here ? h('a', {
                                            href : '#',
                                            class : 'attachment-name',
                                            onclick : (e) => {
                                              e.preventDefault();
                                              download(`attachments/${a.id}/content`, null, a.name)
                                                  .catch((err) => ctx.toast(err.message));
                                            }
                                          },
                                                      a.name)
                                                  : h('span', {class : 'attachment-name'}, a.name,
                                                      ' ', h('span', {class : 'badge'}, t('attach.not_here'))))
                                    },
                                    {
                                      label : t('attach.size'),
                                      cell : (a) =>
                                          h('span', {class : 'attachment-size'}, size(a.size))
                                    },
                                    {
                                      label : t('attach.caption'),
                                      cell : (a) =>
                                          h('span', {class : 'attachment-caption'}, a.caption || '')
                                    },
                                    {label : t('attach.added'), cell : (a) => date(a.added_at)},
                                    {
                                      label : '',
                                      cell : (a) =>
                                          h('button', {
                                            type : 'button',
                                            class : 'link attachment-delete',
                                            onclick : async () => {
                                              if (!confirm(
                                                      t('attach.delete.confirm', {name : a.name})))
                                                return;
                                              try {
                                                await del(`attachments/${a.id}`);
                                                load();
                                              } catch (e) {
                                                ctx.toast(e.message);
                                              }
                                            }
                                          },
                                            t('attach.delete'))
                                    },
                                  ],
                                  items, (a) => ({dataset : {id : a.id}}))
                            : h('p', {class : 'empty'}, t('attach.none')));
  }

  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    clearErrors(form);
    const f = file.files[0];
    const err = form.querySelector('.form-error');
    if (!f) {
      err.textContent = t('attach.choose');
      return;
    }
    // Said before sending what the server would refuse (413) anyway.
    if (maxSize !== null && f.size > maxSize) {
      err.textContent = t('attach.too_large', {size : size(f.size), max : size(maxSize)});
      return;
    }
    go.disabled = true;
    err.textContent = t('attach.uploading');
    try {
      await upload(`${owner}/attachments`, f, {name : f.name, caption : caption.value.trim()});
      err.textContent = '';
      form.reset();
      await load();
    } catch (x) {
      err.textContent = '';
      formFailed(form, x);
    } finally {
      go.disabled = false;
    }
  });

  return {body, form, load};
}
