/* tests/support/tagalloc.c - see tagalloc.h. */
#include "support/tagalloc.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "carnet/alloc.h"

#define MAGIC 0xC0FFEE5A11CA7EDull

/* The header of a block: its tag, its serial number (the how-manieth
 * allocation made it), and the list of live blocks, so that a leak can be
 * named by the allocation that made it (tagalloc_report_since). */
typedef struct hdr {
  uint64_t magic;
  long serial;
  struct hdr *prev, *next;
} hdr;
#define HDR 32u /* sizeof(hdr), rounded to keep the block's alignment */
_Static_assert(sizeof(hdr) <= HDR && HDR % 16 == 0, "the header keeps 16-byte alignment");

/* Test-only state: see the header. */
static struct {
  long live;     /* blocks alive */
  long calls;    /* allocations made */
  long count;    /* allocations since the switch was last set */
  long fail_at;  /* the allocation refused, -1 for none */
  long failures; /* allocations refused */
  hdr *head;     /* live blocks, newest first */
} g = {0, 0, 0, -1, 0, NULL};

static void link_block(hdr *h) {
  h->prev = NULL;
  h->next = g.head;
  if (g.head) g.head->prev = h;
  g.head = h;
}

static void unlink_block(hdr *h) {
  if (h->prev)
    h->prev->next = h->next;
  else
    g.head = h->next;
  if (h->next) h->next->prev = h->prev;
}

static bool refuse(void) {
  if (g.fail_at < 0) return false;
  if (g.count++ != g.fail_at) return false;
  g.failures++;
  return true;
}

static void check_tag(unsigned char *p, const char *who) {
  if (((hdr *)p)->magic != MAGIC) {
    fprintf(stderr, "%s: a block the tagging allocator did not make\n", who);
    abort();
  }
}

static void *t_malloc(size_t n) {
  if (refuse()) return NULL;
  unsigned char *p = malloc(n + HDR);
  if (!p) return NULL;
  hdr *h = (hdr *)p;
  h->magic = MAGIC;
  h->serial = g.calls++;
  link_block(h);
  g.live++;
  return p + HDR;
}

static void t_free(void *q) {
  if (!q) return;
  unsigned char *p = (unsigned char *)q - HDR;
  check_tag(p, "carnet_free");
  unlink_block((hdr *)p);
  ((hdr *)p)->magic = 0;
  g.live--;
  free(p);
}

static void *t_calloc(size_t c, size_t n) {
  if (n && c > SIZE_MAX / n) return NULL;
  void *p = t_malloc(c * n);
  if (p) memset(p, 0, c * n);
  return p;
}

static void *t_realloc(void *q, size_t n) {
  if (!q) return t_malloc(n);
  if (refuse()) return NULL;
  unsigned char *p = (unsigned char *)q - HDR;
  check_tag(p, "realloc");
  unlink_block((hdr *)p);
  unsigned char *np = realloc(p, n + HDR);
  if (!np) {
    link_block((hdr *)p); /* the old block stays the caller's */
    return NULL;
  }
  ((hdr *)np)->serial = g.calls++;
  link_block((hdr *)np);
  return np + HDR;
}

static const carnet_allocator tagging = {t_malloc, t_realloc, t_calloc, t_free};

bool tagalloc_install(void) {
  int rc = carnet_allocator_set(&tagging);
  if (rc != 0) fprintf(stderr, "carnet_allocator_set refused the tagging allocator (%d)\n", rc);
  return rc == 0;
}

long tagalloc_live(void) {
  return g.live;
}

long tagalloc_calls(void) {
  return g.calls;
}

long tagalloc_failures(void) {
  return g.failures;
}

void tagalloc_fail_at(long n) {
  g.count = 0;
  g.fail_at = n;
}

long tagalloc_report_since(long serial) {
  long n = 0;
  for (hdr *h = g.head; h; h = h->next)
    if (h->serial >= serial) {
      fprintf(stderr, "tagalloc: block of allocation #%ld still alive\n", h->serial);
      n++;
    }
  return n;
}
