/* web/api_attach.c - files attached to customers, contacts, documents and
 * actions over HTTP (docs/HTTP-API.md, "Attachments"): the list of an
 * owner's files, an upload, a download, a deletion.
 *
 * An upload is the request body itself (no multipart: the console sends
 * the File object as it is, as the import does), the file's name and
 * caption in the query. It goes through the library's upload
 * (carnet_upload_begin/_write/_commit): encrypted as it comes into a
 * temporary file, hashed, fsynced and renamed only once whole, the
 * metadata written last, so a request cut or refused half-way leaves
 * nothing behind. The body is never held whole in memory: the server
 * (web/server.c) hands it over a buffer at a time. The largest file is the
 * replica's policy (carnet_attach_policy.size_max): a declared
 * Content-Length above it is refused before the body is read (413), a body
 * that grows past it (no length given) is refused when it does (413).
 *
 * A download streams the content as carnet_download_read gives it,
 * decrypted and checked a block at a time; the last block comes only once
 * the content's hash matched, and a damaged file ends the answer short of
 * its Content-Length (the client sees a failed transfer, never wrong
 * bytes presented as whole). It is always sent as
 * application/octet-stream with Content-Disposition: attachment: a file
 * someone attached is never shown as a page of the console's origin.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "routes.h"
#include "view.h"

/* The owner's kind from the path's first segment. */
static carnet_kind owner_kind(const char *seg) {
  if (strcmp(seg, "customers") == 0) return CARNET_KIND_CUSTOMER;
  if (strcmp(seg, "contacts") == 0) return CARNET_KIND_CONTACT;
  if (strcmp(seg, "documents") == 0) return CARNET_KIND_DOCUMENT;
  return CARNET_KIND_ACTION;
}

json_t *web_json_attachment(const carnet_attachment *a) {
  char hex[CARNET_ID_HEX_LEN + 1], hash[65], rid[17], when[32];
  json_t *o = json_object();
  carnet_id_format(&a->id, hex);
  bool ok = web_json_put(o, "id", web_json_str(hex));
  carnet_id_format(&a->owner, hex);
  ok = web_json_put(o, "owner", web_json_str(hex)) && ok;
  ok = web_json_put(o, "owner_kind",
                    web_json_str(a->owner_kind ? carnet_kind_name(a->owner_kind) : NULL)) &&
       ok;
  ok = web_json_put(o, "name", web_json_str(a->name)) && ok;
  ok = web_json_put(o, "media_type", web_json_str(a->media_type)) && ok;
  ok = web_json_put(o, "size", json_integer((json_int_t)a->size)) && ok;
  for (int i = 0; i < 32; i++)
    snprintf(hash + 2 * i, 3, "%02x", a->hash[i]);
  ok = web_json_put(o, "hash", web_json_str(hash)) && ok;
  ok = web_json_put(o, "caption", web_json_str(a->caption)) && ok;
  snprintf(rid, sizeof rid, "%016" PRIx64, a->added_by);
  ok = web_json_put(o, "added_by", web_json_str(rid)) && ok;
  web_iso_time((carnet_hlc)a->added_at_ms << 16, when);
  ok = web_json_put(o, "added_at", web_json_str(when)) && ok;
  ok = web_json_put(o, "deleted", json_boolean(a->deleted)) && ok;
  ok = web_json_put(o, "here", json_boolean(a->here)) && ok;
  ok = web_json_put(o, "received", json_integer((json_int_t)(a->here ? a->size : a->received))) &&
       ok;
  ok = web_json_put(o, "wanted", json_boolean(a->wanted)) && ok;
  if (!ok) {
    json_decref(o);
    return NULL;
  }
  return o;
}

/* The owner named by the path (its kind from the first segment) and the
 * replica's policy; on failure the answer is set and false returned. */
