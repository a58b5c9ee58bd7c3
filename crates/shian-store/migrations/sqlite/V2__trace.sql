-- Indexes for traceability (shian_services::trace). V1 already has inbound(lot_code),
-- outbound(lot_code) and (vendor_id, variety_id, time) on both order tables.

-- Downstream lots of a seller's lot: receipts that arrived with that lot as their supplier_lot.
CREATE INDEX inbound_supplier_lot ON inbound(supplier_lot, supplier_id);
-- Receipts from a seller that named no lot, found by variety and time for inference.
CREATE INDEX inbound_supplier_variety_time ON inbound(supplier_id, variety_id, received_at);
-- Forward trace from an origin certificate.
CREATE INDEX inbound_certificate ON inbound(certificate_id);
