-- int_adtte (Parquet): one row per subject and parameter, already in months.
-- Source: the record's row of the delivered file (SRCFILE, SRCROW; SRCROWS the same as file:row).
SELECT STUDYID, USUBJID, PARAMCD, AVAL_MONTHS AS AVAL, CNSR,
       SRCFILE, _row AS SRCROW, concat(SRCFILE, ':', _row) AS SRCROWS
FROM {{ ref('adtte') }}
WHERE PARAMCD IN ('OS', 'RFS')
