-- On SQLite the search index moved to a file of its own. PostgreSQL keeps it in place: its
-- writers lock rows, not the database. This step keeps both engines' migrations counted
-- alike (an export records how many were applied, and the importer checks it).
select 1;
