CREATE TABLE projects (
    id BIGSERIAL PRIMARY KEY,
    organization_id BIGINT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    owner_id BIGINT REFERENCES users (id) ON DELETE SET NULL,
    name TEXT NOT NULL,
    archived BOOLEAN NOT NULL DEFAULT false,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE TABLE project_members (
    project_id BIGINT NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    user_id BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    access TEXT NOT NULL DEFAULT 'read' CHECK (access IN ('read', 'write', 'admin')),
    PRIMARY KEY (project_id, user_id)
);

CREATE INDEX projects_organization_idx ON projects (organization_id);
CREATE INDEX projects_owner_idx ON projects (owner_id);
CREATE INDEX project_members_user_idx ON project_members (user_id);
