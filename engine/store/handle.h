/* engine/store/handle.h - what the layers above the engine (the sync protocol,
 * the node, the book) may do with a replica handle without seeing inside
 * it: record an error detail, read its clock, draw from its randomness,
 * log (engine/store/handle.c; not API). An interface header: it includes public
 * headers only, and the build lets protocol/, replica/ and book/ include
 * it (CMakeLists.txt, the layers' include roots). */
#ifndef CARNET_ENGINE_HANDLE_H
#define CARNET_ENGINE_HANDLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "carnet/replica.h"

/* The longest error detail a handle keeps (carnet_replica_errmsg). */
#define CARNET__ERRMSG_MAX 512

/* Record a detail for carnet_replica_errmsg and return `code`. */
int carnet__fail(carnet_replica *r, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void carnet__clear_err(carnet_replica *r);

uint64_t carnet__now_ms(const carnet_replica *r);
void carnet__random(carnet_replica *r, void *buf, size_t n);
void carnet__log(const carnet_replica *r, int level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Whether a write transaction is open on the handle (carnet_txn_begin). */
bool carnet__txn_open(const carnet_replica *r);

#endif
