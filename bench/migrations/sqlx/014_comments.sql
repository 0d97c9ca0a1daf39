CREATE TABLE comments (
    id BIGSERIAL PRIMARY KEY,
    project_id BIGINT NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    author_id BIGINT REFERENCES users (id) ON DELETE SET NULL,
    parent_id BIGINT REFERENCES comments (id) ON DELETE CASCADE,
    body TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE INDEX comments_project_idx ON comments (project_id, created_at);
CREATE INDEX comments_author_idx ON comments (author_id);
CREATE INDEX comments_parent_idx ON comments (parent_id);
