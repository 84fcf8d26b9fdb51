/* engine/crm/action.c - names of commercial action channels and rating levels. */
#include <string.h>

#include "carnet/document.h"

static const char *const channels[CARNET_ACH_MAX_] = {NULL,    "email",      "phone", "mail",
                                                      "visit", "trade_fair", "sms",   "other"};

const char *carnet_action_channel_name(carnet_action_channel ch) {
  return ch >= 1 && ch < CARNET_ACH_MAX_ ? channels[ch] : NULL;
}

carnet_action_channel carnet_action_channel_parse(const char *name) {
  for (int i = 1; name && i < CARNET_ACH_MAX_; i++)
    if (strcmp(channels[i], name) == 0) return (carnet_action_channel)i;
  return (carnet_action_channel)0;
}

/* Colours are a traffic light on the same scale as the digits, green being
 * the best a colour says (4): "won" thresholds apply to both. */
int carnet_rating_level(const char *rating) {
  static const char *const colours[] = {"red", "orange", "yellow", "green"};
  if (rating == NULL) return 0;
  if (rating[0] >= '1' && rating[0] <= '5' && rating[1] == '\0') return rating[0] - '0';
  for (int i = 0; i < 4; i++)
    if (strcmp(rating, colours[i]) == 0) return i + 1;
  return 0;
}
