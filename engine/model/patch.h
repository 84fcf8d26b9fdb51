/* engine/model/patch.h - the patch a caller builds before a write (not API). */
#ifndef CARNET_ENGINE_PATCH_H
#define CARNET_ENGINE_PATCH_H

#include "carnet/record.h"
#include "engine/base/arena.h"

typedef enum carnet__op_kind {
  CARNET__OP_SET,    /* scalar set/clear, or set element add */
  CARNET__OP_REMOVE, /* set element remove; phone remove */
  CARNET__OP_PHONE_ADD,
  CARNET__OP_PHONE_REPLACE,
  CARNET__OP_CUSTOM,
  CARNET__OP_CONSENT,
  CARNET__OP_DELETE,
} carnet__op_kind;

typedef struct carnet__op {
  carnet__op_kind op;
  carnet_field field;
  char *value; /* may be NULL */
  char *aux;   /* phone type, custom name, consent note */
  int num;     /* custom type, consent channel */
  bool flag;   /* consent granted */
} carnet__op;

struct carnet_patch {
  carnet_kind kind;
  carnet__op *ops;
  size_t n, cap;
  /* The ops' values and aux texts: a patch is built, written once and
   * freed, and a customer's takes some twenty strings (one allocation each
   * was a tenth of a bulk creation's time: issue 17, point 5). */
  carnet__arena text;
  char errmsg[512]; /* carnet_patch_errmsg: the last carnet_patch_parse* failure */
};

#define CARNET__PATCH_OPS_MAX 1024u

#endif
