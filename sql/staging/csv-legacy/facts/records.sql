-- One row per row of a file that hangs off a patient (every file but patients.csv): where it is
-- (file, _row, the key column PATNR), whose it is, and what it is (`record`, the name
-- required_records uses).
SELECT 'followup.csv' AS file, _row AS row, 'PATNR' AS "column", USUBJID AS subject, 'follow-up row' AS record
FROM {{ ref('followup') }}
UNION ALL
SELECT 'response.csv', _row, 'PATNR', USUBJID, 'response row' FROM {{ ref('response') }}
UNION ALL
SELECT 'relapse.csv', _row, 'PATNR', USUBJID, 'relapse row' FROM {{ ref('relapse') }}
UNION ALL
SELECT 'hsct.csv', _row, 'PATNR', USUBJID, 'hsct row' FROM {{ ref('hsct') }}
UNION ALL
SELECT 'other_tx.csv', _row, 'PATNR', USUBJID, 'other therapy row' FROM {{ ref('other_tx') }}
UNION ALL
SELECT 'ae.csv', AESEQ, 'PATNR', USUBJID, 'adverse event row' FROM {{ ref('ae') }}