static bool owner_and_policy(web_req *q, carnet_replica *r, carnet_id *owner,
                             carnet_attach_policy *p) {
  carnet_kind kind = owner_kind(q->seg[0]);
  carnet_record *rec = NULL;
  /* A full id resolves whatever its kind: the path's kind is checked too,
   * so that documents/ID never takes a customer's files. */
  if (!web_load(q, r, kind, q->seg[1], &rec)) return false;
  bool same = carnet_record_kind(rec) == kind;
  *owner = *carnet_record_id(rec);
  carnet_record_free(rec);
  if (!same) {
    web_error(q, 404, CARNET_ENOTFOUND, NULL, "no %s '%s'", carnet_kind_name(kind), q->seg[1]);
    return false;
  }
  int rc = carnet_replica_get_attach_policy(r, p);
  if (rc) web_fail(q, r, rc, "attachment policy");
  return rc == 0;
}

/* --- The list -------------------------------------------------------------------- */

typedef struct list_st {
  json_t *arr;
  bool oom;
} list_st;

static int list_cb(const carnet_attachment *a, void *data) {
  list_st *st = data;
  if (!web_json_push(st->arr, web_json_attachment(a))) {
    st->oom = true;
    return 1;
  }
  return 0;
}

/* GET {customers,contacts,documents,actions}/ID/attachments[?deleted=1]:
 * {"items": [...], "max_size": bytes} (a customer's has its merge
 * group's files). */
void api_attachments_list(carnet_replica *r, web_req *q) {
  carnet_id owner;
  bool deleted;
  carnet_attach_policy p;
  if (!web_parse_bool(web_arg_get(q, "deleted"), false, &deleted)) {
    web_error(q, 400, CARNET_EINVAL, "deleted", "deleted takes 1 or 0");
    return;
  }
  if (!owner_and_policy(q, r, &owner, &p)) return;
  list_st st = {json_array(), false};
  int rc = st.arr ? carnet_attachment_list(r, &owner, deleted, list_cb, &st) : CARNET_ENOMEM;
  if (st.oom) rc = CARNET_ENOMEM;
  if (rc) {
    json_decref(st.arr);
    if (rc == CARNET_ENOMEM)
      web_oom(q);
    else
      web_fail(q, r, rc, "attachments");
    return;
  }
  json_t *o = json_object();
  bool ok = web_json_put(o, "items", st.arr);
  ok = web_json_put(o, "max_size", json_integer((json_int_t)p.size_max)) && ok;
  if (!ok) {
    json_decref(o);
    web_oom(q);
    return;
  }
  web_ok(q, 200, o);
}

/* --- One attachment -------------------------------------------------------------- */

/* The attachment named by the path's second segment (a full id); on
 * failure the answer is set and NULL returned. The caller frees it. */
static carnet_attachment *load(web_req *q, carnet_replica *r) {
  carnet_id id;
  carnet_attachment *a = NULL;
  if (carnet_id_parse(q->seg[1], &id) != 0) {
    web_error(q, 404, CARNET_ENOTFOUND, NULL,
              "no attachment '%s' (an attachment's id is 32 hex "
              "digits: `carnet attachments OWNER` lists them)",
              q->seg[1]);
    return NULL;
  }
  int rc = carnet_attachment_get(r, &id, &a);
  if (rc) {
    web_fail(q, r, rc, NULL);
    return NULL;
  }
  return a;
}

void api_attachment_get(carnet_replica *r, web_req *q) {
  carnet_attachment *a = load(q, r);
  if (a == NULL) return;
  web_ok(q, 200, web_json_attachment(a));
  carnet_free(a);
}

/* DELETE attachments/ID: the tombstone and this replica's content file;
 * answers the attachment after (409 when it was deleted already). */
void api_attachment_delete(carnet_replica *r, web_req *q) {
  carnet_attachment *a = load(q, r);
  if (a == NULL) return;
  carnet_id id = a->id;
  bool was = a->deleted;
  carnet_free(a);
  if (was) {
    web_error(q, 409, CARNET_EEXIST, NULL, "attachment %s is deleted already", q->seg[1]);
    return;
  }
  int rc = carnet_attachment_delete_commit(r, &id);
  if (rc == 0) rc = carnet_attachment_get(r, &id, &a);
  if (rc) {
    web_fail(q, r, rc, NULL);
    return;
  }
  web_ok(q, 200, web_json_attachment(a));
  carnet_free(a);
}

/* Content-Disposition for `name`: an ASCII fallback (what is not printable
 * ASCII, and quotes and backslashes, become '_') and the exact name in
 * RFC 5987 form. */
