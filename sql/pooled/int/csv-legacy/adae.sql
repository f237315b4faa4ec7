-- int_adae (legacy CSV): one row per adverse event, onset as ISO text.
SELECT STUDYID, USUBJID, AESEQ, AEDECOD, AETOXGR, AESER, AREL, ASTDTC, AEOUT, SRCTEMFL
FROM {{ ref('ae') }}
