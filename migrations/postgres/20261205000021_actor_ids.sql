-- Who is behind an actor's name: `user:<users.id>` for a signed-in staff member,
-- `token:<api_tokens.id>` for an API token; null for the system's own work and for rows
-- written before ids were stored. A case or audit event's id is in its hash when it has one.
alter table case_events add column actor_id text;
alter table audit_events add column actor_id text;
alter table callback_attempts add column actor_id text;
alter table callback_entries add column claimed_by_id text;
