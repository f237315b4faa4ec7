-- int_adrs (legacy CSV): one row per patient and parameter. BOR = best of cycles 1-2
-- (CR > CRh > CRi > BFHM > PR > NR > NE) dated at the first remission; MRD = 'Y' when MRD < 10^-4
-- at any assessment within two cycles, else 'N' (not assessed counts as no response).
WITH response AS (
    SELECT *, CASE RESPONSE WHEN 'CR' THEN 1 WHEN 'CRh' THEN 2 WHEN 'CRi' THEN 3 WHEN 'BFHM' THEN 4
                            WHEN 'PR' THEN 5 WHEN 'NR' THEN 6 WHEN 'NE' THEN 7 END AS rank
    FROM {{ ref('response') }}
    WHERE CYCLE IN (1, 2)
),
best AS (
    SELECT STUDYID, USUBJID,
           arg_min(RESPONSE, rank) AS AVALC,
           min(ADT) FILTER (WHERE RESPONSE IN ('CR', 'CRh', 'CRi')) AS ADT,
           CASE WHEN bool_or(MRDRESP = 'Y') THEN 'Y' ELSE 'N' END AS MRD
    FROM response
    GROUP BY STUDYID, USUBJID
),
final AS (
    SELECT STUDYID, USUBJID, 'BOR' AS PARAMCD, AVALC, ADT FROM best
    UNION ALL
    SELECT STUDYID, USUBJID, 'MRD' AS PARAMCD, MRD AS AVALC, CAST(NULL AS DATE) AS ADT FROM best
)
SELECT * FROM final
