//! The 4321 distribution of closed cases in a window: read from the per-day level counts the
//! monitor keeps in the transaction that closes a case, for the whole UTC days in the window,
//! and from the case rows only for the parts of days its ends cut. The answer so reads a few
//! rows per day of the window whatever the history's length, and equals a count of every closed
//! row (a case closes once: closed is final).

use crate::drift::EVERYWHERE;
use crate::projection;
use gridloop_domain::jurisdiction::AreaCode;
use gridloop_domain::level::Level;
use sqlx::AnyPool;
use std::ops::Range;

const DAY_MICROS: i64 = 86_400 * 1_000_000;

/// Closed cases per settled level, in an area (None: everywhere) and a closure window in
/// micros (`[from, to)`, open where None), with every level present.
pub async fn counts(
    pool: &AnyPool,
    area: Option<&AreaCode>,
    from: Option<i64>,
    to: Option<i64>,
) -> Result<[(Level, u64); 4], sqlx::Error> {
    let (from, to) = (from.unwrap_or(i64::MIN), to.unwrap_or(i64::MAX));
    let mut per_level = Level::ALL.map(|level| (level, 0));
    let mut add = |counts: Vec<(Level, u64)>| {
        for (level, n) in counts {
            if let Some(slot) = per_level.iter_mut().find(|(l, _)| *l == level) {
                slot.1 += n;
            }
        }
    };
    let Some(days) = whole_days(from, to) else {
        add(projection::settled_counts(pool, area, Some(from), Some(to)).await?);
        return Ok(per_level);
    };
    add(counted_days(pool, area, &days).await?);
    let (days_from, days_to) = (days.start * DAY_MICROS, days.end * DAY_MICROS);
    if from < days_from {
        add(projection::settled_counts(pool, area, Some(from), Some(days_from)).await?);
    }
    if days_to < to {
        add(projection::settled_counts(pool, area, Some(days_to), Some(to)).await?);
    }
    Ok(per_level)
}

/// The UTC days (numbers since the epoch) wholly inside `[from, to)`; None when there is none.
fn whole_days(from: i64, to: i64) -> Option<Range<i64>> {
    let first = from.div_euclid(DAY_MICROS) + i64::from(from.rem_euclid(DAY_MICROS) != 0);
    let end = to.div_euclid(DAY_MICROS);
    (first < end).then_some(first..end)
}

async fn counted_days(
    pool: &AnyPool,
    area: Option<&AreaCode>,
    days: &Range<i64>,
) -> Result<Vec<(Level, u64)>, sqlx::Error> {
    let rows: Vec<(String, i64)> = sqlx::query_as(
        "SELECT level, CAST(SUM(n) AS BIGINT) FROM evaluation_level_counts \
         WHERE area = $1 AND day >= $2 AND day < $3 GROUP BY level",
    )
    .bind(area.map_or(EVERYWHERE, AreaCode::as_str))
    .bind(days.start)
    .bind(days.end)
    .fetch_all(pool)
    .await?;
    Ok(rows.into_iter().filter_map(|(level, n)| Some((level.parse::<Level>().ok()?, u64::try_from(n).ok()?))).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn whole_days_are_those_the_window_covers_from_midnight_to_midnight() {
        let day = |d: i64| d * DAY_MICROS;
        assert_eq!(whole_days(day(10), day(12)), Some(10..12));
        assert_eq!(whole_days(day(10) + 1, day(12)), Some(11..12));
        assert_eq!(whole_days(day(10) + 1, day(12) - 1), None, "one day cut at both ends");
        assert_eq!(whole_days(day(10), day(10)), None);
        assert_eq!(whole_days(day(-2) - 5, day(0)), Some(-2..0), "before the epoch");
        let everything = whole_days(i64::MIN, i64::MAX).unwrap();
        assert!(everything.start < -100_000 && everything.end > 100_000, "{everything:?}");
        assert!(everything.start.checked_mul(DAY_MICROS).is_some() && everything.end.checked_mul(DAY_MICROS).is_some());
    }
}
