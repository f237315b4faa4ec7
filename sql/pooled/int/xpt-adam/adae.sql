-- int_adae (ADaM XPT): one row per adverse event.
SELECT STUDYID, USUBJID, AESEQ, AEDECOD, AETOXGR, AESER, AREL, ASTDTC, AEOUT, SRCTEMFL
FROM {{ ref('adae') }}
