//! [`Reader`]: connections kept for reads.

use sqlx::{Any, AnyConnection};

use super::{Shared, IDLE_READERS};
use crate::Backend;

impl Shared {
    /// A connection for reads (see [`Reader`]).
    pub(crate) async fn reader(&self) -> Result<Reader<'_>, sqlx::Error> {
        let conn = match self.backend {
            Backend::Sqlite => {
                let idle = self.readers.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).pop();
                match idle {
                    Some(conn) => ReaderConn::Own(conn),
                    None => ReaderConn::Own(self.pool.acquire().await?.detach()),
                }
            }
            Backend::Postgres => ReaderConn::Pooled(self.pool.acquire().await?),
        };
        Ok(Reader { conn: Some(conn), shared: self })
    }
}

/// A connection for reads, from [`EventStore::reader`](crate::EventStore::reader); back to the
/// store when dropped. On SQLite it comes from a few connections the store keeps out of the
/// pool: sqlx pings a pooled connection each time it goes back (a round trip to its thread, as
/// dear as the read itself), which is worth it for a network connection that may have died
/// (Postgres readers are pooled) but not for a local file. Only for reads: a transaction left
/// open on it would stay open.
pub struct Reader<'s> {
    conn: Option<ReaderConn>,
    shared: &'s Shared,
}

enum ReaderConn {
    Own(AnyConnection),
    Pooled(sqlx::pool::PoolConnection<Any>),
}

impl std::ops::Deref for Reader<'_> {
    type Target = AnyConnection;

    fn deref(&self) -> &AnyConnection {
        match self.conn.as_ref().expect("a reader holds its connection until dropped") {
            ReaderConn::Own(conn) => conn,
            ReaderConn::Pooled(conn) => conn,
        }
    }
}

impl std::ops::DerefMut for Reader<'_> {
    fn deref_mut(&mut self) -> &mut AnyConnection {
        match self.conn.as_mut().expect("a reader holds its connection until dropped") {
            ReaderConn::Own(conn) => conn,
            ReaderConn::Pooled(conn) => conn,
        }
    }
}

impl Drop for Reader<'_> {
    /// A statement cut short (its future dropped) is no harm: the connection's thread runs the
    /// next one only after it.
    fn drop(&mut self) {
        if let Some(ReaderConn::Own(conn)) = self.conn.take() {
            let mut idle = self.shared.readers.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
            if idle.len() < IDLE_READERS {
                idle.push(conn);
            }
        }
    }
}
