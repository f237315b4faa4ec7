-- int_adtte (ADaM XPT): one row per subject and parameter, days converted to months.
SELECT STUDYID, USUBJID, PARAMCD, AVAL_DAYS / {{ days_per_month }} AS AVAL, CNSR
FROM {{ ref('adtte') }}
WHERE PARAMCD IN ('OS', 'RFS')
