/* cli/cmd_changes.c - `carnet changes export|apply`: sync through a file
 * (a USB stick, an e-mail attachment) when replicas cannot reach each other.
 *
 * File format, version 1:
 *
 *   "CARNETC1"                      8 bytes of magic
 *   then for each batch:
 *     length                        4 bytes, big-endian, 1..CARNET_BATCH_BYTES_MAX
 *     batch                         `length` bytes from carnet_changes_encode
 *
 * A file is written to FILE.tmp, fsync'd, then renamed over FILE, so a crash
 * never leaves a half-written change file under the final name. `apply`
 * checks the framing and decodes every batch before applying any, so a
 * truncated or damaged file changes nothing. The batches are then applied in
 * transactions grouped by size or time (carnet_bulk, carnet_changes_apply_txn);
 * applying a file twice is harmless.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/progress.h"

static const char MAGIC[8] = {'C', 'A', 'R', 'N', 'E', 'T', 'C', '1'};

enum { O_SINCE = CLI_O_USER, O_OUTPUT, O_BATCH_BYTES };

static const cli_opt export_opts[] = {
    {"output", 'o', required_argument, O_OUTPUT, "FILE", "the file to write (required)"},
    {"since", 0, required_argument, O_SINCE, "N",
     "only changes after this sequence number (default 0: everything)"},
    {"batch-bytes", 0, required_argument, O_BATCH_BYTES, "N",
     "largest batch in bytes (default and maximum: 4 MiB)"},
    {NULL, 0, 0, 0, NULL, NULL},
};

static const cli_usage export_usage = {
    .summary = "Write this replica's changes to a file, to apply on another replica.",
    .opts = export_opts,
    .json = true,
    .more = "Carry FILE to the other device and run 'carnet changes apply FILE' there.",
};

static const cli_usage apply_usage = {
    .args = "FILE",
    .summary = "Merge a change file made by 'carnet changes export' into this replica.",
    .json = true,
    .min_pos = 1,
    .max_pos = 1,
    .more = "Applying the same file twice, or files in any order, is harmless.",
};

typedef struct totals {
  uint64_t batch_bytes; /* export: 0 = the engine's maximum */
  uint32_t batches;
  uint64_t entities, cells, applied;
  uint64_t since, upto;
} totals;

/* --- export --------------------------------------------------------------- */

static int write_all(int fd, const void *buf, size_t len) {
  const char *p = buf;
  while (len > 0) {
    ssize_t n = write(fd, p, len);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return -1;
    p += n;
    len -= (size_t)n;
  }
  return 0;
}

static int write_batch(cli *c, int fd, const char *tmp, const carnet_buf *b) {
  uint8_t len[4] = {(uint8_t)(b->len >> 24), (uint8_t)(b->len >> 16), (uint8_t)(b->len >> 8),
                    (uint8_t)b->len};
  if (b->len == 0 || b->len > CARNET_BATCH_BYTES_MAX)
    return cli_fail(c, CLI_EINTERNAL, "the engine made a batch of %zu bytes (limit %u)", b->len,
                    CARNET_BATCH_BYTES_MAX);
  if (write_all(fd, len, 4) || write_all(fd, b->base, b->len))
    return cli_fail(c, CLI_EINTERNAL, "cannot write %s: %s", tmp, strerror(errno));
  return CLI_OK;
}

/* Streams every change after t->since into fd, one batch at a time. */
static int export_loop(cli *c, carnet_replica *r, int fd, const char *tmp, totals *t,
                       carnet_mark *from, cli_progress *pr) {
  for (;;) {
    carnet_buf b = {NULL, 0};
    carnet_batch_info info;
    int err = carnet_changes_encode(r, from, (size_t)t->batch_bytes, &b, &info), rc = CLI_OK;
    if (err) return cli_fail_rc(c, r, err, "reading changes");
    /* The last batch goes even when empty: it tells the receiver the
     * stream is complete, which moves its mark's base. */
    if (info.entities > 0 || !info.more) {
      rc = write_batch(c, fd, tmp, &b);
      t->batches++;
      t->entities += info.entities;
      t->cells += info.cells;
      cli_progress_count(pr, "records written", t->entities, 0);
    }
    carnet_free((void *)b.base);
    if (rc) return rc;
    t->upto = info.upto;
    if (!info.more) return CLI_OK;
    if (info.upto <= from->after) /* a batch must move forward, or this would never end */
      return cli_fail(c, CLI_EINTERNAL, "the engine did not move past sequence %llu",
                      (unsigned long long)from->after);
    from->after = info.upto;
  }
}

