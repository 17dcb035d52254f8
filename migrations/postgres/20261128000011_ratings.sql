-- Ratings (好差评): one per case, from the citizen (tracking page) or recorded by staff; a bad
-- one opens a follow-up for the duty leader with its two deadlines.
create table ratings (
    case_id bigint primary key references cases (id),
    level text not null,
    comment text,
    source text not null,            -- citizen, staff
    recorded_by text not null,
    verify_due timestamptz,
    rectify_due timestamptz,
    follow_up text,
    followed_up_by text,
    followed_up_at timestamptz,
    created_at timestamptz not null
);
