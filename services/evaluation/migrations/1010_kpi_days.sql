-- The KPI counts per local day of opening, kept by the projection in the transaction that
-- changes a case's row (the row's old contribution out, its new one in), so a KPI query reads a
-- row per day instead of every case. Each case counts under every area above its grid (and ''
-- for the whole city) and in three scopes: every category and level (0), its current level (2),
-- its category at its current level (3) — the filters a KPI query takes.
CREATE TABLE IF NOT EXISTS evaluation_kpi_days (
    area TEXT NOT NULL,
    scope BIGINT NOT NULL,
    category_code TEXT NOT NULL,
    level TEXT NOT NULL,
    day BIGINT NOT NULL,
    reported BIGINT NOT NULL,
    rejected BIGINT NOT NULL,
    dispatched BIGINT NOT NULL,
    responded_on_time BIGINT NOT NULL,
    resolved BIGINT NOT NULL,
    closed BIGINT NOT NULL,
    closed_on_time BIGINT NOT NULL,
    evaluated BIGINT NOT NULL,
    satisfied BIGINT NOT NULL,
    reopened BIGINT NOT NULL,
    settled_grid BIGINT NOT NULL,
    settled_community BIGINT NOT NULL,
    settled_street BIGINT NOT NULL,
    settled_district BIGINT NOT NULL,
    mediations_agreed BIGINT NOT NULL,
    mediations_failed BIGINT NOT NULL,
    response_unknown BIGINT NOT NULL,
    on_time_unknown BIGINT NOT NULL,
    PRIMARY KEY (area, scope, category_code, level, day)
);
-- The UTC offset (seconds) the days above are cut in; no row until they are built, so an
-- installation upgraded with cases in its projection builds them once from the rows.
CREATE TABLE IF NOT EXISTS evaluation_kpi_days_offset (
    id BIGINT PRIMARY KEY,
    utc_offset_seconds BIGINT NOT NULL
);
