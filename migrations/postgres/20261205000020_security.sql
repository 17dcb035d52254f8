-- ID-card digests become keyed (HMAC-SHA256 under the instance's secret key) and the stored
-- masks show less; the rows made before are re-keyed in place at start-up, once, and marked.
alter table cases add column id_card_keyed boolean not null default false;
-- API tokens: an optional expiry, and when each was last used.
alter table api_tokens add column expires_at timestamptz;
alter table api_tokens add column last_used_at timestamptz;
