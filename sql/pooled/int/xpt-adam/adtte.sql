-- int_adtte (ADaM XPT): one row per subject and parameter, days converted to months.
-- Source: the record's row of the delivered file (SRCFILE, SRCROW; SRCROWS the same as file:row).
SELECT STUDYID, USUBJID, PARAMCD, AVAL_DAYS / {{ days_per_month }} AS AVAL, CNSR,
       SRCFILE, _row AS SRCROW, concat(SRCFILE, ':', _row) AS SRCROWS
FROM {{ ref('adtte') }}
WHERE PARAMCD IN ('OS', 'RFS')
