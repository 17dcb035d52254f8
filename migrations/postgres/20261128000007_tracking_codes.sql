-- Tracking codes issued for cases registered elsewhere than the website (a walk-in's
-- receipt). Only the digest is kept; printing a new receipt replaces it.
create table tracking_codes (
    case_id bigint primary key references cases (id),
    digest text not null,
    created_at timestamptz not null
);
