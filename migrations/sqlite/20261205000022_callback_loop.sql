-- The callback loop closes. A missed call (no message, or a silent recording) waits as a
-- callback entry of its own, not a case, until someone speaks to the caller: reached, it
-- becomes a case (answered, or continuing); unreachable, it is closed as such and counted.
create table missed_calls (
    id integer primary key,
    -- Stable per call (the voicemail identity, or the PBX's call id): taken in once.
    identity text not null unique,
    source text not null,              -- asterisk, push, twilio, cti
    channel text not null,
    -- E.164; null for an anonymous caller (counted, never listed).
    phone_e164 text,
    received_at text not null,
    off_hours boolean not null,
    urgent boolean not null,
    -- The next opening after an off-hours call; the call itself in working hours.
    callback_due_at text not null,
    entry_id integer references callback_entries (id),
    outcome text,                      -- answered, continued, unreachable; null: to call
    case_id integer references cases (id),
    created_at text not null
);

create index missed_calls_pending on missed_calls (callback_due_at) where entry_id is null;
create index missed_calls_entry on missed_calls (entry_id);

-- Entries made during the working day, from arrivals in working hours (every line busy):
-- their first-thing deadline counts from the arrival.
alter table callback_entries add column daytime boolean not null default false;
-- When the day's duty leader was told this entry is late (once).
alter table callback_entries add column late_alerted_at text;

-- The daily cap on confirmation e-mails per recipient counts these, inside the registration.
create index outbox_confirmations on outbox (topic, lower(recipient), created_at);
