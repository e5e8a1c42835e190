//! A group's statements on Postgres: one statement reads the state the checks need, one writes
//! everything the accepted commits do, each with the same text whatever the group's size.
//!
//! # Optimistic group commits
//!
//! Every write of the store's state (events, inbox, timers) bumps the sequencer's `epoch` in
//! the same transaction, under the sequencer's row lock. So a group commit needs neither an
//! explicit transaction nor the lock while it reads: it reads the state and the epoch in one
//! statement (one snapshot), decides, and writes in one statement that first sets the
//! sequencer's new position, timer generation and epoch *if the epoch is still the one it
//! read* (and takes the row lock doing so). If another process wrote in between, the
//! compare-and-set matches no row, the statement writes nothing, and the group is read again.
//! Otherwise nobody wrote since the snapshot, and nobody can until the statement commits: its
//! positions follow the last committed ones without a gap. Two round trips per group, where a
//! locked transaction takes four (`BEGIN` with the lock, reads, writes, `COMMIT`).
//! [`StoreTx`](super::StoreTx) holds the lock for its whole transaction ([`LOCK`]) and runs
//! the same statements in it.
//!
//! # Presumed state: one round trip
//!
//! Most groups need not read at all. The writer remembers the sequencer its last write left,
//! and commits usually say what they expect: a stream at an exact version (or new), an inbox
//! entry not yet recorded, a timer at the generation being fired. The group is decided on that
//! presumed state, and the write statement checks the presumption against its own snapshot
//! before the compare-and-set: if the epoch is still the remembered one, nobody wrote since
//! this writer's last write, so the snapshot is the state the presumption must match. If it
//! does not (a real conflict, another process's write, an append that expects any version),
//! nothing is written and the group is read and decided as above.
//!
//! # Array parameters
//!
//! Rows travel as one array per column, expanded by `unnest`, so the statements' text (and so
//! their prepared statements and plans) never depends on the number of rows, and a group of
//! 256 events binds 33 parameters, not 4,096. The group writer binds them as binary arrays on a
//! native connection of its own ([`apply_native`]); sqlx's `Any` driver binds no arrays, so a
//! [`StoreTx`](super::StoreTx), whose connection must be the read model's `Any` one, sends
//! each array as its text literal (`{"a","b"}`), which the statements cast (`$1::text[]`) and
//! the server parses: slower than binary, and fine for the few events a read model appends.

use std::fmt::Write;

use sqlx::any::AnyArguments;
use sqlx::error::BoxDynError;
use sqlx::postgres::PgArguments;
use sqlx::{
    Any, AnyConnection, Arguments, Connection, Database, Encode, Executor, FromRow, IntoArguments, PgConnection,
    Postgres, Type,
};
use uuid::Uuid;

use super::group::{decide, Claim, Keys, Outcome, Sequencer, Snapshot, Writes};
use crate::sql::{to_micros, Batch};
use crate::{Commit, ExpectedVersion, RecordedEvent};

/// Opens a transaction holding the sequencer's row lock, which serializes it with every other
/// writer of the store, in this process or another.
pub(super) const LOCK: &str = "BEGIN; SELECT 1 FROM sequencer WHERE id = 1 FOR UPDATE";

/// The sequencer, and the state at a group's keys, as [`ReadRow`]s.
const READ: &str = "\
    SELECT 0, NULL::text, NULL::text, position, timer_generation, epoch FROM sequencer WHERE id = 1 \
    UNION ALL \
    SELECT 1, s.stream, NULL, (SELECT COALESCE(MAX(e.stream_version), 0) FROM events e \
        WHERE e.stream = s.stream), NULL, NULL \
    FROM unnest($1::text[]) AS s (stream) \
    UNION ALL \
    SELECT 2, i.consumer, i.event_id, NULL, NULL, NULL FROM inbox i \
    JOIN unnest($2::text[], $3::text[]) AS c (consumer, event_id) \
        ON i.consumer = c.consumer AND i.event_id = c.event_id \
    UNION ALL \
    SELECT 3, t.key, NULL, t.generation, NULL, NULL FROM timers t WHERE t.key = ANY ($4::text[])";

/// A row of [`READ`]: kind, name, id and up to three numbers.
type ReadRow = (i32, Option<String>, Option<String>, Option<i64>, Option<i64>, Option<i64>);

