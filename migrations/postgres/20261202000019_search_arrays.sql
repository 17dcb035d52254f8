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

create index case_search_grams on case_search using gin (grams);

drop table case_grams;
