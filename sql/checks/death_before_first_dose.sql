-- One row per death dated before the subject's first dose (a time of the OS that ends in death
-- before its origin). Reads only the facts of the study's format (sql/staging/<format>/facts/).
SELECT file, row, "column", 'death_before_first_dose' AS reason, value, subject
FROM {{ facts('times') }}
WHERE os_death AND before_origin
