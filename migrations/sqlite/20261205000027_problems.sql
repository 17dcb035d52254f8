-- Common problems (共性问题): cases that share one policy or system bottleneck, studied and
-- turned into a reform (制度创新成果), or closed without one.
create table problems (
    id integer primary key,
    title text not null,
    -- The policy or system at fault.
    fault text not null,
    -- collecting, under_study, reform_proposed, reform_adopted, closed_without_reform
    status text not null,
    reform_document text,
    reform_date text,
    reform_summary text,
    created_by text not null,
    created_at text not null,
    updated_at text not null
);

create table problem_cases (
    problem_id integer not null references problems (id),
    case_id integer not null references cases (id),
    linked_by text not null,
    linked_at text not null,
    primary key (problem_id, case_id)
);

create index problem_cases_case on problem_cases (case_id);
