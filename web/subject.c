/* web/subject.c - the subject export over HTTP (GDPR Art. 15 / 20): what
 * `carnet subject-export` writes, for the console's button.
 *
 *   GET customers/ID/subject-export            the JSON (with "attachments":
 *                                              every file of the person,
 *                                              deleted ones included)
 *   GET customers/ID/subject-export?archive=1  a zip archive, as `carnet
 *                                              subject-export --archive`:
 *                                              subject.json (each attachment
 *                                              with "file", its path in the
 *                                              archive, or null when its
 *                                              content is not here) and
 *                                              files/ID/NAME for the others
 *
 * The archive is made in memory (the person's data never lands in a file
 * of ours in plaintext), each file decrypted and checked as libzip reads
 * it: a damaged one fails the export (500) rather than put wrong bytes in
 * it. Its files add up to WEB_ARCHIVE_MAX at the most; past that the
 * answer (413) says to use the command.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <zip.h>

#include "routes.h"
#include "view.h"
#include "web.h"

#define WEB_ARCHIVE_MAX (512ull << 20)

typedef struct part_st {
  json_t *arr;
  json_t *(*fn)(const carnet_record *rec, json_t *labels);
  carnet_id *ids; /* every record exported: its files are the person's */
  size_t n, cap;
  bool oom;
} part_st;

static bool id_push(carnet_id **ids, size_t *n, size_t *cap, const carnet_id *id) {
  if (*n == *cap) {
    size_t c = *cap ? 2 * *cap : 16;
    carnet_id *p = realloc(*ids, c * sizeof *p);
    if (p == NULL) return false;
    *ids = p;
    *cap = c;
  }
  (*ids)[(*n)++] = *id;
  return true;
}

static int part_cb(const carnet_record *rec, void *data) {
  part_st *st = data;
  if (!web_json_push(st->arr, st->fn ? st->fn(rec, NULL) : web_json_record(rec)) ||
      !id_push(&st->ids, &st->n, &st->cap, carnet_record_id(rec))) {
    st->oom = true;
    return 1;
  }
  return 0;
}

/* --- The attachments ------------------------------------------------------------- */

typedef struct att_st {
  json_t *arr;
  carnet_id *seen;
  size_t n, cap;
  bool archive, oom;
  uint64_t bytes; /* of the files in the archive */
} att_st;

void web_subject_archive_path(const carnet_attachment *a, char *out, size_t len) {
  char hex[CARNET_ID_HEX_LEN + 1];
  carnet_id_format(&a->id, hex);
  const char *name = strcmp(a->name, ".") == 0 || strcmp(a->name, "..") == 0 ? "file" : a->name;
  snprintf(out, len, "files/%s/%s", hex, name);
}

static int att_cb(const carnet_attachment *a, void *data) {
  att_st *st = data;
  for (size_t i = 0; i < st->n; i++)
    if (memcmp(st->seen[i].b, a->id.b, 16) == 0) return 0;
  json_t *o = web_json_attachment(a);
  bool ok = o != NULL && id_push(&st->seen, &st->n, &st->cap, &a->id);
  if (ok && st->archive) {
    char p[CARNET_ATTACH_NAME_MAX + 64];
    bool in = a->here && !a->deleted;
    web_subject_archive_path(a, p, sizeof p);
    ok = web_json_put(o, "file", in ? web_json_str(p) : json_null());
    if (in) st->bytes += a->size;
    o = ok ? o : NULL;
  }
  if (!ok || !web_json_push(st->arr, o)) {
    if (!ok) json_decref(o);
    st->oom = true;
    return 1;
  }
  return 0;
}

/* --- The archive, in memory -------------------------------------------------------- */

/* A zip source reading an attachment's content through carnet_download
 * (on the node's thread: the handler's). */
typedef struct zsrc {
  carnet_replica *r;
  carnet_id id;
  uint64_t size;
  carnet_download *d;
  zip_error_t err;
} zsrc;

