CREATE TABLE {{tables.projects}} (
    id BIGSERIAL PRIMARY KEY,
    organization_id BIGINT NOT NULL REFERENCES {{tables.organizations}} (id) ON DELETE CASCADE,
    owner_id BIGINT REFERENCES {{tables.users}} (id) ON DELETE SET NULL,
    name TEXT NOT NULL,
    archived BOOLEAN NOT NULL DEFAULT false,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE TABLE {{tables.project_members}} (
    project_id BIGINT NOT NULL REFERENCES {{tables.projects}} (id) ON DELETE CASCADE,
    user_id BIGINT NOT NULL REFERENCES {{tables.users}} (id) ON DELETE CASCADE,
    access TEXT NOT NULL DEFAULT 'read' CHECK (access IN ('read', 'write', 'admin')),
    PRIMARY KEY (project_id, user_id)
);

CREATE INDEX projects_organization_idx ON {{tables.projects}} (organization_id);
CREATE INDEX projects_owner_idx ON {{tables.projects}} (owner_id);
CREATE INDEX project_members_user_idx ON {{tables.project_members}} (user_id);
