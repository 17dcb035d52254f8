-- Hotlines: consultations answered on the phone, voicemail recordings, exactly-once ingest
-- records, and the quarantine of what could not be ingested.

alter table cases add column consultation boolean not null default false;
alter table cases add column urgent boolean not null default false;
-- When the next-morning callback is due (the next opening after an off-hours arrival; the
-- arrival itself during working hours), and what kind of entry it is: message or missed_call.
alter table cases add column callback_due_at text;
alter table cases add column callback_kind text;

create index cases_callback on cases (callback_due_at, id);

create table recordings (
    id integer primary key,
    case_id integer not null references cases (id),
    sha256 text not null,
    source text not null,
    media_type text not null,
    bytes integer not null,
    duration_ms integer not null,
    sample_rate integer not null,
    channels integer not null,
    rms real not null,
    peak real not null,
    silent boolean not null,
    received_at text not null,
    created_at text not null
);

create index recordings_case on recordings (case_id, id);

create table voicemail_ingests (
    identity text primary key,
    case_id integer references cases (id),
    recording_id integer references recordings (id),
    source_path text not null,
    created_at text not null
);

create table quarantine (
    id integer primary key,
    identity text not null unique,
    source text not null,
    path text not null,
    reason text not null,
    attempts integer not null,
    first_seen_at text not null,
    last_seen_at text not null,
    resolved_at text,
    created_at text not null
);
