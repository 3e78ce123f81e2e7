-- Invoices and credit notes sent by post (A12) wait in a print queue until the
-- bookkeeper marks them posted (microseconds since the epoch). Those made
-- before the queue existed went out then: they do not enter it.
ALTER TABLE invoices ADD COLUMN posted_at BIGINT;
UPDATE invoices SET posted_at = created_at WHERE delivery = 'post';
CREATE INDEX invoices_print_queue ON invoices(delivery, posted_at);
