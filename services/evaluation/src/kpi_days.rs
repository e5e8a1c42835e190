//! The KPI counts per local day of opening (`evaluation_kpi_days`): what a KPI query reads
//! instead of every case row.
//!
//! A case's row contributes a [`Tally`] of one case to the day it was opened on, in the city's
//! time zone, under the whole city (`''`) and each area above its grid, in three scopes: every
//! category and level ([`ALL`]), every category at its current level ([`LEVEL`]), and its own
//! category at its current level ([`OWN`]). Whenever the projection writes a row, in the same
//! transaction, the row's old contribution is taken out and its new one added
//! ([`DayCounts::change`]), so the counts always equal a count of the rows. A query reads one
//! row per day, or with a category and no level filter the day's row per level. Days cut only
//! part of by `from`/`to` are counted from the case rows themselves, so the figures are exactly
//! those of the rows.

use crate::kpi::CaseFilter;
use crate::padding;
use crate::projection::{self, CaseRow};
use chrono::{DateTime, NaiveDate};
use gridloop_domain::clock::{self, Tz};
use gridloop_domain::kpi::{Report, Tally};
use gridloop_domain::level::Level;
use gridloop_eventstore::{Batch, Binds, Placeholders};
use sqlx::{AnyConnection, AnyPool, Row};
use std::collections::HashMap;

const DAY_MICROS: i64 = 86_400_000_000;

/// Scope of a day's counts: every category and level.
pub const ALL: i64 = 0;
/// Scope of a day's counts: every category, one current level.
pub const LEVEL: i64 = 2;
/// Scope of a day's counts: one category at one current level (`''`: no level yet).
pub const OWN: i64 = 3;

/// The count columns, in [`Counts`] order.
const COUNTS: [&str; 18] = [
    "reported",
    "rejected",
    "dispatched",
    "responded_on_time",
    "resolved",
    "closed",
    "closed_on_time",
    "evaluated",
    "satisfied",
    "reopened",
    "settled_grid",
    "settled_community",
    "settled_street",
    "settled_district",
    "mediations_agreed",
    "mediations_failed",
    "response_unknown",
    "on_time_unknown",
];

/// A [`Tally`]'s counts in [`COUNTS`] order, signed so that a row can be taken out.
pub type Counts = [i64; 18];

/// Case rows read per page when the counts are built from the projection.
const BUILD_PAGE: i64 = 10_000;

/// One row of `evaluation_kpi_days`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
pub struct DayKey {
    pub area: String,
    pub scope: i64,
    pub category_code: String,
    pub level: String,
    /// Days since 1970-01-01 in the city's time zone.
    pub day: i64,
}

fn epoch() -> NaiveDate {
    NaiveDate::from_ymd_opt(1970, 1, 1).expect("1970-01-01 is a date")
}

/// The local day (days since 1970-01-01 in `zone`) of an instant in µs.
pub fn local_day(micros: i64, zone: Tz) -> i64 {
    match DateTime::from_timestamp_micros(micros) {
        Some(at) => (clock::local_date(at, zone) - epoch()).num_days(),
        // Beyond chrono's range (±262,000 years): the UTC day, which no real case has.
        None => micros.div_euclid(DAY_MICROS),
    }
}

/// The first instant (µs) of a local day: 23 or 25 hours after the previous one where daylight
/// saving changes.
fn day_start(day: i64, zone: Tz) -> i64 {
    date_of(day).and_then(|date| clock::start_of_day(date, zone)).map_or(day * DAY_MICROS, |at| at.timestamp_micros())
}

fn date_of(day: i64) -> Option<NaiveDate> {
    epoch().checked_add_signed(chrono::Duration::days(day))
}

fn counts_of(tally: &Tally) -> Counts {
    let [grid, community, street, district] = tally.settled;
    [
        tally.reported,
        tally.rejected,
        tally.dispatched,
        tally.responded_on_time,
        tally.resolved,
        tally.closed,
        tally.closed_on_time,
        tally.evaluated,
        tally.satisfied,
        tally.reopened,
        grid,
        community,
        street,
        district,
        tally.mediations_agreed,
        tally.mediations_failed,
        tally.response_unknown,
        tally.on_time_unknown,
    ]
    .map(|n| i64::try_from(n).unwrap_or(i64::MAX))
}

