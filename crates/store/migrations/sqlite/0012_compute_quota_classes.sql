-- Nova's quota classes (`os-quota-class-sets`): the `default` class's limits are every
-- project's defaults, overriding the built-in ones; a project's own limits override both.
CREATE TABLE compute_quota_classes (
    class_name TEXT NOT NULL,
    resource TEXT NOT NULL,
    hard_limit BIGINT NOT NULL,
    PRIMARY KEY (class_name, resource)
);
