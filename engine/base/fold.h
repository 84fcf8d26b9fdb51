/* engine/base/fold.h - what the engine uses of engine/base/fold.c besides the public
 * carnet_name_fold (carnet/normalize.h). */
#ifndef CARNET_ENGINE_FOLD_H
#define CARNET_ENGINE_FOLD_H

#include <stddef.h>
#include <utf8proc.h>

/* The first legal form of a company's name, folded ("S.A.R.L. Dupont" ->
 * "sarl", "Garage Blanc SA" -> "sa"), or "" when it names none. `out_len`
 * at least 8. Returns 0, CARNET_EINVAL (not UTF-8), CARNET_ELIMIT,
 * CARNET_ENOMEM. */
int carnet__name_legal_form(const char *s, char *out, size_t out_len);

/* Brief: carnet_name_fold and carnet_name_fold_sorted of `s` at once, into
 * `out` and `sorted` (out_len bytes each), the name split into words once:
 * the blind index derives both of every name. Returns what either does. */
int carnet__name_fold_both(const char *s, char *out, char *sorted, size_t out_len);

/* A Latin letter utf8proc's decomposition leaves whole (œ æ ø ł đ ð þ ı),
 * as ASCII ("oe", "ae", ...); NULL for any other code point. Name folding
 * and the search text fold them alike. */
const char *carnet__fold_latin(utf8proc_int32_t c);

#endif
