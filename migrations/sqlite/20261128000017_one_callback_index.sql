-- Two indexes held the callback due time: `cases_callback (callback_due_at, id)` over every case
-- and the partial `cases_callback_due` over the cases that have one. Every query on the column
-- asks for a due time (`is not null and <= $1`, or `= $1`), which the partial index answers; the
-- full one was one more index entry for every case registered, and read by nothing.
drop index cases_callback;
