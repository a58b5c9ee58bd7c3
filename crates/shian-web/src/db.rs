//! A small pool of store connections, used from async handlers through blocking threads.
//!
//! SQLite calls block, so every database call runs on tokio's blocking pool with a connection
//! checked out of this pool and returned afterwards. SQLite in WAL mode lets the readers run in
//! parallel with one writer; writes wait on SQLite's own lock (busy timeout).

use std::sync::{Arc, Mutex};

use shian_store::Store;

use crate::error::AppError;

/// Connections to one database.
pub struct Db {
    url: String,
    idle: Mutex<Vec<Box<dyn Store>>>,
}

/// How many idle connections are kept.
const MAX_IDLE: usize = 8;

impl Db {
    /// Opens the database (creating and migrating it if needed) and keeps the first connection.
    pub fn open(url: &str) -> anyhow::Result<Arc<Db>> {
        let first = shian_store::open(url).map_err(|e| anyhow::anyhow!("cannot open database {url}: {e}"))?;
        Ok(Arc::new(Db { url: url.to_string(), idle: Mutex::new(vec![first]) }))
    }

    fn checkout(&self) -> Result<Box<dyn Store>, AppError> {
        if let Some(conn) = self.idle.lock().expect("pool lock").pop() {
            return Ok(conn);
        }
        shian_store::open(&self.url).map_err(AppError::internal)
    }

    fn checkin(&self, conn: Box<dyn Store>) {
        let mut idle = self.idle.lock().expect("pool lock");
        if idle.len() < MAX_IDLE {
            idle.push(conn);
        }
    }

    /// Runs `f` with a connection on a blocking thread.
    /// Runs `f` on this thread with a connection of the pool (for work on a thread of its own).
    pub fn with<T>(&self, f: impl FnOnce(&mut dyn Store) -> T) -> Result<T, AppError> {
        let mut conn = self.checkout()?;
        let out = f(conn.as_mut());
        self.checkin(conn);
        Ok(out)
    }

    pub async fn run<T, F>(self: &Arc<Self>, f: F) -> Result<T, AppError>
    where
        T: Send + 'static,
        F: FnOnce(&mut dyn Store) -> Result<T, AppError> + Send + 'static,
    {
        let db = Arc::clone(self);
        tokio::task::spawn_blocking(move || {
            let mut conn = db.checkout()?;
            let out = f(conn.as_mut());
            db.checkin(conn);
            out
        })
        .await
        .map_err(AppError::internal)?
    }
}
