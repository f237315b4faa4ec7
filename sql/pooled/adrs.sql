-- pooled.adrs: One row per pooled subject and response parameter (BOR, MRD). Key: USUBJID, PARAMCD.
WITH source AS (SELECT * FROM {{ union('adrs') }}),
final AS (
    SELECT s.STUDYID, s.USUBJID, s.PARAMCD, s.AVALC, s.ADT, f.SRCDLV, s.SRCFILE, f.SRCSHA, s.SRCROW, s.SRCROWS
    FROM source s
    JOIN pooled.adsl a USING (STUDYID, USUBJID)
    LEFT JOIN work.source_files f ON f.STUDYID = s.STUDYID AND f.SRCFILE = s.SRCFILE
)
SELECT * FROM final ORDER BY STUDYID, USUBJID, PARAMCD
