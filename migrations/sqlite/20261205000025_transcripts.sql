-- Transcripts of recordings, by a speech recognizer on premises. Each recording is queued in
-- the transaction that stores it; a worker claims due rows (a lease), sends the audio, and
-- records the text or why not, retrying with backoff and giving up after a few attempts.
create table transcriptions (
    id integer primary key,
    recording_id integer not null unique references recordings (id),
    case_id integer not null references cases (id),
    -- pending, done, failed (given up), skipped (too short to send)
    status text not null,
    attempts integer not null,
    next_attempt_at text not null,
    claimed_by text,
    claimed_until text,
    last_error text,
    -- The text heard ('' when nothing was); null until done, and after retention purges it.
    text text,
    language text,
    model text,
    created_at text not null,
    updated_at text not null
);

create index transcriptions_due on transcriptions (next_attempt_at) where status = 'pending';
create index transcriptions_case on transcriptions (case_id);
