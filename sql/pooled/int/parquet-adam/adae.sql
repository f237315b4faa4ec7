-- int_adae (Parquet): one row per adverse event; onset may be partial (YYYY-MM, YYYY).
SELECT STUDYID, USUBJID, AESEQ, AEDECOD, AETOXGR, AESER, AREL, ASTDTC, AEOUT, SRCTEMFL
FROM {{ ref('adae') }}
