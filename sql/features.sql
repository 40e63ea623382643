-- Raw listing text -> typed model features. Shared by training (batch) and
-- serving (stream) so that features cannot drift between them.
--
-- Input: a view named raw_listings with the raw columns of sql/raw_schema.ddl
-- as text (extra columns, such as a request id, pass through untouched).
-- Output: every input column, plus the f_* features and listed_on:
--   numeric   f_age, f_log_mileage, f_miles_per_year, f_horsepower, f_hp_rpm,
--             f_torque, f_torque_rpm, f_engine_l, f_city_mpg, f_highway_mpg,
--             f_tank_gal, f_seats, f_legroom_back, f_legroom_front, f_length,
--             f_width, f_height, f_wheelbase, f_owners, f_days_on_market,
--             f_seller_rating, f_n_options, f_latitude, f_longitude
--   0/1 flags f_is_new, f_has_accidents, f_salvage, f_frame_damaged,
--             f_theft_title, f_fleet, f_is_cab, f_franchise_dealer, f_is_cpo,
--             f_is_oemcpo (NULL when unknown; the Imputer fills them)
--   category  f_make, f_model, f_body, f_fuel, f_transmission, f_wheels,
--             f_engine, f_color, f_trim (text; StringIndexer keeps unseen ones)
-- Not features: identifiers, free text, URLs, empty columns
-- (combine_fuel_economy, is_certified, vehicle_damage_category, bed, cabin)
-- and savings_amount, which leaks the price.
--
-- Spark runs with ANSI mode, so every conversion of untrusted text uses
-- try_cast: "--", "" and garbage become NULL instead of failing the job.
SELECT
    p.*,
    CAST(year(p.listed_on) - p.f_year AS DOUBLE) AS f_age,
    ln(1 + p.f_mileage) AS f_log_mileage,
    p.f_mileage / greatest(1.0, year(p.listed_on) - p.f_year + 0.5) AS f_miles_per_year
FROM (
    SELECT
        r.*,
        coalesce(try_cast(r.listed_date AS DATE), current_date()) AS listed_on,
        try_cast(r.year AS INT) AS f_year,
        try_cast(r.mileage AS DOUBLE) AS f_mileage,
        coalesce(try_cast(r.horsepower AS DOUBLE),
                 try_cast(regexp_extract(r.power, '^([0-9.]+) *hp', 1) AS DOUBLE)) AS f_horsepower,
        try_cast(replace(regexp_extract(r.power, '@ *([0-9,]+) *RPM', 1), ',', '') AS DOUBLE)
            AS f_hp_rpm,
        try_cast(regexp_extract(r.torque, '^([0-9.]+) *lb-ft', 1) AS DOUBLE) AS f_torque,
        try_cast(replace(regexp_extract(r.torque, '@ *([0-9,]+) *RPM', 1), ',', '') AS DOUBLE)
            AS f_torque_rpm,
        try_cast(r.engine_displacement AS DOUBLE) / 1000.0 AS f_engine_l,
        try_cast(r.city_fuel_economy AS DOUBLE) AS f_city_mpg,
        try_cast(r.highway_fuel_economy AS DOUBLE) AS f_highway_mpg,
        try_cast(regexp_extract(r.fuel_tank_volume, '^([0-9.]+)', 1) AS DOUBLE) AS f_tank_gal,
        try_cast(regexp_extract(r.maximum_seating, '^([0-9]+)', 1) AS DOUBLE) AS f_seats,
        try_cast(regexp_extract(r.back_legroom, '^([0-9.]+)', 1) AS DOUBLE) AS f_legroom_back,
        try_cast(regexp_extract(r.front_legroom, '^([0-9.]+)', 1) AS DOUBLE) AS f_legroom_front,
        try_cast(regexp_extract(r.length, '^([0-9.]+)', 1) AS DOUBLE) AS f_length,
        try_cast(regexp_extract(r.width, '^([0-9.]+)', 1) AS DOUBLE) AS f_width,
        try_cast(regexp_extract(r.height, '^([0-9.]+)', 1) AS DOUBLE) AS f_height,
        try_cast(regexp_extract(r.wheelbase, '^([0-9.]+)', 1) AS DOUBLE) AS f_wheelbase,
        try_cast(r.owner_count AS DOUBLE) AS f_owners,
        try_cast(r.daysonmarket AS DOUBLE) AS f_days_on_market,
        try_cast(r.seller_rating AS DOUBLE) AS f_seller_rating,
        CAST(CASE WHEN r.major_options IS NULL OR trim(r.major_options) IN ('', '[]') THEN 0
                  ELSE size(split(r.major_options, ''', ''')) END AS DOUBLE) AS f_n_options,
        try_cast(r.latitude AS DOUBLE) AS f_latitude,
        try_cast(r.longitude AS DOUBLE) AS f_longitude,
        CASE r.is_new WHEN 'True' THEN 1.0 WHEN 'False' THEN 0.0 END AS f_is_new,
        CASE r.has_accidents WHEN 'True' THEN 1.0 WHEN 'False' THEN 0.0 END AS f_has_accidents,
        CASE r.salvage WHEN 'True' THEN 1.0 WHEN 'False' THEN 0.0 END AS f_salvage,
        CASE r.frame_damaged WHEN 'True' THEN 1.0 WHEN 'False' THEN 0.0 END AS f_frame_damaged,
        CASE r.theft_title WHEN 'True' THEN 1.0 WHEN 'False' THEN 0.0 END AS f_theft_title,
        CASE r.fleet WHEN 'True' THEN 1.0 WHEN 'False' THEN 0.0 END AS f_fleet,
        CASE r.isCab WHEN 'True' THEN 1.0 WHEN 'False' THEN 0.0 END AS f_is_cab,
        CASE r.franchise_dealer WHEN 'True' THEN 1.0 WHEN 'False' THEN 0.0 END
            AS f_franchise_dealer,
        CASE r.is_cpo WHEN 'True' THEN 1.0 WHEN 'False' THEN 0.0 END AS f_is_cpo,
        CASE r.is_oemcpo WHEN 'True' THEN 1.0 WHEN 'False' THEN 0.0 END AS f_is_oemcpo,
        coalesce(nullif(trim(r.make_name), ''), 'unknown') AS f_make,
        coalesce(nullif(trim(r.model_name), ''), 'unknown') AS f_model,
        coalesce(nullif(trim(r.body_type), ''), 'unknown') AS f_body,
        coalesce(nullif(trim(r.fuel_type), ''), 'unknown') AS f_fuel,
        coalesce(nullif(trim(r.transmission), ''), 'unknown') AS f_transmission,
        coalesce(nullif(trim(r.wheel_system), ''), 'unknown') AS f_wheels,
        coalesce(nullif(nullif(trim(r.engine_type), ''), '--'), 'unknown') AS f_engine,
        coalesce(nullif(trim(r.listing_color), ''), 'unknown') AS f_color,
        coalesce(nullif(trim(r.trim_name), ''), 'unknown') AS f_trim
    FROM raw_listings r
) p
