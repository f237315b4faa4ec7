SELECT 'followup.csv' AS file, x._row AS row, 'PATNR' AS "column", 'orphan_record' AS reason,
       x.USUBJID AS value, x.USUBJID AS subject
FROM {{ ref('followup') }} x WHERE NOT EXISTS (SELECT 1 FROM {{ ref('patients') }} p WHERE p.USUBJID = x.USUBJID)
UNION ALL
SELECT 'response.csv' AS file, x._row AS row, 'PATNR' AS "column", 'orphan_record' AS reason,
       x.USUBJID AS value, x.USUBJID AS subject
FROM {{ ref('response') }} x WHERE NOT EXISTS (SELECT 1 FROM {{ ref('patients') }} p WHERE p.USUBJID = x.USUBJID)
UNION ALL
SELECT 'relapse.csv' AS file, x._row AS row, 'PATNR' AS "column", 'orphan_record' AS reason,
       x.USUBJID AS value, x.USUBJID AS subject
FROM {{ ref('relapse') }} x WHERE NOT EXISTS (SELECT 1 FROM {{ ref('patients') }} p WHERE p.USUBJID = x.USUBJID)
UNION ALL
SELECT 'hsct.csv' AS file, x._row AS row, 'PATNR' AS "column", 'orphan_record' AS reason,
       x.USUBJID AS value, x.USUBJID AS subject
FROM {{ ref('hsct') }} x WHERE NOT EXISTS (SELECT 1 FROM {{ ref('patients') }} p WHERE p.USUBJID = x.USUBJID)
UNION ALL
SELECT 'other_tx.csv' AS file, x._row AS row, 'PATNR' AS "column", 'orphan_record' AS reason,
       x.USUBJID AS value, x.USUBJID AS subject
FROM {{ ref('other_tx') }} x WHERE NOT EXISTS (SELECT 1 FROM {{ ref('patients') }} p WHERE p.USUBJID = x.USUBJID)
UNION ALL
SELECT 'ae.csv' AS file, x.AESEQ AS row, 'PATNR' AS "column", 'orphan_record' AS reason,
       x.USUBJID AS value, x.USUBJID AS subject
FROM {{ ref('ae') }} x WHERE NOT EXISTS (SELECT 1 FROM {{ ref('patients') }} p WHERE p.USUBJID = x.USUBJID)
