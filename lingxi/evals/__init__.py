"""Evaluations behind `lingxi eval ...`: each returns {"dataset", "rows": [{"system", "metrics"}], "config"}."""
