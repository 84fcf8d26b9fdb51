/* engine/store/store_pages.c - an LMDB data file read page by page, every
 * pointer checked before it is followed (see store_pages.h).
 *
 * Values are read in the machine's byte order, as LMDB writes them: a file
 * is read on the kind of machine that wrote it.
 */
#include "engine/store/store_pages.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "carnet/error.h"
#include "engine/base/alloc.h"

/* LMDB 0.9's on-disk constants (mdb.c), data version 1. */
#define MAGIC 0xBEEFC0DEu
#define DATA_VERSION 1u
#define PAGEHDRSZ 16u
#define NODESIZE 8u
#define P_BRANCH 0x01u
#define P_LEAF 0x02u
#define P_OVERFLOW 0x04u
#define P_META 0x08u
#define P_LEAF2 0x20u
#define P_SUBP 0x40u
#define F_BIGDATA 0x01u
#define F_SUBDATA 0x02u
#define F_DUPDATA 0x04u
#define P_INVALID UINT64_MAX
#define DB_RECORD 48u /* an MDB_db */
/* Offsets in MDB_meta, which follows the meta page's header. */
#define META_DBS 24u    /* the two table records: free pages, main */
#define META_TXNID 128u /* after last_pg(8) at 120 */
#define DEPTH_MAX 32    /* LMDB's own cap is lower (CURSOR_STACK) */

struct carnet__pages {
  const uint8_t *base;
  size_t len;
  bool mapped;
  uint32_t psize;
  uint64_t npages;
  uint64_t main_root;
  uint8_t *seen; /* a bit per page: visited by the current walk */
};

static uint16_t rd16(const uint8_t *p) {
  uint16_t v;
  memcpy(&v, p, sizeof v);
  return v;
}

static uint32_t rd32(const uint8_t *p) {
  uint32_t v;
  memcpy(&v, p, sizeof v);
  return v;
}

static uint64_t rd64(const uint8_t *p) {
  uint64_t v;
  memcpy(&v, p, sizeof v);
  return v;
}

/* A meta page at `off` when it is valid (*txnid, *psize, *root set). */
static bool meta_ok(const uint8_t *base, size_t len, size_t off, uint32_t want_psize, uint64_t pgno,
                    uint64_t *txnid, uint32_t *psize, uint64_t *root) {
  if (off > len || len - off < PAGEHDRSZ + META_TXNID + 8) return false;
  const uint8_t *p = base + off, *m = p + PAGEHDRSZ;
  if (rd64(p) != pgno || !(rd16(p + 10) & P_META)) return false;
  if (rd32(m) != MAGIC || rd32(m + 4) != DATA_VERSION) return false;
  uint32_t ps = rd32(m + META_DBS); /* the free-page table's pad: the page size */
  if (ps < 512 || ps > 65536 || (ps & (ps - 1)) != 0) return false;
  if (want_psize && ps != want_psize) return false;
  if (len < 2 * (size_t)ps) return false;
  *psize = ps;
  *txnid = rd64(m + META_TXNID);
  *root = rd64(m + META_DBS + DB_RECORD + 40); /* the main table's root */
  return true;
}

static int setup(carnet__pages *p, char *why, size_t why_len) {
  uint64_t t0 = 0, t1 = 0, r0 = 0, r1 = 0;
  uint32_t ps0 = 0, ps1 = 0;
  bool ok0 = meta_ok(p->base, p->len, 0, 0, 0, &t0, &ps0, &r0);
  bool ok1 = ok0 ? meta_ok(p->base, p->len, ps0, ps0, 1, &t1, &ps1, &r1) : false;
  if (!ok0) { /* the first meta page is damaged: try the second at each page size */
    for (uint32_t ps = 512; ps <= 65536 && !ok1; ps *= 2)
      ok1 = meta_ok(p->base, p->len, ps, ps, 1, &t1, &ps1, &r1);
  }
  if (!ok0 && !ok1) {
    snprintf(why, why_len,
             "no valid meta page: not an LMDB data file, or both of its meta "
             "pages are damaged");
    return CARNET_ECORRUPT;
  }
  bool use1 = ok1 && (!ok0 || t1 > t0);
  p->psize = use1 ? ps1 : ps0;
  p->main_root = use1 ? r1 : r0;
  p->npages = p->len / p->psize;
  if ((p->seen = carnet__calloc((size_t)(p->npages / 8 + 1), 1)) == NULL) return CARNET_ENOMEM;
  return 0;
}

