/* carnet/search.h - an in-memory index of the customers, for searching and
 * filtering a customer list as a person types, on a book of 100,000.
 *
 * carnet_record_list with a filter reads, decrypts and decodes every
 * customer row: about half a second for 100,000 customers, a second with a
 * text to fold. An index on disk cannot help: every personal value is
 * sealed at rest and indexes hold keyed hashes only, which find whole
 * values, never a substring. This index lives in memory, owned by its
 * handle: built by one scan, then kept current by the change feed
 * (carnet/feed.h), it holds per listed customer the folded searchable text
 * and the filter fields (deleted, tags, roles, sales rep), so a query scans
 * compact memory and returns ids; the caller then reads only the records
 * of the page it shows (carnet_record_get). Nothing of it is written to
 * disk.
 *
 * What it answers: the ids carnet_record_list(r, CARNET_KIND_CUSTOMER,
 * filter, ...) lists, in the same (id) order, for every filter but
 * `customer`: the same customers for the same data. A merged group is one
 * customer, its survivor (carnet/merge.h); its text is the merged view's.
 * The text of a filter matches as carnet_filter says:
 *
 *   - folded: utf8proc's compatibility decomposition, case folding and
 *     marks stripped, ligatures and the Latin letters that do not
 *     decompose spelled out ("Électricité" = "electricite", "Œuvre" =
 *     "oeuvre", "ﬁ" = "fi", "ß" = "ss"), typographic apostrophes and
 *     dashes as ASCII ones, runs of white space as one space; punctuation
 *     counts ("client.3@" does not find "client.30@");
 *   - words: the text is cut at its spaces, and every word must be found,
 *     each on its own, in any of the values and in any order ("martin
 *     lyon" and "lyon martin" find Martin of Lyon); a word is found as a
 *     substring of one value: name, company, reference code, city,
 *     street, postcode, notes, an e-mail, a tag, the SIRET, a phone
 *     (stored as +E164), never across two values; a word written like a
 *     number (digits and . + - ( ) / only) is also found by its digits,
 *     as below ("martin 0612345678");
 *   - a text written like a number (digits, spaces and . + - ( ) / only)
 *     is one number, not words: it finds a phone holding its digits, less
 *     a national trunk 0 or an international 00 ("07 82 35 61 55",
 *     "0782356155" and "+33782356155" find +33782356155; at least 3
 *     digits), a SIRET holding its digits ("123 456 789" finds
 *     12345678900012), or the text itself in a value.
 *
 * Currency: the index subscribes to the replica's change feed. A commit on
 * the handle (a write of the app, a peer's batch applied by a sync
 * session) notes the customers it changed; the next query reads them again
 * (carnet_record_get: a handful of reads) before it scans. A change too
 * large for the feed's list (an import, a first sync: the event's
 * `overflow`), or more pending changes than a tenth of the index, makes the
 * next query build the index again (one scan). Changes committed by another
 * process on the directory are found by carnet_replica_poll, which each
 * query calls first: so a query answers for what is committed when it
 * starts (a query run from inside a change callback cannot poll, and may
 * not yet see the commit being delivered).
 *
 * A customer's records: the index also holds, for every contact,
 * document and reminder, its customer, and for every action each customer
 * it concerns (33 bytes a pair, deleted records included). While an index
 * is attached to its handle (the first made on it, until freed),
 * carnet_record_list with a `customer` filter (and so
 * carnet_history_list) reads only the records it names, instead of every
 * record of the kind, whenever the index knows everything the scan would
 * read: no transaction open on the handle, no listing or change callback
 * under way, no commit of another process left undelivered (otherwise it
 * scans, as before). Each record read is still checked against the
 * filter: the answer is the scan's.
 *
 * Memory: per listed customer, a fixed part (48 bytes on a 64-bit system)
 * and its folded text (its values, about as long as typed: 100 to 300
 * bytes for a customer of a French small business's book), plus the
 * members of merged groups. The index is bounded: `max_bytes` at
 * carnet_search_new; a build or refresh that would pass it fails with
 * CARNET_ELIMIT (the index then answers nothing until the next change,
 * and the app falls back on carnet_record_list).
 *
 * Threads: a carnet_search belongs to its replica's handle, and to the
 * thread that owns the handle at the time (carnet/replica.h); with a node
 * on its own thread, every call goes through carnet_node_exec
 * (carnet/node.h). The ids a query returns are copied into the caller's
 * array: nothing the caller holds points into the index.
 */
#ifndef CARNET_SEARCH_H
#define CARNET_SEARCH_H

#include "carnet/api.h"

#include <stddef.h>

#include "carnet/record.h"
#include "carnet/replica.h"

CARNET_BEGIN_DECLS

typedef struct carnet_search carnet_search;

/* The default bound of an index's memory (`max_bytes` 0): about 800,000
 * customers of 300 bytes of text. */
#define CARNET_SEARCH_BYTES_DEFAULT (256u << 20)

/* Brief: build an index of the customers of `r` (one scan of the store, as
 * carnet_record_list) and subscribe it to the change feed.
 * `max_bytes` bounds its memory (0: CARNET_SEARCH_BYTES_DEFAULT).
 * After the call *out is an index owned by the caller: free it with
 * carnet_search_free before carnet_replica_close.
 * Threads: the handle's (see above).
 * Errors: CARNET_EMISUSE (a transaction is open on the handle, or `out`
 * is NULL), CARNET_ELIMIT (the customers need more than `max_bytes`: the
 * replica's errmsg says how many), CARNET_ENOMEM, CARNET_ECORRUPT (a
 * stored record is damaged), CARNET_EIO. On error *out is NULL. */
CARNET_API int carnet_search_new(carnet_replica *r, size_t max_bytes, carnet_search **out);

/* Brief: unsubscribe the index and free it. NULL is a no-op.
 * Call it before carnet_replica_close, on the handle's thread. */
CARNET_API void carnet_search_free(carnet_search *s);

/* Brief: the ids of the customers after `after` (NULL: from the first) that
 * pass `filter` (NULL: every live one), in id order, at most `max` of them
 * into `ids`; *n receives how many. Ask for one more than a page to know
 * whether another page follows, and give the last id of a page as `after`
 * to read the next (a cursor stays valid while others write: ids are
 * never reused).
 * After the call `ids` holds copies: read the records with
 * carnet_record_get (the view of a merged group, as listed).
 * Before it scans, the query delivers the changes of other processes
 * (carnet_replica_poll: the app's own subscriptions are called then, on
 * this thread) and reads again what changed since the last query.
 * Errors: CARNET_EINVAL (`filter->customer` is set: customers belong to no
 * customer), CARNET_EMISUSE (`ids` is NULL with max > 0, or `n` is NULL),
 * CARNET_ELIMIT (the index outgrew its bound: use carnet_record_list),
 * CARNET_ENOMEM, CARNET_ECORRUPT, CARNET_EIO (reading what changed failed:
 * nothing was lost, the next query tries again). On error *n is 0. */
CARNET_API int carnet_search_query(carnet_search *s, const carnet_filter *filter,
                                   const carnet_id *after, carnet_id *ids, size_t max, size_t *n);

/* Brief: how many customers the index lists (survivors of merged groups
 * and customers merged with nobody, deleted ones included) in *customers,
 * and the bytes of memory it holds in *bytes (either may be NULL), as of
 * its last build or query.
 * Errors: none (returns 0). */
CARNET_API int carnet_search_get_stats(const carnet_search *s, size_t *customers, size_t *bytes);

CARNET_END_DECLS

#endif
