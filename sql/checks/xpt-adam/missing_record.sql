SELECT 'adsl.xpt' AS file, a._row AS row, 'USUBJID' AS "column", 'missing_record' AS reason,
       'subject (adsl.xpt row ' || a._row || ') has no OS row' AS value, a.USUBJID AS subject
FROM {{ ref('adsl') }} a
WHERE a.SAFFL = 'Y' AND NOT EXISTS (SELECT 1 FROM {{ ref('adtte') }} t WHERE t.USUBJID = a.USUBJID AND t.PARAMCD = 'OS')
UNION ALL
SELECT 'adsl.xpt', a._row, 'USUBJID', 'missing_record', 'subject (adsl.xpt row ' || a._row || ') has no BOR2C row', a.USUBJID
FROM {{ ref('adsl') }} a
WHERE a.SAFFL = 'Y' AND NOT EXISTS (SELECT 1 FROM {{ ref('adrs') }} r WHERE r.USUBJID = a.USUBJID AND r.PARAMCD = 'BOR')
