-- Reverts 0014_reserved, which changed nothing.
SELECT 1;
