-- crmkit schema, version 17: reserved for the reminder sweep's migration,
-- which lands on another branch; this placeholder changes nothing and keeps
-- the versions without gaps until that migration replaces it.
SELECT 1;
