-- int_adae (Parquet): one row per adverse event; onset may be partial (YYYY-MM, YYYY).
-- Source: the record's row of the delivered file (SRCFILE, SRCROW; SRCROWS the same as file:row).
SELECT STUDYID, USUBJID, AESEQ, AEDECOD, AETOXGR, AESER, AREL, ASTDTC, AEOUT, SRCTEMFL,
       SRCFILE, AESEQ AS SRCROW, concat(SRCFILE, ':', AESEQ) AS SRCROWS
FROM {{ ref('adae') }}
