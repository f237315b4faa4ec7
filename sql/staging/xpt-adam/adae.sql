-- stg_<study>__adae: one row per adverse event (ADaM OCCDS); the delivered TRTEMFL kept as SRCTEMFL.
WITH source AS (SELECT * FROM {{ source('adae') }}),
renamed AS (
    SELECT getvariable('repool_study') AS STUDYID, na(USUBJID) AS USUBJID, _row AS AESEQ, 'adae.xpt' AS SRCFILE,
           na(AEDECOD) AS AEDECOD, TRY_CAST(na(AETOXGR) AS INTEGER) AS AETOXGR,
           na(AESER) AS AESER, na(AREL) AS AREL,
           strftime(sas_date(ASTDT), '%Y-%m-%d') AS ASTDTC,
           na(AEOUT) AS AEOUT, na(TRTEMFL) AS SRCTEMFL
    FROM source
)
SELECT * FROM renamed
