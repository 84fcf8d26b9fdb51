/* Runs a fuzz target without libFuzzer: every file of its corpus, then a
 * bounded number of deterministic mutations of them (bit flips, truncations,
 * splices), so `make check` exercises each decoder on hostile bytes even
 * where clang's libFuzzer is not used. Usage: replay CORPUS_DIR [ROUNDS]. */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uint64_t rng = 0x9e3779b97f4a7c15ull;

static uint64_t next(void) {
  uint64_t z = (rng += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

typedef struct input {
  uint8_t *data;
  size_t len;
} input;

static int load(const char *dir, input **out, size_t *n) {
  DIR *d = opendir(dir);
  struct dirent *ent;
  size_t cap = 0;
  *out = NULL;
  *n = 0;
  if (d == NULL) return -1;
  while ((ent = readdir(d)) != NULL) {
    if (ent->d_name[0] == '.') continue;
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, ent->d_name);
    FILE *f = fopen(path, "rb");
    if (f == NULL) continue;
    fseek(f, 0, SEEK_END);
    long len = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *buf = malloc(len > 0 ? (size_t)len : 1);
    if (buf && fread(buf, 1, (size_t)len, f) == (size_t)len) {
      if (*n == cap) {
        cap = cap ? cap * 2 : 16;
        *out = realloc(*out, cap * sizeof **out);
      }
      (*out)[(*n)++] = (input){buf, (size_t)len};
    } else {
      free(buf);
    }
    fclose(f);
  }
  closedir(d);
  return 0;
}

int main(int argc, char **argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: %s CORPUS_DIR [ROUNDS]\n", argv[0]);
    return 2;
  }
  long rounds = argc > 2 ? atol(argv[2]) : 20000;
  input *in;
  size_t n;
  if (load(argv[1], &in, &n) != 0 || n == 0) {
    fprintf(stderr, "%s: no corpus in %s\n", argv[0], argv[1]);
    return 1;
  }
  for (size_t i = 0; i < n; i++)
    LLVMFuzzerTestOneInput(in[i].data, in[i].len);
  uint8_t *buf = malloc(1 << 16);
  for (long r = 0; r < rounds; r++) {
    input *a = &in[next() % n];
    size_t len = a->len < (1 << 16) ? a->len : (1 << 16);
    memcpy(buf, a->data, len);
    switch (next() % 4) {
    case 0: /* flip bits */
      for (int k = 0; k < 1 + (int)(next() % 4) && len; k++)
        buf[next() % len] ^= (uint8_t)(1u << (next() % 8));
      break;
    case 1: /* truncate */
      len = len ? next() % len : 0;
      break;
    case 2: /* random byte values */
      for (int k = 0; k < 1 + (int)(next() % 3) && len; k++)
        buf[next() % len] = (uint8_t)next();
      break;
    default: { /* splice with another input */
      input *b = &in[next() % n];
      size_t cut = len ? next() % len : 0, take = b->len ? next() % b->len : 0;
      if (cut + take > (1 << 16)) take = (1 << 16) - cut;
      memcpy(buf + cut, b->data + (b->len - take), take);
      len = cut + take;
    }
    }
    LLVMFuzzerTestOneInput(buf, len);
  }
  printf("%s: %zu corpus files, %ld mutations: no crash\n", argv[1], n, rounds);
  free(buf);
  for (size_t i = 0; i < n; i++)
    free(in[i].data);
  free(in);
  return 0;
}
