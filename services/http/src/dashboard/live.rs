//! The live feed (server-sent events): the server re-reads the loop's figures every half second
//! under the caller's token and pushes them only when they changed, so an event reaches the page
//! within a tick plus the projection's lag. A refusal ends the stream with an `error` event.

use super::figures::{loop_snapshot, ViewQuery};
use super::Session;
use axum::extract::Query;
use axum::response::sse::{Event, KeepAlive, Sse};
use futures::stream::{self, Stream};
use std::convert::Infallible;
use std::time::Duration;

const TICK: Duration = Duration::from_millis(500);

struct Feed {
    session: Session,
    area: String,
    last: Option<String>,
    ended: bool,
}

/// `event: loop` with the loop view's JSON each time it changes (the first at once).
pub async fn stream(
    session: Session,
    Query(query): Query<ViewQuery>,
) -> Sse<impl Stream<Item = Result<Event, Infallible>>> {
    let feed = Feed { session, area: query.area, last: None, ended: false };
    let events = stream::unfold(feed, |mut feed| async move {
        if feed.ended {
            return None;
        }
        loop {
            match loop_snapshot(&feed.session, &feed.area).await {
                Ok(snapshot) => {
                    let data = snapshot.to_string();
                    if feed.last.as_deref() != Some(data.as_str()) {
                        feed.last = Some(data.clone());
                        return Some((Ok(Event::default().event("loop").data(data)), feed));
                    }
                }
                Err(error) => {
                    feed.ended = true;
                    let body = serde_json::json!({ "message": error.to_string() }).to_string();
                    return Some((Ok(Event::default().event("error").data(body)), feed));
                }
            }
            tokio::time::sleep(TICK).await;
        }
    });
    Sse::new(events).keep_alive(KeepAlive::default())
}
