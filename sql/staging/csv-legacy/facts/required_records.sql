-- One row per kind of record every pooled patient must have: OS comes from the follow-up row, the
-- best response (and with it the remission date) from the response rows. Relapse, HSCT, other
-- therapy and AE rows are optional.
SELECT * FROM (VALUES
    ('followup.csv', 'follow-up row'),
    ('response.csv', 'response row')
) AS required(file, record)
