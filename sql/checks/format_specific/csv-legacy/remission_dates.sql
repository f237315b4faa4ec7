-- One row per remission assessment (CR, CRh*, CRi within cycles 1-2) without its assessment date.
-- csv-legacy only: this is the one format whose RFS the pipeline derives itself, from the date of
-- the first remission assessment, and whose assessment date may be empty (an NE assessment has
-- none, so the source contract lets ASSESS_DATE be empty). The ADaM formats deliver RFS (and
-- xpt-adam's BOR2C date) ready made. A relapse or follow-up dated before the remission is the
-- shared rule negative_time (csv-legacy's facts time RFS from the remission date).
SELECT 'response.csv' AS file, _row AS row, 'ASSESS_DATE' AS "column", 'missing_value' AS reason,
       'remission assessment without a date' AS value, USUBJID AS subject
FROM {{ ref('response') }}
WHERE CYCLE IN (1, 2) AND RESPONSE IN ('CR', 'CRh', 'CRi') AND ADT IS NULL
