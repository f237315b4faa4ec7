-- stg_<study>__hsct: one row per patient transplanted after blinatumomab, with the status at HSCT.
WITH source AS (SELECT * FROM {{ source('hsct') }}),
renamed AS (
    SELECT getvariable('repool_study') AS STUDYID, getvariable('repool_study') || '-' || na(PATNR) AS USUBJID, _row, 'hsct.csv' AS SRCFILE,
           de_date(HSCT_DATE) AS HSCTDT,
           CASE na(STATUS_AT_HSCT) WHEN 'CR' THEN 'CR' WHEN 'RELAPSE' THEN 'RELAPSE'
               WHEN 'REFRACTORY' THEN 'REFRACTORY' WHEN 'OTHER_TX' THEN 'OTHER_TX' END AS HSCTSTAT
    FROM source
)
SELECT * FROM renamed
