-- stg_<study>__adsl: one row per randomised subject (both arms), ISO dates cast, codes decoded.
WITH source AS (SELECT * FROM {{ source('adsl') }}),
renamed AS (
    SELECT
        getvariable('repool_study')                           AS STUDYID,
        na(usubjid)                             AS USUBJID,
        na(usubjid)                             AS SUBJID,
        _row, 'adsl.parquet' AS SRCFILE,
        na(arm)                                 AS ARM,
        TRY_CAST(treated AS BOOLEAN)                AS TREATED,
        CAST(num(age) AS INTEGER)               AS AGE,
        CASE na(sex) WHEN 'MALE' THEN 'M' WHEN 'FEMALE' THEN 'F' END AS SEX,
        TRY_CAST(na(ecog) AS INTEGER)           AS ECOGBL,
        bool_yn(prior_allo_hsct)                AS PRHSCT,
        num(bm_blasts_pct)                      AS BMBLPCT,
        CASE na(salvage_phase) WHEN 'FIRST' THEN 1 WHEN 'SECOND' THEN 2 WHEN 'THIRD' THEN 3
            WHEN 'FOURTH' THEN 4 WHEN 'FIFTH_OR_LATER' THEN 5 END AS SALVLINE,
        iso_date(first_dose_date)               AS TRTSDT,
        iso_date(last_dose_date)                AS TRTEDT,
        iso_date(hsct_date)                     AS HSCTDT,
        na(hsct_status)                         AS HSCTSTAT,
        iso_date(other_tx_date)                 AS OTHTXDT
    FROM source
)
SELECT * FROM renamed
