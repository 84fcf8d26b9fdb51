/* engine/base/error.c - names and messages of the CARNET_E* codes. */
#include "carnet/error.h"

const char *carnet_error_message(int err) {
  switch (err) {
  case 0:
    return "success";
#define CARNET__ERR_MSG(name, value, msg)                                                          \
  case CARNET_##name:                                                                              \
    return msg;
    CARNET_ERRNO_MAP(CARNET__ERR_MSG)
#undef CARNET__ERR_MSG
  default:
    return "unknown error";
  }
}

const char *carnet_error_name(int err) {
  switch (err) {
  case 0:
    return "CARNET_OK";
#define CARNET__ERR_NAME(name, value, msg)                                                         \
  case CARNET_##name:                                                                              \
    return "CARNET_" #name;
    CARNET_ERRNO_MAP(CARNET__ERR_NAME)
#undef CARNET__ERR_NAME
  default:
    return "CARNET_EUNKNOWN";
  }
}
