-- Accountability (问责): a case closed with a staff-side cause needs its accountability record
-- (who, what went wrong, the decision) first. The record is an event on the timeline whose
-- content only duty leaders and administrators see; this flag lets the state machine check it.
alter table cases add column accountability boolean not null default false;
