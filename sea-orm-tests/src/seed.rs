//! Seed data: 12 authors (every column type, NULLs in each nullable one), 0 to 5 posts
//! each, 8 tags, and the post-tag pairs; the same rows every time.

/// The seed, as SQL.
pub const SEED: &str = r#"
INSERT INTO so_author (name, email, mood, profile, born, created_at, rating, tags, avatar, uid, score, active)
SELECT 'author ' || i,
       'a' || i || '@example.com',
       (ARRAY['happy', 'sad', 'meh'])[1 + i % 3]::so_mood,
       CASE WHEN i % 4 = 0 THEN NULL
            ELSE jsonb_build_object('bio', 'bio ' || i, 'n', i, 'x', i * 1.5, 'list', jsonb_build_array(i, 'a')) END,
       CASE WHEN i % 5 = 0 THEN NULL ELSE date '1980-01-01' + i * 100 END,
       timestamptz '2024-01-01 00:00:00+00' + i * interval '1 day 1 hour 1.5 second',
       CASE WHEN i % 3 = 0 THEN NULL ELSE (i * 3.59)::numeric(5, 2) END,
       CASE WHEN i % 2 = 0 THEN ARRAY['x' || i, 'y'] ELSE '{}' END,
       CASE WHEN i % 3 = 1 THEN convert_to('av' || i, 'UTF8') ELSE NULL END,
       md5('u' || i)::uuid,
       CASE WHEN i % 4 = 1 THEN NULL ELSE i / 7.0 END,
       i % 5 <> 0
FROM generate_series(1, 12) i
ORDER BY i;
INSERT INTO so_post (author_id, title, body, published_at, views, meta)
SELECT a,
       'post ' || a || '.' || p,
       CASE WHEN p % 2 = 0 THEN NULL ELSE 'body of ' || a || '.' || p END,
       CASE WHEN p % 3 = 0 THEN NULL
            ELSE timestamp '2024-06-01 12:00:00.25' + (a * 10 + p) * interval '1 hour' END,
       a * 100 + p,
       CASE WHEN p % 2 = 0 THEN jsonb_build_object('lang', 'en', 'words', a * p) ELSE NULL END
FROM generate_series(1, 12) a, generate_series(1, 5) p
WHERE p <= a % 6
ORDER BY a, p;
INSERT INTO so_tag (label) SELECT 'tag ' || t FROM generate_series(1, 8) t ORDER BY t;
INSERT INTO so_post_tag (post_id, tag_id, weight)
SELECT p.id, t, ((p.id + t) % 5)::int2
FROM so_post p, generate_series(1, 8) t
WHERE (p.id * t) % 3 = 1
ORDER BY p.id, t;
"#;
