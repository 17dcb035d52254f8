-- The search backlog as a table of its own: a new case adds one row (a short, sequential
-- index), and the indexer deletes it with the case's grams written. The flag it replaces
-- (cases.grams_indexed) made the indexer rewrite every case row once, and, because the flag
-- was in a partial index's condition, on PostgreSQL that update could not be HOT: every case
-- went into each of the dozen indexes of cases twice.
create table search_backlog (
    case_id integer primary key references cases (id)
);

insert into search_backlog (case_id) select id from cases where grams_indexed = false;

drop index cases_grams_pending;
alter table cases drop column grams_indexed;
