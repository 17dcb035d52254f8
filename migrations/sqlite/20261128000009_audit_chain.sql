-- The tamper-evident chain: each event keeps the hash of the one before it and its own
-- (src/domain/audit.rs). Events written before this migration stay unchained (NULL).
alter table case_events add column prev_hash text;
alter table case_events add column hash text;
alter table audit_events add column prev_hash text;
alter table audit_events add column hash text;

-- The last event of each chain; the row is locked by every transaction that appends, so
-- appends are serialized and the chain never forks.
create table chain_heads (
    name text primary key,
    last_id bigint not null,
    last_hash text not null
);

insert into chain_heads (name, last_id, last_hash) values ('case_events', 0, ''), ('audit_events', 0, '');
