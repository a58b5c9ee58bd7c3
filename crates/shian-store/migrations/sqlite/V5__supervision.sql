-- Supervision of failed results (issue 5): failure events written by triggers in the same
-- transaction as the failed result, the risk ledger (风险台账) with its actions, evidence and
-- escalations, the platform inbox and the outbox of external notifications.
--
-- Times are Unix seconds (UTC) unless the column ends in `_ms` (Unix milliseconds: the latency
-- from a failed result's commit to its notification is measured in them).

-- One row per failed record, whatever wrote it (page, API, import, simulator): a rapid test stored
-- with verdict `fail`, or a sample with at least one item stored with verdict `fail` (one event per
-- sample, not per item). The dispatcher turns each into a ledger entry and notifications exactly
-- once: `dispatched_ms` is set in the transaction that creates them.
CREATE TABLE failure_events (
  id INTEGER PRIMARY KEY,
  source_kind TEXT NOT NULL CHECK (source_kind IN ('rapid_test', 'sample')),
  record_id INTEGER NOT NULL,
  created_ms INTEGER NOT NULL,
  dispatched_ms INTEGER,
  entry_id INTEGER,
  UNIQUE (source_kind, record_id)
);
CREATE INDEX failure_events_pending ON failure_events(id) WHERE dispatched_ms IS NULL;

CREATE TRIGGER rapid_tests_failed_insert AFTER INSERT ON rapid_tests WHEN NEW.verdict = 'fail'
BEGIN
  INSERT INTO failure_events (source_kind, record_id, created_ms)
  VALUES ('rapid_test', NEW.id, CAST(unixepoch('subsec') * 1000 AS INTEGER))
  ON CONFLICT (source_kind, record_id) DO NOTHING;
END;

CREATE TRIGGER rapid_tests_failed_update AFTER UPDATE ON rapid_tests WHEN NEW.verdict = 'fail'
BEGIN
  INSERT INTO failure_events (source_kind, record_id, created_ms)
  VALUES ('rapid_test', NEW.id, CAST(unixepoch('subsec') * 1000 AS INTEGER))
  ON CONFLICT (source_kind, record_id) DO NOTHING;
END;

CREATE TRIGGER sample_items_failed_insert AFTER INSERT ON sample_items WHEN NEW.verdict = 'fail'
BEGIN
  INSERT INTO failure_events (source_kind, record_id, created_ms)
  VALUES ('sample', NEW.sample_id, CAST(unixepoch('subsec') * 1000 AS INTEGER))
  ON CONFLICT (source_kind, record_id) DO NOTHING;
END;

CREATE TRIGGER sample_items_failed_update AFTER UPDATE ON sample_items WHEN NEW.verdict = 'fail'
BEGIN
  INSERT INTO failure_events (source_kind, record_id, created_ms)
  VALUES ('sample', NEW.sample_id, CAST(unixepoch('subsec') * 1000 AS INTEGER))
  ON CONFLICT (source_kind, record_id) DO NOTHING;
END;

-- Failed results stored before this migration get their events too (an existing database's
-- history is dispatched like new results).
INSERT INTO failure_events (source_kind, record_id, created_ms)
SELECT 'rapid_test', id, CAST(unixepoch('subsec') * 1000 AS INTEGER) FROM rapid_tests WHERE verdict = 'fail';
INSERT INTO failure_events (source_kind, record_id, created_ms)
SELECT DISTINCT 'sample', sample_id, CAST(unixepoch('subsec') * 1000 AS INTEGER) FROM sample_items
WHERE verdict = 'fail';

-- 风险台账: one entry per risk, from a failed result, a complaint, an inspection finding, a case,
-- a manual entry or (later) an analysis signal. `region` is the subject's county code, for scope.
-- The owner starts as the market's assigned official (包保干部) and moves up (county → city →
-- province regulator) when the entry is overdue. `recall` and `origins` are JSON snapshots of the
-- forward and backward traces from the failed lot, attached after the entry is opened.
CREATE TABLE risk_entries (
  id INTEGER PRIMARY KEY,
  source_kind TEXT NOT NULL
    CHECK (source_kind IN ('rapid_test', 'sample', 'complaint', 'inspection', 'case', 'manual', 'signal')),
  source_id INTEGER,
  source_key TEXT,
  level TEXT NOT NULL CHECK (level IN ('general', 'major', 'serious')),
  state TEXT NOT NULL DEFAULT 'open' CHECK (state IN ('open', 'in_disposal', 'disposed', 'verified_closed')),
  title TEXT NOT NULL,
  title_en TEXT NOT NULL,
  detail TEXT,
  market_id INTEGER REFERENCES markets(id),
  vendor_id INTEGER REFERENCES vendors(id),
  variety_id INTEGER REFERENCES varieties(id),
  lot_code TEXT,
  region TEXT,
  owner_role TEXT NOT NULL,
  owner_user INTEGER REFERENCES users(id),
  owner_name TEXT,
  opened_at INTEGER NOT NULL,
  deadline INTEGER NOT NULL,
  retest_due INTEGER,
  trace_status TEXT NOT NULL DEFAULT 'none' CHECK (trace_status IN ('none', 'pending', 'done', 'no_lot', 'failed')),
  recall TEXT,
  origins TEXT,
  updated_at INTEGER NOT NULL,
  closed_at INTEGER
);
CREATE UNIQUE INDEX risk_entries_source ON risk_entries(source_kind, source_id) WHERE source_id IS NOT NULL;
CREATE INDEX risk_entries_market ON risk_entries(market_id, id);
CREATE INDEX risk_entries_region ON risk_entries(region, id);
CREATE INDEX risk_entries_due ON risk_entries(deadline) WHERE state IN ('open', 'in_disposal');
CREATE INDEX risk_entries_trace ON risk_entries(id) WHERE trace_status = 'pending';

