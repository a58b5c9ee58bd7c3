-- Shian's records. One table per record kind of shian_domain::kind; every table has an integer
-- surrogate `id` and a UNIQUE natural key. References hold the referenced record's id in `<name>_id`.
-- Times are Unix seconds (UTC), dates 'YYYY-MM-DD', money integer fen.

CREATE TABLE regions (
  id INTEGER PRIMARY KEY, code TEXT NOT NULL UNIQUE, name TEXT NOT NULL, level INTEGER NOT NULL, parent TEXT
);

CREATE TABLE varieties (
  id INTEGER PRIMARY KEY, code TEXT NOT NULL UNIQUE, name TEXT NOT NULL, en TEXT,
  parent_id INTEGER REFERENCES varieties(id), unit TEXT
);

CREATE TABLE markets (
  id INTEGER PRIMARY KEY, code TEXT NOT NULL UNIQUE, name TEXT NOT NULL, market_kind TEXT NOT NULL,
  region TEXT NOT NULL REFERENCES regions(code), address TEXT, lon REAL, lat REAL, operator TEXT,
  operator_credit_code TEXT, opened_on TEXT, status TEXT
);
CREATE INDEX markets_region ON markets(region);

CREATE TABLE market_staff (
  id INTEGER PRIMARY KEY, code TEXT NOT NULL UNIQUE, market_id INTEGER NOT NULL REFERENCES markets(id),
  role TEXT NOT NULL, name TEXT NOT NULL, phone TEXT, organisation TEXT, appointed_on TEXT, active INTEGER
);
CREATE INDEX market_staff_market ON market_staff(market_id);

CREATE TABLE vendors (
  id INTEGER PRIMARY KEY, code TEXT NOT NULL UNIQUE, market_id INTEGER NOT NULL REFERENCES markets(id),
  stall TEXT, name TEXT NOT NULL, subject_kind TEXT NOT NULL, credit_code TEXT, contact TEXT, phone TEXT,
  business_scope TEXT, agreement_no TEXT, agreement_start TEXT, agreement_end TEXT, agreement_status TEXT,
  qr_token TEXT UNIQUE, status TEXT
);
CREATE INDEX vendors_market ON vendors(market_id);

CREATE TABLE vendor_varieties (
  id INTEGER PRIMARY KEY, vendor_id INTEGER NOT NULL REFERENCES vendors(id),
  variety_id INTEGER NOT NULL REFERENCES varieties(id), since TEXT, usual_origin TEXT REFERENCES regions(code),
  UNIQUE (vendor_id, variety_id)
);
CREATE INDEX vendor_varieties_variety ON vendor_varieties(variety_id);

CREATE TABLE producers (
  id INTEGER PRIMARY KEY, code TEXT NOT NULL UNIQUE, name TEXT NOT NULL, producer_kind TEXT NOT NULL,
  credit_code TEXT, region TEXT NOT NULL REFERENCES regions(code), address TEXT, contact TEXT, phone TEXT
);
CREATE INDEX producers_region ON producers(region);

CREATE TABLE buyers (
  id INTEGER PRIMARY KEY, code TEXT NOT NULL UNIQUE, buyer_kind TEXT NOT NULL, canteen_kind TEXT,
  name TEXT NOT NULL, chain_id INTEGER REFERENCES buyers(id), region TEXT NOT NULL REFERENCES regions(code),
  address TEXT, credit_code TEXT, contact TEXT, phone TEXT
);
CREATE INDEX buyers_region ON buyers(region);

CREATE TABLE origin_certificates (
  id INTEGER PRIMARY KEY, cert_no TEXT NOT NULL UNIQUE, producer_id INTEGER NOT NULL REFERENCES producers(id),
  variety_id INTEGER NOT NULL REFERENCES varieties(id), product_name TEXT, quantity REAL NOT NULL,
  unit TEXT NOT NULL, origin TEXT NOT NULL REFERENCES regions(code), issued_on TEXT NOT NULL,
  basis TEXT NOT NULL, commitment TEXT, self_test TEXT
);
CREATE INDEX origin_certificates_producer ON origin_certificates(producer_id, issued_on);

CREATE TABLE quarantine_certificates (
  id INTEGER PRIMARY KEY, cert_no TEXT NOT NULL UNIQUE, quarantine_kind TEXT NOT NULL,
  producer_id INTEGER REFERENCES producers(id), variety_id INTEGER NOT NULL REFERENCES varieties(id),
  quantity REAL NOT NULL, unit TEXT NOT NULL, origin TEXT NOT NULL REFERENCES regions(code),
  issued_on TEXT NOT NULL, issuer TEXT, destination TEXT
);

-- 进货: a vendor's receipt of goods. supplier_id points into producers, vendors or buyers as
-- supplier_kind says; supplier_lot is the upstream trace code the goods arrived with.
CREATE TABLE inbound (
  id INTEGER PRIMARY KEY, source TEXT NOT NULL, ext_id TEXT NOT NULL,
  vendor_id INTEGER NOT NULL REFERENCES vendors(id), variety_id INTEGER NOT NULL REFERENCES varieties(id),
  lot_code TEXT, quantity REAL NOT NULL, unit TEXT NOT NULL, received_at INTEGER NOT NULL,
  supplier_kind TEXT NOT NULL, supplier_id INTEGER, supplier_name TEXT, supplier_lot TEXT,
  certificate_id INTEGER REFERENCES origin_certificates(id),
  quarantine_id INTEGER REFERENCES quarantine_certificates(id), amount INTEGER,
  UNIQUE (source, ext_id)
);
CREATE INDEX inbound_vendor_variety_time ON inbound(vendor_id, variety_id, received_at);
CREATE INDEX inbound_lot ON inbound(lot_code);

