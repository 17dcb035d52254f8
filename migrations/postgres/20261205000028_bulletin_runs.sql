-- Each conduct bulletin is sent once, whichever instance finds it due.
create table bulletin_runs (
    period text primary key,
    created_at timestamptz not null
);
