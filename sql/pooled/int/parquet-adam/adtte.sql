-- int_adtte (Parquet): one row per subject and parameter, already in months.
SELECT STUDYID, USUBJID, PARAMCD, AVAL_MONTHS AS AVAL, CNSR
FROM {{ ref('adtte') }}
WHERE PARAMCD IN ('OS', 'RFS')
