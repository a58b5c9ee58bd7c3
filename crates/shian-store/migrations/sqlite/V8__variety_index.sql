-- A variety's page sums its receipts by origin and month: find them without scanning all receipts.
CREATE INDEX inbound_variety_time ON inbound(variety_id, received_at);
