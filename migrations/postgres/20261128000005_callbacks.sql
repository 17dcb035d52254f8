-- The next-morning callback list: one generation run per opening, its entries (one per
-- person), the cases each entry covers, and every attempt to call.
create table callback_runs (
    opening_at timestamptz primary key,
    list_date text not null,
    entries bigint not null,
    created_at timestamptz not null
);

create table callback_entries (
    id bigint generated always as identity primary key,
    list_date text not null,
    opening_at timestamptz not null,
    -- The phone (E.164), or case:<id> for an unknown number: unique within a run.
    group_key text not null,
    phone_e164 text,
    urgent boolean not null,
    kind text not null,
    first_arrival_at timestamptz not null,
    deadline_at timestamptz not null,
    status text not null,             -- open, resolved, reached, unreachable
    attempts bigint not null,
    next_attempt_at timestamptz,
    first_attempt_at timestamptz,
    reached_at timestamptz,
    claimed_by text,
    claimed_until timestamptz,
    finished_at timestamptz,
    created_at timestamptz not null,
    updated_at timestamptz not null,
    unique (opening_at, group_key)
);

create index callback_entries_day on callback_entries (list_date);
create index callback_entries_open on callback_entries (status, phone_e164);

create table callback_entry_cases (
    case_id bigint primary key references cases (id),
    entry_id bigint not null references callback_entries (id)
);

create index callback_entry_cases_entry on callback_entry_cases (entry_id);

create table callback_attempts (
    id bigint generated always as identity primary key,
    entry_id bigint not null references callback_entries (id),
    at timestamptz not null,
    actor text not null,
    outcome text not null,
    note text
);

create index callback_attempts_entry on callback_attempts (entry_id);

create index cases_callback_due on cases (callback_due_at) where callback_due_at is not null;

-- What happened outside any one case's timeline: exports, generations by hand.
create table audit_events (
    id bigint generated always as identity primary key,
    at timestamptz not null,
    actor text not null,
    action text not null,
    subject text not null,
    note text
);
