"""Analytics: satisfaction indices, nightly aggregation, exports and scoring schemes."""
