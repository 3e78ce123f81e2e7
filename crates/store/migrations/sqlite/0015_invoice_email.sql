-- Invoices and credit notes that go by e-mail (A12) are handed to the outbox
-- once; emailed_at says when (microseconds since the epoch). Those made
-- before this existed went out then: they are not sent again.
ALTER TABLE invoices ADD COLUMN emailed_at INTEGER;
UPDATE invoices SET emailed_at = created_at WHERE delivery = 'email';
CREATE INDEX invoices_email_queue ON invoices(delivery, emailed_at);

-- An e-mail may carry one attachment (an invoice's PDF): its file name holds
-- no personal data; its content is sealed like the body and wiped with it.
ALTER TABLE outbox ADD COLUMN attachment_name TEXT;
ALTER TABLE outbox ADD COLUMN attachment BLOB;
