-- One row per subject whose last dose is dated before its first dose (reported on the last-dose column).
SELECT file, row, last_dose_column AS "column", 'dose_order' AS reason,
       last_dose_shown || ' < first dose ' || first_dose_shown AS value, subject
FROM {{ facts('subjects') }}
WHERE last_dose < first_dose
