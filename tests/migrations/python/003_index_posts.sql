CREATE INDEX posts_user_idx ON {{tables.posts}} (user_id);

COMMENT ON TABLE {{tables.posts}} IS 'written with CRLF';
  