static int export_batches(cli *c, carnet_replica *r, int fd, const char *tmp, totals *t) {
  carnet_mark from = {t->since, t->since};
  cli_progress pr;
  cli_progress_start(&pr, c);
  int rc = export_loop(c, r, fd, tmp, t, &from, &pr);
  cli_progress_end(&pr);
  return rc;
}

/* Makes the rename durable; best effort (some file systems refuse). */
static void sync_parent(const char *path) {
  char *dir = cli_oom(strdup(path));
  char *slash = strrchr(dir, '/');
  int fd;
  if (slash == dir)
    slash[1] = '\0';
  else if (slash)
    *slash = '\0';
  fd = open(slash ? dir : ".", O_RDONLY | O_DIRECTORY);
  if (fd >= 0) {
    fsync(fd);
    close(fd);
  }
  free(dir);
}

static int write_file(cli *c, carnet_replica *r, const char *path, totals *t) {
  size_t len = strlen(path) + 5;
  char *tmp = NULL;
  int rc = CLI_OK, fd;
  carnet_restore_info ri;
  /* A restored replica's data goes out only after its team's erasures
   * came in (carnet/backup.h); a change file is no exception. */
  int err = carnet_replica_get_restore(r, &ri);
  if (err) return cli_fail_rc(c, r, err, "reading the restore record");
  if (ri.waiting)
    return cli_fail(c, CLI_EUSER,
                    "this replica was restored from a backup and sends nothing until it has "
                    "synced with a replica its team trusted before (which brings the erasures "
                    "made since the backup): sync with one of them first");
  tmp = cli_oom(malloc(len));
  snprintf(tmp, len, "%s.tmp", path);
  if ((fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0600)) < 0) {
    rc = cli_fail(c, CLI_EUSER, "cannot create %s: %s", tmp, strerror(errno));
    goto done;
  }
  if (write_all(fd, MAGIC, sizeof MAGIC)) {
    rc = cli_fail(c, CLI_EINTERNAL, "cannot write %s: %s", tmp, strerror(errno));
  } else if ((rc = export_batches(c, r, fd, tmp, t)) == CLI_OK && fsync(fd) != 0) {
    rc = cli_fail(c, CLI_EINTERNAL, "cannot write %s: %s", tmp, strerror(errno));
  }
  if (close(fd) != 0 && rc == CLI_OK)
    rc = cli_fail(c, CLI_EINTERNAL, "cannot write %s: %s", tmp, strerror(errno));
  if (rc == CLI_OK && rename(tmp, path) != 0)
    rc = cli_fail(c, CLI_EINTERNAL, "cannot rename %s to %s: %s", tmp, path, strerror(errno));
  if (rc != CLI_OK)
    unlink(tmp);
  else
    sync_parent(path);
done:
  free(tmp);
  return rc;
}

static int print_totals(cli *c, const char *path, const totals *t, bool export) {
  if (c->json) {
    json_t *o = cli_oom(json_object());
    cli_json_put(o, "file", cli_json_str(path));
    cli_json_put(o, "batches", json_integer(t->batches));
    cli_json_put(o, "cells", json_integer((json_int_t)t->cells));
    if (export) {
      cli_json_put(o, "entities", json_integer((json_int_t)t->entities));
      cli_json_put(o, "since", json_integer((json_int_t)t->since));
      cli_json_put(o, "upto", json_integer((json_int_t)t->upto));
    } else {
      cli_json_put(o, "applied", json_integer((json_int_t)t->applied));
    }
    return cli_json_print(c, o);
  }
  if (export && t->batches == 0)
    printf("No changes after sequence %llu: wrote an empty change file %s\n",
           (unsigned long long)t->since, path);
  else if (export)
    printf("Wrote %u batch%s (%llu changed fields of %llu records, up to sequence %llu) to %s\n"
           "Apply it on the other replica with: carnet changes apply %s\n",
           t->batches, t->batches == 1 ? "" : "es", (unsigned long long)t->cells,
           (unsigned long long)t->entities, (unsigned long long)t->upto, path, path);
  else
    printf("Applied %u batch%s from %s: %llu of %llu changed fields were new here\n", t->batches,
           t->batches == 1 ? "" : "es", path, (unsigned long long)t->applied,
           (unsigned long long)t->cells);
  return CLI_OK;
}

