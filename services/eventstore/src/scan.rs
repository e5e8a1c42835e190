//! Reading a range of the log in order for exports and replays of long histories: pages handed
//! over by a task that stays one page ahead of its reader, so reading overlaps with the reader's
//! work and memory holds two pages however long the range.

use futures::TryStreamExt;
use sqlx::postgres::{PgConnectOptions, PgConnection};
use sqlx::Connection;
use tokio::sync::mpsc;

use crate::sql::{decode_event, event_columns};
use crate::{EventStore, RecordedEvent, StoreError};

/// Pages of a range of the log, in order; an error ends them.
pub type Pages = mpsc::Receiver<Result<Vec<RecordedEvent>, StoreError>>;

impl EventStore {
    /// The events after position `after` up to `head` included, in order, in pages of up to
    /// `page` events.
    ///
    /// On Postgres one statement streams the whole range over a connection of its own (one
    /// snapshot, no round trip per page) and rows are decoded by the Postgres driver itself,
    /// not copied value by value into sqlx's `Any` rows first: that copy and the per-page
    /// queries held an export to a fifth of a raw scan. On SQLite, pages of
    /// [`read_all`](Self::read_all), which reads the file in-process.
    pub fn scan(&self, after: i64, head: i64, page: u32) -> Pages {
        let (tx, rx) = mpsc::channel(1);
        let store = self.clone();
        tokio::spawn(async move {
            let scanned = match store.shared.native_options() {
                Some(options) => scan_postgres(options, after, head, page, &tx).await,
                None => scan_pages(&store, after, head, page, &tx).await,
            };
            if let Err(e) = scanned {
                let _ = tx.send(Err(e)).await;
            }
        });
        rx
    }
}

/// Sends `batch`; false when the reader has gone (nothing more to read for).
async fn hand_over(tx: &mpsc::Sender<Result<Vec<RecordedEvent>, StoreError>>, batch: Vec<RecordedEvent>) -> bool {
    tx.send(Ok(batch)).await.is_ok()
}

async fn scan_pages(
    store: &EventStore,
    mut after: i64,
    head: i64,
    page: u32,
    tx: &mpsc::Sender<Result<Vec<RecordedEvent>, StoreError>>,
) -> Result<(), StoreError> {
    while after < head {
        let mut batch = store.read_all(after, page).await?;
        batch.retain(|e| e.global_position <= head);
        let Some(last) = batch.last() else { break };
        after = last.global_position;
        if !hand_over(tx, batch).await {
            break;
        }
    }
    Ok(())
}

async fn scan_postgres(
    options: &PgConnectOptions,
    after: i64,
    head: i64,
    page: u32,
    tx: &mpsc::Sender<Result<Vec<RecordedEvent>, StoreError>>,
) -> Result<(), StoreError> {
    let page = page.max(1) as usize;
    let mut conn = PgConnection::connect_with(options).await?;
    {
        let mut rows = sqlx::query(concat!(
            "SELECT ",
            event_columns!(),
            " FROM events e WHERE e.global_position > $1 AND e.global_position <= $2 ORDER BY e.global_position"
        ))
        .bind(after)
        .bind(head)
        .fetch(&mut conn);
        let mut batch = Vec::with_capacity(page);
        while let Some(row) = rows.try_next().await? {
            batch.push(decode_event(&row)?);
            if batch.len() == page && !hand_over(tx, std::mem::replace(&mut batch, Vec::with_capacity(page))).await {
                return Ok(());
            }
        }
        if !batch.is_empty() {
            hand_over(tx, batch).await;
        }
    }
    conn.close().await?;
    Ok(())
}
