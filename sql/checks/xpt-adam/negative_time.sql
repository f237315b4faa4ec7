SELECT 'adtte.xpt' AS file, _row AS row, 'AVAL' AS "column", 'negative_time' AS reason,
       CAST(AVAL_DAYS AS VARCHAR) AS value, USUBJID AS subject
FROM {{ ref('adtte') }} WHERE AVAL_DAYS < 0 AND NOT (PARAMCD = 'OS' AND CNSR = 0)
