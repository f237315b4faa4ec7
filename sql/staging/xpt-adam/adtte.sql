-- stg_<study>__adtte: one row per subject and parameter (OS, RFS); AVAL in days as delivered.
WITH source AS (SELECT * FROM {{ source('adtte') }}),
renamed AS (
    SELECT getvariable('repool_study') AS STUDYID, na(USUBJID) AS USUBJID, _row, 'adtte.xpt' AS SRCFILE,
           na(PARAMCD) AS PARAMCD, sas_date(STARTDT) AS STARTDT, sas_date(ADT) AS ADT,
           num(AVAL) AS AVAL_DAYS, CAST(num(CNSR) AS INTEGER) AS CNSR
    FROM source
)
SELECT * FROM renamed
