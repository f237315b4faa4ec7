SELECT 'adtte.xpt' AS file, t._row AS row, 'ADT' AS "column", 'death_before_first_dose' AS reason,
       strftime(t.ADT, '%Y-%m-%d') || ' < first dose ' || strftime(a.TRTSDT, '%Y-%m-%d') AS value, t.USUBJID AS subject
FROM {{ ref('adtte') }} t JOIN {{ ref('adsl') }} a USING (USUBJID)
WHERE t.PARAMCD = 'OS' AND t.CNSR = 0 AND (t.ADT < a.TRTSDT OR t.AVAL_DAYS < 0)
