-- int_adtte (legacy CSV): one row per patient and parameter, in months.
-- OS: first dose to death, censored at last known alive. RFS (patients in remission): remission
-- date to relapse or death, whichever first; censored at last known alive.
-- Source: the row of the end date (followup.csv, or relapse.csv for a relapse); SRCROWS adds the
-- start date's rows (patients.csv for OS, the response.csv rows of the remission for RFS).
WITH patients AS (SELECT * FROM {{ ref('patients') }}),
followup AS (SELECT * FROM {{ ref('followup') }}),
relapse AS (SELECT * FROM {{ ref('relapse') }}),
remission AS (SELECT USUBJID, ADT AS REMDT, SRCROWS AS REMSRC FROM {{ this_int('adrs') }}
              WHERE PARAMCD = 'BOR' AND AVALC IN ('CR', 'CRh', 'CRi')),
os AS (
    SELECT p.STUDYID, p.USUBJID, 'OS' AS PARAMCD,
           date_diff('day', p.TRTSDT, f.STATUSDT) / {{ days_per_month }} AS AVAL,
           CASE f.DTHFL WHEN 'Y' THEN 0 ELSE 1 END AS CNSR,
           f.SRCFILE, f._row AS SRCROW,
           concat_ws('; ', concat(p.SRCFILE, ':', p._row), concat(f.SRCFILE, ':', f._row)) AS SRCROWS
    FROM patients p JOIN followup f USING (USUBJID)
),
rfs AS (
    SELECT p.STUDYID, p.USUBJID, 'RFS' AS PARAMCD,
           date_diff('day', m.REMDT,
               CASE WHEN r.RELAPSEDT IS NOT NULL THEN r.RELAPSEDT
                    WHEN f.DTHFL = 'Y' THEN f.STATUSDT
                    ELSE f.STATUSDT END) / {{ days_per_month }} AS AVAL,
           CASE WHEN r.RELAPSEDT IS NOT NULL OR f.DTHFL = 'Y' THEN 0 ELSE 1 END AS CNSR,
           CASE WHEN r.RELAPSEDT IS NOT NULL THEN r.SRCFILE ELSE f.SRCFILE END AS SRCFILE,
           CASE WHEN r.RELAPSEDT IS NOT NULL THEN r._row ELSE f._row END AS SRCROW,
           concat_ws('; ', m.REMSRC, concat(f.SRCFILE, ':', f._row),
                     CASE WHEN r._row IS NOT NULL THEN concat(r.SRCFILE, ':', r._row) END) AS SRCROWS
    FROM patients p
    JOIN remission m USING (USUBJID)
    JOIN followup f USING (USUBJID)
    LEFT JOIN relapse r USING (USUBJID)
),
final AS (SELECT * FROM os UNION ALL SELECT * FROM rfs)
SELECT * FROM final
