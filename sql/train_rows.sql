-- Training rows: the features of sql/features.sql plus the label, each row
-- either kept (drop_reason NULL) or dropped with the first reason that
-- applies. The trainer counts rows by drop_reason and logs every count.
--
-- Input: a view named listing_features (sql/features.sql over the raw
-- batches). Duplicates by listing_id (then vin) keep the latest listing.
SELECT
    f.*,
    ln(f.price_usd) AS label,
    CASE
        WHEN f.price_usd IS NULL THEN 'price missing or not a number'
        WHEN f.price_usd < 500 OR f.price_usd > 2000000 THEN 'price out of range'
        WHEN f.f_year IS NULL THEN 'year missing'
        WHEN f.f_year < 1950 OR f.f_year > year(f.listed_on) + 1 THEN 'year out of range'
        WHEN f.f_mileage < 0 OR f.f_mileage > 1000000 THEN 'mileage out of range'
        WHEN f.dup_rank > 1 THEN 'duplicate listing'
    END AS drop_reason
FROM (
    SELECT
        l.*,
        try_cast(l.price AS DOUBLE) AS price_usd,
        row_number() OVER (
            PARTITION BY coalesce(nullif(l.listing_id, ''), nullif(l.vin, ''), l.description)
            ORDER BY l.listed_on DESC) AS dup_rank
    FROM listing_features l
) f
