-- Reserved: holds this number for a migration written alongside 0016, and
-- does nothing. That migration replaces this file when both are merged
-- (Migrations refuses two migrations of one version).
SELECT 1;
