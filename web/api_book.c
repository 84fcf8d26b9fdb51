/* web/api_book.c - import of a customer file and export of the book
 * (administrator actions), through carnet/import.h: the same checks,
 * rejects and counts as `carnet import` and `carnet export`. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <carnet/import.h>

#include "routes.h"
#include "state.h"
#include "view.h"

typedef struct import_st {
  json_t *rejects;
  bool oom;
} import_st;

#define WEB_REJECTS_MAX 1000u /* rejected rows shown; the counts cover them all */

static int on_row(void *ctx, const carnet_import_row *row) {
  import_st *st = ctx;
  if (row->outcome != CARNET_IMPORT_ROW_REJECTED || json_array_size(st->rejects) >= WEB_REJECTS_MAX)
    return 0;
  json_t *cells = json_array();
  bool ok = cells != NULL;
  for (size_t i = 0; i < row->ncells; i++)
    ok = web_json_push(cells, web_json_str(row->cells[i] ? row->cells[i] : "")) && ok;
  json_t *o =
      ok ? json_pack("{s:I,s:o,s:o,s:o}", "line", (json_int_t)row->line, "column",
                     web_json_str(row->column), "reason", web_json_str(row->reason), "row", cells)
         : (json_decref(cells), NULL);
  if (!web_json_push(st->rejects, o)) st->oom = true;
  return 0;
}

void api_import(carnet_replica *r, web_req *q) {
  bool dry = false;
  const char *dup = web_arg_get(q, "on_duplicate"), *name = web_arg_get(q, "name");
  if (!web_require_admin(q, r, "import")) return;
  if (!web_parse_bool(web_arg_get(q, "dry_run"), false, &dry)) {
    web_error(q, 400, CARNET_EINVAL, "dry_run", "invalid value for 'dry_run': 1 or 0");
    return;
  }
  carnet_import_options o = CARNET_IMPORT_OPTIONS_INIT;
  if (dup && dup[0]) {
    if (strcmp(dup, "skip") == 0)
      o.on_duplicate = CARNET_IMPORT_DUP_SKIP;
    else if (strcmp(dup, "merge") == 0)
      o.on_duplicate = CARNET_IMPORT_DUP_MERGE;
    else if (strcmp(dup, "create") == 0)
      o.on_duplicate = CARNET_IMPORT_DUP_CREATE;
    else if (strcmp(dup, "update") == 0)
      o.on_duplicate = CARNET_IMPORT_DUP_UPDATE;
    else {
      web_error(q, 400, CARNET_EINVAL, "on_duplicate",
                "invalid on_duplicate '%s': skip, merge, update or create", dup);
      return;
    }
  }
  if (q->upload_len == 0) {
    web_error(q, 400, CARNET_EINVAL, NULL, "the file is empty");
    return;
  }
  if (q->upload_type && strncasecmp(q->upload_type, "text/csv", 8) == 0)
    o.format = CARNET_SHEET_CSV;
  if (q->upload_type && strstr(q->upload_type, "spreadsheetml")) o.format = CARNET_SHEET_XLSX;
  import_st st = {json_array(), false};
  o.dry_run = dry;
  /* The largest batch: a file up to that many rows is one transaction, so
   * a request that fails writes nothing. */
  o.batch = CARNET_IMPORT_BATCH_MAX;
  o.on_row = on_row;
  o.ctx = &st;
  carnet_import_report rep = CARNET_IMPORT_REPORT_INIT;
  if (st.rejects == NULL) {
    web_oom(q);
    return;
  }
  int rc =
      carnet_import_buffer(r, q->upload, q->upload_len, name && name[0] ? name : NULL, &o, &rep);
  /* Rows committed in batches of thousands overflow the change feed's
   * list: the search index reads the book again now, in this request,
   * rather than in the next search (a failure is the next search's). */
  if (q->st->search && rep.committed > 0) {
    size_t none = 0;
    (void)carnet_search_query(q->st->search, NULL, NULL, NULL, 0, &none);
  }
  if (rc || st.oom) {
    json_decref(st.rejects);
    if (st.oom)
      web_oom(q);
    else
      web_fail(q, r, rc, name && name[0] ? name : NULL);
    return;
  }
  web_ok(q, 200,
         json_pack("{s:s,s:b,s:b,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:s?,s:o}", "format",
                   rep.format == CARNET_SHEET_XLSX ? "xlsx" : "csv", "cp1252", rep.cp1252,
                   "dry_run", dry, "rows", (json_int_t)rep.rows, "imported",
                   (json_int_t)rep.imported, "merged", (json_int_t)rep.merged, "updated",
                   (json_int_t)rep.updated, "skipped", (json_int_t)rep.skipped, "rejected",
                   (json_int_t)rep.rejected, "committed", (json_int_t)rep.committed, "source",
                   rep.source, "rejects", st.rejects));
}

void api_export(carnet_replica *r, web_req *q) {
  static const struct {
    const char *name, *plural;
    carnet_kind kind;
  } kinds[] = {{"customer", "customers", CARNET_KIND_CUSTOMER},
               {"contact", "contacts", CARNET_KIND_CONTACT},
               {"document", "documents", CARNET_KIND_DOCUMENT},
               {"action", "actions", CARNET_KIND_ACTION},
               {"reminder", "reminders", CARNET_KIND_REMINDER}};
  const char *kind = web_arg_get(q, "kind"), *format = web_arg_get(q, "format");
  size_t k = 0;
  if (!web_require_admin(q, r, "export")) return;
  if (kind && kind[0]) {
    while (k < 5 && strcmp(kinds[k].name, kind) != 0)
      k++;
    if (k == 5) {
      web_error(q, 400, CARNET_EINVAL, "kind",
                "unknown kind '%s': customer, contact, document, action or reminder", kind);
      return;
    }
  }
  carnet_export_options o = CARNET_EXPORT_OPTIONS_INIT;
  const char *ext = "csv", *type = "text/csv; charset=utf-8";
  if (format && strcmp(format, "xlsx") == 0) {
    o.format = CARNET_SHEET_XLSX;
    ext = "xlsx";
    type = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet";
  } else if (format && format[0] && strcmp(format, "csv") != 0) {
    web_error(q, 400, CARNET_EINVAL, "format", "unknown format '%s': csv or xlsx", format);
    return;
  } else {
    o.format = CARNET_SHEET_CSV;
  }
  carnet_filter f = {.tag = web_arg_get(q, "tag"),
                     .role = web_arg_get(q, "role"),
                     .text = web_arg_get(q, "q"),
                     .sales_rep = web_arg_get(q, "sales_rep")};
  o.kind = kinds[k].kind;
  o.filter = &f;
  void *data = NULL;
  size_t len = 0;
  carnet_export_report rep = CARNET_EXPORT_REPORT_INIT;
  int rc = carnet_export_buffer(r, &o, &data, &len, &rep);
  if (rc) {
    web_fail(q, r, rc, NULL);
    return;
  }
  /* libmicrohttpd frees the answer with free(): copy out of the library's
   * allocator. */
  q->file = malloc(len ? len : 1);
  if (q->file == NULL) {
    carnet_free(data);
    web_oom(q);
    return;
  }
  memcpy(q->file, data, len);
  carnet_free(data);
  q->file_len = len;
  q->file_type = type;
  q->status = 200;
  char today[11];
  carnet_replica_get_today(r, today);
  snprintf(q->filename, sizeof q->filename, "carnet-%s-%s.%s", kinds[k].plural, today, ext);
}
