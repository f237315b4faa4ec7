-- pooled.adtte: One row per pooled subject and time-to-event parameter, AVAL in months.
-- OS for every subject; RFS only for subjects in remission. Key: USUBJID, PARAMCD.
WITH source AS (SELECT * FROM {{ union('adtte') }}),
final AS (
    SELECT s.STUDYID, s.USUBJID, s.PARAMCD, CAST(s.AVAL AS DOUBLE) AS AVAL, s.CNSR,
           f.SRCDLV, s.SRCFILE, f.SRCSHA, s.SRCROW, s.SRCROWS
    FROM source s
    JOIN pooled.adsl a USING (STUDYID, USUBJID)
    LEFT JOIN work.source_files f ON f.STUDYID = s.STUDYID AND f.SRCFILE = s.SRCFILE
    WHERE s.PARAMCD = 'OS' OR (s.PARAMCD = 'RFS' AND a.REMFL = 'Y')
)
SELECT * FROM final ORDER BY STUDYID, USUBJID, PARAMCD
