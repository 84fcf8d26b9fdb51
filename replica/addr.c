/* replica/addr.c - "host:port" parsing and formatting (see addr.h). */
#include "replica/addr.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

#include "carnet/error.h"
#include "carnet/node.h"

static int bad(char *why, size_t why_len, const char *fmt, const char *text) {
  if (why && why_len) snprintf(why, why_len, fmt, text);
  return CARNET_EINVAL;
}

int carnet__addr_parse(const char *text, bool allow_port0, carnet__hostport *out, char *why,
                       size_t why_len) {
  const char *colon, *host = text;
  size_t hlen;
  unsigned long port = 0;
  memset(out, 0, sizeof *out);
  if (why && why_len) why[0] = '\0';
  if (text == NULL || text[0] == '\0')
    return bad(why, why_len, "empty address%s: give HOST:PORT", "");
  if (strlen(text) >= CARNET__ADDR_MAX)
    return bad(why, why_len, "address too long: '%.40s...'", text);
  if (text[0] == '[') {
    const char *close = strchr(text, ']');
    if (close == NULL || close[1] != ':')
      return bad(why, why_len, "invalid address '%s': write an IPv6 address as [::1]:PORT", text);
    host = text + 1;
    hlen = (size_t)(close - host);
    colon = close + 1;
  } else {
    colon = strrchr(text, ':');
    if (colon == NULL || memchr(text, ':', (size_t)(colon - text)) != NULL)
      return bad(why, why_len, "invalid address '%s': give HOST:PORT, e.g. 127.0.0.1:7373", text);
    hlen = (size_t)(colon - text);
  }
  if (hlen == 0) return bad(why, why_len, "invalid address '%s': the host is missing", text);
  const char *p = colon + 1;
  if (*p == '\0') return bad(why, why_len, "invalid address '%s': the port is missing", text);
  for (; *p; p++) {
    if (*p < '0' || *p > '9' || port > 65535)
      return bad(why, why_len, "invalid address '%s': the port must be a number up to 65535", text);
    port = port * 10 + (unsigned long)(*p - '0');
  }
  if (port > 65535)
    return bad(why, why_len, "invalid address '%s': the port must be a number up to 65535", text);
  if (port == 0 && !allow_port0)
    return bad(why, why_len, "invalid address '%s': port 0 cannot be dialled", text);
  for (size_t i = 0; i < hlen; i++)
    if ((unsigned char)host[i] <= ' ' || host[i] == '/' || host[i] == '[' || host[i] == ']')
      return bad(why, why_len, "invalid address '%s': bad character in the host", text);
  memcpy(out->host, host, hlen);
  out->host[hlen] = '\0';
  out->port = (uint16_t)port;
  return 0;
}

bool carnet__addr_numeric(const carnet__hostport *hp, struct sockaddr_storage *out) {
  memset(out, 0, sizeof *out);
  struct sockaddr_in *v4 = (struct sockaddr_in *)out;
  struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)out;
  if (inet_pton(AF_INET, hp->host, &v4->sin_addr) == 1) {
    v4->sin_family = AF_INET;
    v4->sin_port = htons(hp->port);
    return true;
  }
  if (inet_pton(AF_INET6, hp->host, &v6->sin6_addr) == 1) {
    v6->sin6_family = AF_INET6;
    v6->sin6_port = htons(hp->port);
    return true;
  }
  return false;
}

void carnet__addr_format(const struct sockaddr *sa, char *out, size_t out_len) {
  char ip[INET6_ADDRSTRLEN] = "";
  if (sa && sa->sa_family == AF_INET) {
    const struct sockaddr_in *v4 = (const struct sockaddr_in *)sa;
    inet_ntop(AF_INET, &v4->sin_addr, ip, sizeof ip);
    snprintf(out, out_len, "%s:%u", ip, (unsigned)ntohs(v4->sin_port));
  } else if (sa && sa->sa_family == AF_INET6) {
    const struct sockaddr_in6 *v6 = (const struct sockaddr_in6 *)sa;
    inet_ntop(AF_INET6, &v6->sin6_addr, ip, sizeof ip);
    snprintf(out, out_len, "[%s]:%u", ip, (unsigned)ntohs(v6->sin6_port));
  } else {
    snprintf(out, out_len, "?");
  }
}

int carnet_node_addr_parse(const char *hostport, char *host, size_t host_len, uint16_t *port,
                           char *why, size_t why_len) {
  carnet__hostport hp;
  int rc = carnet__addr_parse(hostport, false, &hp, why, why_len);
  if (rc) return rc;
  size_t n = strlen(hp.host);
  if (host && n >= host_len) {
    if (why && why_len) snprintf(why, why_len, "no room for the host of '%s'", hostport);
    return CARNET_ELIMIT;
  }
  if (host) memcpy(host, hp.host, n + 1);
  if (port) *port = hp.port;
  return 0;
}
