//! The rendered public pages, kept in memory.
//!
//! A page is rendered once from the records (a dozen queries and the credit evaluation) and then
//! served from here. It goes stale when the records may have changed: after any write through the
//! platform (every write calls `Summaries::invalidate`, which starts a new epoch here), or after
//! [`TTL`] (so imports from the command line show within a minute). A stale page is rendered
//! again at its next view if a render slot is free at once; otherwise the stale page is served
//! and rendered again in the background, once per page (so a burst of writes never turns into a
//! burst of renders in front of the readers). A page is never served more than [`MAX_STALE`]
//! old. A rating, a reissue or a withdrawal through the platform removes the token's pages at
//! once, so a withdrawn code is never served from here.
//!
//! Only pages of real tokens are kept, so random tokens cannot fill the memory; the cache empties
//! itself beyond [`MAX_ENTRIES`].

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, RwLock};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::http::StatusCode;
use shian_domain::Lang;

use crate::AppState;

/// How long a rendered page is fresh.
pub const TTL: Duration = Duration::from_secs(60);
/// The oldest page ever served.
pub const MAX_STALE: Duration = Duration::from_secs(600);
/// The most pages kept.
pub const MAX_ENTRIES: usize = 100_000;

/// A rendered page.
#[derive(Debug, Clone)]
pub struct Page {
    pub status: StatusCode,
    pub body: Bytes,
    /// The vendor whose page it is (for counting views); `None` for lots and invalid codes.
    pub vendor: Option<i64>,
}

/// What the cache holds for a token.
pub enum Lookup {
    Fresh(Page),
    /// Served if it cannot be rendered again at once.
    Stale(Page),
    Missing,
}

struct Entry {
    page: Page,
    at: Instant,
    epoch: u64,
}

/// The cache of rendered pages by token, Chinese and English.
#[derive(Default)]
pub struct PageCache {
    pages: RwLock<HashMap<String, [Option<Entry>; 2]>>,
    next_epoch: AtomicU64,
    /// Pages being rendered again in the background.
    refreshing: Mutex<HashSet<(String, usize)>>,
}

/// A marker kept in the dashboard's cache: it is dropped on every write, and a new one (a new
/// epoch) is made on the next read.
struct Epoch(u64);

impl PageCache {
    /// The current epoch (a new one after every write through the platform).
    pub fn epoch(&self, state: &AppState) -> u64 {
        let made = state
            .summary
            .cached("public/epoch".into(), || Ok(Epoch(self.next_epoch.fetch_add(1, Ordering::AcqRel) + 1)));
        made.map(|e| e.0).unwrap_or(0)
    }

    /// The page of a token, fresh or stale.
    pub fn lookup(&self, token: &str, lang: Lang, epoch: u64) -> Lookup {
        let pages = self.pages.read().expect("page cache lock");
        let Some(e) = pages.get(token).and_then(|slots| slots[slot(lang)].as_ref()) else { return Lookup::Missing };
        let age = e.at.elapsed();
        if e.epoch == epoch && age < TTL {
            Lookup::Fresh(e.page.clone())
        } else if age < MAX_STALE {
            Lookup::Stale(e.page.clone())
        } else {
            Lookup::Missing
        }
    }

    pub fn put(&self, token: &str, lang: Lang, epoch: u64, page: Page) {
        let mut pages = self.pages.write().expect("page cache lock");
        if pages.len() >= MAX_ENTRIES {
            pages.clear();
        }
        pages.entry(token.to_string()).or_default()[slot(lang)] = Some(Entry { page, at: Instant::now(), epoch });
    }

    /// Forgets a token's pages (after a rating, a reissue or a withdrawal).
    pub fn forget(&self, token: &str) {
        self.pages.write().expect("page cache lock").remove(token);
    }

    /// Marks a page as being rendered in the background; `false` if it already is.
    pub fn start_refresh(&self, token: &str, lang: Lang) -> bool {
        self.refreshing.lock().expect("refresh lock").insert((token.to_string(), slot(lang)))
    }

    pub fn end_refresh(&self, token: &str, lang: Lang) {
        self.refreshing.lock().expect("refresh lock").remove(&(token.to_string(), slot(lang)));
    }
}

fn slot(lang: Lang) -> usize {
    match lang {
        Lang::Zh => 0,
        Lang::En => 1,
    }
}
