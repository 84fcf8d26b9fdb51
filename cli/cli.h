/* cli/cli.h - what the `carnet` command's files share: the invocation
 * context, table-driven option parsing, the field flags that build a patch,
 * error reporting, and the output helpers (JSON, tables).
 *
 * Exit codes: 0 ok, 1 a user error (bad flag or value, not found, no replica,
 * newer schema, ambiguous reference, already exists), 2 an internal error
 * (I/O, corrupt data, out of memory). Every error is one line on stderr,
 * prefixed by the command ("carnet customer add: ...").
 */
#ifndef CARNET_CLI_H
#define CARNET_CLI_H

#include <stdbool.h>
#include <stdio.h>

#include <jansson.h>

#include "carnet/carnet.h"
#include "carnet/node.h"

enum {
  CLI_OK = 0,
  CLI_EUSER = 1,
  CLI_EINTERNAL = 2,
  CLI_HELP = -1, /* --help was printed: exit 0 */
};

/* The invocation: where the replica is and how to print. */
typedef struct cli {
  const char *dir;      /* --dir, or NULL: $CARNET_DIR, then ~/.local/share/carnet */
  const char *key_file; /* --key-file, or NULL: $CARNET_KEY_FILE (cli_key_env) */
  char cmd[64];         /* "carnet customer add": the prefix of every message */
  bool json;            /* --json */
} cli;

/* Appends a word to c->cmd ("carnet" -> "carnet customer"). */
void cli_push(cli *c, const char *word);

/* --- Options ------------------------------------------------------------ */

/* Option ids. A command's own options use ids from CLI_O_USER; field flags
 * (cli_field_flags) use CLI_FIELD_BASE + their index in that table. Ids stay
 * above 255 so that they never collide with a short option's character. */
enum {
  CLI_O_HELP = 256,
  CLI_O_DIR,
  CLI_O_JSON,
  CLI_O_KEY_FILE,
  CLI_O_FORCE = 290, /* --force of `customer add` (cli/write.c) */
  CLI_O_USER = 300,
  CLI_FIELD_BASE = 1000,
};

typedef struct cli_opt {
  const char *name; /* long name, without "--"; NULL ends a table */
  char short_name;  /* 0 when none */
  int has_arg;      /* no_argument, required_argument, optional_argument */
  int id;
  const char *metavar; /* "NAME", shown in --help */
  const char *help;
} cli_opt;

/* What a command accepts, and its --help text. */
typedef struct cli_usage {
  const char *args;    /* positional arguments, e.g. "REF" or "CUSTOMER CHANNEL" */
  const char *summary; /* one sentence */
  const cli_opt *opts; /* the command's own options, or NULL */
  int field_kind;      /* 0, or the carnet_kind whose field flags it takes */
  bool json;           /* takes --json */
  int min_pos, max_pos;
  const char *more; /* extra paragraph for --help, or NULL */
} cli_usage;

typedef struct cli_optval {
  int id;
  const char *arg; /* points into argv; NULL when the option has no value */
} cli_optval;

/* The parsed command line: options in the order given, then positionals. */
typedef struct cli_args {
  cli_optval *opts;
  int nopts;
  char **pos;
  int npos;
} cli_args;

/* Brief: parse argv[1..argc) (argv[0] is the command word) against `u`.
 * Handles --dir, --json and --help itself. Returns CLI_OK, CLI_HELP (usage
 * printed on stdout) or an exit code after printing the error.
 * After the call `a` holds memory to free with cli_args_free. */
int cli_parse(cli *c, const cli_usage *u, int argc, char **argv, cli_args *a);
void cli_args_free(cli_args *a);

/* Brief: print a command's usage on `f`. */
void cli_usage_print(const cli *c, const cli_usage *u, FILE *f);

/* A command group ("customer") is a table of subcommands. */
typedef struct cli_sub {
  const char *name;
  int (*run)(cli *c, int argc, char **argv);
  const char *summary;
} cli_sub;

/* Brief: run the subcommand named by argv[1] (argv[0] is the group word);
 * a leading --dir is accepted; --help lists the subcommands. */
int cli_dispatch(cli *c, const cli_sub *subs, const char *summary, int argc, char **argv);

