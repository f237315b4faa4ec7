-- int_adrs (legacy CSV): one row per patient and parameter. BOR = best of cycles 1-2
-- (CR > CRh > CRi > BFHM > PR > NR > NE) dated at the first remission; MRD = 'Y' when MRD < 10^-4
-- at any assessment within two cycles, else 'N' (not assessed counts as no response).
-- Source: BOR the response.csv row of the best response (earliest such row), MRD the first row with
-- MRD negative (else the first row); SRCROWS lists every response.csv row of cycles 1-2 read.
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
           CASE WHEN bool_or(MRDRESP = 'Y') THEN 'Y' ELSE 'N' END AS MRD,
           any_value(SRCFILE) AS SRCFILE,
           arg_min(_row, (coalesce(rank, 99), _row)) AS BOR_ROW,
           coalesce(min(_row) FILTER (WHERE MRDRESP = 'Y'), min(_row)) AS MRD_ROW,
           string_agg(concat(SRCFILE, ':', _row), '; ' ORDER BY _row) AS SRCROWS
    FROM response
    GROUP BY STUDYID, USUBJID
),
final AS (
    SELECT STUDYID, USUBJID, 'BOR' AS PARAMCD, AVALC, ADT, SRCFILE, BOR_ROW AS SRCROW, SRCROWS FROM best
    UNION ALL
    SELECT STUDYID, USUBJID, 'MRD' AS PARAMCD, MRD AS AVALC, CAST(NULL AS DATE) AS ADT,
           SRCFILE, MRD_ROW AS SRCROW, SRCROWS FROM best
)
SELECT * FROM final
