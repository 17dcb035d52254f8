-- The open queue (new and in progress), earliest deadline first, is what staff look at all
-- day: a partial index in that order lets its first page be read straight off the index
-- instead of sorting every open case. The queries write this condition literally, in this
-- order, so that the planner can prove the index applies.
create index cases_open_deadline on cases (deadline, id) where status in ('in_progress', 'new');
