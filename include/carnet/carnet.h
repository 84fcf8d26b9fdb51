/* carnet/carnet.h - the umbrella header of Carnet's public API.
 *
 * Carnet is a local-first sync engine for a small business's customer book:
 * every device holds a full replica, writes locally, and converges with its
 * peers by exchanging encrypted deltas. Include this header and link with
 * libcarnet.
 */
#ifndef CARNET_H
#define CARNET_H

#include "carnet/alloc.h"
#include "carnet/api.h"
#include "carnet/attach.h"
#include "carnet/backup.h"
#include "carnet/changes.h"
#include "carnet/conflict.h"
#include "carnet/document.h"
#include "carnet/dupes.h"
#include "carnet/erase.h"
#include "carnet/error.h"
#include "carnet/feed.h"
#include "carnet/import.h"
#include "carnet/merge.h"
#include "carnet/normalize.h"
#include "carnet/peer.h"
#include "carnet/record.h"
#include "carnet/replica.h"
#include "carnet/search.h"
#include "carnet/sync.h"
#include "carnet/types.h"
#include "carnet/verify.h"
#include "carnet/version.h"

#endif
