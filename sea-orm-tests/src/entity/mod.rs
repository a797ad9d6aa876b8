//! The entity set: authors write posts (one-to-many), posts carry tags through `post_tag`
//! (many-to-many, a composite primary key), an author has a mood (a PostgreSQL enum as an
//! `ActiveEnum`) and a JSON profile, a post typed JSON metadata.

pub mod author;
pub mod mood;
pub mod post;
pub mod post_tag;
pub mod tag;

/// The schema the entities map, as SQL (both backends run against it).
pub const SCHEMA: &str = r#"
CREATE TYPE so_mood AS ENUM ('happy', 'sad', 'meh');
CREATE TABLE so_author (
    id serial PRIMARY KEY,
    name text NOT NULL,
    email varchar(100) NOT NULL UNIQUE,
    mood so_mood NOT NULL,
    profile jsonb,
    born date,
    created_at timestamptz NOT NULL,
    rating numeric(5, 2),
    tags text[] NOT NULL DEFAULT '{}',
    avatar bytea,
    uid uuid NOT NULL,
    score double precision,
    active boolean NOT NULL DEFAULT true
);
CREATE TABLE so_post (
    id bigserial PRIMARY KEY,
    author_id int4 NOT NULL REFERENCES so_author (id) ON DELETE CASCADE,
    title text NOT NULL,
    body text,
    published_at timestamp,
    views int8 NOT NULL DEFAULT 0,
    meta jsonb
);
CREATE TABLE so_tag (
    id serial PRIMARY KEY,
    label varchar(40) NOT NULL UNIQUE
);
CREATE TABLE so_post_tag (
    post_id int8 NOT NULL REFERENCES so_post (id) ON DELETE CASCADE,
    tag_id int4 NOT NULL REFERENCES so_tag (id) ON DELETE CASCADE,
    weight int2 NOT NULL DEFAULT 1,
    PRIMARY KEY (post_id, tag_id)
);
"#;
