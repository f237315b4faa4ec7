SELECT 'adsl.xpt' AS file, _row AS row, 'TRTEDT' AS "column", 'dose_order' AS reason,
       strftime(TRTEDT, '%Y-%m-%d') || ' < first dose ' || strftime(TRTSDT, '%Y-%m-%d') AS value, USUBJID AS subject
FROM {{ ref('adsl') }} WHERE TRTEDT < TRTSDT