/// Row kinds of [`READ`].
const SEQUENCER: i32 = 0;
const STREAM: i32 = 1;
const PROCESSED: i32 = 2;
const TIMER: i32 = 3;

/// A group's writes, if the epoch is still `$3` and the state matches what `$28`-`$33` presume
/// (stream versions; inbox entries not recorded; timer generations); returns the number of
/// sequencer rows set (0: nothing was written).
const WRITE: &str = "\
    WITH presumed AS ( \
        SELECT NOT EXISTS ( \
            SELECT FROM unnest($28::text[], $29::bigint[]) AS p (stream, version) \
            WHERE (SELECT COALESCE(MAX(e.stream_version), 0) FROM events e WHERE e.stream = p.stream) \
                <> p.version \
        ) AND NOT EXISTS ( \
            SELECT FROM inbox i JOIN unnest($30::text[], $31::text[]) AS c (consumer, event_id) \
                ON i.consumer = c.consumer AND i.event_id = c.event_id \
        ) AND NOT EXISTS ( \
            SELECT FROM unnest($32::text[], $33::bigint[]) AS f (key, generation) \
            WHERE NOT EXISTS (SELECT FROM timers t WHERE t.key = f.key AND t.generation = f.generation) \
        ) AS holds \
    ), seq AS ( \
        UPDATE sequencer SET position = $1, timer_generation = $2, epoch = epoch + 1 \
        WHERE id = 1 AND epoch = $3 AND (SELECT holds FROM presumed) RETURNING id \
    ), appended AS ( \
        INSERT INTO events (global_position, stream, stream_version, event_id, event_type, occurred_at, \
            recorded_at, correlation_id, causation_id, actor_role, actor_id, actor_jurisdiction, traceparent, \
            schema_version, routing_key, payload) \
        SELECT e.global_position, e.stream, e.stream_version, e.event_id, e.event_type, e.occurred_at, $4, \
            e.correlation_id, e.causation_id, e.actor_role, e.actor_id, e.actor_jurisdiction, e.traceparent, \
            e.schema_version, e.routing_key, e.payload \
        FROM unnest($5::bigint[], $6::text[], $7::bigint[], $8::text[], $9::text[], $10::bigint[], \
            $11::text[], $12::text[], $13::text[], $14::text[], $15::text[], $16::text[], $17::bigint[], \
            $18::text[], $19::bytea[]) \
            AS e (global_position, stream, stream_version, event_id, event_type, occurred_at, correlation_id, \
            causation_id, actor_role, actor_id, actor_jurisdiction, traceparent, schema_version, routing_key, \
            payload) \
        WHERE EXISTS (SELECT FROM seq) \
        RETURNING global_position \
    ), relayed AS ( \
        INSERT INTO outbox (first_position, last_position) \
        SELECT MIN(global_position), MAX(global_position) FROM appended HAVING COUNT(*) > 0 \
    ), claimed AS ( \
        INSERT INTO inbox (consumer, event_id, processed_at) \
        SELECT c.consumer, c.event_id, $4 FROM unnest($20::text[], $21::text[]) AS c (consumer, event_id) \
        WHERE EXISTS (SELECT FROM seq) \
    ), scheduled AS ( \
        INSERT INTO timers (key, generation, due_at, kind, payload) \
        SELECT * FROM unnest($22::text[], $23::bigint[], $24::bigint[], $25::text[], $26::bytea[]) \
        WHERE EXISTS (SELECT FROM seq) \
        ON CONFLICT (key) DO UPDATE SET generation = excluded.generation, due_at = excluded.due_at, \
            kind = excluded.kind, payload = excluded.payload \
    ), unscheduled AS ( \
        DELETE FROM timers WHERE key = ANY ($27::text[]) AND EXISTS (SELECT FROM seq) \
    ) \
    SELECT COUNT(*) FROM seq";

/// Records `$2` (event ids) in `$1`'s inbox, returning the ids it had not recorded before; a
/// write of the store's state, so it bumps the epoch.
const CLAIM: &str = "\
    WITH claimed AS ( \
        INSERT INTO inbox (consumer, event_id, processed_at) \
        SELECT $1, e.event_id, $3 FROM unnest($2::text[]) AS e (event_id) \
        ON CONFLICT (consumer, event_id) DO NOTHING RETURNING event_id \
    ), bumped AS ( \
        UPDATE sequencer SET epoch = epoch + 1 WHERE id = 1 \
    ) \
    SELECT event_id FROM claimed";

