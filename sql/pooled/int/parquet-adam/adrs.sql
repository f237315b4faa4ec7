-- int_adrs (Parquet): one row per subject and parameter; MRD not assessed counts as no response.
-- Source: the record's row of the delivered file (SRCFILE, SRCROW; SRCROWS the same as file:row).
SELECT STUDYID, USUBJID, PARAMCD,
       CASE WHEN PARAMCD = 'MRD' THEN coalesce(AVALC, 'N') ELSE AVALC END AS AVALC,
       CAST(NULL AS DATE) AS ADT,
       SRCFILE, _row AS SRCROW, concat(SRCFILE, ':', _row) AS SRCROWS
FROM {{ ref('adrs') }}
WHERE PARAMCD IN ('BOR', 'MRD')
