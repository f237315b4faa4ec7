-- int_adae (legacy CSV): one row per adverse event, onset as ISO text.
-- Source: the event's row of ae.csv (SRCFILE, SRCROW = AESEQ; SRCROWS lists every delivered row used).
SELECT STUDYID, USUBJID, AESEQ, AEDECOD, AETOXGR, AESER, AREL, ASTDTC, AEOUT, SRCTEMFL,
       SRCFILE, AESEQ AS SRCROW, concat(SRCFILE, ':', AESEQ) AS SRCROWS
FROM {{ ref('ae') }}
