CREATE TABLE {{tables.posts}} (
    id SERIAL PRIMARY KEY,
    user_id INTEGER NOT NULL REFERENCES {{tables.users}} (id),
    body TEXT NOT NULL
);

CREATE FUNCTION {{schema}}.post_count() RETURNS bigint LANGUAGE plpgsql AS $$
BEGIN
    RETURN (SELECT count(*) FROM {{tables.posts}});
END;
$$;
