-- Oversight: the duty roster (one duty leader a day), staff e-mail addresses for alerts, and
-- the deadline alerts already raised (so each is raised once, by one instance).
create table duty_roster (
    duty_date text primary key,
    username text not null,
    created_at timestamptz not null,
    updated_at timestamptz not null
);

alter table users add column email text;

create table case_alerts (
    case_id bigint not null references cases (id),
    kind text not null,              -- due_soon, overdue
    deadline timestamptz not null,
    created_at timestamptz not null,
    primary key (case_id, kind, deadline)
);
