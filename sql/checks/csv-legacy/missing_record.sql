SELECT 'patients.csv' AS file, p._row AS row, 'PATNR' AS "column", 'missing_record' AS reason,
       'patient ' || p.SUBJID || ' (patients.csv row ' || p._row || ') has no follow-up row' AS value, p.USUBJID AS subject
FROM {{ ref('patients') }} p WHERE NOT EXISTS (SELECT 1 FROM {{ ref('followup') }} f WHERE f.USUBJID = p.USUBJID)
UNION ALL
SELECT 'patients.csv', p._row, 'PATNR', 'missing_record',
       'patient ' || p.SUBJID || ' (patients.csv row ' || p._row || ') has no response row', p.USUBJID
FROM {{ ref('patients') }} p WHERE NOT EXISTS (SELECT 1 FROM {{ ref('response') }} r WHERE r.USUBJID = p.USUBJID)