/// How an attempt at a group failed: before it wrote anything (a read: the attempt may be
/// repeated on a fresh connection) or while writing (whether the write happened is unknown).
#[derive(Debug)]
pub(super) enum Failure {
    Reading(sqlx::Error),
    Writing(sqlx::Error),
}

impl From<Failure> for sqlx::Error {
    fn from(failure: Failure) -> Self {
        match failure {
            Failure::Reading(error) | Failure::Writing(error) => error,
        }
    }
}

/// [`attempt`] through `Any` (array literals), on the state as read: for a
/// [`StoreTx`](super::StoreTx), under [`LOCK`], and for a group that lost the race too often.
pub(super) async fn apply(
    conn: &mut AnyConnection,
    commits: &[Commit],
) -> Result<Option<(Vec<Outcome>, Sequencer)>, Failure> {
    attempt::<_, _, Literals>(conn, commits, None).await
}

/// [`attempt`] on a native connection (binary arrays): the group writer's, which remembers the
/// sequencer its last write left (`known`).
pub(super) async fn apply_native(
    conn: &mut PgConnection,
    commits: &[Commit],
    known: Option<Sequencer>,
) -> Result<Option<(Vec<Outcome>, Sequencer)>, Failure> {
    attempt::<_, _, Native>(conn, commits, known).await
}

/// Checks `commits` in order and writes what the accepted ones do, with the epoch's
/// compare-and-set (see the module docs): on the state presumed from `known` and the commits'
/// own expectations if it can, else on the state as read. `Ok(None)`: another writer came first
/// and nothing was written; under [`LOCK`] that cannot happen. Returns the outcomes and the
/// sequencer after the group.
async fn attempt<C, DB, P>(
    conn: &mut C,
    commits: &[Commit],
    known: Option<Sequencer>,
) -> Result<Option<(Vec<Outcome>, Sequencer)>, Failure>
where
    C: Connection<Database = DB>,
    DB: Database,
    for<'e> &'e mut C: Executor<'e, Database = DB>,
    P: Parameters + IntoArguments<'static, DB> + Send + 'static,
    ReadRow: for<'r> FromRow<'r, DB::Row>,
    (i64,): for<'r> FromRow<'r, DB::Row>,
{
    if let Some((seq, (snapshot, presumed))) = known.zip(presume(commits)) {
        let decision = decide(commits, snapshot, seq);
        // A group that writes nothing sends no statement to check its presumption with (an
        // append of no events still expects a version): it is decided on the state as read.
        if !decision.writes.is_empty() {
            if let Some(after) = write::<_, _, P>(conn, &decision.writes, &presumed).await? {
                return Ok(Some(decision.outcomes(after)));
            }
        }
    }
    let keys = Keys::of(commits);
    let parameters = read_parameters::<P>(&keys).map_err(Failure::Reading)?;
    let rows: Vec<ReadRow> =
        sqlx::query_as_with(READ, parameters).fetch_all(&mut *conn).await.map_err(Failure::Reading)?;
    let (seq, snapshot) = decode_read(&keys, rows).map_err(Failure::Reading)?;
    let decision = decide(commits, snapshot, seq);
    Ok(write::<_, _, P>(conn, &decision.writes, &Presumed::default()).await?.map(|after| decision.outcomes(after)))
}

/// Writes `writes` if the epoch is still the one they were decided on and the state matches
/// `presumed`; the sequencer after them, or `None` if nothing was written. A group that changes
/// nothing is not sent.
async fn write<C, DB, P>(
    conn: &mut C,
    writes: &Writes<'_>,
    presumed: &Presumed<'_>,
) -> Result<Option<Sequencer>, Failure>
where
    C: Connection<Database = DB>,
    DB: Database,
    for<'e> &'e mut C: Executor<'e, Database = DB>,
    P: Parameters + IntoArguments<'static, DB> + Send + 'static,
    (i64,): for<'r> FromRow<'r, DB::Row>,
{
    if writes.is_empty() {
        return Ok(Some(writes.after));
    }
    let parameters = write_parameters::<P>(writes, presumed).map_err(Failure::Writing)?;
    let (set,): (i64,) =
        sqlx::query_as_with(WRITE, parameters).fetch_one(&mut *conn).await.map_err(Failure::Writing)?;
    Ok((set == 1).then_some(Sequencer { epoch: writes.after.epoch + 1, ..writes.after }))
}

