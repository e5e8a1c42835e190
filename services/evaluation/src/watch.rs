//! Telling live views when the figures moved (`WatchFigures`): each batch of events the case
//! projection commits is announced with its last global position and the grids of the cases it
//! changed; each watcher hears of the batches touching its area, coalesced, so a view re-reads
//! its figures when they changed instead of on a timer.

use gridloop_domain::jurisdiction::AreaCode;
use gridloop_proto::v1 as pb;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use tokio::sync::{broadcast, watch};
use tonic::Status;

/// Batches a slow watcher may fall behind by before it is told "something changed" without the
/// detail (it re-reads anyway).
const BACKLOG: usize = 256;

/// One committed batch: where the projection stands after it, and the grids it changed.
#[derive(Debug)]
pub struct Change {
    pub position: u64,
    pub grids: Vec<String>,
}

impl Change {
    fn touches(&self, area: Option<&AreaCode>) -> bool {
        area.is_none_or(|area| self.grids.iter().any(|grid| grid.starts_with(area.as_str())))
    }
}

/// The announcements of the projection's batches, and the signal that ends every watch when the
/// service stops (a stream left open would hold the server's graceful shutdown forever).
#[derive(Debug)]
pub struct Watches {
    changes: broadcast::Sender<Arc<Change>>,
    position: AtomicU64,
    stopped: watch::Sender<bool>,
}

impl Default for Watches {
    fn default() -> Self {
        Self { changes: broadcast::channel(BACKLOG).0, position: AtomicU64::new(0), stopped: watch::channel(false).0 }
    }
}

pub type FiguresStream = Pin<Box<dyn futures::Stream<Item = Result<pb::FiguresChanged, Status>> + Send + 'static>>;

impl Watches {
    /// A batch was committed.
    pub fn announce(&self, position: u64, grids: Vec<String>) {
        self.position.fetch_max(position, Ordering::Relaxed);
        if self.changes.receiver_count() > 0 {
            // Nobody listening is no error.
            let _ = self.changes.send(Arc::new(Change { position, grids }));
        }
    }

    /// End every watch, now and from now on.
    pub fn stop(&self) {
        self.stopped.send_replace(true);
    }

    /// The projection's position at once, then each time a batch touching `area` (everywhere:
    /// `None`) was committed — several at once as one, the latest.
    pub fn stream(&self, area: Option<AreaCode>) -> FiguresStream {
        let watcher = Watcher {
            changes: self.changes.subscribe(),
            stopped: self.stopped.subscribe(),
            area,
            position: self.position.load(Ordering::Relaxed),
            first: true,
        };
        Box::pin(futures::stream::unfold(watcher, |mut watcher| async move {
            let position = watcher.next().await?;
            Some((Ok(pb::FiguresChanged { position }), watcher))
        }))
    }
}

struct Watcher {
    changes: broadcast::Receiver<Arc<Change>>,
    stopped: watch::Receiver<bool>,
    area: Option<AreaCode>,
    position: u64,
    first: bool,
}

impl Watcher {
    /// The position to tell next, or `None` once the service stops.
    async fn next(&mut self) -> Option<u64> {
        if *self.stopped.borrow() {
            return None;
        }
        if std::mem::take(&mut self.first) {
            return Some(self.position);
        }
        loop {
            let received = tokio::select! {
                received = self.changes.recv() => received,
                _ = self.stopped.changed() => return None,
            };
            if self.heard(received)? {
                // Whatever else is queued already is part of the same news.
                while let Ok(change) = self.changes.try_recv() {
                    self.heard(Ok(change));
                }
                return Some(self.position);
            }
        }
    }

    /// Whether a received change is news for this watcher; `None` when the channel closed.
    fn heard(&mut self, received: Result<Arc<Change>, broadcast::error::RecvError>) -> Option<bool> {
        match received {
            Ok(change) if change.touches(self.area.as_ref()) => {
                self.position = self.position.max(change.position);
                Some(true)
            }
            Ok(_) => Some(false),
            // Fell behind: some of the missed batches may have touched the area.
            Err(broadcast::error::RecvError::Lagged(_)) => Some(true),
            Err(broadcast::error::RecvError::Closed) => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures::StreamExt;

    fn area(code: &str) -> Option<AreaCode> {
        Some(AreaCode::new(code).unwrap())
    }

    #[tokio::test]
    async fn a_watcher_hears_its_areas_batches_coalesced_and_stops_with_the_service() {
        let watches = Watches::default();
        watches.announce(5, vec!["321012001001001".into()]);
        let mut street = watches.stream(area("321012001"));
        assert_eq!(street.next().await.unwrap().unwrap().position, 5, "the position at once");
        watches.announce(6, vec!["321012002001001".into()]);
        watches.announce(7, vec!["321012001002003".into()]);
        watches.announce(9, vec!["321012001002004".into()]);
        assert_eq!(street.next().await.unwrap().unwrap().position, 9, "another street's batch is skipped");
        watches.stop();
        assert!(street.next().await.is_none(), "the stream ends with the service");
        assert!(watches.stream(None).next().await.is_none(), "and none starts after");
    }
}
