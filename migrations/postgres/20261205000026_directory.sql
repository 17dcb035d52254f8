-- The bureau's directory: departments (科室) and business counters (窗口), seeded from the
-- configuration and edited by administrators. An entry named by cases is retired, never
-- deleted.
create table directory (
    id bigint generated always as identity primary key,
    kind text not null,                -- department, counter
    code text not null,
    name text not null,
    head text,
    -- An e-mail address, or webhook:<name>.
    contact text,
    -- A counter's department (a department code).
    department text,
    retired_at timestamptz,
    created_at timestamptz not null,
    updated_at timestamptz not null,
    unique (kind, code)
);

-- Where the matter could not be done: the counter, its department, the clerk when known.
alter table cases add column failed_counter text;
alter table cases add column failed_department text;
alter table cases add column failed_clerk text;

create index cases_failed_department on cases (failed_department) where failed_department is not null;
create index cases_failed_counter on cases (failed_counter) where failed_counter is not null;
