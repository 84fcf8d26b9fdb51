/* carnet/feed.h - the change feed: a callback after every commit that
 * changed entities, so a user interface refreshes what changed without
 * polling the store.
 *
 * Every write to a replica, whatever made it, ends in one commit
 * (carnet_txn_commit: the *_commit helpers, carnet_record_erase,
 * carnet_changes_apply, a sync session applying a peer's batches all go
 * through it). The feed is raised there, after the commit is durable, with
 * the entities the transaction changed: their ids, kinds, and what happened
 * to each (created, updated, deleted, erased), and where the change came
 * from (this handle, a peer, or another process writing the same
 * directory). A transaction that fails or is aborted raises nothing, and a
 * commit that changed no entity (a peer trusted, a role stored) raises
 * nothing either.
 *
 * Changes committed by another process on the same directory (the `carnet`
 * command line writing while an app runs) are not seen at commit: they are
 * found by carnet_replica_poll, which reads the change index from the last
 * sequence number the feed delivered. A running node (carnet/node.h) polls
 * at every tick (CARNET_NODE_TICK_MS), so with a node they arrive within a
 * tick; an app without a node calls carnet_replica_poll on its own timer.
 *
 * Bounds: one event lists at most CARNET_FEED_CHANGES_MAX entities. A
 * transaction that changed more (a bulk import, a first sync) delivers an
 * event with `overflow` set and a partial list: the app reloads what it
 * shows instead of following ids. The feed holds no other memory.
 *
 * Threads and re-entrancy: the callback runs on the thread that committed,
 * inside carnet_txn_commit (or carnet_replica_poll), after the commit and
 * after the handle's transaction is gone. For changes from a peer that is
 * the thread of the node running the session (carnet/node.h). Inside the
 * callback the app may read the replica (carnet_record_get,
 * carnet_record_list...), stop a node, subscribe and unsubscribe (itself or
 * another subscription: a removed subscription is not called again; a new
 * one is called from the next event on); it may not begin a write
 * transaction on the replica (CARNET_EMISUSE: the write that raised the
 * event is still returning; write from the app's own code once the call
 * that committed has returned), call carnet_replica_poll, or close the
 * replica. A callback should be quick: it runs while a sync session or the
 * app's own write waits for it.
 */
#ifndef CARNET_FEED_H
#define CARNET_FEED_H

#include "carnet/api.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "carnet/replica.h"
#include "carnet/types.h"

CARNET_BEGIN_DECLS

/* The most entities one event lists. */
#define CARNET_FEED_CHANGES_MAX 4096u

/* What happened to an entity, as of the end of the transaction. */
typedef enum carnet_change_op {
  CARNET_CHANGE_CREATED = 1, /* it did not exist here before this transaction */
  CARNET_CHANGE_UPDATED = 2, /* fields changed (a merge or unmerge is an update of
                                the member whose edge changed: reload its group) */
  CARNET_CHANGE_DELETED = 3, /* it is deleted (a tombstone: carnet_record_deleted) */
  CARNET_CHANGE_ERASED = 4,  /* it was erased: the customer of an erasure and every
                                entity that went with it (carnet/erase.h); it can no
                                longer be read */
} carnet_change_op;

/* One changed entity. A value. */
typedef struct carnet_change {
  carnet_id id;
  carnet_kind kind; /* 0 for an entity erased by another process: its row was
                       gone before it could be read */
  carnet_change_op op;
} carnet_change;

/* Where the changes of an event came from. */
typedef enum carnet_change_source {
  CARNET_SOURCE_LOCAL = 1,    /* a commit made through this handle */
  CARNET_SOURCE_PEER = 2,     /* a peer's changes applied through this handle (a sync
                                 session, carnet_changes_apply, an erasure certificate
                                 received): `peer` is that peer's replica id */
  CARNET_SOURCE_EXTERNAL = 3, /* committed by another process on the same directory
                                 (found by carnet_replica_poll, or by the next commit
                                 on this handle) */
} carnet_change_source;

typedef struct carnet_change_event {
  carnet_change_source source;
  uint64_t peer;                /* CARNET_SOURCE_PEER: the peer's replica id; else 0 */
  const carnet_change *changes; /* n entries, in id order, each id once */
  size_t n;                     /* at most CARNET_FEED_CHANGES_MAX */
  bool overflow;                /* more entities changed than listed: reload */
  uint64_t seq;                 /* the replica's sequence number after the changes
                                   (carnet_replica_get_seq) */
} carnet_change_event;

/* The event and what it points to live until the callback returns: copy
 * what is kept. */
typedef void (*carnet_change_cb)(void *data, const carnet_change_event *ev);

typedef struct carnet_subscription carnet_subscription;

/* Brief: call `cb(data, event)` after every commit on `r` that changes
 * entities, from the next transaction begun on the handle on (and for
 * changes of other processes found by carnet_replica_poll after this call).
 * Several subscriptions may exist; each event goes to all of them, in the
 * order they were made.
 * After the call *out is a subscription that lives until
 * carnet_replica_unsubscribe or carnet_replica_close.
 * Threads: as carnet/replica.h (the handle's thread; with a node on its own
 * thread, through carnet_node_exec).
 * Errors: CARNET_EMISUSE (cb is NULL, or a transaction is open on the
 * handle: subscribe between transactions), CARNET_ENOMEM, CARNET_EIO (the
 * replica's sequence number could not be read: the replica's errmsg says
 * why). On error *out is NULL. */
CARNET_API int carnet_replica_subscribe(carnet_replica *r, carnet_change_cb cb, void *data,
                                        carnet_subscription **out);

/* Brief: stop calling a subscription's callback; from inside a callback
 * too (it is not called again, even for the event being delivered).
 * After the call `sub` is gone. NULL is a no-op that returns 0.
 * Errors: CARNET_ENOTFOUND (`sub` is not a live subscription of `r`:
 * nothing changed). */
CARNET_API int carnet_replica_unsubscribe(carnet_replica *r, carnet_subscription *sub);

/* Brief: deliver the changes committed on the directory by other processes
 * since the feed last looked, as one CARNET_SOURCE_EXTERNAL event (nothing
 * when there are none, or no subscription). A running node calls it at
 * every tick; an app without a node calls it on its own timer (a read
 * transaction and two lookups when nothing changed).
 * Errors: CARNET_EMISUSE (a transaction is open on the handle, or called
 * from a change callback), CARNET_ECORRUPT, CARNET_EIO, CARNET_ENOMEM (the
 * changes stay to be delivered by a later call). */
CARNET_API int carnet_replica_poll(carnet_replica *r);

CARNET_END_DECLS

#endif
