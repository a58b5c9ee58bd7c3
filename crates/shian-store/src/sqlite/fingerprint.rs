//! A cheap "has anything been committed since?" for [`super::SqliteStore::movements_version`].
//!
//! Asking SQLite (`PRAGMA data_version`) opens and closes a read transaction: several `fcntl`
//! locks and an `fstat`, 3 µs at the median and 7 µs at the 99th percentile while other work
//! runs — as much as a whole backward trace through the trace index. Two reads of bytes that
//! every commit rewrites say the same for one `pread` each, without a lock:
//!
//! - the WAL index header, the first 96 bytes of the `-shm` file (two copies of the 48-byte
//!   header; it holds a counter raised by every write transaction and the WAL's last frame, see
//!   <https://www.sqlite.org/walformat.html>), rewritten by every commit in WAL mode;
//! - the database header's file change counter (4 bytes at offset 24,
//!   <https://www.sqlite.org/fileformat2.html#file_change_counter>), raised by every commit in the
//!   rollback journal modes (a bulk load switches the journal off).
//!
//! If both read as they did when the version was last asked of SQLite, nothing was committed
//! since by any connection. Anything else — a different byte, a file that cannot be read, a
//! commit racing the read — only sends the caller to SQLite again, so the answer is never stale.
//! The fingerprint is read *before* SQLite is asked: a commit between the two is seen next time.

use std::fs::File;
use std::os::unix::fs::FileExt;

/// The bytes compared: the `-shm` file's first 96, then the database file's change counter.
pub type Print = [u8; 100];

/// The two files, open for reading.
pub struct Fingerprint {
    db: File,
    shm: File,
}

impl Fingerprint {
    /// The fingerprint of the database file at `path` (`None` for an in-memory database or one
    /// without a `-shm` file, i.e. not in WAL mode: the caller then always asks SQLite).
    pub fn open(path: &str) -> Option<Fingerprint> {
        if path.is_empty() {
            return None;
        }
        Some(Fingerprint { db: File::open(path).ok()?, shm: File::open(format!("{path}-shm")).ok()? })
    }

    /// The bytes now (`None` if either file cannot be read in full).
    pub fn read(&self) -> Option<Print> {
        let mut print = [0; 100];
        self.shm.read_exact_at(&mut print[..96], 0).ok()?;
        self.db.read_exact_at(&mut print[96..], 24).ok()?;
        Some(print)
    }
}
