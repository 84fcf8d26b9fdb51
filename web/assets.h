/* web/assets.h - the console's files (web/assets/), embedded in the binary
 * at build time (cmake/embed-assets.cmake writes web_assets.c in the build
 * tree), so the page is served offline, from the binary alone. */
#ifndef CARNET_WEB_ASSETS_H
#define CARNET_WEB_ASSETS_H

#include <stddef.h>

typedef struct web_asset {
  const char *path; /* "/index.html" */
  const char *type; /* "text/html; charset=utf-8" */
  const unsigned char *data;
  size_t len;
  const char *etag; /* "\"<sha256 prefix>\"": changes when the file does */
} web_asset;

/* The generated table, in path order. */
extern const web_asset web_assets[];
extern const size_t web_assets_count;

/* Brief: the asset at `path`, or NULL. */
const web_asset *web_asset_find(const char *path);

#endif
