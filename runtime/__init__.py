"""leadrules runtime: scoring engine, readers/writers, simulate, diff, explain and reports."""
