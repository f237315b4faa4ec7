-- stg_<study>__adsl: one row per subject of the ADaM ADSL (SAS transport), SAS dates cast to DATE.
WITH source AS (SELECT * FROM {{ source('adsl') }}),
renamed AS (
    SELECT
        getvariable('repool_study')                           AS STUDYID,
        na(USUBJID)                             AS USUBJID,
        na(USUBJID)                             AS SUBJID,
        _row, 'adsl.xpt' AS SRCFILE,
        CAST(num(AGE) AS INTEGER)               AS AGE,
        na(SEX)                                 AS SEX,
        CAST(num(ECOGBL) AS INTEGER)            AS ECOGBL,
        na(PRHSCTFL)                            AS PRHSCT,
        num(BMBLPCT)                            AS BMBLPCT,
        CAST(num(PRSALVN) AS INTEGER)           AS PRSALVN,
        sas_date(TRTSDT)                        AS TRTSDT,
        sas_date(TRTEDT)                        AS TRTEDT,
        na(SAFFL)                               AS SAFFL,
        sas_date(HSCTDT)                        AS HSCTDT,
        na(HSCTSTAT)                            AS HSCTSTAT,
        sas_date(OTHTXDT)                       AS OTHTXDT
    FROM source
)
SELECT * FROM renamed
