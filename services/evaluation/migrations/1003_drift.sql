-- The 4321 drift monitor. Closed cases per area (district, street, community, grid), UTC day and
-- settled level, counted in the same transaction as the CaseClosed that closed them, so the
-- window's distribution is a cheap indexed sum; and each area's alert state, so an alert is
-- raised once per crossing of the tolerance (and cleared once).
CREATE TABLE IF NOT EXISTS evaluation_level_counts (
    area TEXT NOT NULL,
    day BIGINT NOT NULL,
    level TEXT NOT NULL,
    n BIGINT NOT NULL,
    PRIMARY KEY (area, day, level)
);
CREATE TABLE IF NOT EXISTS evaluation_drift (
    area TEXT PRIMARY KEY,
    drifted BIGINT NOT NULL,
    changed_at BIGINT NOT NULL,
    grid_share DOUBLE PRECISION NOT NULL,
    community_share DOUBLE PRECISION NOT NULL,
    street_share DOUBLE PRECISION NOT NULL,
    district_share DOUBLE PRECISION NOT NULL,
    deviation DOUBLE PRECISION NOT NULL,
    closed_total BIGINT NOT NULL
);