/* Brief: parse a non-negative decimal integer. Returns false when `s` is not
 * one. */
bool cli_parse_u64(const char *s, uint64_t *out);

/* --- Field flags (cli/fields.c) ---------------------------------------- */

/* Brief: append the long options of the field flags of `kind` to `out` (room
 * for cli_field_flag_count() entries) and return how many were added. */
size_t cli_field_flag_count(void);
size_t cli_field_options(carnet_kind kind, cli_opt *out);

/* Brief: build `p` from the field flags in `a`, in the order given.
 * `*touched` receives a bit (1 << field) for each field written. Resolves
 * --customer REF through `r`. Returns CLI_OK or an exit code after printing
 * the error. */
int cli_patch_build(cli *c, carnet_replica *r, carnet_kind kind, const cli_args *a, carnet_patch *p,
                    uint64_t *touched);

/* cli/write.c: add, edit and delete, the same for every kind. `u` describes
 * the command; edit and delete take the entity's reference as argument. */
int cli_write_add(cli *c, const cli_usage *u, carnet_kind kind, int argc, char **argv);
int cli_write_edit(cli *c, const cli_usage *u, carnet_kind kind, int argc, char **argv);
int cli_write_delete(cli *c, const cli_usage *u, carnet_kind kind, int argc, char **argv);

/* cli/show.c: a record as aligned "field: value" lines (unset fields
 * skipped), and a customer's consents. */
void cli_show_fields(FILE *f, const carnet_record *rec);
/* cli_show_fields with " [conflict]" after the rows of the fields whose bit
 * (1 << field) is set in `marks` (cli_conflict_fields). */
void cli_show_fields_marked(FILE *f, const carnet_record *rec, uint64_t marks);
void cli_show_consents(FILE *f, const carnet_record *rec);
/* Brief: "street, postcode city, country" (malloc'd, never NULL). */
char *cli_address_line(const carnet_record *rec);

/* --- Replica, errors ----------------------------------------------------- */

