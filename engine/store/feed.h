/* engine/store/feed.h - the change feed inside the engine (carnet/feed.h is the
 * API): what a replica handle keeps, what a transaction records, and the
 * hooks of the places that write entities.
 *
 * Invariant F1: every commit on a handle goes through carnet_txn_commit,
 * and every entity write through carnet__save or the erasure's drop
 * (engine/erase/erase.c): each of them notes the entity in its transaction
 * (carnet__feed_note), and carnet_txn_commit delivers the notes once the
 * commit is durable. An aborted or failed transaction drops its notes.
 * Invariant F2: `seq` of the handle's feed is the local sequence number up
 * to which every change has been delivered (or was committed before the
 * first subscription). A commit on the handle that finds the sequence
 * counter past `seq` when it began (another process committed in between)
 * first delivers that gap from the change index, as an external event, so
 * `seq` can move to the commit's own sequence number and nothing is
 * delivered twice; carnet_replica_poll does the same without a commit.
 * `certseq` is the same for erasure certificates (engine/erase/erase.h X4).
 * Invariant F3: memory is bounded: a transaction notes at most
 * CARNET_FEED_CHANGES_MAX distinct entities, then only an overflow flag.
 */
#ifndef CARNET_ENGINE_FEED_H
#define CARNET_ENGINE_FEED_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "carnet/feed.h"
#include "engine/store/store.h"

struct carnet_subscription {
  carnet_change_cb cb;
  void *data;
  bool dead; /* unsubscribed while events were being delivered */
  struct carnet_subscription *next;
};

/* The feed of a replica handle. */
typedef struct carnet__feed {
  struct carnet_subscription *subs; /* in subscription order */
  size_t live;                      /* subscriptions not dead */
  unsigned delivering;              /* > 0 while callbacks run */
  bool has_dead;                    /* dead subscriptions wait to be freed */
  uint64_t seq, certseq;            /* F2 */
} carnet__feed;

/* A note: one entity changed in a transaction, in the order of the notes. */
typedef struct carnet__note {
  carnet_change c;
  uint32_t ord;
} carnet__note;

/* What a transaction records for the feed. */
typedef struct carnet__notes {
  bool on;       /* armed at begin: the handle had subscriptions */
  bool overflow; /* F3 */
  carnet_change_source source;
  uint64_t peer;
  uint64_t certseq0; /* certseq when the transaction began */
  carnet__note *v;
  size_t n, cap;
  uint32_t ord;
} carnet__notes;

struct carnet_replica;
struct carnet_txn;

/* Brief: the entity `id` of `kind` changed in `t` (op as of now). A no-op
 * when the transaction is not armed; never fails (out of memory or past
 * the bound, the event says overflow). */
void carnet__feed_note(struct carnet_txn *t, const carnet_id *id, uint8_t kind,
                       carnet_change_op op);

/* Brief: the changes of `t` come from peer `peer` (its batches or
 * certificates), not from this handle's app. */
void carnet__feed_from_peer(struct carnet_txn *t, uint64_t peer);

/* Brief: arm the notes of a transaction being begun (`st` is its store
 * transaction). Errors: those of reading the meta table. */
int carnet__feed_begin(struct carnet_replica *r, carnet__notes *nt, carnet__stxn *st);

/* Brief: what a commit does before the store commit, inside its write
 * transaction: collect the gap of F2 into `ext` (a list owned by the
 * caller, freed with carnet__feed_notes_free) and read the new certseq.
 * Never fails: a read error makes `ext` an overflow. */
void carnet__feed_precommit(struct carnet_txn *t, carnet__notes *ext, uint64_t *certseq);

/* Brief: after a durable commit of `t`: deliver `ext` then the
 * transaction's notes, and move the feed's marks. */
void carnet__feed_commit(struct carnet_replica *r, carnet__notes *ext, carnet__notes *own,
                         uint64_t seq, uint64_t certseq);

void carnet__feed_notes_free(carnet__notes *nt);

/* Brief: the feed is delivering: a write transaction must not begin. */
bool carnet__feed_busy(const struct carnet_replica *r);

/* Brief: whether commits (of another process) exist that the feed has not
 * delivered yet (*behind), from the stored sequence numbers; false when
 * nobody subscribes. Errors: those of a read. */
int carnet__feed_behind(struct carnet_replica *r, bool *behind);

/* Brief: free every subscription (carnet_replica_close). */
void carnet__feed_close(struct carnet_replica *r);

#endif
