-- stg_<study>__relapse: one row per patient with a hematologic relapse after remission.
WITH source AS (SELECT * FROM {{ source('relapse') }}),
renamed AS (
    SELECT getvariable('repool_study') AS STUDYID, getvariable('repool_study') || '-' || na(PATNR) AS USUBJID, _row, 'relapse.csv' AS SRCFILE,
           de_date(RELAPSE_DATE) AS RELAPSEDT
    FROM source
)
SELECT * FROM renamed