fn tally_of(counts: &Counts) -> Tally {
    let [reported, rejected, dispatched, responded_on_time, resolved, closed, closed_on_time, evaluated, satisfied, reopened, grid, community, street, district, mediations_agreed, mediations_failed, response_unknown, on_time_unknown] =
        counts.map(|n| u64::try_from(n).unwrap_or_default());
    Tally {
        reported,
        rejected,
        dispatched,
        responded_on_time,
        resolved,
        closed,
        closed_on_time,
        evaluated,
        satisfied,
        reopened,
        settled: [grid, community, street, district],
        mediations_agreed,
        mediations_failed,
        response_unknown,
        on_time_unknown,
    }
}

/// The areas a row counts under: the whole city and each prefix of its grid code an area
/// filter can name (a filter matches the grid code by prefix).
fn areas(grid_code: &str) -> impl Iterator<Item = &str> {
    std::iter::once("").chain(Level::ALL.iter().rev().filter_map(|level| grid_code.get(..level.code_len())))
}

/// Changes to the day counts, summed in memory before they are written.
#[derive(Debug, Default)]
pub struct DayCounts(HashMap<DayKey, Counts>);

impl DayCounts {
    /// Count `row` in (`sign` 1) or out (`sign` -1).
    pub fn add(&mut self, row: &CaseRow, zone: Tz, sign: i64) {
        let mut tally = Tally::default();
        tally.add(&row.facts());
        let counts = counts_of(&tally);
        let day = local_day(row.opened_at, zone);
        let level = row.level.as_deref().unwrap_or_default();
        let mut scopes = vec![(ALL, "", ""), (OWN, row.category_code.as_str(), level)];
        if !level.is_empty() {
            scopes.push((LEVEL, "", level));
        }
        for area in areas(&row.grid_code) {
            for &(scope, category_code, level) in &scopes {
                let key = DayKey {
                    area: area.to_string(),
                    scope,
                    category_code: category_code.to_string(),
                    level: level.to_string(),
                    day,
                };
                let entry = self.0.entry(key).or_insert([0; 18]);
                for (n, delta) in entry.iter_mut().zip(counts) {
                    *n += sign * delta;
                }
            }
        }
    }

    /// A row written over `before` (none: a new case).
    pub fn change(&mut self, before: Option<&CaseRow>, after: &CaseRow, zone: Tz) {
        if let Some(before) = before {
            self.add(before, zone, -1);
        }
        self.add(after, zone, 1);
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The changes that change something, in key order (so concurrent writers take the rows'
    /// locks in one order).
    pub fn into_rows(self) -> Vec<(DayKey, Counts)> {
        let mut rows: Vec<_> = self.0.into_iter().filter(|(_, counts)| counts.iter().any(|n| *n != 0)).collect();
        rows.sort_unstable_by(|a, b| a.0.cmp(&b.0));
        rows
    }
}

/// Queue the addition of `rows` to the day counts, in upserts padded to a few sizes.
pub fn queue_add<'q>(batch: &mut Batch<'q>, rows: &'q [(DayKey, Counts)]) {
    let style = batch.style();
    let updates: Vec<String> = COUNTS.iter().map(|c| format!("{c} = evaluation_kpi_days.{c} + excluded.{c}")).collect();
    let columns = format!("area, scope, category_code, level, day, {}", COUNTS.join(", "));
    for chunk in rows.chunks(padding::CHUNK) {
        let size = padding::padded(chunk.len());
        let sql = format!(
            "{} ON CONFLICT (area, scope, category_code, level, day) DO UPDATE SET {}",
            padding::insert_values(style, "evaluation_kpi_days", &columns, size, 5 + COUNTS.len()),
            updates.join(", ")
        );
        let mut binds = batch.statement(&sql);
        for (key, counts) in chunk {
            bind_day_row(&mut binds, Some(key.area.as_str()), key, counts);
        }
        // A padding row: a NULL area, so it is filtered out before the insert.
        let (key, counts) = &chunk[0];
        for _ in chunk.len()..size {
            bind_day_row(&mut binds, None, key, counts);
        }
    }
}

fn bind_day_row<'q>(binds: &mut Binds<'_, 'q>, area: Option<&'q str>, key: &'q DayKey, counts: &Counts) {
    binds.bind(area).bind(key.scope).bind(key.category_code.as_str()).bind(key.level.as_str()).bind(key.day);
    for n in counts {
        binds.bind(*n);
    }
}

