SELECT 'patients.csv' AS file, _row AS row, 'LAST_DOSE' AS "column", 'dose_order' AS reason,
       strftime(TRTEDT, '%d.%m.%Y') || ' < first dose ' || strftime(TRTSDT, '%d.%m.%Y') AS value, USUBJID AS subject
FROM {{ ref('patients') }} WHERE TRTEDT < TRTSDT
