/* web/assets.c - looking up the embedded console files. */
#include "assets.h"

#include <string.h>

const web_asset *web_asset_find(const char *path) {
  for (size_t i = 0; i < web_assets_count; i++)
    if (strcmp(web_assets[i].path, path) == 0) return &web_assets[i];
  return NULL;
}
