CREATE TABLE {{tables.comments}} (
    id BIGSERIAL PRIMARY KEY,
    project_id BIGINT NOT NULL REFERENCES {{tables.projects}} (id) ON DELETE CASCADE,
    author_id BIGINT REFERENCES {{tables.users}} (id) ON DELETE SET NULL,
    parent_id BIGINT REFERENCES {{tables.comments}} (id) ON DELETE CASCADE,
    body TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE INDEX comments_project_idx ON {{tables.comments}} (project_id, created_at);
CREATE INDEX comments_author_idx ON {{tables.comments}} (author_id);
CREATE INDEX comments_parent_idx ON {{tables.comments}} (parent_id);
