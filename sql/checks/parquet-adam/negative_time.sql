SELECT 'adtte.parquet' AS file, _row AS row, 'aval' AS "column", 'negative_time' AS reason,
       CAST(AVAL_MONTHS AS VARCHAR) AS value, USUBJID AS subject
FROM {{ ref('adtte') }} WHERE AVAL_MONTHS < 0 AND NOT (PARAMCD = 'OS' AND CNSR = 0)
