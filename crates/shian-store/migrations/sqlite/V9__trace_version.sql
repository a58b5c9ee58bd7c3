-- The in-memory trace index (shian-services `trace::index`) is built from the order records and
-- the parties and certificates a trace shows, and must know when they change. New order records
-- show as a higher max(id); updates and deletes of what the index holds are counted here. (A new
-- party or certificate needs no count: no indexed record can refer to it.)
CREATE TABLE trace_changes (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    n INTEGER NOT NULL
);
INSERT INTO trace_changes (id, n) VALUES (1, 0);

CREATE TRIGGER inbound_traced_update AFTER UPDATE ON inbound
BEGIN UPDATE trace_changes SET n = n + 1 WHERE id = 1; END;
CREATE TRIGGER inbound_traced_delete AFTER DELETE ON inbound
BEGIN UPDATE trace_changes SET n = n + 1 WHERE id = 1; END;
CREATE TRIGGER outbound_traced_update AFTER UPDATE ON outbound
BEGIN UPDATE trace_changes SET n = n + 1 WHERE id = 1; END;
CREATE TRIGGER outbound_traced_delete AFTER DELETE ON outbound
BEGIN UPDATE trace_changes SET n = n + 1 WHERE id = 1; END;
CREATE TRIGGER vendors_traced_update AFTER UPDATE ON vendors
BEGIN UPDATE trace_changes SET n = n + 1 WHERE id = 1; END;
CREATE TRIGGER vendors_traced_delete AFTER DELETE ON vendors
BEGIN UPDATE trace_changes SET n = n + 1 WHERE id = 1; END;
CREATE TRIGGER markets_traced_update AFTER UPDATE ON markets
BEGIN UPDATE trace_changes SET n = n + 1 WHERE id = 1; END;
CREATE TRIGGER producers_traced_update AFTER UPDATE ON producers
BEGIN UPDATE trace_changes SET n = n + 1 WHERE id = 1; END;
CREATE TRIGGER producers_traced_delete AFTER DELETE ON producers
BEGIN UPDATE trace_changes SET n = n + 1 WHERE id = 1; END;
CREATE TRIGGER buyers_traced_update AFTER UPDATE ON buyers
BEGIN UPDATE trace_changes SET n = n + 1 WHERE id = 1; END;
CREATE TRIGGER buyers_traced_delete AFTER DELETE ON buyers
BEGIN UPDATE trace_changes SET n = n + 1 WHERE id = 1; END;
CREATE TRIGGER origin_certificates_traced_update AFTER UPDATE ON origin_certificates
BEGIN UPDATE trace_changes SET n = n + 1 WHERE id = 1; END;
CREATE TRIGGER origin_certificates_traced_delete AFTER DELETE ON origin_certificates
BEGIN UPDATE trace_changes SET n = n + 1 WHERE id = 1; END;
