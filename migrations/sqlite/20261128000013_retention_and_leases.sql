-- Leases name their holder, so an instance shutting down hands back what it still holds
-- instead of leaving it until the lease runs out.
alter table outbox add column claimed_by text;
alter table recording_downloads add column claimed_by text;

-- Retention (PIPL): a closed case's recordings are purged after a number of days and its
-- personal fields anonymized after a number of years; the rows stay for the statistics.
alter table recordings add column purged_at text;
alter table cases add column anonymized_at text;
create index cases_closed_updated on cases (status, updated_at);