int carnet__pages_from_buffer(const void *buf, size_t len, carnet__pages **out, char *why,
                              size_t why_len) {
  carnet__pages *p = carnet__calloc(1, sizeof *p);
  *out = NULL;
  if (p == NULL) return CARNET_ENOMEM;
  p->base = buf;
  p->len = len;
  int rc = setup(p, why, why_len);
  if (rc) {
    carnet__pages_close(p);
    return rc;
  }
  *out = p;
  return 0;
}

int carnet__pages_open(const char *path, carnet__pages **out, char *why, size_t why_len) {
  struct stat sb;
  *out = NULL;
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    int e = errno;
    snprintf(why, why_len, "cannot open %s: %s", path, strerror(e));
    return e == ENOENT ? CARNET_ENOTFOUND : CARNET_EIO;
  }
  if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode) || sb.st_size <= 0) {
    close(fd);
    snprintf(why, why_len, "%s is not a data file", path);
    return CARNET_ECORRUPT;
  }
  void *m = mmap(NULL, (size_t)sb.st_size, PROT_READ, MAP_SHARED, fd, 0);
  close(fd);
  if (m == MAP_FAILED) {
    snprintf(why, why_len, "cannot map %s: %s", path, strerror(errno));
    return CARNET_EIO;
  }
  carnet__pages *p = NULL;
  int rc = carnet__pages_from_buffer(m, (size_t)sb.st_size, &p, why, why_len);
  if (rc) {
    munmap(m, (size_t)sb.st_size);
    return rc;
  }
  p->mapped = true;
  *out = p;
  return 0;
}

void carnet__pages_close(carnet__pages *p) {
  if (p == NULL) return;
  if (p->mapped) munmap((void *)p->base, p->len);
  carnet__free(p->seen);
  carnet__free(p);
}

uint64_t carnet__pages_count(const carnet__pages *p) {
  return p->npages;
}

uint32_t carnet__pages_size(const carnet__pages *p) {
  return p->psize;
}

/* --- the walk ----------------------------------------------------------------- */

typedef struct walker {
  carnet__pages *p;
  /* Each leaf entry, with its node flags. */
  int (*leaf)(struct walker *w, unsigned flags, const uint8_t *k, size_t klen, const uint8_t *v,
              size_t vlen);
  carnet__pages_bad_fn *bad;
  void *ctx;
  carnet__pages_entry_fn *fn; /* a named table's walk */
  const char *name;           /* the main table's walk: the table looked for */
  uint64_t found_root;
  bool found;
  uint64_t last_bad; /* a page is reported once, at its first failed check */
} walker;

static void report(walker *w, uint64_t pgno, const char *what, int line) {
  if (w->last_bad == pgno + 1) return;
  w->last_bad = pgno + 1;
  if (w->bad) w->bad(w->ctx, pgno, what, line);
}

#define BAD(what) report(w, pgno, (what), __LINE__)

