-- The language chosen in the page header (or the customer's preference at
-- login), kept with the session so it is remembered without a cookie of its own.
ALTER TABLE sessions ADD COLUMN language TEXT;
