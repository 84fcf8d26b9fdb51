/* cli/util.c - errors, opening the replica, resolving references, and small
 * formatting helpers shared by every command.
 */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli/cli.h"
#include "cli/crm.h"

void *cli_oom(void *p) {
  if (p == NULL) {
    fputs("carnet: out of memory\n", stderr);
    exit(CLI_EINTERNAL);
  }
  return p;
}

int cli_fail(const cli *c, int code, const char *fmt, ...) {
  char msg[1024];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  /* One line, whatever the values quoted in it hold. */
  for (char *p = msg; *p; p++)
    if (*p == '\n' || *p == '\r') *p = ' ';
  fprintf(stderr, "%s: %s\n", c->cmd, msg);
  return code;
}

int cli_exit_code(int rc) {
  switch (rc) {
  case 0:
    return CLI_OK;
  case CARNET_EINVAL:
  case CARNET_ENOTFOUND:
  case CARNET_EEXIST:
  case CARNET_EVERSION:
  case CARNET_ENOREPLICA:
  case CARNET_EAMBIGUOUS:
  case CARNET_ELIMIT:
  case CARNET_EPROTO: /* bytes the user handed us (a change file) */
  case CARNET_EPERM:
  case CARNET_EKEY: /* wrong or missing passphrase or key file */
    return CLI_EUSER;
  default:
    return CLI_EINTERNAL;
  }
}

int cli_fail_rc(const cli *c, const carnet_replica *r, int rc, const char *what) {
  const char *msg = r ? carnet_replica_errmsg(r) : "";
  if ((msg == NULL || msg[0] == '\0') && rc == CARNET_ECORRUPT)
    msg = "a stored record is damaged or was changed outside Carnet (it fails authentication): "
          "restore the replica from a backup or sync it again from a peer";
  if (msg == NULL || msg[0] == '\0') msg = carnet_error_message(rc);
  if (what) return cli_fail(c, cli_exit_code(rc), "%s: %s", what, msg);
  return cli_fail(c, cli_exit_code(rc), "%s", msg);
}

int cli_replica_dir(const cli *c, char *buf, size_t len) {
  const char *env = getenv("CARNET_DIR");
  const char *home = getenv("HOME");
  int n;
  if (c->dir && c->dir[0])
    n = snprintf(buf, len, "%s", c->dir);
  else if (env && env[0])
    n = snprintf(buf, len, "%s", env);
  else if (home && home[0])
    n = snprintf(buf, len, "%s/.local/share/carnet", home);
  else
    return cli_fail(c, CLI_EUSER, "no replica directory: give --dir DIR or set CARNET_DIR");
  if (n < 0 || (size_t)n >= len) return cli_fail(c, CLI_EUSER, "replica directory path too long");
  return CLI_OK;
}

int cli_open(cli *c, carnet_replica **out) {
  char dir[4096], why[512] = "";
  carnet_env env;
  bool test_clock;
  int rc = cli_replica_dir(c, dir, sizeof dir);
  if (rc || (rc = cli_test_clock(c, &env, &test_clock))) return rc;
  if (!test_clock) memset(&env, 0, sizeof env);
  cli_key_env(c, &env, true);
  rc = carnet_replica_open(dir, &env, out, why, sizeof why);
  if (rc == CARNET_ENOREPLICA)
    return cli_fail(c, CLI_EUSER, "no replica in %s: create one with 'carnet init --dir %s'", dir,
                    dir);
  if (rc == CARNET_EVERSION && why[0] == '\0')
    return cli_fail(c, CLI_EUSER, "%s: %s: upgrade carnet", dir, carnet_error_message(rc));
  if (rc) return cli_fail(c, cli_exit_code(rc), "%s", why[0] ? why : carnet_error_message(rc));
  return CLI_OK;
}

/* The command that lists a kind, for hints ("see 'carnet doc list'"). */
static const char *list_cmd(carnet_kind kind) {
  switch (kind) {
  case CARNET_KIND_DOCUMENT:
    return "doc";
  case CARNET_KIND_ACTION:
    return "action";
  case CARNET_KIND_REMINDER:
    return "reminder";
  default:
    return carnet_kind_name(kind);
  }
}

