-- carprice data split: assigns every raw row (view split_input, the 66 raw
-- columns as read with sql/raw_schema.ddl) to the test part or to one of
-- :batches train batches, in a column split_part ('test' or 'batch-NNNNN').
--
-- The assignment is a function of the row's key and :seed only, so the same
-- seed and input give the same split, and rows sharing a listing_id always
-- land together (no listing in both test and train). The key is listing_id;
-- rows without one are keyed by their whole content (vin and every other
-- column). Two independent hashes of the key pick test vs train (with
-- probability :test_ppm / 1e6) and the batch (uniformly among :batches).
WITH keyed AS (
    SELECT *,
           CASE WHEN listing_id IS NOT NULL AND trim(listing_id) <> ''
                THEN xxhash64(:seed, 'listing_id', listing_id)
                ELSE xxhash64(:seed, 'row', *)
           END AS split_key
    FROM split_input
)
SELECT * EXCEPT (split_key),
       CASE WHEN pmod(xxhash64(split_key, 'test'), 1000000) < :test_ppm THEN 'test'
            ELSE concat('batch-',
                        lpad(CAST(pmod(xxhash64(split_key, 'batch'), :batches) + 1 AS STRING),
                             5, '0'))
       END AS split_part
FROM keyed
