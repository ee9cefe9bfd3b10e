-- Cinder's admin metadata of a volume (`readonly` from os-update_readonly_flag, `attached_mode`):
-- set by actions, not by the tenant's metadata calls; the visible keys are merged into the
-- volume's `metadata` when it is shown.
ALTER TABLE volumes ADD COLUMN admin_metadata TEXT NOT NULL DEFAULT '{}';