int cli_resolve(cli *c, carnet_replica *r, carnet_kind kind, const char *ref, carnet_id *out) {
  const char *kname = carnet_kind_name(kind);
  int rc = carnet_record_resolve(r, kind, ref, out);
  if (rc == CARNET_ENOTFOUND && strlen(ref) < 6 &&
      strspn(ref, "0123456789abcdefABCDEF") == strlen(ref))
    return cli_fail(c, CLI_EUSER, "no %s '%s': an id prefix needs at least 6 characters", kname,
                    ref);
  if (rc == CARNET_ENOTFOUND)
    return cli_fail(c, CLI_EUSER, "no %s '%s' (see 'carnet %s list')", kname, ref, list_cmd(kind));
  if (rc == CARNET_EAMBIGUOUS)
    return cli_fail(c, CLI_EUSER, "'%s' matches several %ss: type more characters", ref, kname);
  if (rc) return cli_fail_rc(c, r, rc, ref);
  return CLI_OK;
}

int cli_load(cli *c, carnet_replica *r, carnet_kind kind, const char *ref, carnet_record **out) {
  carnet_id id;
  int rc = cli_resolve(c, r, kind, ref, &id);
  if (rc) return rc;
  rc = carnet_record_get(r, &id, out);
  if (rc) return cli_fail_rc(c, r, rc, ref);
  if (carnet_record_kind(*out) != kind) {
    carnet_record_free(*out);
    *out = NULL;
    return cli_fail(c, CLI_EUSER, "'%s' is not a%s %s", ref, kind == CARNET_KIND_ACTION ? "n" : "",
                    carnet_kind_name(kind));
  }
  return CLI_OK;
}

const char *cli_label(const carnet_record *rec, char *buf) {
  const char *ref = carnet_record_str(rec, CARNET_F_REFCODE);
  if (ref && ref[0]) return ref;
  carnet_id_format(carnet_record_id(rec), buf);
  return buf;
}

void cli_iso_time(carnet_hlc hlc, char out[32]) {
  uint64_t ms = CARNET_HLC_MS(hlc);
  time_t secs = (time_t)(ms / 1000);
  struct tm tm;
  out[0] = '\0';
  if (hlc == 0 || gmtime_r(&secs, &tm) == NULL) return;
  size_t n = strftime(out, 32, "%Y-%m-%dT%H:%M:%S", &tm);
  snprintf(out + n, 32 - n, ".%03uZ", (unsigned)(ms % 1000));
}

const char *cli_phone_split(const char *elem, char *type, size_t tlen) {
  const char *colon = strchr(elem, ':');
  if (colon == NULL) {
    snprintf(type, tlen, "%s", "");
    return elem;
  }
  snprintf(type, tlen, "%.*s", (int)(colon - elem), elem);
  return colon + 1;
}

const char *cli_replica_label(carnet_replica *r, uint64_t replica_id, char out[CLI_REPLICA_LABEL]) {
  if (replica_id == 0 || carnet_replica_name_of(r, replica_id, out, CLI_REPLICA_LABEL) != 0)
    snprintf(out, CLI_REPLICA_LABEL, "%016llx", (unsigned long long)replica_id);
  return out;
}

json_t *cli_replica_name_json(carnet_replica *r, uint64_t replica_id) {
  char name[CLI_REPLICA_LABEL];
  if (replica_id == 0 || carnet_replica_name_of(r, replica_id, name, sizeof name) != 0)
    return json_null();
  return cli_json_str(name);
}

bool cli_phone_read(const char *number, carnet_phone *out) {
  /* Stored numbers carry their country code: the region does not matter. */
  return carnet_phone_parse(number, "FR", out) == 0;
}

char *cli_join(const char *const *v, size_t n, const char *sep, bool numbers) {
  size_t len = 1;
  char type[32];
  for (size_t i = 0; i < n; i++)
    len += strlen(v[i]) + strlen(sep);
  char *out = cli_oom(malloc(len));
  out[0] = '\0';
  for (size_t i = 0, used = 0; i < n; i++) {
    const char *s = numbers ? cli_phone_split(v[i], type, sizeof type) : v[i];
    used += (size_t)snprintf(out + used, len - used, "%s%s", i ? sep : "", s);
  }
  return out;
}
