-- pooled.adrs: One row per pooled subject and response parameter (BOR, MRD). Key: USUBJID, PARAMCD.
WITH source AS (SELECT * FROM {{ union('adrs') }}),
final AS (
    SELECT s.STUDYID, s.USUBJID, s.PARAMCD, s.AVALC, s.ADT
    FROM source s
    JOIN pooled.adsl a USING (STUDYID, USUBJID)
)
SELECT * FROM final ORDER BY STUDYID, USUBJID, PARAMCD
