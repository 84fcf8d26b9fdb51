/* cli/subject.c - a person's files in a subject export (`carnet
 * subject-export`, GDPR Art. 15 / 20; format in docs/FORMATS.md, Subject
 * export):
 *
 *   - the JSON gains "attachments": every attachment of the customer (its
 *     merge group's), of its contacts, documents and actions, deleted ones
 *     included, as `carnet attachments --json` shows them;
 *   - with --archive, the output is a zip archive: `subject.json` (that
 *     JSON, each attachment with "file", its path in the archive, or null
 *     when its content is not on this replica) and `files/ID/NAME` for each
 *     attachment whose content is here, decrypted and checked as it is
 *     written (stored, not compressed: photos and PDFs are compressed
 *     already). The archive is written under a temporary name, mode 0600,
 *     and renamed once complete.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <zip.h>

#include "cli/cli.h"
#include "cli/subject.h"

/* --- the attachments' metadata --------------------------------------------- */

typedef struct att_walk {
  json_t *arr;
  carnet_id *seen;
  size_t n, cap;
  bool archive;
} att_walk;

static bool seen_add(att_walk *w, const carnet_id *id) {
  for (size_t i = 0; i < w->n; i++)
    if (memcmp(w->seen[i].b, id->b, 16) == 0) return false;
  if (w->n == w->cap) {
    w->cap = w->cap ? 2 * w->cap : 16;
    w->seen = cli_oom(realloc(w->seen, w->cap * sizeof *w->seen));
  }
  w->seen[w->n++] = *id;
  return true;
}

/* "files/ID/NAME": NAME is one path part already (carnet_upload_begin
 * keeps the last part of a path); "." and ".." are not. */
static void archive_path(const carnet_attachment *a, char *out, size_t len) {
  char hex[CARNET_ID_HEX_LEN + 1];
  carnet_id_format(&a->id, hex);
  const char *name = strcmp(a->name, ".") == 0 || strcmp(a->name, "..") == 0 ? "file" : a->name;
  snprintf(out, len, "files/%s/%s", hex, name);
}

static int att_cb(const carnet_attachment *a, void *data) {
  att_walk *w = data;
  if (!seen_add(w, &a->id)) return 0;
  json_t *o = cli_json_attachment(a);
  if (w->archive) {
    char p[CARNET_ATTACH_NAME_MAX + 64];
    archive_path(a, p, sizeof p);
    cli_json_put(o, "file", a->here && !a->deleted ? cli_json_str(p) : json_null());
  }
  cli_json_push(w->arr, o);
  return 0;
}

int cli_subject_attachments(cli *c, carnet_replica *r, const carnet_id *owners, size_t n,
                            bool archive, json_t **out) {
  att_walk w = {.arr = cli_oom(json_array()), .archive = archive};
  int rc = CLI_OK;
  for (size_t i = 0; i < n; i++) {
    int err = carnet_attachment_list(r, &owners[i], true, att_cb, &w);
    if (err) {
      rc = cli_fail_rc(c, r, err, "attachments");
      break;
    }
  }
  free(w.seen);
  if (rc) {
    json_decref(w.arr);
    return rc;
  }
  *out = w.arr;
  return CLI_OK;
}

/* --- the archive -------------------------------------------------------------- */

/* A zip source reading an attachment's content through carnet_download:
 * decrypted and checked as libzip reads it; a damaged file fails the
 * archive rather than put wrong bytes in it. */
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

static int add_file(cli *c, carnet_replica *r, zip_t *za, const json_t *att) {
  const char *file = json_string_value(json_object_get(att, "file"));
  const char *idhex = json_string_value(json_object_get(att, "id"));
  carnet_id id;
  if (file == NULL) return CLI_OK;
  if (idhex == NULL || carnet_id_parse(idhex, &id) != 0)
    return cli_fail(c, CLI_EINTERNAL, "bad attachment id in the export");
  zsrc *z = cli_oom(calloc(1, sizeof *z));
  z->r = r;
  z->id = id;
  z->size = (uint64_t)json_integer_value(json_object_get(att, "size"));
  zip_error_init(&z->err);
  zip_source_t *src = zip_source_function(za, zsrc_cb, z);
  if (src == NULL) {
    zip_error_fini(&z->err);
    free(z);
    return cli_fail(c, CLI_EINTERNAL, "cannot add %s to the archive: %s", file,
                    zip_strerror(za));
  }
  zip_int64_t idx = zip_file_add(za, file, src, ZIP_FL_ENC_UTF_8);
  if (idx < 0) {
    zip_source_free(src);
    return cli_fail(c, CLI_EINTERNAL, "cannot add %s to the archive: %s", file,
                    zip_strerror(za));
  }
  zip_set_file_compression(za, (zip_uint64_t)idx, ZIP_CM_STORE, 0);
  return CLI_OK;
}

int cli_subject_archive(cli *c, carnet_replica *r, const char *out, const char *json_text,
                        const json_t *atts) {
  char tmp[4200];
  int err = 0, rc = CLI_OK;
  if (snprintf(tmp, sizeof tmp, "%s.tmp-%ld", out, (long)getpid()) >= (int)sizeof tmp)
    return cli_fail(c, CLI_EUSER, "path too long: %s", out);
  zip_t *za = zip_open(tmp, ZIP_CREATE | ZIP_TRUNCATE, &err);
  if (za == NULL) {
    zip_error_t ze;
    zip_error_init_with_code(&ze, err);
    rc = cli_fail(c, CLI_EUSER, "cannot create %s: %s", out, zip_error_strerror(&ze));
    zip_error_fini(&ze);
    return rc;
  }
  char *copy = cli_oom(strdup(json_text));
  zip_source_t *js = zip_source_buffer(za, copy, strlen(copy), 1);
  if (js == NULL || zip_file_add(za, "subject.json", js, ZIP_FL_ENC_UTF_8) < 0) {
    if (js) zip_source_free(js);
    else free(copy);
    rc = cli_fail(c, CLI_EINTERNAL, "cannot write the archive: %s", zip_strerror(za));
  }
  size_t i;
  const json_t *att;
  json_array_foreach(atts, i, att) {
    if (rc == CLI_OK) rc = add_file(c, r, za, att);
  }
  if (rc) {
    zip_discard(za);
    unlink(tmp);
    return rc;
  }
  /* The files are read (decrypted and checked) here. */
  if (zip_close(za) != 0) {
    const char *why = carnet_replica_errmsg(r);
    rc = cli_fail(c, CLI_EUSER, "cannot write %s: %s%s%s", out, zip_strerror(za),
                  why[0] ? ": " : "", why);
    zip_discard(za);
    unlink(tmp);
    return rc;
  }
  if (chmod(tmp, 0600) != 0 || rename(tmp, out) != 0) {
    int e = errno;
    unlink(tmp);
    return cli_fail(c, CLI_EUSER, "cannot write %s: %s", out, strerror(e));
  }
  return CLI_OK;
}
