-- stg_<study>__adae: one row per adverse event; onset kept as delivered text (may be partial).
WITH source AS (SELECT * FROM {{ source('adae') }}),
renamed AS (
    SELECT getvariable('repool_study') AS STUDYID, na(usubjid) AS USUBJID, _row AS AESEQ, 'adae.parquet' AS SRCFILE,
           na(aedecod) AS AEDECOD, CAST(num(toxgrade) AS INTEGER) AS AETOXGR,
           bool_yn(serious) AS AESER, bool_yn(related) AS AREL,
           na(onset_date) AS ASTDTC, na(outcome) AS AEOUT, CAST(NULL AS VARCHAR) AS SRCTEMFL
    FROM source
)
SELECT * FROM renamed
