-- stg_<study>__ae: one row per adverse event; outcomes decoded to CDISC terms.
WITH source AS (SELECT * FROM {{ source('ae') }}),
renamed AS (
    SELECT
        getvariable('repool_study')                                   AS STUDYID,
        getvariable('repool_study') || '-' || na(PATNR)                     AS USUBJID,
        _row                                            AS AESEQ, 'ae.csv' AS SRCFILE,
        na(PT)                                          AS AEDECOD,
        TRY_CAST(na(GRADE) AS INTEGER)                  AS AETOXGR,
        jn_yn(SERIOUS)                                  AS AESER,
        jn_yn(RELATED)                                  AS AREL,
        strftime(de_date(ONSET), '%Y-%m-%d')            AS ASTDTC,
        CASE na(OUTCOME)
            WHEN 'FATAL' THEN 'FATAL'
            WHEN 'RECOVERED' THEN 'RECOVERED/RESOLVED'
            WHEN 'ONGOING' THEN 'NOT RECOVERED/NOT RESOLVED'
            WHEN 'NOT RECOVERED' THEN 'NOT RECOVERED/NOT RESOLVED'
            WHEN 'UNKNOWN' THEN 'UNKNOWN' END           AS AEOUT,
        CAST(NULL AS VARCHAR)                           AS SRCTEMFL
    FROM source
)
SELECT * FROM renamed
