-- The website channel: messages behind their cases, the mail outbox, and rate-limit hits.
create table website_messages (
    case_id bigint primary key references cases (id),
    -- SHA-256 of the tracking code; the code itself is shown once and mailed once.
    tracking_digest text not null,
    email text,
    -- SHA-256 of the phone and the normalized text: the same message again folds.
    fold_key text not null,
    created_at timestamptz not null
);

create index website_messages_fold on website_messages (fold_key, created_at);

-- Every outgoing notification, written in the transaction of the change that causes it and
-- delivered by a worker with retries; `payload` is cleared of secrets once delivered.
create table outbox (
    id bigint generated always as identity primary key,
    topic text not null,
    case_id bigint references cases (id),
    recipient text not null,
    payload text not null,
    status text not null,              -- pending, sent, dead
    attempts bigint not null,
    next_attempt_at timestamptz not null,
    claimed_until timestamptz,
    last_error text,
    created_at timestamptz not null,
    sent_at timestamptz
);

create index outbox_due on outbox (status, next_attempt_at);

-- One row per counted request (submissions, tracking look-ups), keyed by a digest of the
-- client address; old rows are pruned as new ones arrive.
create table rate_hits (
    id bigint generated always as identity primary key,
    scope text not null,
    key text not null,
    at timestamptz not null
);

create index rate_hits_key on rate_hits (scope, key, at);
