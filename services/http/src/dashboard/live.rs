//! The live feed (server-sent events): the loop's figures, pushed when the projection they are
//! read from moves. The server watches evaluation's `WatchFigures` for the area under the
//! caller's token and re-reads the figures on each change, at most once per [`COALESCE`] — a
//! burst of 200 events a second is four re-reads, not two hundred — and pushes them only when
//! they changed. A refusal ends the stream with an `error` event; the end of the watch (the
//! services stopping) or this server stopping ends it quietly, and the page reconnects.

use super::figures::{loop_snapshot, ViewQuery};
use super::{DashError, Session};
use crate::routes::AppState;
use axum::extract::{Query, State};
use axum::response::sse::{Event, KeepAlive, Sse};
use futures::stream::{self, Stream};
use futures::{FutureExt, StreamExt};
use gridloop_proto::v1 as pb;
use std::convert::Infallible;
use std::time::Duration;
use tokio::time::Instant;

/// The least time between two re-reads of one feed.
const COALESCE: Duration = Duration::from_millis(250);
/// Re-read even without events this often: "overdue" and "due soon" move with the clock alone.
const CLOCK_TICK: Duration = Duration::from_secs(30);
/// Re-read this often from an evaluation service that has no `WatchFigures` (an older release
/// in distributed mode), as the page did before it had one.
const FALLBACK_TICK: Duration = Duration::from_millis(500);

/// What makes a feed re-read.
enum Trigger {
    Watch(Box<tonic::Streaming<pb::FiguresChanged>>),
    Tick,
}

/// Why a feed stopped waiting.
enum Stop {
    /// The watch ended: the services are stopping.
    Quietly,
    Refused(DashError),
}

struct Feed {
    session: Session,
    area: String,
    trigger: Option<Trigger>,
    last_read: Option<Instant>,
    last_sent: Option<String>,
    ended: bool,
}

/// `event: loop` with the loop view's JSON each time it changes (the first at once).
pub async fn stream(
    State(state): State<AppState>,
    session: Session,
    Query(query): Query<ViewQuery>,
) -> Sse<impl Stream<Item = Result<Event, Infallible>>> {
    let feed = Feed { session, area: query.area, trigger: None, last_read: None, last_sent: None, ended: false };
    let stopping = state.stopping;
    let events = stream::unfold(feed, move |mut feed| {
        let stopping = stopping.clone();
        async move {
            if feed.ended {
                return None;
            }
            let next = tokio::select! {
                next = feed.next_change() => next,
                _ = stopping.cancelled() => Err(Stop::Quietly),
            };
            feed.event(next)
        }
    });
    Sse::new(events).keep_alive(KeepAlive::default())
}

impl Feed {
    /// The SSE event of a change, or of the refusal that ends the feed.
    fn event(mut self, next: Result<String, Stop>) -> Option<(Result<Event, Infallible>, Feed)> {
        match next {
            Ok(data) => Some((Ok(Event::default().event("loop").data(data)), self)),
            Err(Stop::Quietly) => None,
            Err(Stop::Refused(error)) => {
                self.ended = true;
                let body = serde_json::json!({ "message": error.to_string() }).to_string();
                Some((Ok(Event::default().event("error").data(body)), self))
            }
        }
    }

    /// The figures the next time they differ from those sent last.
    async fn next_change(&mut self) -> Result<String, Stop> {
        loop {
            match self.trigger.take() {
                None => self.trigger = Some(self.watch().await?),
                Some(trigger) => self.trigger = Some(wait(trigger).await?),
            }
            if let Some(last_read) = self.last_read {
                tokio::time::sleep_until(last_read + COALESCE).await;
            }
            // Changes announced meanwhile are covered by the read about to start.
            if let Some(Trigger::Watch(changes)) = &mut self.trigger {
                while let Some(Some(Ok(_))) = changes.next().now_or_never() {}
            }
            self.last_read = Some(Instant::now());
            let data = loop_snapshot(&self.session, &self.area).await.map_err(Stop::Refused)?.to_string();
            if self.last_sent.as_deref() != Some(data.as_str()) {
                self.last_sent = Some(data.clone());
                return Ok(data);
            }
        }
    }

    /// Start watching the area's figures; its first message (the projection's position) comes at
    /// once, and the first read follows it.
    async fn watch(&self) -> Result<Trigger, Stop> {
        let request = pb::WatchFiguresRequest { area: self.area.clone() };
        let request = self.session.request(request).map_err(Stop::Refused)?;
        match self.session.backend.evaluation().watch_figures(request).await {
            Ok(response) => {
                let mut changes = response.into_inner();
                match changes.next().await {
                    Some(Ok(_)) => Ok(Trigger::Watch(Box::new(changes))),
                    Some(Err(status)) => Err(Stop::Refused(DashError::from_status(&status))),
                    None => Err(Stop::Quietly),
                }
            }
            Err(status) if status.code() == tonic::Code::Unimplemented => Ok(Trigger::Tick),
            Err(status) => Err(Stop::Refused(DashError::from_status(&status))),
        }
    }
}

/// Wait until the figures may have changed: the projection moved, or the clock did.
async fn wait(trigger: Trigger) -> Result<Trigger, Stop> {
    match trigger {
        Trigger::Tick => {
            tokio::time::sleep(FALLBACK_TICK).await;
            Ok(Trigger::Tick)
        }
        Trigger::Watch(mut changes) => {
            let change = tokio::select! {
                change = changes.next() => Some(change),
                _ = tokio::time::sleep(CLOCK_TICK) => None,
            };
            match change {
                None | Some(Some(Ok(_))) => Ok(Trigger::Watch(changes)),
                Some(Some(Err(status))) if status.code() == tonic::Code::Unavailable => Err(Stop::Quietly),
                Some(Some(Err(status))) => Err(Stop::Refused(DashError::from_status(&status))),
                Some(None) => Err(Stop::Quietly),
            }
        }
    }
}
