-- Hotlines: consultations answered on the phone, voicemail recordings, exactly-once ingest
-- records, and the quarantine of what could not be ingested.

alter table cases add column consultation boolean not null default false;
alter table cases add column urgent boolean not null default false;
-- When the next-morning callback is due (the next opening after an off-hours arrival; the
-- arrival itself during working hours), and what kind of entry it is: message or missed_call.
alter table cases add column callback_due_at timestamptz;
alter table cases add column callback_kind text;

create index cases_callback on cases (callback_due_at, id);

create table recordings (
    id bigint generated always as identity primary key,
    case_id bigint not null references cases (id),
    sha256 text not null,
    source text not null,
    media_type text not null,
    bytes bigint not null,
    duration_ms bigint not null,
    sample_rate bigint not null,
    channels bigint not null,
    rms double precision not null,
    peak double precision not null,
    silent boolean not null,
    received_at timestamptz not null,
    created_at timestamptz not null
);

create index recordings_case on recordings (case_id, id);

create table voicemail_ingests (
    identity text primary key,
    case_id bigint references cases (id),
    recording_id bigint references recordings (id),
    source_path text not null,
    created_at timestamptz not null
);

create table quarantine (
    id bigint generated always as identity primary key,
    identity text not null unique,
    source text not null,
    path text not null,
    reason text not null,
    attempts bigint not null,
    first_seen_at timestamptz not null,
    last_seen_at timestamptz not null,
    resolved_at timestamptz,
    created_at timestamptz not null
);
