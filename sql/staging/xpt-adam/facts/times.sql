-- One row per row of ADTTE (OS timed from the first dose, RFS from the remission), against its origin.
--   os_death       the row is an OS event (PARAMCD = 'OS', CNSR = 0): a death timed from the first dose
--   before_origin  a death: its date ADT lies before the first dose TRTSDT of ADSL, or its delivered
--                  AVAL is negative (a death without an ADSL row is never before: orphan_record
--                  reports it); any other row: its delivered AVAL is negative
--   "column", value  a death is shown by its date ADT against the first dose, any other row by its
--                  AVAL (days)
WITH adtte AS (
    SELECT *, PARAMCD = 'OS' AND CNSR = 0 AS os_death FROM {{ ref('adtte') }}
)
SELECT 'adtte.xpt'                                                  AS file,
       t._row                                                       AS row,
       CASE WHEN t.os_death THEN 'ADT' ELSE 'AVAL' END              AS "column",
       t.USUBJID                                                    AS subject,
       t.os_death,
       CASE WHEN t.os_death THEN a.USUBJID IS NOT NULL AND (t.ADT < a.TRTSDT OR t.AVAL_DAYS < 0)
            ELSE t.AVAL_DAYS < 0 END                                AS before_origin,
       CASE WHEN t.os_death
            THEN strftime(t.ADT, '%Y-%m-%d') || ' < first dose ' || strftime(a.TRTSDT, '%Y-%m-%d')
            ELSE CAST(t.AVAL_DAYS AS VARCHAR) END                   AS value
FROM adtte t LEFT JOIN {{ ref('adsl') }} a ON a.USUBJID = t.USUBJID
