-- Partial payments and credit notes (crates/store/src/invoices/).
-- `paid_cents` and `credited_cents` are the sums of the invoice's payments and
-- of the credit notes that name it, kept in the same transaction as those
-- rows so the state of an invoice (open, overdue, paid, credited) follows from
-- its own row: the dashboard and the lists read headers only. `paid_on` stays
-- the day nothing was due any more. A credit note is an invoice whose
-- `credit_for` holds the number it credits (a number, not a row reference:
-- the credited invoice may reach the end of its retention first).
ALTER TABLE invoices ADD COLUMN credit_for TEXT;
ALTER TABLE invoices ADD COLUMN paid_cents INTEGER NOT NULL DEFAULT 0;
ALTER TABLE invoices ADD COLUMN credited_cents INTEGER NOT NULL DEFAULT 0;
CREATE INDEX invoices_credit_for ON invoices(credit_for);

CREATE TABLE invoice_payments (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    invoice_id   INTEGER NOT NULL REFERENCES invoices(id),
    paid_on      TEXT NOT NULL,
    amount_cents INTEGER NOT NULL,
    created_at   INTEGER NOT NULL
);
CREATE INDEX invoice_payments_invoice ON invoice_payments(invoice_id, paid_on);

-- Invoices marked paid before payments were kept were paid in full that day.
INSERT INTO invoice_payments (invoice_id, paid_on, amount_cents, created_at)
    SELECT id, paid_on, total_cents, created_at FROM invoices WHERE paid_on IS NOT NULL;
UPDATE invoices SET paid_cents = total_cents WHERE paid_on IS NOT NULL;
