-- int_adsl (legacy CSV): one row per patient; first other therapy and post-dose transplant joined in.
WITH patients AS (SELECT * FROM {{ ref('patients') }}),
hsct AS (SELECT * FROM {{ ref('hsct') }}),
other_tx AS (
    SELECT USUBJID, min(OTHTXDT) AS OTHTXDT
    FROM {{ ref('other_tx') }} o
    WHERE OTHTXDT >= (SELECT TRTSDT FROM patients p WHERE p.USUBJID = o.USUBJID)
    GROUP BY USUBJID
),
final AS (
    SELECT p.STUDYID, p.USUBJID, p.SUBJID, p.AGE, p.SEX, p.ECOGBL, p.PRHSCT, p.BMBLPCT,
           p.SALVLINE, p.TRTSDT, p.TRTEDT, h.HSCTDT, h.HSCTSTAT, o.OTHTXDT
    FROM patients p
    LEFT JOIN hsct h USING (USUBJID)
    LEFT JOIN other_tx o USING (USUBJID)
)
SELECT * FROM final