/// What a group's decision presumed of the state, for the write statement to check: the version
/// of each stream, no inbox entry for the claims, the generation of each fired timer. Empty
/// when the decision was made on the state as read.
#[derive(Default)]
struct Presumed<'a> {
    versions: Vec<(&'a str, i64)>,
    claims: Vec<(&'a str, Uuid)>,
    timers: Vec<(&'a str, i64)>,
}

/// The state `commits` expect, as seen by their first expectation of each stream and timer,
/// with none of their inbox entries recorded; `None` if a commit appends to a stream at any
/// version (only a read tells which).
fn presume(commits: &[Commit]) -> Option<(Snapshot, Presumed<'_>)> {
    let mut snapshot = Snapshot::default();
    let mut presumed = Presumed::default();
    for commit in commits {
        for append in &commit.appends {
            let version = match append.expected {
                ExpectedVersion::Any => return None,
                ExpectedVersion::NoStream => 0,
                ExpectedVersion::Exact(version) => version,
            };
            if !snapshot.versions.contains_key(&append.stream) {
                snapshot.versions.insert(append.stream.clone(), version);
                presumed.versions.push((&append.stream, i64::try_from(version).ok()?));
            }
        }
        if let Some((consumer, event_id)) = &commit.inbox {
            presumed.claims.push((consumer, *event_id));
        }
        if let Some((key, generation)) = &commit.fire {
            if !snapshot.timers.contains_key(key) {
                snapshot.timers.insert(key.clone(), *generation);
                presumed.timers.push((key, *generation));
            }
        }
    }
    Some((snapshot, presumed))
}

fn read_parameters<P: Parameters>(keys: &Keys<'_>) -> Result<P, sqlx::Error> {
    let event_ids: Vec<String> = keys.claims.iter().map(|(_, event_id)| event_id.to_string()).collect();
    let mut parameters = P::default();
    parameters.texts(keys.streams.iter().copied());
    parameters.texts(keys.claims.iter().map(|(consumer, _)| *consumer));
    parameters.texts(event_ids.iter().map(String::as_str));
    parameters.texts(keys.fired.iter().copied());
    parameters.checked()
}

fn decode_read(keys: &Keys<'_>, rows: Vec<ReadRow>) -> Result<(Sequencer, Snapshot), sqlx::Error> {
    let missing = || sqlx::Error::Protocol("a column of a group's state is NULL".into());
    let mut seq = None;
    let mut snapshot = Snapshot::of(keys);
    for (kind, name, id, first, second, third) in rows {
        match (kind, name, first) {
            (SEQUENCER, _, Some(position)) => {
                let (timer_generation, epoch) = second.zip(third).ok_or_else(missing)?;
                seq = Some(Sequencer { position, timer_generation, epoch });
            }
            (STREAM, Some(stream), Some(version)) => snapshot.set_version(&stream, version)?,
            (PROCESSED, Some(consumer), _) => snapshot.mark_processed(consumer, &id.ok_or_else(missing)?)?,
            (TIMER, Some(key), Some(generation)) => {
                snapshot.timers.insert(key, generation);
            }
            (kind, ..) => {
                return Err(sqlx::Error::Protocol(format!("unexpected row of kind {kind} in a group's state")))
            }
        }
    }
    Ok((seq.ok_or(sqlx::Error::RowNotFound)?, snapshot))
}

fn write_parameters<P: Parameters>(writes: &Writes<'_>, presumed: &Presumed<'_>) -> Result<P, sqlx::Error> {
    let events = &writes.events;
    let event_ids: Vec<String> = events.iter().map(|event| event.event_id.to_string()).collect();
    let inbox_ids: Vec<String> = writes.inbox.iter().map(|(_, event_id)| event_id.to_string()).collect();
    let claimed_ids: Vec<String> = presumed.claims.iter().map(|(_, event_id)| event_id.to_string()).collect();
    let mut parameters = P::default();
    let texts = |parameters: &mut P, field: fn(&RecordedEvent) -> &str| parameters.texts(events.iter().map(field));
    parameters.bigint(writes.after.position);
    parameters.bigint(writes.after.timer_generation);
    parameters.bigint(writes.before.epoch);
    parameters.bigint(to_micros(writes.recorded_at));
    parameters.bigints(events.iter().map(|event| event.global_position));
    texts(&mut parameters, |event| &event.stream);
    parameters.bigints(events.iter().map(|event| event.stream_version as i64));
    parameters.texts(event_ids.iter().map(String::as_str));
    texts(&mut parameters, |event| &event.event_type);
    parameters.bigints(events.iter().map(|event| to_micros(event.occurred_at)));
    texts(&mut parameters, |event| &event.correlation_id);
    texts(&mut parameters, |event| &event.causation_id);
    texts(&mut parameters, |event| &event.actor.role);
    texts(&mut parameters, |event| &event.actor.id);
    texts(&mut parameters, |event| &event.actor.jurisdiction);
    texts(&mut parameters, |event| &event.traceparent);
    parameters.bigints(events.iter().map(|event| i64::from(event.schema_version)));
    texts(&mut parameters, |event| &event.routing_key);
    parameters.bytes(events.iter().map(|event| event.payload.as_slice()));
    parameters.texts(writes.inbox.iter().map(|(consumer, _)| *consumer));
    parameters.texts(inbox_ids.iter().map(String::as_str));
    parameters.texts(writes.scheduled.iter().map(|(timer, _)| timer.key.as_str()));
    parameters.bigints(writes.scheduled.iter().map(|(_, generation)| *generation));
    parameters.bigints(writes.scheduled.iter().map(|(timer, _)| to_micros(timer.due_at)));
    parameters.texts(writes.scheduled.iter().map(|(timer, _)| timer.kind.as_str()));
    parameters.bytes(writes.scheduled.iter().map(|(timer, _)| timer.payload.as_slice()));
    parameters.texts(writes.deleted.iter().copied());
    parameters.texts(presumed.versions.iter().map(|(stream, _)| *stream));
    parameters.bigints(presumed.versions.iter().map(|(_, version)| *version));
    parameters.texts(presumed.claims.iter().map(|(consumer, _)| *consumer));
    parameters.texts(claimed_ids.iter().map(String::as_str));
    parameters.texts(presumed.timers.iter().map(|(key, _)| *key));
    parameters.bigints(presumed.timers.iter().map(|(_, generation)| *generation));
    parameters.checked()
}

/// The parameters of [`READ`] and [`WRITE`], bound in order: binary arrays ([`Native`]) or
/// array literals ([`Literals`]). The first value that fails to encode is kept for
/// [`Parameters::checked`].
trait Parameters: Default + Sized {
    fn bigint(&mut self, value: i64);
    fn bigints(&mut self, values: impl Iterator<Item = i64>);
    fn texts<'s>(&mut self, values: impl Iterator<Item = &'s str>);
    fn bytes<'b>(&mut self, values: impl Iterator<Item = &'b [u8]>);
    /// The first value that failed to encode, if any.
    fn take_error(&mut self) -> Option<BoxDynError>;

    /// The parameters, or the first encoding error.
    fn checked(mut self) -> Result<Self, sqlx::Error> {
        match self.take_error() {
            Some(error) => Err(sqlx::Error::Encode(error)),
            None => Ok(self),
        }
    }
}

