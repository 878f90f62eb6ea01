-- Reverts 0017_reserved: nothing to revert.
SELECT 1;
