-- int_adrs (Parquet): one row per subject and parameter; MRD not assessed counts as no response.
SELECT STUDYID, USUBJID, PARAMCD,
       CASE WHEN PARAMCD = 'MRD' THEN coalesce(AVALC, 'N') ELSE AVALC END AS AVALC,
       CAST(NULL AS DATE) AS ADT
FROM {{ ref('adrs') }}
WHERE PARAMCD IN ('BOR', 'MRD')
