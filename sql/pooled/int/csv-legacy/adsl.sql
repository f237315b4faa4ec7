-- int_adsl (legacy CSV): one row per patient; first other therapy and post-dose transplant joined in.
-- Source: the patient's row of patients.csv (SRCFILE, SRCROW); SRCROWS adds the hsct.csv row and the
-- other_tx.csv row of the first other therapy when they were joined in.
WITH patients AS (SELECT * FROM {{ ref('patients') }}),
hsct AS (SELECT * FROM {{ ref('hsct') }}),
other_tx AS (
    SELECT USUBJID, min(OTHTXDT) AS OTHTXDT, arg_min(concat(SRCFILE, ':', _row), (OTHTXDT, _row)) AS OTHTXSRC
    FROM {{ ref('other_tx') }} o
    WHERE OTHTXDT >= (SELECT TRTSDT FROM patients p WHERE p.USUBJID = o.USUBJID)
    GROUP BY USUBJID
),
final AS (
    SELECT p.STUDYID, p.USUBJID, p.SUBJID, p.AGE, p.SEX, p.ECOGBL, p.PRHSCT, p.BMBLPCT,
           p.SALVLINE, p.TRTSDT, p.TRTEDT, h.HSCTDT, h.HSCTSTAT, o.OTHTXDT,
           p.SRCFILE, p._row AS SRCROW,
           concat_ws('; ', concat(p.SRCFILE, ':', p._row),
                     CASE WHEN h._row IS NOT NULL THEN concat(h.SRCFILE, ':', h._row) END,
                     o.OTHTXSRC) AS SRCROWS
    FROM patients p
    LEFT JOIN hsct h USING (USUBJID)
    LEFT JOIN other_tx o USING (USUBJID)
)
SELECT * FROM final