static int walk(walker *w, uint64_t pgno, int depth) {
  carnet__pages *p = w->p;
  if (pgno >= p->npages) {
    BAD("a page number beyond the end of the file");
    return 0;
  }
  if (p->seen[pgno / 8] & (1u << (pgno % 8))) {
    BAD("a page reached twice (a loop)");
    return 0;
  }
  p->seen[pgno / 8] |= (uint8_t)(1u << (pgno % 8));
  if (depth > DEPTH_MAX) {
    BAD("a tree deeper than any LMDB writes");
    return 0;
  }
  const uint8_t *pg = p->base + pgno * p->psize;
  uint16_t flags = rd16(pg + 10), lower = rd16(pg + 12), upper = rd16(pg + 14);
  if (rd64(pg) != pgno) {
    BAD("a page that does not hold its own number");
    return 0;
  }
  bool branch = (flags & (P_BRANCH | P_LEAF | P_OVERFLOW | P_META | P_LEAF2 | P_SUBP)) == P_BRANCH;
  bool leaf = (flags & (P_BRANCH | P_LEAF | P_OVERFLOW | P_META | P_LEAF2 | P_SUBP)) == P_LEAF;
  if (!branch && !leaf) {
    BAD("neither a branch nor a leaf page where one was expected");
    return 0;
  }
  if (lower < PAGEHDRSZ || lower > upper || upper > p->psize || (lower - PAGEHDRSZ) % 2) {
    BAD("a page whose free-space bounds are damaged");
    return 0;
  }
  unsigned n = (lower - PAGEHDRSZ) / 2u;
  for (unsigned i = 0; i < n; i++) {
    uint16_t off = rd16(pg + PAGEHDRSZ + 2 * i);
    if (off < upper || (size_t)off + NODESIZE > p->psize) {
      BAD("a node outside its page");
      continue;
    }
    const uint8_t *node = pg + off;
    uint16_t lo = rd16(node), hi = rd16(node + 2), nflags = rd16(node + 4), ksize = rd16(node + 6);
    if ((size_t)off + NODESIZE + ksize > p->psize) {
      BAD("a key that runs past its page");
      continue;
    }
    const uint8_t *key = node + NODESIZE;
    if (branch) {
      uint64_t child = (uint64_t)lo | (uint64_t)hi << 16 | (uint64_t)nflags << 32;
      int rc = walk(w, child, depth + 1);
      if (rc) return rc;
      continue;
    }
    size_t dsize = (size_t)lo | (size_t)hi << 16;
    const uint8_t *data = key + ksize;
    if (nflags & F_DUPDATA) {
      BAD("a duplicate-data node (no Carnet table has them)");
      continue;
    }
    if (nflags & F_BIGDATA) {
      if ((size_t)off + NODESIZE + ksize + 8 > p->psize) {
        BAD("an overflow pointer that runs past its page");
        continue;
      }
      uint64_t ov = rd64(data);
      if (ov >= p->npages) {
        BAD("an overflow page beyond the end of the file");
        continue;
      }
      const uint8_t *op = p->base + ov * p->psize;
      uint32_t pages = rd32(op + 12);
      if (rd64(op) != ov || !(rd16(op + 10) & P_OVERFLOW) || pages == 0 || pages > p->npages - ov ||
          dsize > (size_t)pages * p->psize - PAGEHDRSZ) {
        BAD("a damaged overflow page");
        continue;
      }
      data = op + PAGEHDRSZ;
    } else if ((size_t)off + NODESIZE + ksize + dsize > p->psize) {
      BAD("a value that runs past its page");
      continue;
    }
    int rc = w->leaf(w, nflags, key, ksize, data, dsize);
    if (rc) return rc;
  }
  return 0;
}

#undef BAD

static int find_table(walker *w, unsigned flags, const uint8_t *k, size_t klen, const uint8_t *v,
                      size_t vlen) {
  if (!(flags & F_SUBDATA) || klen != strlen(w->name) || memcmp(k, w->name, klen) != 0) return 0;
  if (vlen != DB_RECORD) return 0;
  w->found_root = rd64(v + 40);
  w->found = true;
  return 0;
}

static int table_entry(walker *w, unsigned flags, const uint8_t *k, size_t klen, const uint8_t *v,
                       size_t vlen) {
  (void)flags;
  return w->fn(w->ctx, k, klen, v, vlen);
}

int carnet__pages_walk(carnet__pages *p, const char *table, carnet__pages_entry_fn *fn,
                       carnet__pages_bad_fn *bad, void *ctx) {
  walker w = {.p = p, .leaf = find_table, .bad = bad, .ctx = ctx, .name = table};
  int rc;
  memset(p->seen, 0, (size_t)(p->npages / 8 + 1));
  if (p->main_root == P_INVALID) return CARNET_ENOTFOUND;
  if ((rc = walk(&w, p->main_root, 0))) return rc;
  if (!w.found) return CARNET_ENOTFOUND;
  if (w.found_root == P_INVALID) return 0; /* an empty table */
  memset(p->seen, 0, (size_t)(p->npages / 8 + 1));
  w.leaf = table_entry;
  w.fn = fn;
  return walk(&w, w.found_root, 0);
}