pub async fn add(conn: &mut AnyConnection, rows: &[(DayKey, Counts)]) -> Result<(), sqlx::Error> {
    let mut batch = Batch::new(Placeholders::of(conn));
    queue_add(&mut batch, rows);
    batch.execute(conn).await
}

/// The time zone the day counts are cut in; `None` until they are built (or when they were cut
/// in a fixed UTC offset, before zones).
pub async fn built_zone(conn: &mut AnyConnection) -> Result<Option<Tz>, sqlx::Error> {
    let name: Option<(String,)> =
        sqlx::query_as("SELECT time_zone FROM evaluation_kpi_days_offset WHERE id = 1").fetch_optional(conn).await?;
    Ok(name.and_then(|(name,)| clock::parse_zone(&name).ok()))
}

/// Record that the day counts are cut in `zone`.
pub async fn set_zone(conn: &mut AnyConnection, zone: Tz) -> Result<(), sqlx::Error> {
    // `utc_offset_seconds` predates zones and is no longer read.
    sqlx::query(
        "INSERT INTO evaluation_kpi_days_offset (id, utc_offset_seconds, time_zone) VALUES (1, 0, $1) \
         ON CONFLICT (id) DO UPDATE SET time_zone = excluded.time_zone",
    )
    .bind(zone.name())
    .execute(conn)
    .await?;
    Ok(())
}

/// Build the day counts from the case rows unless they are cut in `zone` already: once on an
/// installation whose projection predates them, or after the city's time zone changed. Says
/// whether it built them.
pub async fn ensure(pool: &AnyPool, zone: Tz) -> Result<bool, sqlx::Error> {
    if built_zone(&mut *pool.acquire().await?).await? == Some(zone) {
        return Ok(false);
    }
    let mut tx = pool.begin().await?;
    if (*tx).backend_name() == "PostgreSQL" {
        // Writers of case rows wait until the counts are built from them.
        sqlx::query("LOCK TABLE evaluation_cases IN SHARE MODE").execute(&mut *tx).await?;
    }
    if built_zone(&mut tx).await? == Some(zone) {
        return Ok(false);
    }
    sqlx::query("DELETE FROM evaluation_kpi_days").execute(&mut *tx).await?;
    let mut after = String::new();
    loop {
        let page = projection::page(&mut tx, &after, BUILD_PAGE).await?;
        let Some(last) = page.last() else { break };
        after = last.case_id.clone();
        let mut counts = DayCounts::default();
        for row in &page {
            counts.add(row, zone, 1);
        }
        add(&mut tx, &counts.into_rows()).await?;
    }
    set_zone(&mut tx, zone).await?;
    tx.commit().await?;
    Ok(true)
}

