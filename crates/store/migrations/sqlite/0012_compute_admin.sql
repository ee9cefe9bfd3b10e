-- Nova's quota classes (`os-quota-class-sets`): the `default` class's limits are every
-- project's defaults, overriding the built-in ones; a project's own limits override both.
CREATE TABLE compute_quota_classes (
    class_name TEXT NOT NULL,
    resource TEXT NOT NULL,
    hard_limit BIGINT NOT NULL,
    PRIMARY KEY (class_name, resource)
);

-- The compute host of a server as the top names it (`<pod host>@<region>`), from its pod's
-- `OS-EXT-SRV-ATTR:host`: shown to admins and filtered on by `GET /servers?host=`.
ALTER TABLE servers ADD COLUMN host TEXT NOT NULL DEFAULT '';
