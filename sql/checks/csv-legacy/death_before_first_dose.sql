SELECT 'followup.csv' AS file, f._row AS row, 'STATUS_DATE' AS "column", 'death_before_first_dose' AS reason,
       strftime(f.STATUSDT, '%d.%m.%Y') || ' < first dose ' || strftime(p.TRTSDT, '%d.%m.%Y') AS value, f.USUBJID AS subject
FROM {{ ref('followup') }} f JOIN {{ ref('patients') }} p USING (USUBJID)
WHERE f.DTHFL = 'Y' AND f.STATUSDT < p.TRTSDT
