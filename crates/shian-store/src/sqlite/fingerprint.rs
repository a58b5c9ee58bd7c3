//! A cheap "has anything been committed since?" for [`super::SqliteStore::movements_version`].
//!
//! Asking SQLite (`PRAGMA data_version`) opens and closes a read transaction: several `fcntl`
//! locks and an `fstat`, 3 µs at the median and 7 µs at the 99th percentile while other work
//! runs — as much as a whole backward trace through the trace index. One `pread` of bytes that
//! every commit rewrites says the same without a lock: the WAL index header, the first 96 bytes
//! of the `-shm` file (two copies of the 48-byte header, which holds a counter raised by every
//! write transaction and the WAL's last frame; <https://www.sqlite.org/walformat.html>).
//!
//! While this connection is open in WAL mode, every other connection's commit goes through the
//! WAL and rewrites that header: no connection can take the database out of WAL mode meanwhile
//! (that needs the database to itself; tested). This connection's own writes are seen by its
//! `total_changes`. So if the header reads as it did when the version was last asked of SQLite,
//! nothing was committed since. Anything else — a different byte, a file that cannot be read, a
//! commit racing the read — only sends the caller to SQLite again, so the answer is never stale.
//! The header is read *before* SQLite is asked: a commit between the two is seen next time.

use std::fs::File;
use std::os::unix::fs::FileExt;

/// The bytes compared: the WAL index header, both copies.
pub type Print = [u8; 96];

/// The `-shm` file, open for reading.
pub struct Fingerprint {
    shm: File,
}

impl Fingerprint {
    /// The fingerprint of the database file at `path` (`None` for an in-memory database or one
    /// without a `-shm` file, i.e. not in WAL mode: the caller then always asks SQLite).
    pub fn open(path: &str) -> Option<Fingerprint> {
        if path.is_empty() {
            return None;
        }
        Some(Fingerprint { shm: File::open(format!("{path}-shm")).ok()? })
    }

    /// The bytes now (`None` if the file cannot be read in full).
    pub fn read(&self) -> Option<Print> {
        let mut print = [0; 96];
        self.shm.read_exact_at(&mut print, 0).ok()?;
        Some(print)
    }
}
