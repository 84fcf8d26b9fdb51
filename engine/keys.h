/* engine/keys.h - the key hierarchy of encryption at rest (engine/keys.c). */
#ifndef CARNET_ENGINE_KEYS_H
#define CARNET_ENGINE_KEYS_H

#include "carnet/replica.h"
#include "engine/store.h"

/* At init, inside the creating write transaction `st`: make the data key,
 * wrap it with the key `env` gives (a key file, a passphrase, what
 * env->ask_passphrase answers, or else the key file in the replica
 * directory), store the record and give the data key to the store.
 * Errors (detail in r's errmsg): CARNET_EIO, CARNET_EPERM (a key file others
 * can read), CARNET_EKEY, CARNET_ENOMEM. */
int carnet__keys_create(carnet_replica *r, carnet__stxn *st, const carnet_env *env);

/* At open, inside a read transaction: unwrap the data key with what `env`
 * gives and give it to the store. Errors: CARNET_EKEY (wrong or missing
 * passphrase or key file), CARNET_EPERM, CARNET_ECORRUPT (no or a damaged
 * key record), CARNET_EIO, CARNET_ENOMEM. Nothing is written. */
int carnet__keys_load(carnet_replica *r, carnet__stxn *st, const carnet_env *env);

#endif
