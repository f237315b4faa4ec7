-- stg_<study>__followup: one row per patient: vital status and its date (death or last known alive).
WITH source AS (SELECT * FROM {{ source('followup') }}),
renamed AS (
    SELECT
        getvariable('repool_study')                                   AS STUDYID,
        getvariable('repool_study') || '-' || na(PATNR)                     AS USUBJID,
        _row, 'followup.csv' AS SRCFILE,
        CASE na(STATUS) WHEN 'DEAD' THEN 'Y' WHEN 'ALIVE' THEN 'N' END AS DTHFL,
        de_date(STATUS_DATE)                            AS STATUSDT
    FROM source
)
SELECT * FROM renamed