/// Add every case the filter selects to `report`: whole local days from the day counts, the
/// parts of days `from`/`to` cut from the case rows. When the counts are not cut in the
/// report's time zone, every case comes from the rows.
pub async fn report(pool: &AnyPool, filter: &CaseFilter, report: &mut Report) -> Result<(), sqlx::Error> {
    let zone = report.zone();
    if built_zone(&mut *pool.acquire().await?).await? != Some(zone) {
        return projection::report(pool, filter, report).await;
    }
    // The whole days inside [from, to).
    let first = filter.from.map(|from| {
        let day = local_day(from, zone);
        if day_start(day, zone) < from {
            day + 1
        } else {
            day
        }
    });
    let end = filter.to.map(|to| local_day(to, zone));
    if let (Some(first), Some(end)) = (first, end) {
        if first >= end {
            return projection::report(pool, filter, report).await;
        }
    }
    let part = |from: Option<i64>, to: Option<i64>| CaseFilter { from, to, ..filter.clone() };
    if let (Some(from), Some(first)) = (filter.from, first) {
        let start = day_start(first, zone);
        if from < start {
            projection::report(pool, &part(Some(from), Some(start)), report).await?;
        }
    }
    for (day, tally) in days(pool, filter, first, end).await? {
        let date = date_of(day).ok_or_else(|| sqlx::Error::Protocol(format!("day {day} out of range")))?;
        report.add_day(date, &tally);
    }
    if let (Some(to), Some(end)) = (filter.to, end) {
        let start = day_start(end, zone);
        if start < to {
            projection::report(pool, &part(Some(start), Some(to)), report).await?;
        }
    }
    Ok(())
}

/// The filter's counts of each day in `[first, end)` that has a case.
async fn days(
    pool: &AnyPool,
    filter: &CaseFilter,
    first: Option<i64>,
    end: Option<i64>,
) -> Result<Vec<(i64, Tally)>, sqlx::Error> {
    let category = filter.category.as_deref().unwrap_or_default();
    let level = filter.level.map(Level::as_str).unwrap_or_default();
    let scope = match (category.is_empty(), level.is_empty()) {
        (true, true) => ALL,
        (true, false) => LEVEL,
        (false, _) => OWN,
    };
    // Each key column compared only when it selects, so the primary key's index serves it.
    let mut selects = String::from("area = $1 AND scope = $2");
    let mut next = 5;
    if !category.is_empty() {
        selects.push_str(&format!(" AND category_code = ${next}"));
        next += 1;
    }
    if !level.is_empty() {
        selects.push_str(&format!(" AND level = ${next}"));
    }
    // Postgres sums BIGINT as NUMERIC: cast back.
    let sums: Vec<String> = COUNTS.iter().map(|c| format!("CAST(SUM({c}) AS BIGINT)")).collect();
    let sql = format!(
        "SELECT day, {} FROM evaluation_kpi_days WHERE {selects} AND day >= $3 AND day < $4 \
         GROUP BY day HAVING SUM(reported) > 0 ORDER BY day",
        sums.join(", ")
    );
    let mut query = sqlx::query(&sql)
        .bind(filter.area.as_ref().map_or("", |a| a.as_str()))
        .bind(scope)
        .bind(first.unwrap_or(i64::MIN))
        .bind(end.unwrap_or(i64::MAX));
    if !category.is_empty() {
        query = query.bind(category);
    }
    if !level.is_empty() {
        query = query.bind(level);
    }
    let rows = query.fetch_all(pool).await?;
    rows.iter()
        .map(|row| {
            let mut counts = [0; 18];
            for (i, n) in counts.iter_mut().enumerate() {
                *n = row.try_get(i + 1)?;
            }
            Ok((row.try_get(0)?, tally_of(&counts)))
        })
        .collect()
}

/// Up to `limit` day counts that count a case, after `after` in key order (a page of
/// [`dump`], for comparing two read models without holding either).
pub async fn page(
    conn: &mut AnyConnection,
    after: Option<&DayKey>,
    limit: i64,
) -> Result<Vec<(DayKey, Counts)>, sqlx::Error> {
    let sql = format!(
        "SELECT area, scope, category_code, level, day, {} FROM evaluation_kpi_days \
         WHERE reported <> 0 AND (area, scope, category_code, level, day) > ($1, $2, $3, $4, $5) \
         ORDER BY area, scope, category_code, level, day LIMIT $6",
        COUNTS.join(", ")
    );
    let first =
        DayKey { area: String::new(), scope: i64::MIN, category_code: String::new(), level: String::new(), day: 0 };
    let after = after.unwrap_or(&first);
    let rows = sqlx::query(&sql)
        .bind(after.area.as_str())
        .bind(after.scope)
        .bind(after.category_code.as_str())
        .bind(after.level.as_str())
        .bind(after.day)
        .bind(limit)
        .fetch_all(conn)
        .await?;
    rows.iter().map(day_count).collect()
}

