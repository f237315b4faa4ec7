-- Decoding helpers shared by the staging models. Each returns NULL for "unknown", never guesses.
CREATE OR REPLACE MACRO na(x) AS NULLIF(NULLIF(trim(CAST(x AS VARCHAR)), 'n.a.'), '');
-- MT103-206: DD.MM.YYYY
CREATE OR REPLACE MACRO de_date(x) AS CAST(try_strptime(na(x), '%d.%m.%Y') AS DATE);
-- MT103-206: decimal comma
CREATE OR REPLACE MACRO de_num(x) AS TRY_CAST(replace(na(x), ',', '.') AS DOUBLE);
-- numeric as delivered (SAS/Parquet), NaN and non-numbers as NULL
CREATE OR REPLACE MACRO num(x) AS CASE WHEN TRY_CAST(x AS DOUBLE) IS NULL OR isnan(TRY_CAST(x AS DOUBLE)) THEN NULL
    ELSE TRY_CAST(x AS DOUBLE) END;
-- SAS: days since 1960-01-01
-- (a value beyond any calendar gives NULL, never an overflow: the source check reports it as implausible_date)
CREATE OR REPLACE MACRO sas_date(x) AS CASE WHEN num(x) IS NULL OR abs(num(x)) > 2000000 THEN NULL
    ELSE DATE '1960-01-01' + TRY_CAST(floor(num(x)) AS INTEGER) END;
-- ISO-8601 full date
CREATE OR REPLACE MACRO iso_date(x) AS TRY_CAST(na(x) AS DATE);
-- Y/N from J/N (MT103-206) or from a boolean (00103311)
CREATE OR REPLACE MACRO jn_yn(x) AS CASE na(x) WHEN 'J' THEN 'Y' WHEN 'N' THEN 'N' END;
CREATE OR REPLACE MACRO bool_yn(x) AS CASE WHEN x IS NULL THEN NULL WHEN TRY_CAST(x AS BOOLEAN) THEN 'Y' ELSE 'N' END;
