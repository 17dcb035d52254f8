-- The case queue, its append-only timeline, the per-day case counter and API tokens.
-- Timestamps are UTC text in one fixed RFC 3339 format, so they order correctly.

create table case_counters (
    day text primary key,              -- local date, YYYY-MM-DD
    last_seq integer not null,
    created_at text not null
);

create table cases (
    id integer primary key,
    number text not null unique,
    channel text not null,
    received_at text not null,
    citizen_name text,
    phone_e164 text,
    phone_original text,
    id_card_masked text,
    id_card_digest text,
    matter text not null,
    description text not null,
    cause text not null,
    tier text not null,
    status text not null,
    owner text,
    deadline text not null,
    deadline_provisional boolean not null,
    off_hours boolean not null,
    created_at text not null,
    updated_at text not null,
    version integer not null
);

create index cases_deadline on cases (deadline, id);
create index cases_received on cases (received_at, id);
create index cases_status_deadline on cases (status, deadline, id);
create index cases_phone on cases (phone_e164);
create index cases_id_card on cases (id_card_digest);

create table case_events (
    id integer primary key,
    case_id integer not null references cases (id),
    at text not null,
    actor text not null,
    action text not null,
    before_state text not null,
    after_state text not null,
    note text,
    created_at text not null
);

create index case_events_case on case_events (case_id, id);

-- The timeline is append-only: nothing may edit or remove an event.
create trigger case_events_no_update before update on case_events
begin
    select raise(abort, 'case events are append-only');
end;

create trigger case_events_no_delete before delete on case_events
begin
    select raise(abort, 'case events are append-only');
end;

create table api_tokens (
    id integer primary key,
    name text not null,
    role text not null,
    token_hash text not null unique,
    created_at text not null,
    revoked_at text
);
