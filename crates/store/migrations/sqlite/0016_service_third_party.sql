-- A service may be delivered for a third party on the customer's behalf (M1:
-- servers managed also for third parties). 1 = yes, 0 = no.
ALTER TABLE services ADD COLUMN for_third_party INTEGER NOT NULL DEFAULT 0;