fn day_count(row: &sqlx::any::AnyRow) -> Result<(DayKey, Counts), sqlx::Error> {
    let key = DayKey {
        area: row.try_get(0)?,
        scope: row.try_get(1)?,
        category_code: row.try_get(2)?,
        level: row.try_get(3)?,
        day: row.try_get(4)?,
    };
    let mut counts = [0; 18];
    for (i, n) in counts.iter_mut().enumerate() {
        *n = row.try_get(i + 5)?;
    }
    Ok((key, counts))
}

/// Every day count that counts a case, in key order (part of the read model a replay must
/// reproduce).
pub async fn dump(pool: &AnyPool) -> Result<Vec<(DayKey, Counts)>, sqlx::Error> {
    let sql = format!(
        "SELECT area, scope, category_code, level, day, {} FROM evaluation_kpi_days WHERE reported <> 0",
        COUNTS.join(", ")
    );
    let rows = sqlx::query(&sql).fetch_all(pool).await?;
    let mut out = rows.iter().map(day_count).collect::<Result<Vec<_>, sqlx::Error>>()?;
    out.sort_unstable_by(|a, b| a.0.cmp(&b.0));
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn beijing() -> Tz {
        clock::DEFAULT_ZONE
    }

    #[test]
    fn local_days_are_cut_at_local_midnight() {
        // 2026-03-01T16:00:00Z is midnight of 2 March in Beijing.
        let midnight = chrono::DateTime::parse_from_rfc3339("2026-03-01T16:00:00Z").unwrap().timestamp_micros();
        let day = local_day(midnight, beijing());
        assert_eq!(local_day(midnight - 1, beijing()), day - 1);
        assert_eq!(day_start(day, beijing()), midnight);
        assert_eq!(date_of(day), NaiveDate::from_ymd_opt(2026, 3, 2));
        assert_eq!(local_day(-1, clock::parse_zone("UTC").unwrap()), -1, "before 1970 rounds down");
    }

    #[test]
    fn a_spring_forward_day_is_23_hours_of_local_time() {
        let ny = clock::parse_zone("America/New_York").unwrap();
        let at = |s: &str| chrono::DateTime::parse_from_rfc3339(s).unwrap().timestamp_micros();
        let sunday = local_day(at("2026-03-08T05:00:00Z"), ny);
        assert_eq!(date_of(sunday), NaiveDate::from_ymd_opt(2026, 3, 8));
        assert_eq!(day_start(sunday, ny), at("2026-03-08T05:00:00Z"), "midnight EST");
        assert_eq!(day_start(sunday + 1, ny), at("2026-03-09T04:00:00Z"), "midnight EDT");
        assert_eq!(local_day(at("2026-03-09T03:59:59Z"), ny), sunday, "23:59:59 EDT");
    }

    #[test]
    fn a_row_counts_under_the_city_and_every_area_above_its_grid() {
        assert_eq!(
            areas("321012001002003").collect::<Vec<_>>(),
            ["", "321012", "321012001", "321012001002", "321012001002003"]
        );
        assert_eq!(areas("3210120").collect::<Vec<_>>(), ["", "321012"], "a short code counts where a prefix can");
    }

    #[test]
    fn counts_and_tallies_convert_both_ways() {
        let tally = Tally {
            reported: 9,
            rejected: 1,
            dispatched: 8,
            responded_on_time: 7,
            resolved: 6,
            closed: 5,
            closed_on_time: 4,
            evaluated: 3,
            satisfied: 2,
            reopened: 1,
            settled: [2, 1, 1, 1],
            mediations_agreed: 3,
            mediations_failed: 2,
            response_unknown: 4,
            on_time_unknown: 1,
        };
        assert_eq!(tally_of(&counts_of(&tally)), tally);
    }
}
