-- stg_<study>__adtte: one row per subject and parameter (OS, RFS); AVAL in months as delivered.
WITH source AS (SELECT * FROM {{ source('adtte') }}),
renamed AS (
    SELECT getvariable('repool_study') AS STUDYID, na(usubjid) AS USUBJID, _row, 'adtte.parquet' AS SRCFILE,
           na(paramcd) AS PARAMCD, num(aval) AS AVAL_MONTHS, na(avalu) AS AVALU,
           CAST(num(cnsr) AS INTEGER) AS CNSR
    FROM source
)
SELECT * FROM renamed
