-- a remission (CR, CRh*, CRi within cycles 1-2) needs its assessment date, and relapse or death
-- cannot come before it: RFS is measured from that date
WITH remission AS (
    SELECT USUBJID, min(ADT) AS REMDT, bool_or(ADT IS NULL) AS undated, min(_row) AS _row
    FROM {{ ref('response') }}
    WHERE CYCLE IN (1, 2) AND RESPONSE IN ('CR', 'CRh', 'CRi')
    GROUP BY USUBJID
)
SELECT 'response.csv' AS file, r._row AS row, 'ASSESS_DATE' AS "column", 'missing_value' AS reason,
       'remission assessment without a date' AS value, r.USUBJID AS subject
FROM {{ ref('response') }} r
WHERE r.CYCLE IN (1, 2) AND r.RESPONSE IN ('CR', 'CRh', 'CRi') AND r.ADT IS NULL
UNION ALL
SELECT 'relapse.csv', x._row, 'RELAPSE_DATE', 'negative_time',
       strftime(x.RELAPSEDT, '%d.%m.%Y') || ' < remission ' || strftime(m.REMDT, '%d.%m.%Y'), x.USUBJID
FROM {{ ref('relapse') }} x JOIN remission m USING (USUBJID)
WHERE x.RELAPSEDT < m.REMDT
UNION ALL
SELECT 'followup.csv', f._row, 'STATUS_DATE', 'negative_time',
       strftime(f.STATUSDT, '%d.%m.%Y') || ' < remission ' || strftime(m.REMDT, '%d.%m.%Y'), f.USUBJID
FROM {{ ref('followup') }} f JOIN remission m USING (USUBJID)
WHERE f.STATUSDT < m.REMDT
