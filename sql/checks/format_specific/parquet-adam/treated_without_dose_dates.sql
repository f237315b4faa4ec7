-- One row per subject randomised to and treated with blinatumomab without its first or last dose date.
-- parquet-adam only: it is the randomised study, whose untreated and SOC patients have no dose
-- dates, so its source contract lets first_dose_date/last_dose_date be null and only the pooled
-- (treated blinatumomab) subjects need them. csv-legacy's FIRST_DOSE/LAST_DOSE and xpt-adam's
-- TRTSDT/TRTEDT may never be empty (schemas/sources.py), so a shared rule would only report the
-- same empty cell a second time.
SELECT file, row, first_dose_column AS "column", 'missing_record' AS reason,
       'treated blinatumomab subject without first/last dose date' AS value, subject
FROM {{ facts('subjects') }}
WHERE pooled AND (first_dose IS NULL OR last_dose IS NULL)
