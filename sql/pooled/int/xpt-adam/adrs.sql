-- int_adrs (ADaM XPT): one row per subject and parameter; MRD not evaluable counts as no response.
-- Source: the record's row of the delivered file (SRCFILE, SRCROW; SRCROWS the same as file:row).
SELECT STUDYID, USUBJID, PARAMCD,
       CASE WHEN PARAMCD = 'MRD' AND AVALC = 'NE' THEN 'N' ELSE AVALC END AS AVALC,
       CASE WHEN PARAMCD = 'BOR' AND AVALC IN ('CR', 'CRh', 'CRi') THEN ADT END AS ADT,
       SRCFILE, _row AS SRCROW, concat(SRCFILE, ':', _row) AS SRCROWS
FROM {{ ref('adrs') }}
WHERE PARAMCD IN ('BOR', 'MRD')
