-- stg_<study>__patients: one row per patient as delivered in patients.csv (renamed, cast, decoded).
WITH source AS (SELECT * FROM {{ source('patients') }}),
renamed AS (
    SELECT
        getvariable('repool_study')                                   AS STUDYID,
        na(PATNR)                                       AS SUBJID,
        getvariable('repool_study') || '-' || na(PATNR)                     AS USUBJID,
        _row, 'patients.csv' AS SRCFILE,
        CASE na(SEX) WHEN '1' THEN 'M' WHEN '2' THEN 'F' END AS SEX,
        TRY_CAST(na(AGE) AS INTEGER)                    AS AGE,
        TRY_CAST(na(ECOG) AS INTEGER)                   AS ECOGBL,
        jn_yn(PRIOR_SCT)                                AS PRHSCT,
        de_num(BM_BLASTS)                               AS BMBLPCT,
        TRY_CAST(na(SALVAGE_NR) AS INTEGER)             AS SALVLINE,
        de_date(FIRST_DOSE)                             AS TRTSDT,
        de_date(LAST_DOSE)                              AS TRTEDT
    FROM source
)
SELECT * FROM renamed
