-- Staff accounts for the web UI (argon2 password hashes) and their server-side sessions.
create table users (
    id bigint generated always as identity primary key,
    username text not null unique,
    display_name text not null,
    password_hash text not null,
    -- Comma-separated role codes: counter,hotline,callback,duty_leader,admin.
    roles text not null,
    disabled boolean not null,
    failed_logins bigint not null,
    locked_until timestamptz,
    lang text not null,
    created_at timestamptz not null,
    updated_at timestamptz not null
);

create table sessions (
    -- SHA-256 of the cookie's secret; the secret itself is never stored.
    id_hash text primary key,
    user_id bigint not null references users (id),
    csrf_token text not null,
    created_at timestamptz not null,
    last_seen_at timestamptz not null,
    expires_at timestamptz not null
);

create index sessions_user on sessions (user_id);
