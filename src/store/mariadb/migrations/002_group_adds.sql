-- Version 2: who may add a user to groups (users.group_adds: 0 anyone,
-- 1 nobody; model::GroupAdds), and members by user, for the groups-per-user
-- bound. Re-runnable like every migration.

ALTER TABLE users ADD COLUMN IF NOT EXISTS group_adds TINYINT UNSIGNED NOT NULL DEFAULT 0;

CREATE INDEX IF NOT EXISTS group_members_by_user ON group_members (user_id);
