-- Search by any two characters: an index of character bigrams of each case's name, phone and
-- description, built by youmen (see src/domain/search.rs).
create table case_grams (
    gram text not null,
    case_id bigint not null references cases (id),
    primary key (gram, case_id)
);

create index case_grams_case on case_grams (case_id);

-- Cases registered before this index existed are indexed at start-up.
alter table cases add column grams_indexed boolean not null default false;
create index cases_grams_pending on cases (id) where grams_indexed = false;
