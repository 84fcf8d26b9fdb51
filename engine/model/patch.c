/* engine/model/patch.c - building patches. Values are only copied here; they are
 * validated when the patch is written (engine/crm/write.c), against the entity
 * they apply to. */
#include "engine/model/patch.h"
#include "engine/base/alloc.h"

#include <stdlib.h>
#include <string.h>

#include "carnet/error.h"
#include "engine/model/schema.h"

carnet_patch *carnet_patch_new(carnet_kind kind) {
  if (!carnet__kind_valid((unsigned)kind)) return NULL;
  carnet_patch *p = carnet__calloc(1, sizeof *p);
  if (p == NULL) return NULL;
  p->kind = kind;
  carnet__arena_init(&p->text, 512);
  return p;
}

void carnet_patch_free(carnet_patch *p) {
  if (p == NULL) return;
  carnet__arena_free(&p->text);
  carnet__free(p->ops);
  carnet__free(p);
}

static int push(carnet_patch *p, carnet__op op, const char *value, const char *aux) {
  if (p == NULL) return CARNET_EMISUSE;
  if (p->n >= CARNET__PATCH_OPS_MAX) return CARNET_ELIMIT;
  if (p->n == p->cap) {
    size_t cap = p->cap ? p->cap * 2 : 16;
    carnet__op *ops = carnet__realloc(p->ops, cap * sizeof *ops);
    if (ops == NULL) return CARNET_ENOMEM;
    p->ops = ops;
    p->cap = cap;
  }
  op.value = value ? carnet__arena_dup(&p->text, value, strlen(value)) : NULL;
  op.aux = aux ? carnet__arena_dup(&p->text, aux, strlen(aux)) : NULL;
  if ((value && op.value == NULL) || (aux && op.aux == NULL)) return CARNET_ENOMEM;
  p->ops[p->n++] = op;
  return 0;
}

int carnet_patch_set(carnet_patch *p, carnet_field f, const char *value) {
  return push(p, (carnet__op){.op = CARNET__OP_SET, .field = f}, value, NULL);
}

int carnet_patch_remove(carnet_patch *p, carnet_field f, const char *value) {
  if (value == NULL) return CARNET_EINVAL;
  return push(p, (carnet__op){.op = CARNET__OP_REMOVE, .field = f}, value, NULL);
}

int carnet_patch_phone(carnet_patch *p, const char *type, const char *number) {
  if (type == NULL || number == NULL) return CARNET_EINVAL;
  return push(p, (carnet__op){.op = CARNET__OP_PHONE_ADD, .field = CARNET_F_PHONES}, number, type);
}

int carnet_patch_phone_replace(carnet_patch *p, const char *type, const char *number) {
  if (type == NULL || number == NULL) return CARNET_EINVAL;
  return push(p, (carnet__op){.op = CARNET__OP_PHONE_REPLACE, .field = CARNET_F_PHONES}, number,
              type);
}

int carnet_patch_custom(carnet_patch *p, const char *name, carnet_custom_type type,
                        const char *value) {
  if (name == NULL) return CARNET_EINVAL;
  return push(p, (carnet__op){.op = CARNET__OP_CUSTOM, .field = CARNET_F_CUSTOM, .num = (int)type},
              value, name);
}

int carnet_patch_consent(carnet_patch *p, carnet_channel ch, bool granted, const char *note) {
  return push(
      p,
      (carnet__op){
          .op = CARNET__OP_CONSENT, .field = CARNET_F_CONSENT, .num = (int)ch, .flag = granted},
      NULL, note);
}

int carnet_patch_delete(carnet_patch *p) {
  return push(p, (carnet__op){.op = CARNET__OP_DELETE, .field = CARNET_F_DELETED}, NULL, NULL);
}

static const char *const channel_names[CARNET_CH_MAX_] = {NULL,    "email", "sms", "whatsapp",
                                                          "viber", "phone", "post"};

const char *carnet_channel_name(carnet_channel ch) {
  return ch >= 1 && ch < CARNET_CH_MAX_ ? channel_names[ch] : NULL;
}

carnet_channel carnet_channel_parse(const char *name) {
  for (int i = 1; name && i < CARNET_CH_MAX_; i++)
    if (strcmp(channel_names[i], name) == 0) return (carnet_channel)i;
  return (carnet_channel)0;
}
