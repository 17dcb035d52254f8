-- Reports read a period's cases in one pass of one index, exactly, at any size.
--
-- When a case's handling first finished (resolved, refused or answered): kept on the case by
-- the same transaction that appends the finishing event, so on-time counts need no scan of
-- the timelines.
alter table cases add column finished_at timestamptz;

update cases set finished_at = (
    select min(e.at) from case_events e
    where e.case_id = cases.id
      and e.action in ('resolve', 'refuse', 'answer_and_close', 'answered_by_callback')
);

-- The tally: the closed vocabularies first (each query names all their values, so the scan is
-- a set of ranges already in group order), then the period, then what the counts read.
create index cases_tally on cases (
    channel, cause, tier, status, consultation, received_at,
    deadline, finished_at, failed_counter, failed_department, owner, matter
);

-- The few events reports count by kind (summons, arrivals, accountability, answers on the call
-- back): a small index, untouched by registrations.
create index case_events_reported on case_events (action, at)
    where action in ('summon', 'summon_arrived', 'record_accountability', 'answered_by_callback');

create index callback_attempts_at on callback_attempts (at);
create index missed_calls_received on missed_calls (received_at);

-- A rating keeps when its case was received (which never changes), so ratings by level for a
-- period are read from one small index, without visiting the cases.
alter table ratings add column case_received_at timestamptz;
update ratings set case_received_at = (select c.received_at from cases c where c.id = ratings.case_id);
create index ratings_period on ratings (level, case_received_at);

-- Calls by hour, operator and line in one pass, without visiting the rows.
create index calls_tally on calls (
    started_at, local_hour, channel, direction, missed, answered_at, ended_at, answered_by, answered_user_id
);
