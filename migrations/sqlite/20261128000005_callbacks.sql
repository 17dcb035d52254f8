-- The next-morning callback list: one generation run per opening, its entries (one per
-- person), the cases each entry covers, and every attempt to call.
create table callback_runs (
    opening_at text primary key,
    list_date text not null,
    entries integer not null,
    created_at text not null
);

create table callback_entries (
    id integer primary key,
    list_date text not null,
    opening_at text not null,
    -- The phone (E.164), or case:<id> for an unknown number: unique within a run.
    group_key text not null,
    phone_e164 text,
    urgent boolean not null,
    kind text not null,
    first_arrival_at text not null,
    deadline_at text not null,
    status text not null,             -- open, resolved, reached, unreachable
    attempts integer not null,
    next_attempt_at text,
    first_attempt_at text,
    reached_at text,
    claimed_by text,
    claimed_until text,
    finished_at text,
    created_at text not null,
    updated_at text not null,
    unique (opening_at, group_key)
);

create index callback_entries_day on callback_entries (list_date);
create index callback_entries_open on callback_entries (status, phone_e164);

create table callback_entry_cases (
    case_id integer primary key references cases (id),
    entry_id integer not null references callback_entries (id)
);

create index callback_entry_cases_entry on callback_entry_cases (entry_id);

create table callback_attempts (
    id integer primary key,
    entry_id integer not null references callback_entries (id),
    at text not null,
    actor text not null,
    outcome text not null,
    note text
);

create index callback_attempts_entry on callback_attempts (entry_id);

create index cases_callback_due on cases (callback_due_at) where callback_due_at is not null;

-- What happened outside any one case's timeline: exports, generations by hand.
create table audit_events (
    id integer primary key,
    at text not null,
    actor text not null,
    action text not null,
    subject text not null,
    note text
);
