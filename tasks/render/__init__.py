"""Readers that compute nothing: report, terminal tables, reproduction, diff, run summary, audit view.

They read the ARD and the audit tables; none recomputes a statistic, and none enters the code version.
"""
