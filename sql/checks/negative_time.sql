-- One row per other time that ends before its origin: last known alive before the first dose, a
-- relapse or a follow-up before the remission, a negative RFS or censored OS time. (A death before
-- the first dose is death_before_first_dose.)
SELECT file, row, "column", 'negative_time' AS reason, value, subject
FROM {{ facts('times') }}
WHERE before_origin AND NOT os_death