static zip_int64_t zsrc_cb(void *ud, void *data, zip_uint64_t len, zip_source_cmd_t cmd) {
  zsrc *z = ud;
  switch (cmd) {
  case ZIP_SOURCE_OPEN:
    if (carnet_download_open(z->r, &z->id, &z->d) != 0) {
      zip_error_set(&z->err, ZIP_ER_READ, EIO);
      return -1;
    }
    return 0;
  case ZIP_SOURCE_READ: {
    size_t got = 0;
    if (carnet_download_read(z->d, data, (size_t)len, &got) != 0) {
      zip_error_set(&z->err, ZIP_ER_READ, EIO);
      return -1;
    }
    return (zip_int64_t)got;
  }
  case ZIP_SOURCE_CLOSE:
    carnet_download_close(z->d);
    z->d = NULL;
    return 0;
  case ZIP_SOURCE_STAT: {
    zip_stat_t *st = data;
    zip_stat_init(st);
    st->size = z->size;
    st->valid |= ZIP_STAT_SIZE;
    return sizeof *st;
  }
  case ZIP_SOURCE_ERROR:
    return zip_error_to_data(&z->err, data, len);
  case ZIP_SOURCE_FREE:
    carnet_download_close(z->d);
    zip_error_fini(&z->err);
    free(z);
    return 0;
  case ZIP_SOURCE_SUPPORTS:
    return zip_source_make_command_bitmap(ZIP_SOURCE_OPEN, ZIP_SOURCE_READ, ZIP_SOURCE_CLOSE,
                                          ZIP_SOURCE_STAT, ZIP_SOURCE_ERROR, ZIP_SOURCE_FREE, -1);
  default:
    zip_error_set(&z->err, ZIP_ER_OPNOTSUPP, 0);
    return -1;
  }
}

/* Add the content of `att` (an element of "attachments") when it has a
 * "file". False on failure. */
static bool add_file(carnet_replica *r, zip_t *za, const json_t *att) {
  const char *file = json_string_value(json_object_get(att, "file"));
  const char *idhex = json_string_value(json_object_get(att, "id"));
  carnet_id id;
  if (file == NULL) return true;
  if (idhex == NULL || carnet_id_parse(idhex, &id) != 0) return false;
  zsrc *z = calloc(1, sizeof *z);
  if (z == NULL) return false;
  z->r = r;
  z->id = id;
  z->size = (uint64_t)json_integer_value(json_object_get(att, "size"));
  zip_error_init(&z->err);
  zip_source_t *src = zip_source_function(za, zsrc_cb, z);
  if (src == NULL) {
    zip_error_fini(&z->err);
    free(z);
    return false;
  }
  zip_int64_t idx = zip_file_add(za, file, src, ZIP_FL_ENC_UTF_8);
  if (idx < 0) {
    zip_source_free(src);
    return false;
  }
  zip_set_file_compression(za, (zip_uint64_t)idx, ZIP_CM_STORE, 0);
  return true;
}

int web_subject_zip_add(carnet_replica *r, struct zip *za, const char *json_text,
                        const struct json_t *atts) {
  char *copy = strdup(json_text);
  if (copy == NULL) return CARNET_ENOMEM;
  zip_source_t *js = zip_source_buffer(za, copy, strlen(copy), 1);
  if (js == NULL) {
    free(copy);
    return CARNET_ENOMEM;
  }
  if (zip_file_add(za, "subject.json", js, ZIP_FL_ENC_UTF_8) < 0) {
    zip_source_free(js);
    return CARNET_ENOMEM;
  }
  size_t i;
  const json_t *att;
  json_array_foreach(atts, i, att) {
    if (!add_file(r, za, att)) return CARNET_ENOMEM;
  }
  return 0;
}

/* The zip of `text` (subject.json, freed) and the files into *out (malloc'd).
 * 0, or CARNET_ENOMEM / CARNET_EIO (a file failed its check: the detail
 * is the replica's). */
static int make_archive(carnet_replica *r, char *text, const json_t *atts, char **out,
                        size_t *len) {
  zip_error_t ze;
  zip_stat_t zst;
  int rc = CARNET_EIO;
  char *buf = NULL;
  zip_error_init(&ze);
  zip_source_t *mem = zip_source_buffer_create(NULL, 0, 0, &ze);
  zip_t *za = mem ? zip_open_from_source(mem, ZIP_TRUNCATE, &ze) : NULL;
  if (za == NULL) {
    if (mem) zip_source_free(mem);
    free(text);
    zip_error_fini(&ze);
    return CARNET_ENOMEM;
  }
  zip_source_keep(mem); /* read back after zip_close */
  rc = web_subject_zip_add(r, za, text, atts);
  free(text);
  if (rc) {
    zip_discard(za);
    goto done;
  }
  rc = CARNET_EIO;
  if (zip_close(za) != 0) { /* the files are read (decrypted and checked) here */
    zip_discard(za);
    goto done;
  }
  if (zip_source_stat(mem, &zst) != 0 || zip_source_open(mem) != 0) goto done;
  buf = malloc(zst.size ? zst.size : 1);
  if (buf == NULL) {
    rc = CARNET_ENOMEM;
  } else if (zip_source_read(mem, buf, zst.size) == (zip_int64_t)zst.size) {
    *out = buf;
    *len = zst.size;
    buf = NULL;
    rc = 0;
  }
  zip_source_close(mem);
done:
  free(buf);
  zip_source_free(mem);
  zip_error_fini(&ze);
  return rc;
}

