-- stg_<study>__other_tx: one row per anti-leukemic therapy other than blinatumomab.
WITH source AS (SELECT * FROM {{ source('other_tx') }}),
renamed AS (
    SELECT getvariable('repool_study') AS STUDYID, getvariable('repool_study') || '-' || na(PATNR) AS USUBJID, _row, 'other_tx.csv' AS SRCFILE,
           de_date(START_DATE) AS OTHTXDT, na(THERAPY) AS THERAPY
    FROM source
)
SELECT * FROM renamed
