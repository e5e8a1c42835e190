-- The 4321 distribution without an area reads the installation's own counts (area ''), kept
-- with the per-area counts from now on; here they are summed once from the districts' counts
-- (every area code has exactly one district), so the answer needs no scan of every area's rows.
INSERT INTO evaluation_level_counts (area, day, level, n)
SELECT '', day, level, SUM(n) FROM evaluation_level_counts WHERE LENGTH(area) = 6 GROUP BY day, level;
