-- Awards a leader made from the evaluation: the rotating red flag (流动红旗) to a counter or
-- department, the service star (服务之星) to a staff member, for a period.
create table awards (
    id bigint generated always as identity primary key,
    period text not null,
    award text not null,               -- red_flag, service_star
    subject text not null,             -- a directory code, or a staff member's name
    reason text not null,
    awarded_by text not null,
    awarded_at timestamptz not null
);

create index awards_period on awards (period);
