/* cli/key.c - the key that opens the replica's files (encryption at rest):
 * --key-file or $CARNET_KEY_FILE, $CARNET_PASSPHRASE, or a prompt on the
 * terminal that does not echo. See docs/DESIGN-NOTES.md, "Encryption at
 * rest", and `carnet passwd --help`.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include <sodium.h>

#include "cli/cli.h"

/* Read one line from the terminal with echo off. false: no terminal. */
static bool tty_line(const char *prompt, char *buf, size_t len) {
  FILE *tty = fopen("/dev/tty", "r+");
  struct termios old, quiet;
  bool restore = false, ok;
  if (tty == NULL) return false;
  fputs(prompt, tty);
  fflush(tty);
  if (tcgetattr(fileno(tty), &old) == 0) {
    quiet = old;
    quiet.c_lflag &= ~(tcflag_t)ECHO;
    quiet.c_lflag |= ECHONL;
    restore = tcsetattr(fileno(tty), TCSADRAIN, &quiet) == 0;
  }
  ok = fgets(buf, (int)len, tty) != NULL;
  if (restore) tcsetattr(fileno(tty), TCSADRAIN, &old);
  fclose(tty);
  if (!ok) {
    buf[0] = '\0';
    return false;
  }
  buf[strcspn(buf, "\r\n")] = '\0';
  return true;
}

int cli_read_passphrase(const cli *c, const char *prompt, bool twice, char *buf, size_t len) {
  char again[1024];
  if (!isatty(STDIN_FILENO) || !tty_line(prompt, buf, len))
    return cli_fail(c, CLI_EUSER, "no terminal to ask for the passphrase: set CARNET_PASSPHRASE");
  if (!twice || buf[0] == '\0') return CLI_OK;
  bool same = tty_line("Repeat it: ", again, sizeof again) && strcmp(buf, again) == 0;
  sodium_memzero(again, sizeof again);
  if (!same) {
    sodium_memzero(buf, len);
    return cli_fail(c, CLI_EUSER, "the two passphrases differ: nothing was changed");
  }
  return CLI_OK;
}

/* carnet_env.ask_passphrase: the library asks when the replica needs one
 * (and reports a refusal itself, so nothing is printed here). */
static int ask(void *ctx, const char *dir, int is_new, char *buf, size_t len) {
  char prompt[4200], again[1024];
  (void)ctx;
  if (is_new)
    snprintf(
        prompt, sizeof prompt,
        "Passphrase for the new replica in %s (empty: none, a key file in the directory): ", dir);
  else
    snprintf(prompt, sizeof prompt, "Passphrase for replica %s: ", dir);
  if (!tty_line(prompt, buf, len)) return CARNET_EKEY;
  if (!is_new || buf[0] == '\0') return 0;
  bool same = tty_line("Repeat it: ", again, sizeof again) && strcmp(buf, again) == 0;
  sodium_memzero(again, sizeof again);
  if (same) return 0;
  sodium_memzero(buf, len);
  return CARNET_EINVAL;
}

void cli_key_env(const cli *c, carnet_env *env, bool prompt) {
  const char *kf = getenv("CARNET_KEY_FILE");
  const char *pass = getenv("CARNET_PASSPHRASE");
  env->key_file = c->key_file && c->key_file[0] ? c->key_file : (kf && kf[0] ? kf : NULL);
  env->passphrase = pass && pass[0] ? pass : NULL;
  if (prompt && isatty(STDIN_FILENO)) env->ask_passphrase = ask;
}
