/* replica/addr.h - "host:port" text, as users type it and as the peer list
 * and invites store it, to and from socket addresses.
 *
 * Accepted forms: "127.0.0.1:7373", "[::1]:7373", "office-pc.lan:7373".
 * A port is 0..65535 (0 only where the caller allows it: listening on an
 * ephemeral port).
 */
#ifndef CARNET_REPLICA_ADDR_H
#define CARNET_REPLICA_ADDR_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

/* The longest "host:port" text, NUL included (a DNS name is at most 253
 * characters; the invite format allows 255 bytes of address). */
#define CARNET__ADDR_MAX 256u
/* Room for a numeric address: "[" IPv6 "]:" port and a NUL. */
#define CARNET__ADDR_NUMERIC_MAX 64u

typedef struct carnet__hostport {
  char host[CARNET__ADDR_MAX]; /* without the IPv6 brackets */
  uint16_t port;
} carnet__hostport;

/* Brief: split "host:port". `allow_port0` accepts port 0. Returns 0, or
 * CARNET_EINVAL with a one-line reason in `why` (why_len bytes; may be
 * NULL). */
int carnet__addr_parse(const char *text, bool allow_port0, carnet__hostport *out, char *why,
                       size_t why_len);

/* Brief: a numeric host (IPv4 or IPv6 literal) as a socket address. Returns
 * true when `host` is one; false for a name that needs a DNS lookup. */
bool carnet__addr_numeric(const carnet__hostport *hp, struct sockaddr_storage *out);

/* Brief: "1.2.3.4:port" or "[::1]:port" of a socket address, written to
 * `out` (CARNET__ADDR_NUMERIC_MAX bytes is enough); "?" when unknown. */
void carnet__addr_format(const struct sockaddr *sa, char *out, size_t out_len);

#endif
