-- The IANA time zone the KPI day counts are cut in, daylight saving included; it replaces the
-- fixed UTC offset, which is no longer read. Counts cut in an offset have no zone (''), so they
-- are built again once, in the city's zone.
ALTER TABLE evaluation_kpi_days_offset ADD COLUMN time_zone TEXT NOT NULL DEFAULT '';
