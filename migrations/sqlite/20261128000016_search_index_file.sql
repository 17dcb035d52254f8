-- The search index moves to a file of its own (`<name>.search.db`, src/storage/sqlite.rs), so
-- that its writes never hold the intake file's one write lock. youmen fills the new file from
-- the cases when it first opens it; the table here goes.
drop table case_grams;
