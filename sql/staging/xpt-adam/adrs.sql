-- stg_<study>__adrs: one row per subject and response parameter (BOR2C, MRD2C), decoded to pooled codes.
WITH source AS (SELECT * FROM {{ source('adrs') }}),
renamed AS (
    SELECT getvariable('repool_study') AS STUDYID, na(USUBJID) AS USUBJID, _row, 'adrs.xpt' AS SRCFILE,
           CASE na(PARAMCD) WHEN 'BOR2C' THEN 'BOR' WHEN 'MRD2C' THEN 'MRD' END AS PARAMCD,
           CASE WHEN na(PARAMCD) = 'BOR2C' THEN
                CASE na(AVALC) WHEN 'CR' THEN 'CR' WHEN 'CRH' THEN 'CRh' WHEN 'CRI' THEN 'CRi'
                    WHEN 'BFHM' THEN 'BFHM' WHEN 'PR' THEN 'PR' WHEN 'NR' THEN 'NR' WHEN 'NE' THEN 'NE' END
                ELSE CASE na(AVALC) WHEN 'Y' THEN 'Y' WHEN 'N' THEN 'N' WHEN 'NE' THEN 'NE' END
           END AS AVALC,
           sas_date(ADT) AS ADT
    FROM source
)
SELECT * FROM renamed