static void disposition(const char *name, char *out, size_t len) {
  static const char hexd[] = "0123456789ABCDEF";
  size_t n = (size_t)snprintf(out, len, "attachment; filename=\"");
  for (const unsigned char *p = (const unsigned char *)name; *p && n + 2 < len; p++)
    out[n++] = *p < 0x20 || *p >= 0x7f || *p == '"' || *p == '\\' ? '_' : (char)*p;
  n += (size_t)snprintf(out + n, len - n, "\"; filename*=UTF-8''");
  for (const unsigned char *p = (const unsigned char *)name; *p && n + 4 < len; p++) {
    bool plain = (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
                 strchr("!#$&+-.^_`|~", *p) != NULL;
    if (plain) {
      out[n++] = (char)*p;
    } else {
      out[n++] = '%';
      out[n++] = hexd[*p >> 4];
      out[n++] = hexd[*p & 15];
    }
  }
  out[n < len ? n : len - 1] = '\0';
}

/* GET attachments/ID/content: the file, streamed (404 when deleted or its
 * content is not on this replica: the message says how much came). */
void api_attachment_content(carnet_replica *r, web_req *q) {
  carnet_attachment *a = load(q, r);
  if (a == NULL) return;
  int rc = carnet_download_open(r, &a->id, &q->dl);
  if (rc) {
    web_fail(q, r, rc, NULL);
    carnet_free(a);
    return;
  }
  q->dl_size = a->size;
  disposition(a->name, q->disposition, sizeof q->disposition);
  q->status = 200;
  carnet_free(a);
}

/* --- Uploads ------------------------------------------------------------------------ */

/* POST {customers,contacts,documents,actions}/ID/attachments?name=N
 * [&caption=C][&type=MEDIA]: begins the upload (the body follows). */
void api_attachment_upload(carnet_replica *r, web_req *q) {
  carnet_id owner;
  carnet_attach_policy p;
  const char *name = web_arg_get(q, "name");
  if (name == NULL || name[0] == '\0') {
    web_error(q, 400, CARNET_EINVAL, "name", "say the file's name: ?name=FILE");
    return;
  }
  if (!owner_and_policy(q, r, &owner, &p)) return;
  if (q->declared != UINT64_MAX && q->declared > p.size_max) {
    web_error(q, 413, CARNET_ELIMIT, NULL,
              "the file is %" PRIu64 " bytes, larger than the %" PRIu64
              " bytes this replica takes (carnet attachment policy --max-size)",
              q->declared, p.size_max);
    return;
  }
  const char *type = web_arg_get(q, "type");
  carnet_upload_opts o = {.name = name,
                          .media_type = type && type[0] ? type : NULL,
                          .caption = web_arg_get(q, "caption")};
  if (o.caption && o.caption[0] == '\0') o.caption = NULL;
  int rc = carnet_upload_begin(r, &owner, &o, &q->up);
  if (rc) web_fail(q, r, rc, NULL);
}

/* The status of an upload's failure: 413 for a file past the limit. */
static void upload_failed(web_req *q, carnet_replica *r, int rc) {
  web_fail(q, r, rc, NULL);
  if (rc == CARNET_ELIMIT) q->status = 413;
}

void api_attach_upload_write(carnet_replica *r, web_req *q) {
  int rc = carnet_upload_write(q->up, q->upload, q->upload_len);
  if (rc == 0) return;
  upload_failed(q, r, rc);
  carnet_upload_abort(q->up);
  q->up = NULL;
}

void api_attach_upload_commit(carnet_replica *r, web_req *q) {
  carnet_id id;
  carnet_attachment *a = NULL;
  char hex[CARNET_ID_HEX_LEN + 1];
  int rc = carnet_upload_commit(q->up, &id);
  q->up = NULL; /* freed whatever the result */
  if (rc == 0) rc = carnet_attachment_get(r, &id, &a);
  if (rc) {
    upload_failed(q, r, rc);
    return;
  }
  carnet_id_format(&id, hex);
  snprintf(q->location, sizeof q->location, "/api/attachments/%s", hex);
  web_ok(q, 201, web_json_attachment(a));
  carnet_free(a);
}

void api_attach_upload_abort(carnet_replica *r, web_req *q) {
  (void)r;
  carnet_upload_abort(q->up);
  q->up = NULL;
}
