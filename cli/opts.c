/* cli/opts.c - table-driven command lines: every command describes its
 * options in a cli_usage; one parser (getopt_long) and one --help printer
 * serve them all, so flags behave the same in every command.
 */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"

static const cli_opt opt_json = {
    .name = "json", .has_arg = no_argument, .id = CLI_O_JSON, .help = "print JSON instead of text"};
static const cli_opt opt_dir = {
    .name = "dir",
    .has_arg = required_argument,
    .id = CLI_O_DIR,
    .metavar = "DIR",
    .help = "replica directory (default: $CARNET_DIR, else ~/.local/share/carnet)"};
static const cli_opt opt_key_file = {
    .name = "key-file",
    .has_arg = required_argument,
    .id = CLI_O_KEY_FILE,
    .metavar = "PATH",
    .help = "the replica's key file (default: $CARNET_KEY_FILE; see 'carnet passwd --help')"};
static const cli_opt opt_help = {.name = "help",
                                 .short_name = 'h',
                                 .has_arg = no_argument,
                                 .id = CLI_O_HELP,
                                 .help = "show this help"};

void cli_push(cli *c, const char *word) {
  size_t n = strlen(c->cmd);
  snprintf(c->cmd + n, sizeof c->cmd - n, "%s%s", n ? " " : "", word);
}

/* Every option of a command, in --help order: its own, its field flags, then
 * the common ones. `out` has room for own + field flags + 4. */
static size_t collect_opts(const cli_usage *u, cli_opt *out) {
  size_t n = 0;
  for (const cli_opt *o = u->opts; o && o->name; o++)
    out[n++] = *o;
  if (u->field_kind) n += cli_field_options((carnet_kind)u->field_kind, out + n);
  if (u->json) out[n++] = opt_json;
  out[n++] = opt_dir;
  out[n++] = opt_key_file;
  out[n++] = opt_help;
  return n;
}

static size_t opts_room(const cli_usage *u) {
  size_t n = 4 + (u->field_kind ? cli_field_flag_count() : 0);
  for (const cli_opt *o = u->opts; o && o->name; o++)
    n++;
  return n;
}

static void print_opt(const cli_opt *o, FILE *f) {
  char left[64];
  int n = o->short_name ? snprintf(left, sizeof left, "  -%c, --%s", o->short_name, o->name)
                        : snprintf(left, sizeof left, "  --%s", o->name);
  if (o->has_arg == required_argument)
    snprintf(left + n, sizeof left - (size_t)n, " %s", o->metavar ? o->metavar : "VALUE");
  else if (o->has_arg == optional_argument)
    snprintf(left + n, sizeof left - (size_t)n, "[=%s]", o->metavar ? o->metavar : "VALUE");
  if (strlen(left) < 28)
    fprintf(f, "%-28s%s\n", left, o->help);
  else
    fprintf(f, "%s\n%-28s%s\n", left, "", o->help);
}

void cli_usage_print(const cli *c, const cli_usage *u, FILE *f) {
  cli_opt *all = cli_oom(calloc(opts_room(u), sizeof *all));
  size_t n = collect_opts(u, all);
  fprintf(f, "usage: %s%s%s [options]\n\n%s\n", c->cmd, u->args ? " " : "", u->args ? u->args : "",
          u->summary);
  fprintf(f, "\noptions:\n");
  for (size_t i = 0; i < n; i++)
    print_opt(&all[i], f);
  if (u->more) fprintf(f, "\n%s\n", u->more);
  free(all);
}

/* The one-line error for an option getopt refused. `arg` is the argv element
 * ("--foo", "--json=1", "--co"). */
static int bad_option(const cli *c, const char *arg, const cli_opt *all, size_t n) {
  if (strncmp(arg, "--", 2) != 0)
    return cli_fail(c, CLI_EUSER, "unknown option '%s' (see '%s --help')", arg, c->cmd);
  const char *name = arg + 2;
  size_t len = strcspn(name, "=");
  size_t matches = 0;
  char list[256] = "";
  for (size_t i = 0; i < n; i++) {
    if (strncmp(all[i].name, name, len) != 0) continue;
    if (all[i].name[len] == '\0' && name[len] == '=')
      return cli_fail(c, CLI_EUSER, "option '--%s' takes no value (see '%s --help')", all[i].name,
                      c->cmd);
    size_t used = strlen(list);
    snprintf(list + used, sizeof list - used, "%s--%s", matches ? ", " : "", all[i].name);
    matches++;
  }
  if (matches > 1)
    return cli_fail(c, CLI_EUSER, "ambiguous option '--%.*s': could be %s", (int)len, name, list);
  return cli_fail(c, CLI_EUSER, "unknown option '--%.*s' (see '%s --help')", (int)len, name,
                  c->cmd);
}

