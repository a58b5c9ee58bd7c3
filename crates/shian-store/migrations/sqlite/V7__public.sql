-- One code, all public (一码公开): the tokens behind the QR codes, vendors' public commitments,
-- consumers' ratings and the page views of the public pages (shian_services::public).

-- A QR code's token. `lot_code` NULL: the vendor's own code; otherwise an item-level code of the
-- vendor's lot (vendor, lot code). A revoked token stays, so its page can say it is no longer valid.
-- The simulator's vendors.qr_token comes from a seeded generator and is not used for public pages.
CREATE TABLE public_tokens (
  id INTEGER PRIMARY KEY, token TEXT NOT NULL UNIQUE, vendor_id INTEGER NOT NULL REFERENCES vendors(id),
  lot_code TEXT, issued_at INTEGER NOT NULL, issued_by TEXT NOT NULL, revoked_at INTEGER, reason TEXT
);
-- At most one live token per vendor and per lot.
CREATE UNIQUE INDEX public_tokens_live ON public_tokens(vendor_id, coalesce(lot_code, '')) WHERE revoked_at IS NULL;

-- 主体承诺: the commitment a vendor signed and asked to publish (absent: the page shows the
-- standard text and says that none is recorded).
CREATE TABLE vendor_commitments (
  vendor_id INTEGER PRIMARY KEY REFERENCES vendors(id), text TEXT NOT NULL, signed_on TEXT,
  recorded_at INTEGER NOT NULL
);

-- Consumers' ratings, 1 to 5, one per client (a salted hash of its address) per vendor per day
-- (China date); shown only as count and average.
CREATE TABLE vendor_ratings (
  vendor_id INTEGER NOT NULL REFERENCES vendors(id), day TEXT NOT NULL, client_hash TEXT NOT NULL,
  stars INTEGER NOT NULL CHECK (stars BETWEEN 1 AND 5), at INTEGER NOT NULL,
  PRIMARY KEY (vendor_id, day, client_hash)
) WITHOUT ROWID;

-- Views of a vendor's public page per China date, added up in memory and flushed every few seconds.
CREATE TABLE page_views (
  vendor_id INTEGER NOT NULL REFERENCES vendors(id), day TEXT NOT NULL, views INTEGER NOT NULL,
  PRIMARY KEY (vendor_id, day)
) WITHOUT ROWID;

-- A vendor's supervision records, read by the credit evaluation (shian_services::credit).
CREATE INDEX IF NOT EXISTS complaints_vendor ON complaints(vendor_id);
CREATE INDEX IF NOT EXISTS inspections_vendor ON inspections(vendor_id);
CREATE INDEX IF NOT EXISTS cases_vendor ON cases(vendor_id);
