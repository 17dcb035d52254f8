-- {n} cases over the three years from {start} (a Unix time), oldest first, with their timelines,
-- ratings, callback entries and attempts, written in bulk (registration is measured by the
-- queue benchmark; this one measures reading them). The mix: counter 35%, complaint line 25%,
-- business line 20%, website 20%; causes staff-side 30%, citizen-side 20%, objective 20%,
-- unclassified 30%; 1/3/5-day tiers; 85% with the counter and 90% with the department where
-- the matter failed (12 counters, 6 departments); 40 staff; all but the last 2% finished,
-- three in four by the deadline; 30% rated; 30% after hours and called back the next morning.
create temp table gen as
select i::bigint as i,
       {start}::bigint + i::bigint * 94608000 / {n} as t,
       (i::bigint * 2654435761) % 1000 as r,
       (i::bigint * 40503) % 1009 as q
from generate_series(1, {n}) as s(i);

insert into cases (id, number, channel, received_at, citizen_name, phone_e164, phone_original,
                   matter, description, cause, tier, status, owner, deadline, deadline_provisional,
                   off_hours, created_at, updated_at, version, consultation, urgent,
                   failed_counter, failed_department, failed_clerk, finished_at)
overriding system value
select i, 'YM' || i,
       case when r < 350 then 'counter' when r < 600 then 'complaint_hotline'
            when r < 800 then 'business_hotline' else 'website' end,
       to_timestamp(t),
       '张伟', '+861380013' || lpad(q::text, 4, '0'), '1380013' || lpad(q::text, 4, '0'),
       'matter' || (q % 20), '养老金资格认证在社保大厅没办成，已经跑了3趟',
       case when q % 10 < 3 then 'staff_side' when q % 10 < 5 then 'citizen_side'
            when q % 10 < 7 then 'objective' else 'unclassified' end,
       case i % 3 when 0 then 'simple' when 1 then 'complex' else 'difficult' end,
       case when i > {n} * 98 / 100 then (case when i % 3 = 0 then 'in_progress' else 'new' end)
            when r % 20 = 0 then 'refused' else 'closed' end,
       case when r % 10 = 9 then null else 'staff' || (q % 40) end,
       to_timestamp(t + (1 + 2 * (i % 3)) * 86400),
       false, r % 10 < 3,
       to_timestamp(t),
       to_timestamp(t), 3,
       q % 10 = 3, r % 50 = 0,
       case when r % 20 < 17 then 'C' || (r % 12) end,
       case when q % 10 < 9 then 'D' || (r % 6) end,
       case when r % 4 = 0 then '李娜' end,
       case when i > {n} * 98 / 100 then null
            else to_timestamp(t + (case when q % 4 = 0 then 6 else 1 end) * (1 + 2 * (i % 3)) * 86400 * (r % 100) / 100) end
from gen;

insert into case_events (case_id, at, actor, action, before_state, after_state, note, created_at)
select i, to_timestamp(t), 'staff' || (q % 40), 'register', '{}', '{}', null,
       to_timestamp(t)
from gen;

insert into case_events (case_id, at, actor, action, before_state, after_state, note, created_at)
select c.id, c.finished_at, coalesce(c.owner, 'staff0'),
       case when c.consultation then 'answer_and_close' when c.status = 'refused' then 'refuse' else 'resolve' end,
       '{}', '{}', null, c.finished_at
from cases c where c.finished_at is not null;

insert into case_events (case_id, at, actor, action, before_state, after_state, note, created_at)
select i, to_timestamp(t + 600), 'leader', 'summon', '{}',
       '{"summoned":"D' || (r % 6) || '"}', null, to_timestamp(t + 600)
from gen where r % 100 = 1;

insert into case_events (case_id, at, actor, action, before_state, after_state, note, created_at)
select i, to_timestamp(t + 1800), 'leader', 'summon_arrived', '{}',
       '{"minutes_to_arrive":' || (q % 40) || '}', null, to_timestamp(t + 1800)
from gen where r % 100 = 1 and q % 5 > 0;

insert into case_events (case_id, at, actor, action, before_state, after_state, note, created_at)
select i, to_timestamp(t + 86400), 'leader', 'record_accountability', '{}',
       '{"accountability_outcome":"' || case q % 3 when 0 then 'criticism' when 1 then 'talk' else 'exempted' end || '"}',
       null, to_timestamp(t + 86400)
from gen where r % 200 = 3;

insert into ratings (case_id, level, comment, source, recorded_by, created_at, case_received_at)
select id,
       case (id * 7) % 5 when 0 then 'very_satisfied' when 1 then 'satisfied' when 2 then 'basically_satisfied'
            when 3 then 'dissatisfied' else 'very_dissatisfied' end,
       null, 'citizen', 'citizen', finished_at, received_at
from cases where finished_at is not null and id % 10 < 3;

insert into callback_entries (id, list_date, opening_at, group_key, phone_e164, urgent, kind, first_arrival_at,
                              deadline_at, status, attempts, reached_at, created_at, updated_at)
overriding system value
select i, to_char(to_timestamp(t + 43200) at time zone 'Asia/Shanghai', 'YYYY-MM-DD'), to_timestamp(t + 43200),
       'case:' || i, '+861380013' || lpad(q::text, 4, '0'), false, 'message',
       to_timestamp(t),
       to_timestamp(t + 43200 + 14400),
       case when i > {n} * 98 / 100 then 'open' else 'reached' end, 1,
       case when i > {n} * 98 / 100 then null
            else to_timestamp(t + 43200 + (q % 6) * 3600) end,
       to_timestamp(t), to_timestamp(t)
from gen where r % 10 < 3;

insert into callback_attempts (entry_id, at, actor, outcome, note)
select id, reached_at, 'staff' || (id % 40), case when id % 7 = 0 then 'reached_continues' else 'reached_resolved' end, null
from callback_entries where reached_at is not null;

-- A call for each case on a hotline, one in ten missed.
insert into calls (call_key, direction, channel, phone_e164, anonymous, ring_users, answered_by, state,
                   started_at, answered_at, ended_at, cause, missed, local_hour, case_id, version, created_at, updated_at)
select 'bench:' || i, 'in', case when r < 600 then 'complaint_hotline' else 'business_hotline' end,
       '+861380013' || lpad(q::text, 4, '0'), false, '',
       case when r % 10 = 7 then null else 'op' || (q % 20) end, 'ended',
       to_timestamp(t),
       case when r % 10 = 7 then null else to_timestamp(t + 10) end,
       to_timestamp(t + 300),
       case when r % 10 = 7 then 'noAnswer' else 'normalClearing' end, r % 10 = 7,
       ((t / 3600 + 8) % 24)::int, i, 1,
       to_timestamp(t), to_timestamp(t)
from gen where r >= 350 and r < 800;

select setval(pg_get_serial_sequence('cases', 'id'), (select max(id) from cases));
select setval(pg_get_serial_sequence('callback_entries', 'id'), (select max(id) from callback_entries));
drop table gen;
-- The bench runs `vacuum analyze` after this script (it cannot run in the script's transaction).
