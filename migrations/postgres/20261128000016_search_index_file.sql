-- On SQLite the search index moved to a file of its own; PostgreSQL keeps it in place (its
-- writers lock rows, not the database). This step keeps both engines' migrations counted
-- alike (an export records how many were applied, and the importer checks it), and drops the
-- grams' foreign key: it checked every gram row against cases, some 40 look-ups per case
-- indexed, for an index that is derived from the cases and never read without them (as on
-- SQLite, where the grams are in another file and have none).
alter table case_grams drop constraint if exists case_grams_case_id_fkey;