/// Binary arrays, for a native connection.
#[derive(Default)]
struct Native {
    arguments: PgArguments,
    error: Option<BoxDynError>,
}

impl Native {
    fn add<'q, T: Encode<'q, Postgres> + Type<Postgres> + 'q>(&mut self, value: T) {
        if let Err(error) = self.arguments.add(value) {
            self.error.get_or_insert(error);
        }
    }
}

impl Parameters for Native {
    fn bigint(&mut self, value: i64) {
        self.add(value);
    }
    fn bigints(&mut self, values: impl Iterator<Item = i64>) {
        self.add(values.collect::<Vec<i64>>());
    }
    fn texts<'s>(&mut self, values: impl Iterator<Item = &'s str>) {
        self.add(values.collect::<Vec<&str>>());
    }
    fn bytes<'b>(&mut self, values: impl Iterator<Item = &'b [u8]>) {
        self.add(values.collect::<Vec<&[u8]>>());
    }
    fn take_error(&mut self) -> Option<BoxDynError> {
        self.error.take()
    }
}

impl<'q> IntoArguments<'q, Postgres> for Native {
    fn into_arguments(self) -> PgArguments {
        self.arguments
    }
}

/// Array literals, through `Any`.
#[derive(Default)]
struct Literals {
    arguments: AnyArguments<'static>,
    error: Option<BoxDynError>,
}

