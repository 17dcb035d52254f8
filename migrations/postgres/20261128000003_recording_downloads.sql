-- Recordings announced by a Twilio-style callback, fetched by a durable job with retries.
create table recording_downloads (
    id bigint generated always as identity primary key,
    recording_sid text not null unique,
    call_sid text,
    url text not null,
    channel text not null,
    caller text,
    received_at timestamptz not null,
    status text not null,              -- pending, done, dead
    attempts bigint not null,
    next_attempt_at timestamptz not null,
    claimed_until timestamptz,
    last_error text,
    created_at timestamptz not null
);

create index recording_downloads_due on recording_downloads (status, next_attempt_at);
