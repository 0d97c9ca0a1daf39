CREATE TABLE {{tables.attachments}} (
    id BIGSERIAL PRIMARY KEY,
    comment_id BIGINT NOT NULL REFERENCES {{tables.comments}} (id) ON DELETE CASCADE,
    file_name TEXT NOT NULL,
    content_type TEXT NOT NULL,
    size_bytes BIGINT NOT NULL CHECK (size_bytes >= 0),
    sha256 BYTEA NOT NULL
);

CREATE INDEX attachments_comment_idx ON {{tables.attachments}} (comment_id);