/* --- The handler ---------------------------------------------------------------------- */

void api_subject_export(carnet_replica *r, web_req *q) {
  static const struct {
    const char *key;
    carnet_kind kind;
    json_t *(*fn)(const carnet_record *rec, json_t *labels);
  } parts[] = {{"contacts", CARNET_KIND_CONTACT, NULL},
               {"documents", CARNET_KIND_DOCUMENT, web_json_doc},
               {"actions", CARNET_KIND_ACTION, web_json_action},
               {"reminders", CARNET_KIND_REMINDER, web_json_reminder}};
  carnet_record *cu = NULL;
  char hex[CARNET_ID_HEX_LEN + 1];
  bool archive;
  carnet_id *owners = NULL;
  size_t nowners = 0, cowners = 0;
  att_st at = {0};
  json_t *o = NULL;
  int rc = 0;
  if (!web_parse_bool(web_arg_get(q, "archive"), false, &archive)) {
    web_error(q, 400, CARNET_EINVAL, "archive", "archive takes 1 or 0");
    return;
  }
  if (!web_load(q, r, CARNET_KIND_CUSTOMER, q->seg[1], &cu)) return;
  carnet_filter filter = {.customer = carnet_record_id(cu), .include_deleted = true};
  o = json_object();
  bool ok = web_json_put(o, "format", web_json_str("carnet-subject-export-1"));
  ok = web_json_put(o, "customer", web_json_record(cu)) && ok;
  ok = web_json_put(o, "consents", web_json_consents(cu)) && ok;
  ok = web_json_put(o, "consent_log", web_json_consent_log(cu)) && ok;
  ok = ok && id_push(&owners, &nowners, &cowners, carnet_record_id(cu));
  for (size_t i = 0; i < sizeof parts / sizeof parts[0] && ok; i++) {
    part_st st = {
        .arr = json_array(), .fn = parts[i].fn, .ids = owners, .n = nowners, .cap = cowners};
    rc = st.arr ? carnet_record_list(r, parts[i].kind, &filter, part_cb, &st) : CARNET_ENOMEM;
    owners = st.ids;
    nowners = st.n;
    cowners = st.cap;
    if (st.oom) rc = CARNET_ENOMEM;
    if (rc) {
      json_decref(st.arr);
      web_fail(q, r, rc, parts[i].key);
      goto done;
    }
    ok = web_json_put(o, parts[i].key, st.arr) && ok;
  }
  at = (att_st){.arr = json_array(), .archive = archive};
  for (size_t i = 0; i < nowners && ok && at.arr && rc == 0; i++)
    rc = carnet_attachment_list(r, &owners[i], true, att_cb, &at);
  if (at.oom || at.arr == NULL) rc = CARNET_ENOMEM;
  if (rc) {
    json_decref(at.arr);
    web_fail(q, r, rc, "attachments");
    goto done;
  }
  ok = web_json_put(o, "attachments", json_incref(at.arr)) && ok;
  if (ok && archive && at.bytes > WEB_ARCHIVE_MAX) {
    web_error(q, 413, CARNET_ELIMIT, NULL,
              "the person's files add up to %llu bytes, more than the console puts in one "
              "archive (%llu): use `carnet subject-export ID --archive -o FILE`",
              (unsigned long long)at.bytes, (unsigned long long)WEB_ARCHIVE_MAX);
    goto done;
  }
  char *text = ok ? json_dumps(o, JSON_INDENT(2)) : NULL;
  if (text == NULL) {
    web_oom(q);
    goto done;
  }
  const char *ref = carnet_record_str(cu, CARNET_F_REFCODE);
  carnet_id_format(carnet_record_id(cu), hex);
  if (archive) {
    rc = make_archive(r, text, at.arr, &q->file, &q->file_len);
    if (rc) {
      web_fail(q, r, rc, "the archive");
      goto done;
    }
    q->file_type = "application/zip";
    snprintf(q->filename, sizeof q->filename, "carnet-subject-%s.zip", ref ? ref : hex);
  } else {
    q->file = text;
    q->file_len = strlen(text);
    q->file_type = "application/json; charset=utf-8";
    snprintf(q->filename, sizeof q->filename, "carnet-subject-%s.json", ref ? ref : hex);
  }
  q->status = 200;
done:
  json_decref(at.arr);
  free(at.seen);
  free(owners);
  json_decref(o);
  carnet_record_free(cu);
}
