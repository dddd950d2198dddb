"""Analytics: satisfaction indices, nightly aggregation, exports and scoring schemes.

Counting happens in the database (`storage.counts`, one INSERT … SELECT per day into
`daily_counts`, run by `aggregate`); indices are pandas arithmetic on those counts
(`indices`, `report`).

Import from the modules: the package itself imports nothing, so that a command which
needs one light module (periods, levels) does not load pandas with it.
"""
