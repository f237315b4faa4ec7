-- One row per end of a time the pooled ADTTE is derived from, against its origin: the follow-up
-- date (death or last known alive) against the first dose (OS), and, for a patient in remission,
-- the relapse date and the follow-up date against the remission date (RFS). The pipeline derives
-- both from dates here, so a time "before its origin" is a date before the origin date.
--   os_death       the row is a death timed from the first dose (NULL when the status is unknown)
--   before_origin  the end lies before the origin
--   value          the two dates as the file writes them (DD.MM.YYYY)
WITH patients AS (SELECT * FROM {{ ref('patients') }}),
followup AS (SELECT * FROM {{ ref('followup') }}),
relapse AS (SELECT * FROM {{ ref('relapse') }}),
-- the remission date: the first assessment within cycles 1-2 showing CR, CRh or CRi (as int_adrs)
remission AS (
    SELECT USUBJID, min(ADT) AS REMDT
    FROM {{ ref('response') }}
    WHERE CYCLE IN (1, 2) AND RESPONSE IN ('CR', 'CRh', 'CRi')
    GROUP BY USUBJID
)
SELECT 'followup.csv' AS file, f._row AS row, 'STATUS_DATE' AS "column", f.USUBJID AS subject,
       f.DTHFL = 'Y' AS os_death,
       f.STATUSDT < p.TRTSDT AS before_origin,
       strftime(f.STATUSDT, '%d.%m.%Y') || ' < first dose ' || strftime(p.TRTSDT, '%d.%m.%Y') AS value
FROM followup f JOIN patients p USING (USUBJID)
UNION ALL
SELECT 'relapse.csv', x._row, 'RELAPSE_DATE', x.USUBJID,
       FALSE,
       x.RELAPSEDT < m.REMDT,
       strftime(x.RELAPSEDT, '%d.%m.%Y') || ' < remission ' || strftime(m.REMDT, '%d.%m.%Y')
FROM relapse x JOIN remission m USING (USUBJID)
UNION ALL
SELECT 'followup.csv', f._row, 'STATUS_DATE', f.USUBJID,
       FALSE,
       f.STATUSDT < m.REMDT,
       strftime(f.STATUSDT, '%d.%m.%Y') || ' < remission ' || strftime(m.REMDT, '%d.%m.%Y')
FROM followup f JOIN remission m USING (USUBJID)
