-- Calls as the PBX reports them (the generic CTI push API, or the AMI listener): when each
-- rang, was answered and ended, by whom, and how it ended. One row per call of a PBX; a
-- repeated or late event changes it once.
create table calls (
    id integer primary key,
    -- `<source>:<the PBX's callId>`: a token's calls, or the AMI listener's.
    call_key text not null unique,
    direction text not null,            -- in, out
    -- complaint_hotline, business_hotline; null when the number called is no hotline.
    channel text,
    -- E.164; null for an anonymous caller or a number that is not one.
    phone_e164 text,
    anonymous boolean not null,
    -- The names (users, extensions) it rang at, one per line; empty: every operator.
    ring_users text not null,
    queue text,
    answered_by text,
    -- The youmen user who answered, when the PBX's name matched one.
    answered_user_id integer references users (id),
    -- ringing, answered, voicemail, ended
    state text not null,
    started_at text not null,
    answered_at text,
    ended_at text,
    -- normalClearing, busy, cancel, noAnswer, congestion, notFound, forwarded
    cause text,
    -- Ended with nobody answering (rang out, gave up, busy, or only the voicemail took
    -- it): counted as missed; listed for a call back unless the caller's message came.
    missed boolean not null,
    -- The working-hours hour (local) the call started in, for statistics by hour.
    local_hour integer not null,
    -- The case the operator logged from it.
    case_id integer references cases (id),
    version integer not null,
    created_at text not null,
    updated_at text not null
);

create index calls_live on calls (started_at) where ended_at is null;
create index calls_started on calls (started_at);

-- The extension (分机) each operator answers at, matched against the PBX's `user`.
alter table users add column extension text;