static int run_export(cli *c, int argc, char **argv) {
  carnet_replica *r = NULL;
  const char *path = NULL;
  totals t = {0};
  cli_args a;
  int rc = cli_parse(c, &export_usage, argc, argv, &a);
  if (rc) return rc;
  for (int i = 0; i < a.nopts && rc == CLI_OK; i++) {
    const char *v = a.opts[i].arg;
    if (a.opts[i].id == O_OUTPUT) path = v;
    if (a.opts[i].id == O_SINCE && !cli_parse_u64(v, &t.since))
      rc = cli_fail(c, CLI_EUSER, "invalid --since '%s': give a sequence number (0 or more)", v);
    if (a.opts[i].id == O_BATCH_BYTES && (!cli_parse_u64(v, &t.batch_bytes) || t.batch_bytes == 0 ||
                                          t.batch_bytes > CARNET_BATCH_BYTES_MAX))
      rc = cli_fail(c, CLI_EUSER, "invalid --batch-bytes '%s': give a size from 1 to %u", v,
                    CARNET_BATCH_BYTES_MAX);
  }
  if (rc == CLI_OK && (path == NULL || path[0] == '\0'))
    rc = cli_fail(c, CLI_EUSER, "missing -o FILE: the file to write the changes to");
  if (rc == CLI_OK && (rc = cli_open(c, &r)) == CLI_OK && (rc = write_file(c, r, path, &t)) == 0)
    rc = print_totals(c, path, &t, true);
  carnet_replica_close(r);
  cli_args_free(&a);
  return rc;
}

/* --- apply ---------------------------------------------------------------- */

typedef struct reader {
  FILE *f;
  const char *path;
  uint64_t off; /* bytes read so far */
  uint8_t *buf; /* CARNET_BATCH_BYTES_MAX bytes */
  uint32_t len; /* of the batch in buf */
} reader;

static int truncated(cli *c, const reader *rd, size_t got) {
  if (ferror(rd->f))
    return cli_fail(c, CLI_EINTERNAL, "cannot read %s: %s", rd->path, strerror(errno));
  return cli_fail(c, CLI_EUSER, "%s: truncated at byte %llu", rd->path,
                  (unsigned long long)(rd->off + got));
}

/* The next batch into rd->buf. Returns CLI_OK with rd->len 0 at the end of
 * the file, or an exit code after printing. */
static int next_batch(cli *c, reader *rd) {
  uint8_t h[4];
  size_t got = fread(h, 1, 4, rd->f);
  rd->len = 0;
  if (got == 0 && feof(rd->f)) return CLI_OK;
  if (got < 4) return truncated(c, rd, got);
  uint32_t len = (uint32_t)h[0] << 24 | (uint32_t)h[1] << 16 | (uint32_t)h[2] << 8 | h[3];
  if (len == 0 || len > CARNET_BATCH_BYTES_MAX)
    return cli_fail(c, CLI_EUSER, "%s: not a Carnet change file (bad batch length %u at byte %llu)",
                    rd->path, len, (unsigned long long)rd->off);
  rd->off += 4;
  if ((got = fread(rd->buf, 1, len, rd->f)) < len) return truncated(c, rd, got);
  rd->off += len;
  rd->len = len;
  return CLI_OK;
}

