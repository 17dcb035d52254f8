-- PostgreSQL's search bigrams became one array per case under a GIN index (its migration of
-- the same name). SQLite keeps its rows of (bigram, case) in the search file, which has no
-- such index; this step keeps both engines' migrations counted alike (an export records how
-- many were applied, and the importer checks it).
select 1;