impl Literals {
    fn add<T: Encode<'static, Any> + Type<Any> + 'static>(&mut self, value: T) {
        if let Err(error) = self.arguments.add(value) {
            self.error.get_or_insert(error);
        }
    }
}

impl Parameters for Literals {
    fn bigint(&mut self, value: i64) {
        self.add(value);
    }
    fn bigints(&mut self, values: impl Iterator<Item = i64>) {
        self.add(bigint_array(values));
    }
    fn texts<'s>(&mut self, values: impl Iterator<Item = &'s str>) {
        self.add(text_array(values));
    }
    fn bytes<'b>(&mut self, values: impl Iterator<Item = &'b [u8]>) {
        self.add(bytea_array(values));
    }
    fn take_error(&mut self) -> Option<BoxDynError> {
        self.error.take()
    }
}

impl IntoArguments<'static, Any> for Literals {
    fn into_arguments(self) -> AnyArguments<'static> {
        self.arguments
    }
}

/// Queues the claim of `event_ids` for `consumer` in its inbox (see [`CLAIM`]). Returns how
/// many statements it queued.
pub(super) fn queue_claim<'q>(
    batch: &mut Batch<'q>,
    Claim { consumer, event_ids, processed_at }: Claim<'q, '_>,
) -> usize {
    if event_ids.is_empty() {
        return 0;
    }
    let event_ids: Vec<String> = event_ids.iter().map(Uuid::to_string).collect();
    batch.statement(CLAIM).bind(consumer).bind(text_array(event_ids.iter().map(String::as_str))).bind(processed_at);
    1
}

/// An array literal of `items`, each written by `element`.
fn array<T>(items: impl IntoIterator<Item = T>, mut element: impl FnMut(&mut String, T)) -> String {
    let mut literal = String::from("{");
    for (i, item) in items.into_iter().enumerate() {
        if i > 0 {
            literal.push(',');
        }
        element(&mut literal, item);
    }
    literal.push('}');
    literal
}

/// `{"a","b\"c"}`: every element quoted, `"` and `\` escaped with a backslash.
fn text_array<'s>(items: impl IntoIterator<Item = &'s str>) -> String {
    array(items, |literal, item| {
        literal.push('"');
        for c in item.chars() {
            if c == '"' || c == '\\' {
                literal.push('\\');
            }
            literal.push(c);
        }
        literal.push('"');
    })
}

fn bigint_array(items: impl IntoIterator<Item = i64>) -> String {
    array(items, |literal, item| write!(literal, "{item}").expect("writing to a String"))
}

/// `{"\\x0a0b"}`: each value in `bytea`'s hex input format (its backslash escaped).
fn bytea_array<'b>(items: impl IntoIterator<Item = &'b [u8]>) -> String {
    array(items, |literal, item| {
        literal.push_str("\"\\\\x");
        literal.push_str(&hex::encode(item));
        literal.push('"');
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn array_literals_quote_and_escape_every_element() {
        assert_eq!(
            text_array(["a", "b c", "", "NULL", "{x,y}", "q\"u\\o"]),
            r#"{"a","b c","","NULL","{x,y}","q\"u\\o"}"#
        );
        assert_eq!(text_array(["网格", "é"]), r#"{"网格","é"}"#);
        assert_eq!(text_array([]), "{}");
        assert_eq!(bigint_array([1, -2, i64::MAX]), "{1,-2,9223372036854775807}");
        assert_eq!(bytea_array([&[0x0a, 0xff][..], &[]]), r#"{"\\x0aff","\\x"}"#);
    }
}