-- 销货: a vendor's sale. buyer_id points into vendors or buyers as buyer_kind says.
CREATE TABLE outbound (
  id INTEGER PRIMARY KEY, source TEXT NOT NULL, ext_id TEXT NOT NULL,
  vendor_id INTEGER NOT NULL REFERENCES vendors(id), variety_id INTEGER NOT NULL REFERENCES varieties(id),
  lot_code TEXT, quantity REAL NOT NULL, unit TEXT NOT NULL, sold_at INTEGER NOT NULL,
  buyer_kind TEXT NOT NULL, buyer_id INTEGER, buyer_name TEXT, amount INTEGER,
  UNIQUE (source, ext_id)
);
CREATE INDEX outbound_vendor_variety_time ON outbound(vendor_id, variety_id, sold_at);
CREATE INDEX outbound_lot ON outbound(lot_code);

CREATE TABLE rapid_tests (
  id INTEGER PRIMARY KEY, test_no TEXT NOT NULL UNIQUE, market_id INTEGER NOT NULL REFERENCES markets(id),
  vendor_id INTEGER REFERENCES vendors(id), variety_id INTEGER NOT NULL REFERENCES varieties(id),
  lot_code TEXT, item TEXT NOT NULL, method TEXT NOT NULL, value REAL, result TEXT, verdict TEXT NOT NULL,
  tested_at INTEGER NOT NULL, tester TEXT
);
CREATE INDEX rapid_tests_market_time ON rapid_tests(market_id, tested_at);
CREATE INDEX rapid_tests_vendor ON rapid_tests(vendor_id);

CREATE TABLE samples (
  id INTEGER PRIMARY KEY, sample_no TEXT NOT NULL UNIQUE, subject_kind TEXT NOT NULL,
  subject_id INTEGER NOT NULL, market_id INTEGER REFERENCES markets(id),
  variety_id INTEGER NOT NULL REFERENCES varieties(id), lot_code TEXT, sampled_on TEXT NOT NULL,
  sampler TEXT, lab TEXT, report_no TEXT, reported_on TEXT, plan TEXT
);
CREATE INDEX samples_subject ON samples(subject_kind, subject_id);
CREATE INDEX samples_market ON samples(market_id, sampled_on);

CREATE TABLE sample_items (
  id INTEGER PRIMARY KEY, sample_id INTEGER NOT NULL REFERENCES samples(id), item TEXT NOT NULL,
  value REAL, unit TEXT, "limit" REAL, method TEXT, verdict TEXT NOT NULL,
  UNIQUE (sample_id, item)
);

CREATE TABLE inspections (
  id INTEGER PRIMARY KEY, inspection_no TEXT NOT NULL UNIQUE, market_id INTEGER NOT NULL REFERENCES markets(id),
  vendor_id INTEGER REFERENCES vendors(id), inspected_on TEXT NOT NULL, inspector TEXT NOT NULL,
  inspection_kind TEXT NOT NULL, problems INTEGER, findings TEXT, rectification TEXT, status TEXT
);
CREATE INDEX inspections_market ON inspections(market_id, inspected_on);

CREATE TABLE complaints (
  id INTEGER PRIMARY KEY, complaint_no TEXT NOT NULL UNIQUE, channel TEXT NOT NULL, received_at INTEGER NOT NULL,
  market_id INTEGER REFERENCES markets(id), vendor_id INTEGER REFERENCES vendors(id),
  variety_id INTEGER REFERENCES varieties(id), content TEXT NOT NULL, status TEXT NOT NULL, reply TEXT,
  replied_on TEXT
);
CREATE INDEX complaints_market ON complaints(market_id, received_at);

CREATE TABLE cases (
  id INTEGER PRIMARY KEY, case_no TEXT NOT NULL UNIQUE, market_id INTEGER REFERENCES markets(id),
  vendor_id INTEGER REFERENCES vendors(id), opened_on TEXT NOT NULL, violation TEXT NOT NULL, legal_basis TEXT,
  penalty INTEGER, status TEXT NOT NULL, closed_on TEXT
);

CREATE TABLE routine_records (
  id INTEGER PRIMARY KEY, market_id INTEGER NOT NULL REFERENCES markets(id), period TEXT NOT NULL,
  period_start TEXT NOT NULL, performed_by TEXT, items_checked INTEGER, problems INTEGER, summary TEXT,
  recorded_at INTEGER,
  UNIQUE (market_id, period, period_start)
);

-- One row per run of an import: what was read and what became of it.
CREATE TABLE import_runs (
  id INTEGER PRIMARY KEY, kind TEXT NOT NULL, file TEXT NOT NULL, started_at INTEGER NOT NULL,
  finished_at INTEGER, status TEXT NOT NULL, rows_read INTEGER NOT NULL DEFAULT 0,
  inserted INTEGER NOT NULL DEFAULT 0, updated INTEGER NOT NULL DEFAULT 0,
  unchanged INTEGER NOT NULL DEFAULT 0, rejected INTEGER NOT NULL DEFAULT 0
);

-- Previous versions of records that an import changed: nothing is lost.
CREATE TABLE record_history (
  id INTEGER PRIMARY KEY, kind TEXT NOT NULL, record_id INTEGER NOT NULL, replaced_at INTEGER NOT NULL,
  import_run INTEGER REFERENCES import_runs(id), previous TEXT NOT NULL
);
CREATE INDEX record_history_record ON record_history(kind, record_id);