/* Brief: print "<cmd>: <message>" as one line on stderr; returns `code`. */
int cli_fail(const cli *c, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Brief: report a CARNET_E* error of `r` (its errmsg when set, else the
 * error's message), prefixed by `what` when not NULL; returns its exit
 * code. */
int cli_fail_rc(const cli *c, const carnet_replica *r, int rc, const char *what);

/* Brief: the exit code for a CARNET_E* code. */
int cli_exit_code(int rc);

/* Brief: the replica directory to use (--dir, $CARNET_DIR, ~/.local/...).
 * Writes it to buf. Returns CLI_OK or an exit code after printing. */
int cli_replica_dir(const cli *c, char *buf, size_t len);

/* Brief: the replica clock of the test-only binary carnet-testclock, set by
 * $CARNET_TEST_NOW (Unix ms, or a UTC date or date-time): *set tells
 * whether it is. In the shipped `carnet` it is never set (cli/testclock.c).
 * Returns CLI_OK or an exit code after printing. */
int cli_test_clock(cli *c, carnet_env *env, bool *set);

/* Brief: fill the key material of `env` for the replica's encryption at
 * rest: --key-file, else $CARNET_KEY_FILE; $CARNET_PASSPHRASE; and, when
 * stdin is a terminal and `ask` is set, a prompt that does not echo (cli/key.c). */
void cli_key_env(const cli *c, carnet_env *env, bool ask);

/* Brief: read a passphrase on the terminal without echo; with `twice`,
 * ask again and compare. Returns CLI_OK, or an exit code after printing
 * (no terminal, the two differ). */
int cli_read_passphrase(const cli *c, const char *prompt, bool twice, char *buf, size_t len);

/* Brief: open the replica (with the test binary's clock: cli_test_clock). Returns CLI_OK or an exit
 * code after printing. */
int cli_open(cli *c, carnet_replica **out);

/* Brief: resolve what the user typed to an entity of `kind` (the one
 * resolver of the commands; its hints name the command that lists the
 * kind). Returns CLI_OK or an exit code after printing. */
int cli_resolve(cli *c, carnet_replica *r, carnet_kind kind, const char *ref, carnet_id *out);

/* Brief: resolve then read. After the call the caller frees *out. */
int cli_load(cli *c, carnet_replica *r, carnet_kind kind, const char *ref, carnet_record **out);

/* Brief: a record's label for messages: its reference code, else its hex id.
 * `buf` has room for CARNET_ID_HEX_LEN + 1 bytes. */
const char *cli_label(const carnet_record *rec, char *buf);

/* Brief: ISO-8601 UTC of an HLC ("2025-03-01T09:30:00.123Z"); "" for 0. */
void cli_iso_time(carnet_hlc hlc, char out[32]);

/* Brief: split a phone element "mobile:+336..." into its type and number.
 * The type is written to `type` (at most `tlen`-1 bytes). */
const char *cli_phone_split(const char *elem, char *type, size_t tlen);
/* A stored number ("+E164" or "+E164;ext=N") read back: its E.164 number,
 * extension and line type; false when it does not read (shown as stored). */
bool cli_phone_read(const char *number, carnet_phone *out);
/* Replica names (carnet_replica_name_of): the name this replica knows for
 * `replica_id`, else its 16-hex id, in `out`; and for --json, the name or
 * null (the hex id has its own key). */
#define CLI_REPLICA_LABEL (CARNET_REPLICA_NAME_MAX + 1)
const char *cli_replica_label(carnet_replica *r, uint64_t replica_id, char out[CLI_REPLICA_LABEL]);
json_t *cli_replica_name_json(carnet_replica *r, uint64_t replica_id);

/* Brief: a malloc'd string of the elements joined by `sep` (phones shown by
 * number only when `numbers` is set). Never NULL: exits on ENOMEM. */
char *cli_join(const char *const *v, size_t n, const char *sep, bool numbers);

/* Brief: exit(2) with a message when `p` is NULL (the CLI treats ENOMEM as
 * fatal, STYLE 6). Returns `p`. */
void *cli_oom(void *p);

/* --- Output ----------------------------------------------------------- */

/* cli/json.c */
json_t *cli_json_record(const carnet_record *rec);
/* An attachment as `carnet attachments --json` prints it (cli/cmd_attach.c). */
json_t *cli_json_attachment(const carnet_attachment *a);
json_t *cli_json_consents(const carnet_record *rec);
json_t *cli_json_consent_log(const carnet_record *rec);
json_t *cli_json_str(const char *s); /* NULL -> null; bad UTF-8 is repaired */
/* Brief: json_object_set_new that treats failure as out of memory. */
void cli_json_put(json_t *o, const char *key, json_t *v);
void cli_json_push(json_t *a, json_t *v);
/* Brief: print `j` on stdout and release it. Returns CLI_OK or 2. */
int cli_json_print(const cli *c, json_t *j);
/* Brief: one element of a JSON array as text, so a listing of 100,000
 * records is written as it is read, never held whole: `n` is the element's
 * index (0 opens the array with "["); cli_json_chunk_end(n) closes it ("[]"
 * when n is 0). The chunks together are what cli_json_print prints for the
 * whole array. Releases `j`; returns text to free(). */
char *cli_json_chunk(size_t n, json_t *j);
const char *cli_json_chunk_end(size_t n);
/* Brief: the same for an array `depth` levels inside the printed value (1:
 * the value of a key of the top object); its caller closes it ("[]", or a
 * line break, 2 depth spaces and "]"). */
char *cli_json_chunk_at(size_t n, json_t *j, unsigned depth);

/* cli/table.c */
typedef struct cli_table cli_table;
cli_table *cli_table_new(size_t ncols, const char *const *headers);
void cli_table_add(cli_table *t, const char *const *cells);
size_t cli_table_rows(const cli_table *t);
/* Brief: print the header and rows, each line starting with `indent` spaces. */
void cli_table_print(const cli_table *t, FILE *f, int indent);
void cli_table_free(cli_table *t);
/* Brief: "label:" padded to `width`, then the value, on one line. Record
 * views use CLI_LABEL_W so that their values line up. */
enum { CLI_LABEL_W = 11 };
void cli_kv(FILE *f, int width, const char *label, const char *value);
/* Brief: number of terminal columns of a UTF-8 string (code points). */
size_t cli_utf8_width(const char *s);
/* Brief: length of the valid UTF-8 sequence at `s` (1-4), 0 when invalid. */
size_t cli_utf8_seq(const char *s);

/* --- Commands --------------------------------------------------------- */

int cli_cmd_init(cli *c, int argc, char **argv);
int cli_cmd_customer(cli *c, int argc, char **argv);
int cli_cmd_contact(cli *c, int argc, char **argv);
int cli_cmd_attach(cli *c, int argc, char **argv);      /* cli/cmd_attach.c */
int cli_cmd_attachments(cli *c, int argc, char **argv); /* cli/cmd_attach.c */
int cli_cmd_attachment(cli *c, int argc, char **argv);  /* cli/cmd_attach.c */
int cli_cmd_consent(cli *c, int argc, char **argv);
int cli_cmd_changes(cli *c, int argc, char **argv);
int cli_cmd_serve(cli *c, int argc, char **argv);     /* cli/cmd_sync.c */
int cli_cmd_sync(cli *c, int argc, char **argv);      /* cli/cmd_sync.c */
int cli_cmd_join(cli *c, int argc, char **argv);      /* cli/cmd_sync.c */
int cli_cmd_invite(cli *c, int argc, char **argv);    /* cli/cmd_peer.c */
int cli_cmd_peer(cli *c, int argc, char **argv);      /* cli/cmd_peer.c */
int cli_cmd_id(cli *c, int argc, char **argv);        /* cli/cmd_status.c */
int cli_cmd_config(cli *c, int argc, char **argv);    /* cli/cmd_config.c */
int cli_cmd_status(cli *c, int argc, char **argv);    /* cli/cmd_status.c */
int cli_cmd_passwd(cli *c, int argc, char **argv);    /* cli/cmd_passwd.c */
int cli_cmd_conflicts(cli *c, int argc, char **argv); /* cli/cmd_conflicts.c */
/* The conflicts of record `id` (carnet/conflict.h) into `arr` (--json) or
 * as a "conflicts:" section on `f`; nothing when it has none. */
int cli_show_conflicts(cli *c, carnet_replica *r, const carnet_id *id, json_t *arr, FILE *f);
/* The fields of `id` left with a value other than a conflict's loser (not
 * restored), as bits 1 << field; 0 on any error. */
uint64_t cli_conflict_fields(carnet_replica *r, const carnet_id *id);
json_t *cli_json_conflict(carnet_replica *r, const carnet_conflict *cf, const char *record);
int cli_cmd_backup(cli *c, int argc, char **argv);  /* cli/cmd_backup.c */
int cli_cmd_restore(cli *c, int argc, char **argv); /* cli/cmd_backup.c */
/* Brief: "passphrase", "key file"... (cli/cmd_passwd.c). */
const char *cli_key_kind_text(carnet_key_kind k);
int cli_cmd_debug(cli *c, int argc, char **argv);  /* cli/cmd_debug.c (not in --help) */
int cli_cmd_import(cli *c, int argc, char **argv); /* cli/cmd_import.c */
int cli_cmd_web(cli *c, int argc, char **argv);    /* cli/cmd_web.c */

/* The web console (cli/cmd_web.c, web/web.h), shared by `carnet web` and
 * `carnet serve --http`. */
struct web_server;
/* Brief: refuse (exit code 1, printed) an address the console would not
 * listen on (not loopback). */
int cli_web_check(cli *c, const char *listen);
/* Brief: start the console on `listen` for the replica of `node` (before
 * the node runs), print 'console: URL' and write it to DIR/web.url.
 * Returns CLI_OK or an exit code after printing. */
int cli_web_start(cli *c, carnet_replica *r, carnet_node *node, const char *listen, bool sync,
                  struct web_server **out);
/* Brief: stop it (once the node has stopped) and remove DIR/web.url. NULL:
 * nothing. */
void cli_web_stop(carnet_replica *r, struct web_server *s);
/* Brief: a carnet_node_opts.event callback whose data is a `struct
 * web_server **` (NULL until started): the page's peer events. */
void cli_web_peer_event(void *data, const carnet_peer_event *ev);
int cli_cmd_export(cli *c, int argc, char **argv); /* cli/cmd_export.c */

/* The CRM records (cli/crm.h has what they share). */
int cli_cmd_doc(cli *c, int argc, char **argv);       /* cli/cmd_doc.c */
int cli_cmd_action(cli *c, int argc, char **argv);    /* cli/cmd_action.c */
int cli_cmd_reminder(cli *c, int argc, char **argv);  /* cli/cmd_reminder.c */
int cli_cmd_reminders(cli *c, int argc, char **argv); /* cli/cmd_reminder.c */
int cli_cmd_history(cli *c, int argc, char **argv);   /* cli/cmd_history.c */
int cli_cmd_stats(cli *c, int argc, char **argv);     /* cli/cmd_history.c */
int cli_cmd_dupes(cli *c, int argc, char **argv);     /* cli/cmd_dupes.c */
int cli_cmd_merge(cli *c, int argc, char **argv);     /* cli/cmd_merge.c */
int cli_cmd_check(cli *c, int argc, char **argv);     /* cli/cmd_check.c */
int cli_cmd_salvage(cli *c, int argc, char **argv);   /* cli/cmd_salvage.c */
int cli_cmd_unmerge(cli *c, int argc, char **argv);   /* cli/cmd_merge.c */
/* `carnet dupes review|dismiss|set-aside` (cli/cmd_review.c): *handled is
 * set when argv[1] names one of them. */
int cli_dupes_sub(cli *c, int argc, char **argv, bool *handled);

/* The data subject's rights (cli/cmd_erase.c). */
int cli_cmd_erase(cli *c, int argc, char **argv);
int cli_cmd_erasures(cli *c, int argc, char **argv);
int cli_cmd_subject_export(cli *c, int argc, char **argv);

/* Brief: print on stderr the likely duplicates of customer `id` (as a
 * warning when `force`, else as the reason for a refusal, with a hint);
 * *found receives their number. Sees the open transaction, so it runs
 * between carnet_record_create and commit. Returns CLI_OK or an exit code after
 * printing (cli/cmd_dupes.c). */
int cli_dupes_warn(cli *c, carnet_replica *r, const carnet_id *id, bool force, size_t *found);

/* --- Sync helpers (cli/net.c) ------------------------------------------ */

/* Brief: lowercase hex of `len` bytes into `out` (2 * len + 1 bytes). */
const char *cli_hex(const void *bytes, size_t len, char *out);

/* Brief: parse exactly `len` bytes given as 2 * len hex characters; `what`
 * names the value in the error. Returns CLI_OK or an exit code after
 * printing. */
int cli_parse_hex(const cli *c, const char *what, const char *text, uint8_t *out, size_t len);

/* Brief: parse a public key given as 64 hex characters. Returns CLI_OK or an
 * exit code after printing. */
int cli_parse_pk(const cli *c, const char *text, uint8_t pk[CARNET_PK_BYTES]);

/* Brief: parse a duration: "90" (seconds), "500ms", "30s", "10m", "2h",
 * "7d". Returns false when `s` is not one (or is 0 or absurdly long). */
bool cli_parse_duration(const char *s, uint64_t *ms);

/* Brief: ISO-8601 UTC of Unix milliseconds; "" for 0. */
void cli_iso_ms(uint64_t ms, char out[32]);

/* A peer's live status as `carnet status` and `carnet peer list` show it
 * (carnet_peer_info): text cells for a table, and the same in JSON. */
typedef struct cli_peer_live {
  char state[8];         /* "online" / "offline" */
  char last_contact[32]; /* ISO-8601, "" if none */
  char last_sync[32];
  char acked[24];
  char pending[24];
} cli_peer_live;
void cli_peer_live_text(const carnet_peer_info *p, cli_peer_live *out);
/* Brief: put online, last_contact, last_sync, acked and pending into `o`. */
void cli_peer_live_json(json_t *o, const carnet_peer_info *p);

/* Brief: the file where a running `carnet serve` writes its address
 * (DIR/serve.addr) for `carnet invite`, into `out`. */
void cli_serve_addr_path(carnet_replica *r, char *out, size_t len);

/* Shared by customer show and contact commands (cli/cmd_contact.c). */
int cli_contacts_of(cli *c, carnet_replica *r, const carnet_id *customer, json_t *arr, FILE *human);

#endif
