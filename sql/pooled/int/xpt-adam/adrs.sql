-- int_adrs (ADaM XPT): one row per subject and parameter; MRD not evaluable counts as no response.
SELECT STUDYID, USUBJID, PARAMCD,
       CASE WHEN PARAMCD = 'MRD' AND AVALC = 'NE' THEN 'N' ELSE AVALC END AS AVALC,
       CASE WHEN PARAMCD = 'BOR' AND AVALC IN ('CR', 'CRh', 'CRi') THEN ADT END AS ADT
FROM {{ ref('adrs') }}
WHERE PARAMCD IN ('BOR', 'MRD')
