SELECT 'adsl.parquet' AS file, _row AS row, 'last_dose_date' AS "column", 'dose_order' AS reason,
       strftime(TRTEDT, '%Y-%m-%d') || ' < first dose ' || strftime(TRTSDT, '%Y-%m-%d') AS value, USUBJID AS subject
FROM {{ ref('adsl') }} WHERE TRTEDT < TRTSDT