-- Evidence files of an entry (photos, destruction records), kept in the database with a size
-- limit enforced by the service, so a backup of the file is a backup of everything.
CREATE TABLE risk_evidence (
  id INTEGER PRIMARY KEY,
  entry_id INTEGER NOT NULL REFERENCES risk_entries(id),
  file_name TEXT NOT NULL,
  content_type TEXT NOT NULL,
  size INTEGER NOT NULL,
  sha256 TEXT NOT NULL,
  data BLOB NOT NULL,
  uploaded_by TEXT NOT NULL,
  uploaded_at INTEGER NOT NULL
);
CREATE INDEX risk_evidence_entry ON risk_evidence(entry_id);

-- What was done about an entry: hold, recall, destroy, return, re-test, notify the origin's
-- regulator, open a case, a note. A re-test carries its method and result.
CREATE TABLE risk_actions (
  id INTEGER PRIMARY KEY,
  entry_id INTEGER NOT NULL REFERENCES risk_entries(id),
  action TEXT NOT NULL
    CHECK (action IN ('hold', 'recall', 'destroy', 'return', 'retest', 'notify_origin', 'open_case', 'note',
                      'dispose', 'close')),
  actor TEXT NOT NULL,
  at INTEGER NOT NULL,
  note TEXT,
  method TEXT,
  result TEXT,
  evidence_id INTEGER REFERENCES risk_evidence(id)
);
CREATE INDEX risk_actions_entry ON risk_actions(entry_id, id);

-- An overdue entry handed one level up.
CREATE TABLE risk_escalations (
  id INTEGER PRIMARY KEY,
  entry_id INTEGER NOT NULL REFERENCES risk_entries(id),
  at INTEGER NOT NULL,
  from_role TEXT NOT NULL,
  to_role TEXT NOT NULL,
  from_user INTEGER REFERENCES users(id),
  to_user INTEGER REFERENCES users(id),
  to_name TEXT,
  previous_deadline INTEGER NOT NULL,
  new_deadline INTEGER NOT NULL
);
CREATE INDEX risk_escalations_entry ON risk_escalations(entry_id);

-- The platform inbox (站内通知): unread until the user acknowledges it.
CREATE TABLE notifications (
  id INTEGER PRIMARY KEY,
  user_id INTEGER NOT NULL REFERENCES users(id),
  entry_id INTEGER REFERENCES risk_entries(id),
  reason TEXT NOT NULL,
  title TEXT NOT NULL,
  title_en TEXT NOT NULL,
  body TEXT NOT NULL,
  body_en TEXT NOT NULL,
  created_ms INTEGER NOT NULL,
  read_at INTEGER
);
CREATE INDEX notifications_user ON notifications(user_id, id);
CREATE INDEX notifications_entry ON notifications(entry_id);

-- Messages for the external channels (webhook, SMS gateway, email), delivered by a worker with
-- retries and exponential backoff. The channel's address comes from the configuration at delivery
-- time (it may hold secrets); `recipients` are the phone numbers or mail addresses.
CREATE TABLE outbox (
  id INTEGER PRIMARY KEY,
  entry_id INTEGER REFERENCES risk_entries(id),
  channel TEXT NOT NULL CHECK (channel IN ('webhook', 'sms', 'email')),
  recipients TEXT,
  subject TEXT,
  payload TEXT NOT NULL,
  created_ms INTEGER NOT NULL,
  attempts INTEGER NOT NULL DEFAULT 0,
  next_attempt_ms INTEGER NOT NULL,
  last_error TEXT,
  delivered_ms INTEGER,
  gave_up_ms INTEGER
);
CREATE INDEX outbox_due ON outbox(next_attempt_ms) WHERE delivered_ms IS NULL AND gave_up_ms IS NULL;