static const cli_opt *find_short(const cli_opt *all, size_t n, int ch) {
  for (size_t i = 0; i < n; i++)
    if (all[i].short_name == ch) return &all[i];
  return NULL;
}

/* A word of u->args ("CUSTOMER CHANNEL", k = 1 -> "CHANNEL"). */
static void arg_name(const char *args, int k, char *out, size_t len) {
  const char *p = args ? args : "ARG";
  for (int i = 0; i < k && strchr(p, ' '); i++)
    p = strchr(p, ' ') + 1;
  snprintf(out, len, "%.*s", (int)strcspn(p, " "), p);
}

static int check_positionals(const cli *c, const cli_usage *u, const cli_args *a) {
  char name[32];
  if (a->npos < u->min_pos) {
    arg_name(u->args, a->npos, name, sizeof name);
    return cli_fail(c, CLI_EUSER, "missing %s (see '%s --help')", name, c->cmd);
  }
  if (a->npos > u->max_pos) {
    const char *extra = a->pos[u->max_pos];
    if (u->field_kind == CARNET_KIND_CUSTOMER)
      return cli_fail(c, CLI_EUSER,
                      "unexpected argument '%s' (values need their flag; a company name is "
                      "given as --company='%s')",
                      extra, extra);
    return cli_fail(c, CLI_EUSER, "unexpected argument '%s' (see '%s --help')", extra, c->cmd);
  }
  return CLI_OK;
}

/* Runs getopt_long over argv; fills a->opts. */
static int scan(cli *c, const cli_usage *u, int argc, char **argv, const cli_opt *all, size_t n,
                cli_args *a) {
  struct option *lo = cli_oom(calloc(n + 1, sizeof *lo));
  char shorts[32] = ":";
  int rc = CLI_OK, ch;
  for (size_t i = 0; i < n; i++) {
    lo[i] = (struct option){all[i].name, all[i].has_arg, NULL, all[i].id};
    if (all[i].short_name && strlen(shorts) + 3 < sizeof shorts) {
      size_t l = strlen(shorts);
      shorts[l] = all[i].short_name;
      shorts[l + 1] = all[i].has_arg == required_argument ? ':' : '\0';
      shorts[l + 2] = '\0';
    }
  }
  optind = 0; /* glibc: start over, argv[0] is the command word */
  opterr = 0;
  while (rc == CLI_OK && (ch = getopt_long(argc, argv, shorts, lo, NULL)) != -1) {
    const cli_opt *s = ch < 256 ? find_short(all, n, ch) : NULL;
    int id = s ? s->id : ch;
    if (ch == '?') {
      if (optopt > 0 && optopt < 256) {
        rc = cli_fail(c, CLI_EUSER, "unknown option '-%c' (see '%s --help')", optopt, c->cmd);
      } else {
        rc = bad_option(c, argv[optind - 1], all, n);
      }
    } else if (ch == ':') {
      if (optopt > 0 && optopt < 256)
        rc = cli_fail(c, CLI_EUSER, "option '-%c' needs a value (see '%s --help')", optopt, c->cmd);
      else
        rc = cli_fail(c, CLI_EUSER, "option '%s' needs a value (see '%s --help')", argv[optind - 1],
                      c->cmd);
    } else if (id == CLI_O_HELP) {
      cli_usage_print(c, u, stdout);
      rc = CLI_HELP;
    } else if (id == CLI_O_DIR) {
      c->dir = optarg;
    } else if (id == CLI_O_KEY_FILE) {
      c->key_file = optarg;
    } else if (id == CLI_O_JSON) {
      c->json = true;
    } else {
      a->opts[a->nopts++] = (cli_optval){id, optarg};
    }
  }
  free(lo);
  if (rc == CLI_OK) {
    a->pos = argv + optind;
    a->npos = argc - optind;
  }
  return rc;
}

int cli_parse(cli *c, const cli_usage *u, int argc, char **argv, cli_args *a) {
  memset(a, 0, sizeof *a);
  a->opts = cli_oom(calloc((size_t)argc + 1, sizeof *a->opts));
  cli_opt *all = cli_oom(calloc(opts_room(u), sizeof *all));
  size_t n = collect_opts(u, all);
  int rc = scan(c, u, argc, argv, all, n, a);
  if (rc == CLI_OK) rc = check_positionals(c, u, a);
  free(all);
  if (rc != CLI_OK) cli_args_free(a);
  return rc;
}

