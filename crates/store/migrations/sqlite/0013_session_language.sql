-- The language chosen in the page header (or the customer's preference at
-- login), kept with the session so it is remembered without a cookie of its own;
-- and a notice to show once on the next page ("your changes were saved"), so
-- that reloading that page does not show it again.
ALTER TABLE sessions ADD COLUMN language TEXT;
ALTER TABLE sessions ADD COLUMN notice TEXT;
