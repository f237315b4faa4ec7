SELECT 'adtte.parquet' AS file, t._row AS row, 'aval' AS "column", 'death_before_first_dose' AS reason,
       CAST(t.AVAL_MONTHS AS VARCHAR) AS value, t.USUBJID AS subject
FROM {{ ref('adtte') }} t WHERE t.PARAMCD = 'OS' AND t.CNSR = 0 AND t.AVAL_MONTHS < 0
