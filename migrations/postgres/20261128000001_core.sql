-- The case queue, its append-only timeline, the per-day case counter and API tokens.

create table case_counters (
    day text primary key,              -- local date, YYYY-MM-DD
    last_seq bigint not null,
    created_at timestamptz not null
);

create table cases (
    id bigint generated always as identity primary key,
    number text not null unique,
    channel text not null,
    received_at timestamptz not null,
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
    deadline timestamptz not null,
    deadline_provisional boolean not null,
    off_hours boolean not null,
    created_at timestamptz not null,
    updated_at timestamptz not null,
    version bigint not null
);

create index cases_deadline on cases (deadline, id);
create index cases_received on cases (received_at, id);
create index cases_status_deadline on cases (status, deadline, id);
create index cases_phone on cases (phone_e164);
create index cases_id_card on cases (id_card_digest);

create table case_events (
    id bigint generated always as identity primary key,
    case_id bigint not null references cases (id),
    at timestamptz not null,
    actor text not null,
    action text not null,
    before_state text not null,
    after_state text not null,
    note text,
    created_at timestamptz not null
);

create index case_events_case on case_events (case_id, id);

-- The timeline is append-only: nothing may edit or remove an event.
create function case_events_append_only() returns trigger language plpgsql as $$
begin
    raise exception 'case events are append-only';
end;
$$;

create trigger case_events_no_change before update or delete on case_events
    for each row execute function case_events_append_only();

create table api_tokens (
    id bigint generated always as identity primary key,
    name text not null,
    role text not null,
    token_hash text not null unique,
    created_at timestamptz not null,
    revoked_at timestamptz
);
