-- Accounts administered in the pages: a password reset by an administrator is temporary,
-- and the user sets their own at the next sign-in.
alter table users add column must_change_password boolean not null default false;
