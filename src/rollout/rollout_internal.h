/* Shared by the supervisor and the deployer client: the JSON form of a
 * rollout record (state.json and GET /status use the same one). */
#ifndef CARPRICE_ROLLOUT_INTERNAL_H
#define CARPRICE_ROLLOUT_INTERNAL_H

#include <jansson.h>
#include <stdint.h>

#include "carprice/rollout.h"

/* A new JSON object for r; NULL when out of memory. */
json_t *cp_rollout_record_to_json(const cp_rollout_record_t *r);

/* Fills r from an object written by cp_rollout_record_to_json (missing
 * fields stay empty/0). */
void cp_rollout_record_from_json(const json_t *o, cp_rollout_record_t *r);

/* Epoch milliseconds. */
int64_t cp_rollout_now_ms(void);

#endif
