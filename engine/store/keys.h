/* engine/store/keys.h - the key hierarchy of encryption at rest (engine/store/keys.c). */
#ifndef CARNET_ENGINE_KEYS_H
#define CARNET_ENGINE_KEYS_H

#include "carnet/replica.h"
#include "engine/store/store.h"

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

/* The size of the key record (meta `crypt`, docs/FORMATS.md). */
#define CARNET__KEY_RECORD_BYTES 106

/* At restore (engine/top/backup.c): unwrap the data key of a key record taken
 * from a backup's header (`len` bytes) with what `env` gives, as
 * carnet__keys_load would for r->dir. A record of kind
 * CARNET_KEY_FILE_IN_DIR opens with r->dir/carnet.key when it is there,
 * else with env->key_file (a copy of the backed-up directory's key file):
 * then *need_dir_key is set and dir_key holds the key to write with
 * carnet__keys_write_dir_key, so that the restored replica opens as the
 * original did. Errors: CARNET_EKEY, CARNET_EPERM, CARNET_ECORRUPT (a
 * record of the wrong size or an unknown version), CARNET_EIO,
 * CARNET_ENOMEM. */
int carnet__keys_unwrap(carnet_replica *r, const uint8_t *record, size_t len, const carnet_env *env,
                        uint8_t dkey[32], uint8_t dir_key[32], bool *need_dir_key);

/* Brief: write r->dir/carnet.key (mode 0600, never over an existing file).
 * Errors: CARNET_EIO. */
int carnet__keys_write_dir_key(carnet_replica *r, const uint8_t key[32]);

#endif
