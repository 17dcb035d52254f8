-- The search bigrams as one row per case: an array under a GIN index, instead of a row per
-- (bigram, case) in two B-trees. Indexing a case wrote ~40 rows and ~80 index entries, nearly
-- half of PostgreSQL's CPU per website message and the cause of intake's slow answers at
-- 1,000/s (docs/BENCHMARKS.md, session 7). Now it writes one row, and the GIN index takes its
-- bigrams into its pending list, merged into the index in bulk. A search asks the index for
-- the cases holding all of its bigrams at once (`grams @> ...`).
create table case_search (
    case_id bigint primary key,
    grams text[] not null
);

-- The existing index is converted in place (no rebuild from the cases by the indexer, during
-- which searches would scan), and the GIN index built after the rows, in one pass.
insert into case_search (case_id, grams)
select case_id, array_agg(gram) from case_grams group by case_id;

-- The pending list is kept small (256 kB, against PostgreSQL's 4 MB): the backend that
-- overflows it (the indexer) merges it into the index there and then, and a 4 MB merge every
-- few seconds took a core long enough to hold up intake's answers on two cores (measured:
-- 1-4 slow stalls per 8 s at 1,000 messages per second, against 0-1; docs/BENCHMARKS.md,
-- session 8). Searches read the pending list whole, so they gain too.
create index case_search_grams on case_search using gin (grams) with (gin_pending_list_limit = 256);

drop table case_grams;
