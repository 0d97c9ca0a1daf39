CREATE TABLE {{tables.tags}} (
    id BIGSERIAL PRIMARY KEY,
    organization_id BIGINT NOT NULL REFERENCES {{tables.organizations}} (id) ON DELETE CASCADE,
    label TEXT NOT NULL,
    UNIQUE (organization_id, label)
);

CREATE TABLE {{tables.project_tags}} (
    project_id BIGINT NOT NULL REFERENCES {{tables.projects}} (id) ON DELETE CASCADE,
    tag_id BIGINT NOT NULL REFERENCES {{tables.tags}} (id) ON DELETE CASCADE,
    PRIMARY KEY (project_id, tag_id)
);

CREATE INDEX project_tags_tag_idx ON {{tables.project_tags}} (tag_id);
