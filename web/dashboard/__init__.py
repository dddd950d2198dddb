"""The staff dashboard: login, overview, ranking, unit pages, map and downloads (see routes)."""