void cli_args_free(cli_args *a) {
  free(a->opts);
  memset(a, 0, sizeof *a);
}

bool cli_parse_u64(const char *s, uint64_t *out) {
  uint64_t v = 0;
  if (s == NULL || *s == '\0') return false;
  for (; *s; s++) {
    if (*s < '0' || *s > '9') return false;
    if (v > (UINT64_MAX - (uint64_t)(*s - '0')) / 10) return false;
    v = v * 10 + (uint64_t)(*s - '0');
  }
  *out = v;
  return true;
}

/* --- Command groups ----------------------------------------------------- */

static void group_usage(const cli *c, const cli_sub *subs, const char *summary, FILE *f) {
  bool top = strcmp(c->cmd, "carnet") == 0;
  fprintf(f, "usage: %s%s COMMAND [options]\n\n%s\n\ncommands:\n", c->cmd,
          top ? " [--dir DIR]" : "", summary);
  int w = 10; /* the names' column: the longest name and two spaces */
  for (const cli_sub *s = subs; s->name; s++)
    if (s->summary && (int)strlen(s->name) > w) w = (int)strlen(s->name);
  for (const cli_sub *s = subs; s->name; s++)
    if (s->summary) fprintf(f, "  %-*s  %s\n", w, s->name, s->summary); /* NULL: hidden */
  if (top) fprintf(f, "\n  %-*s  print the version\n", w, "--version");
  fprintf(f, "\nRun '%s COMMAND --help' for the options of a command.\n", c->cmd);
}

static void sub_names(const cli_sub *subs, char *out, size_t len) {
  size_t shown = 0, k = 0;
  out[0] = '\0';
  for (const cli_sub *s = subs; s->name; s++)
    shown += s->summary != NULL; /* hidden commands are not suggested */
  for (const cli_sub *s = subs; s->name; s++) {
    if (s->summary == NULL) continue;
    size_t used = strlen(out);
    snprintf(out + used, len - used, "%s%s", k == 0 ? "" : (k + 1 < shown ? ", " : " or "),
             s->name);
    k++;
  }
}

int cli_dispatch(cli *c, const cli_sub *subs, const char *summary, int argc, char **argv) {
  int i = 1;
  char names[256];
  sub_names(subs, names, sizeof names);
  for (; i < argc && argv[i][0] == '-'; i++) {
    if (strcmp(argv[i], "--dir") == 0 && i + 1 < argc) {
      c->dir = argv[++i];
    } else if (strncmp(argv[i], "--dir=", 6) == 0) {
      c->dir = argv[i] + 6;
    } else if (strcmp(argv[i], "--key-file") == 0 && i + 1 < argc) {
      c->key_file = argv[++i];
    } else if (strncmp(argv[i], "--key-file=", 11) == 0) {
      c->key_file = argv[i] + 11;
    } else if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
      group_usage(c, subs, summary, stdout);
      return CLI_HELP;
    } else if (strcmp(argv[i], "--version") == 0 && strcmp(c->cmd, "carnet") == 0) {
      printf("carnet %s\n", carnet_version(NULL, NULL, NULL));
      return CLI_HELP;
    } else if (strcmp(argv[i], "--dir") == 0 || strcmp(argv[i], "--key-file") == 0) {
      return cli_fail(c, CLI_EUSER, "option '%s' needs a value (see '%s --help')", argv[i], c->cmd);
    } else {
      return cli_fail(c, CLI_EUSER, "unknown option '%s' (see '%s --help')", argv[i], c->cmd);
    }
  }
  if (i >= argc)
    return cli_fail(c, CLI_EUSER, "missing command: %s (see '%s --help')", names, c->cmd);
  if (strcmp(argv[i], "help") == 0) {
    group_usage(c, subs, summary, stdout);
    return CLI_HELP;
  }
  for (const cli_sub *s = subs; s->name; s++) {
    if (strcmp(s->name, argv[i]) != 0) continue;
    cli_push(c, s->name);
    return s->run(c, argc - i, argv + i);
  }
  return cli_fail(c, CLI_EUSER, "unknown command '%s': use %s (see '%s --help')", argv[i], names,
                  c->cmd);
}