static int check_magic(cli *c, reader *rd) {
  char m[sizeof MAGIC];
  rd->off = 0;
  if (fseek(rd->f, 0, SEEK_SET) != 0)
    return cli_fail(c, CLI_EINTERNAL, "cannot read %s: %s", rd->path, strerror(errno));
  if (fread(m, 1, sizeof m, rd->f) != sizeof m || memcmp(m, MAGIC, sizeof m) != 0)
    return cli_fail(c, CLI_EUSER, "%s: not a Carnet change file", rd->path);
  rd->off = sizeof m;
  return CLI_OK;
}

/* Pass 1: every length and every batch is checked before anything is
 * applied. */
static int check_file(cli *c, reader *rd, totals *t) {
  int rc = check_magic(c, rd);
  while (rc == CLI_OK && (rc = next_batch(c, rd)) == CLI_OK && rd->len > 0) {
    carnet_batch_info info;
    int err = carnet_changes_inspect(rd->buf, rd->len, &info);
    if (err)
      return cli_fail(c, cli_exit_code(err), "%s: batch %u (at byte %llu) is damaged: %s", rd->path,
                      t->batches + 1, (unsigned long long)(rd->off - rd->len - 4),
                      carnet_error_message(err));
    t->batches++;
    t->cells += info.cells;
  }
  return rc;
}

/* Pass 2: apply the batches, grouped into transactions by size or time (a
 * bulk writer, carnet/replica.h): a crash loses at most the group in
 * progress, and applying the file again finishes the job. */
static int apply_file(cli *c, carnet_replica *r, reader *rd, totals *t) {
  cli_progress pr;
  uint64_t done = 0;
  carnet_bulk *bk = NULL;
  int rc = check_magic(c, rd);
  int err = rc == CLI_OK ? carnet_bulk_new(r, &bk) : 0;
  if (err) rc = cli_fail_rc(c, r, err, rd->path);
  cli_progress_start(&pr, c);
  while (rc == CLI_OK && (rc = next_batch(c, rd)) == CLI_OK && rd->len > 0) {
    uint32_t applied = 0;
    carnet_txn *txn;
    if ((err = carnet_bulk_txn(bk, &txn)) == 0 &&
        (err = carnet_changes_apply_txn(txn, rd->buf, rd->len, NULL, &applied)) == 0)
      err = carnet_bulk_step(bk, rd->len, NULL);
    if (err) {
      rc = cli_fail_rc(c, r, err, rd->path);
      break;
    }
    t->applied += applied;
    cli_progress_count(&pr, "batches applied", ++done, t->batches);
  }
  if (rc == CLI_OK && bk && (err = carnet_bulk_end(bk)) != 0)
    rc = cli_fail_rc(c, r, err, rd->path);
  else if (rc != CLI_OK)
    carnet_bulk_abort(bk);
  cli_progress_end(&pr);
  return rc;
}

static int run_apply(cli *c, int argc, char **argv) {
  carnet_replica *r = NULL;
  reader rd = {NULL, NULL, 0, NULL, 0};
  totals t = {0};
  cli_args a;
  int rc = cli_parse(c, &apply_usage, argc, argv, &a);
  if (rc) return rc;
  rd.path = a.pos[0];
  if ((rd.f = fopen(rd.path, "rb")) == NULL) {
    rc = cli_fail(c, CLI_EUSER, "cannot open %s: %s", rd.path, strerror(errno));
    goto done;
  }
  rd.buf = cli_oom(malloc(CARNET_BATCH_BYTES_MAX));
  if ((rc = check_file(c, &rd, &t)) || (rc = cli_open(c, &r)) || (rc = apply_file(c, r, &rd, &t)))
    goto done;
  rc = print_totals(c, rd.path, &t, false);
done:
  if (rd.f) fclose(rd.f);
  free(rd.buf);
  carnet_replica_close(r);
  cli_args_free(&a);
  return rc;
}

static const cli_sub subs[] = {
    {"export", run_export, "write this replica's changes to a file"},
    {"apply", run_apply, "merge a change file into this replica"},
    {NULL, NULL, NULL},
};

int cli_cmd_changes(cli *c, int argc, char **argv) {
  return cli_dispatch(c, subs,
                      "Sync through a file, when replicas cannot reach each other (sneakernet).",
                      argc, argv);
}
