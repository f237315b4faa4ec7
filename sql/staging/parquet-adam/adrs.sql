-- stg_<study>__adrs: one row per subject and response parameter, long response labels decoded.
WITH source AS (SELECT * FROM {{ source('adrs') }}),
renamed AS (
    SELECT getvariable('repool_study') AS STUDYID, na(usubjid) AS USUBJID, _row, 'adrs.parquet' AS SRCFILE,
           CASE na(paramcd) WHEN 'BOR_C1C2' THEN 'BOR' WHEN 'MRD_C1C2' THEN 'MRD' END AS PARAMCD,
           CASE na(avalc)
               WHEN 'CR' THEN 'CR'
               WHEN 'CR with partial hematologic recovery' THEN 'CRh'
               WHEN 'CR with incomplete hematologic recovery' THEN 'CRi'
               WHEN 'Blast-free hypoplastic or aplastic bone marrow' THEN 'BFHM'
               WHEN 'Partial remission' THEN 'PR'
               WHEN 'No response' THEN 'NR'
               WHEN 'Not evaluable' THEN 'NE'
               WHEN 'Y' THEN 'Y' WHEN 'N' THEN 'N' END AS AVALC
    FROM source
)
SELECT * FROM renamed
