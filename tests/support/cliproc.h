/* tests/support/cliproc.h - running the real `carnet` binary from a test:
 * a fixture with a scratch directory and background processes (`carnet
 * serve`), foreground commands with deadlines, JSON output, logs, and
 * replicas built in process. Used by the multi-process tests in tests/sync/.
 *
 * Every wait has a deadline (scaled up under sanitizers); every background
 * process is killed (SIGKILL to its process group) and reaped in the
 * teardown, even when an assertion failed half way. Only 127.0.0.1.
 */
#ifndef CARNET_TESTS_CLIPROC_H
#define CARNET_TESTS_CLIPROC_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/resource.h>
#include <sys/types.h>

#include "carnet/carnet.h"
#include "support/proc.h"

/* Sanitizer builds run several times slower: every deadline grows. */
#if defined(__SANITIZE_ADDRESS__)
#define SLOW 5
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define SLOW 5
#endif
#endif
#ifndef SLOW
#define SLOW 1
#endif

#define T(ms) ((int)(ms)*SLOW)
enum { RUN_MS = 60000, START_MS = 10000, BG_MAX = 8 };

typedef struct bg {
  pid_t pid; /* 0: free slot */
  bool reaped;
  int status; /* exit code, or 128 + signal */
  struct rusage ru;
  int out_fd;          /* its stdout, or -1 */
  char err_path[1100]; /* its stderr */
  char addr[64];       /* serve: "127.0.0.1:PORT" */
} bg;

typedef struct fx {
  char *root;
  const char *bin;
  bg procs[BG_MAX];
  char paths[8][1100];
  int npaths;
} fx;

typedef struct ident {
  char key[65], team[33];
} ident;

/* The running test's fixture (set by fx_setup). */
extern fx *F;

uint64_t now_ms(void);
void sleep_ms(unsigned ms);
int fx_setup(void **state);
void bg_reap(bg *b, bool kill_first);
int fx_teardown(void **state);
const char *path(const char *name);
int run_v(const char *dir, proc_result *r, const char *const *args);
char *ok_v(const char *dir, const char *const *args);
json_t *parse_json(const char *text);
/* The "id" of the JSON record `out` holds (what `customer add --json`
 * prints: the plain `customer add` prints the reference code), malloc'd;
 * `out` is freed. */
char *added_id(char *out);
json_t *ok_json_v(const char *dir, const char *const *args);
long long jint(const json_t *o, const char *key);
void jstr(const json_t *o, const char *key, char *out, size_t len);
ident id_of(const char *dir);
void trust_pair(const char *member, const char *newcomer);
void init(const char *dir);
char *digest(const char *dir);
/* Asserts that two replicas hold the same merged state (`carnet debug digest`). */
void assert_same_digest(const char *a, const char *b);
bg *bg_spawn(const char *const *args, const char *err_name);
bool bg_read_line(bg *b, const char *prefix, char *out, size_t len, int timeout_ms);
bg *serve_v(const char *dir, const char *name, const char *const *extra);
bool bg_alive(bg *b);
int bg_wait(bg *b, int timeout_ms);
void stop(bg *b);
void stop_all(void);
char *slurp(const char *file);
bool wait_log(bg *b, int timeout_ms, const char *n1, const char *n2);
int count_log(bg *b, const char *needle);
void dump_log(bg *b);
json_t *sync_json(const char *dir, const char *addr);
bool file_exists(const char *p);
void build_replica(const char *dir, unsigned n, char first_id[CARNET_ID_HEX_LEN + 1]);
long long customer_count(const char *dir);

#define RUN(dir, r, ...) run_v((dir), (r), (const char *const[]){__VA_ARGS__, NULL})
#define OK(dir, ...) ok_v((dir), (const char *const[]){__VA_ARGS__, NULL})
#define OK1(dir, ...) free(OK((dir), __VA_ARGS__))
#define OKJ(dir, ...) ok_json_v((dir), (const char *const[]){__VA_ARGS__, "--json", NULL})
#define SERVE(dir, name) serve_v((dir), (name), NULL)
#define SERVE_WITH(dir, name, ...) serve_v((dir), (name), (const char *const[]){__VA_ARGS__, NULL})

#endif
