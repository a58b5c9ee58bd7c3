-- Backward trace from a downstream buyer's receipts: the sales to a buyer in a date range.
CREATE INDEX outbound_buyer_time ON outbound(buyer_id, sold_at);
