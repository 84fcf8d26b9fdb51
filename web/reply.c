/* web/reply.c - answers of the handlers: records, errors with the command
 * line's messages, references resolved as the command line resolves them.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "req.h"
#include "view.h"

const char *web_arg_get(const web_req *q, const char *key) {
  for (size_t i = 0; i < q->nargs; i++)
    if (strcmp(q->args[i].key, key) == 0) return q->args[i].value;
  return NULL;
}

void web_ok(web_req *q, int status, json_t *v) {
  json_decref(q->reply);
  q->reply = NULL;
  if (v == NULL) {
    web_oom(q);
    return;
  }
  q->status = status;
  q->reply = v;
}

bool web_failed(const web_req *q) {
  return q->status >= 400;
}

static void set_error(web_req *q, int status, int code, const char *field, const char *msg) {
  json_t *e = json_object(), *o = json_object();
  bool ok = web_json_put(e, "code", web_json_str(carnet_error_name(code)));
  ok = web_json_put(e, "message", web_json_str(msg)) && ok;
  ok = web_json_put(e, "field", web_json_str(field)) && ok;
  ok = web_json_put(o, "error", ok ? e : (json_decref(e), NULL)) && ok;
  json_decref(q->reply);
  q->reply = ok ? o : (json_decref(o), NULL);
  q->status = ok ? status : 500; /* the server answers a fixed text when reply is NULL */
}

void web_oom(web_req *q) {
  set_error(q, 500, CARNET_ENOMEM, NULL, "out of memory");
}

void web_error(web_req *q, int status, int code, const char *field, const char *fmt, ...) {
  char msg[1024];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  set_error(q, status, code, field, msg);
}

int web_status_of(int rc) {
  switch (rc) {
  case CARNET_EINVAL:
  case CARNET_EAMBIGUOUS:
  case CARNET_ELIMIT:
    return 400;
  case CARNET_ENOTFOUND:
    return 404;
  case CARNET_EEXIST:
  case CARNET_EPERM:
    return 409;
  case CARNET_EBUSY:
    return 503;
  default:
    return 500;
  }
}

/* The engine names the field in its detail: "invalid email 'x' (field
 * emails)". */
static void field_of(const char *msg, char *out, size_t len) {
  const char *p = strstr(msg, "(field ");
  out[0] = '\0';
  if (p == NULL) return;
  p += 7;
  size_t n = strcspn(p, ")");
  if (n == 0 || n >= len || p[n] != ')') return;
  memcpy(out, p, n);
  out[n] = '\0';
}

void web_fail(web_req *q, carnet_replica *r, int rc, const char *what) {
  const char *detail = r ? carnet_replica_errmsg(r) : "";
  char field[64];
  if (detail == NULL || detail[0] == '\0') detail = carnet_error_message(rc);
  field_of(detail, field, sizeof field);
  if (what)
    web_error(q, web_status_of(rc), rc, field[0] ? field : NULL, "%s: %s", what, detail);
  else
    web_error(q, web_status_of(rc), rc, field[0] ? field : NULL, "%s", detail);
}

/* The command that lists a kind, for the hints the command line gives. */
static const char *list_cmd(carnet_kind kind) {
  switch (kind) {
  case CARNET_KIND_DOCUMENT:
    return "doc";
  default:
    return carnet_kind_name(kind);
  }
}

bool web_resolve(web_req *q, carnet_replica *r, carnet_kind kind, const char *ref,
                 const char *field, carnet_id *out) {
  const char *kname = carnet_kind_name(kind);
  int rc = ref ? carnet_record_resolve(r, kind, ref, out) : CARNET_ENOTFOUND;
  /* A reference in the body that names nothing is bad input (400); one in
   * the path is an unknown resource (404). */
  int nf = field ? 400 : 404;
  if (rc == 0) return true;
  if (ref == NULL)
    web_error(q, 400, CARNET_EINVAL, field, "missing %s: the %s it refers to", field, kname);
  else if (rc == CARNET_ENOTFOUND && strlen(ref) < 6 &&
           strspn(ref, "0123456789abcdefABCDEF") == strlen(ref))
    web_error(q, nf, rc, field, "no %s '%s': an id prefix needs at least 6 characters", kname, ref);
  else if (rc == CARNET_ENOTFOUND)
    web_error(q, nf, rc, field, "no %s '%s' (see 'carnet %s list')", kname, ref, list_cmd(kind));
  else if (rc == CARNET_EAMBIGUOUS)
    web_error(q, 400, rc, field, "'%s' matches several %ss: type more characters", ref, kname);
  else
    web_fail(q, r, rc, ref);
  return false;
}

bool web_load(web_req *q, carnet_replica *r, carnet_kind kind, const char *ref,
              carnet_record **out) {
  carnet_id id;
  *out = NULL;
  if (!web_resolve(q, r, kind, ref, NULL, &id)) return false;
  int rc = carnet_record_get(r, &id, out);
  if (rc) {
    web_fail(q, r, rc, ref);
    return false;
  }
  if (carnet_record_kind(*out) != kind) {
    carnet_record_free(*out);
    *out = NULL;
    web_error(q, 404, CARNET_ENOTFOUND, NULL, "'%s' is not a%s %s", ref,
              kind == CARNET_KIND_ACTION ? "n" : "", carnet_kind_name(kind));
    return false;
  }
  return true;
}

const char *web_body_str(web_req *q, const char *key, bool *bad) {
  json_t *v = q->body ? json_object_get(q->body, key) : NULL;
  if (v == NULL || json_is_null(v)) return NULL;
  if (json_is_string(v)) return json_string_value(v);
  web_error(q, 400, CARNET_EINVAL, key, "invalid value for '%s': give a string", key);
  *bad = true;
  return NULL;
}

bool web_require_admin(web_req *q, carnet_replica *r, const char *what) {
  carnet_role role;
  int rc = carnet_replica_get_role(r, &role);
  if (rc) {
    web_fail(q, r, rc, "reading the replica's role");
    return false;
  }
  if (role == CARNET_ROLE_ADMIN) return true;
  web_error(q, 403, CARNET_EPERM, NULL,
            "%s is an administrator action; this replica is a %s (its role is set by "
            "'carnet init --role' or 'carnet join --role'; see 'carnet status')",
            what, carnet_role_name(role));
  return false;
}

bool web_date_ok(web_req *q, const char *key, const char *value) {
  if (value == NULL || carnet_date_valid(value)) return true;
  web_error(q, 400, CARNET_EINVAL, key, "invalid date '%s' for %s: YYYY-MM-DD, e.g. 2026-11-20",
            value, key);
  return false;
}
