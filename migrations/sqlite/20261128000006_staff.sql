-- Staff accounts for the web UI (argon2 password hashes) and their server-side sessions.
create table users (
    id integer primary key,
    username text not null unique,
    display_name text not null,
    password_hash text not null,
    -- Comma-separated role codes: counter,hotline,callback,duty_leader,admin.
    roles text not null,
    disabled boolean not null,
    failed_logins integer not null,
    locked_until text,
    lang text not null,
    created_at text not null,
    updated_at text not null
);

create table sessions (
    -- SHA-256 of the cookie's secret; the secret itself is never stored.
    id_hash text primary key,
    user_id integer not null references users (id),
    csrf_token text not null,
    created_at text not null,
    last_seen_at text not null,
    expires_at text not null
);

create index sessions_user on sessions (user_id);
