-- Ratings (好差评): one per case, from the citizen (tracking page) or recorded by staff; a bad
-- one opens a follow-up for the duty leader with its two deadlines.
create table ratings (
    case_id integer primary key references cases (id),
    level text not null,
    comment text,
    source text not null,            -- citizen, staff
    recorded_by text not null,
    verify_due text,
    rectify_due text,
    follow_up text,
    followed_up_by text,
    followed_up_at text,
    created_at text not null
);
