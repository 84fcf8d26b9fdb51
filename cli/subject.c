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
#include "web/web.h"

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

static int att_cb(const carnet_attachment *a, void *data) {
  att_walk *w = data;
  if (!seen_add(w, &a->id)) return 0;
  json_t *o = cli_json_attachment(a);
  if (w->archive) {
    char p[CARNET_ATTACH_NAME_MAX + 64];
    web_subject_archive_path(a, p, sizeof p);
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
  int zrc = web_subject_zip_add(r, za, json_text, atts);
  if (zrc) rc = cli_fail(c, CLI_EINTERNAL, "cannot write the archive: %s", zip_strerror(za));
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
