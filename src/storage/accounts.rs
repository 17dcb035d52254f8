//! Staff accounts, their sign-in sessions, and API tokens (only hashes of secrets are
//! stored).

use chrono::{DateTime, Utc};

use super::StoreResult;
use crate::domain::Role;

/// A staff account as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserRecord {
    pub id: i64,
    pub username: String,
    pub display_name: String,
    pub password_hash: String,
    pub roles: Vec<Role>,
    pub disabled: bool,
    pub failed_logins: i64,
    pub locked_until: Option<DateTime<Utc>>,
    /// `zh` or `en`: the language the user chose for the UI.
    pub lang: String,
    /// Signed in with a temporary password an administrator set: choose one first.
    pub must_change_password: bool,
}

#[derive(Debug, Clone)]
pub struct NewUser {
    pub username: String,
    pub display_name: String,
    pub password_hash: String,
    pub roles: Vec<Role>,
}

/// A signed-in session and its user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionRecord {
    pub user: UserRecord,
    pub csrf_token: String,
    pub expires_at: DateTime<Utc>,
}

/// An API token as stored: only the hash of the secret.
#[derive(Debug, Clone, serde::Serialize)]
pub struct TokenRecord {
    pub id: i64,
    pub name: String,
    pub role: Role,
    pub created_at: DateTime<Utc>,
    /// None: until revoked.
    pub expires_at: Option<DateTime<Utc>>,
    /// Written at most every few minutes per instance (see `web::extract`).
    pub last_used_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
}

#[async_trait::async_trait]
pub trait AccountStore: Send + Sync {
    async fn insert_token(
        &self,
        name: &str,
        role: Role,
        token_hash: &str,
        expires_at: Option<DateTime<Utc>>,
        now: DateTime<Utc>,
    ) -> StoreResult<TokenRecord>;

    /// The token with this hash if it is neither revoked nor expired at `now`.
    async fn token_by_hash(
        &self,
        token_hash: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<TokenRecord>>;

    /// Every token, the revoked and expired ones too, newest first.
    async fn list_tokens(&self) -> StoreResult<Vec<TokenRecord>>;

    /// Revokes a token for good; None if there is no such token, else whether this call
    /// revoked it (false: it already was).
    async fn revoke_token(&self, id: i64, now: DateTime<Utc>) -> StoreResult<Option<bool>>;

    /// Records that the token was used at `now`.
    async fn touch_token(&self, id: i64, now: DateTime<Utc>) -> StoreResult<()>;

    /// `Duplicate` when the username is taken.
    async fn create_user(&self, user: &NewUser, now: DateTime<Utc>) -> StoreResult<UserRecord>;

    async fn user_by_username(&self, username: &str) -> StoreResult<Option<UserRecord>>;

    /// Every account with its e-mail, enabled ones first, by display name.
    async fn list_users(&self) -> StoreResult<Vec<(UserRecord, Option<String>)>>;

    /// The account whose display name is `name` (how owners are recorded on cases).
    async fn user_by_display_name(
        &self,
        name: &str,
    ) -> StoreResult<Option<(UserRecord, Option<String>)>>;

    /// A new password ends the user's sessions and lifts any delay; a `temporary` one (an
    /// administrator's) must be replaced by the user's own at the next sign-in. False when
    /// there is no such user.
    async fn set_password(
        &self,
        username: &str,
        hash: &str,
        temporary: bool,
        now: DateTime<Utc>,
    ) -> StoreResult<bool>;

    /// Disabling also ends the user's sessions. False when there is no such user.
    async fn set_disabled(
        &self,
        username: &str,
        disabled: bool,
        now: DateTime<Utc>,
    ) -> StoreResult<bool>;

    async fn set_user_lang(&self, user_id: i64, lang: &str, now: DateTime<Utc>) -> StoreResult<()>;

    async fn set_user_email(
        &self,
        username: &str,
        email: Option<&str>,
        now: DateTime<Utc>,
    ) -> StoreResult<bool>;

    /// Reserves the account's next sign-in attempt before its password is checked: the
    /// account's next attempt is held off until `hold_until`, so that parallel guesses get one
    /// try between them. Returns the failures in a row so far; None when the account's next
    /// attempt is not due yet (its delay, or an attempt in flight).
    async fn reserve_sign_in(
        &self,
        user_id: i64,
        hold_until: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<i64>>;

    /// Hands back a reservation whose password was never checked (the server was busy): the
    /// account's next attempt is due at once.
    async fn release_sign_in(&self, user_id: i64, now: DateTime<Utc>) -> StoreResult<()>;

    /// Counts a wrong password; the account's next attempt waits until `next_at`.
    async fn sign_in_failed(
        &self,
        user_id: i64,
        next_at: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> StoreResult<()>;

    async fn login_succeeded(&self, user_id: i64, now: DateTime<Utc>) -> StoreResult<()>;

    async fn create_session(
        &self,
        id_hash: &str,
        user_id: i64,
        csrf_token: &str,
        expires_at: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> StoreResult<()>;

    /// The live session with this hash: not expired, not idle since `idle_since`, its user
    /// enabled. Seeing it refreshes its idle clock.
    async fn session(
        &self,
        id_hash: &str,
        idle_since: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<SessionRecord>>;

    async fn delete_session(&self, id_hash: &str) -> StoreResult<()>;
}

/// Implements [`AccountStore`] for an engine's store (see `impl_store!` in `storage/mod.rs`).
macro_rules! impl_account_store {
    ($store:ty, $db:ty) => {
        #[async_trait::async_trait]
        impl $crate::storage::AccountStore for $store {
            async fn insert_token(
                &self,
                name: &str,
                role: $crate::domain::Role,
                token_hash: &str,
                expires_at: Option<chrono::DateTime<chrono::Utc>>,
                now: chrono::DateTime<chrono::Utc>,
            ) -> $crate::storage::StoreResult<$crate::storage::TokenRecord> {
                let row: $crate::storage::rows::TokenRow = sqlx::query_as(&format!(
                    "insert into api_tokens (name, role, token_hash, expires_at, created_at) \
                     values ($1, $2, $3, $4, $5) returning {TOKEN_COLUMNS}"
                ))
                .bind(name)
                .bind(role.as_str())
                .bind(token_hash)
                .bind(expires_at)
                .bind(now)
                .fetch_one(self.writer())
                .await?;
                Ok(row.try_into()?)
            }

            async fn token_by_hash(
                &self,
                token_hash: &str,
                now: chrono::DateTime<chrono::Utc>,
            ) -> $crate::storage::StoreResult<Option<$crate::storage::TokenRecord>> {
                let row: Option<$crate::storage::rows::TokenRow> = sqlx::query_as(&format!(
                    "select {TOKEN_COLUMNS} from api_tokens where token_hash = $1 \
                     and revoked_at is null and (expires_at is null or expires_at > $2)"
                ))
                .bind(token_hash)
                .bind(now)
                .fetch_optional(self.reader())
                .await?;
                Ok(row.map(TryInto::try_into).transpose()?)
            }

            async fn list_tokens(
                &self,
            ) -> $crate::storage::StoreResult<Vec<$crate::storage::TokenRecord>> {
                let rows: Vec<$crate::storage::rows::TokenRow> = sqlx::query_as(&format!(
                    "select {TOKEN_COLUMNS} from api_tokens order by id desc"
                ))
                .fetch_all(self.reader())
                .await?;
                Ok(rows
                    .into_iter()
                    .map(TryInto::try_into)
                    .collect::<anyhow::Result<_>>()?)
            }

            async fn revoke_token(
                &self,
                id: i64,
                now: chrono::DateTime<chrono::Utc>,
            ) -> $crate::storage::StoreResult<Option<bool>> {
                let revoked = sqlx::query(
                    "update api_tokens set revoked_at = $1 where id = $2 and revoked_at is null",
                )
                .bind(now)
                .bind(id)
                .execute(self.writer())
                .await?
                .rows_affected();
                if revoked > 0 {
                    return Ok(Some(true));
                }
                let exists: Option<i64> = sqlx::query_scalar("select id from api_tokens where id = $1")
                    .bind(id)
                    .fetch_optional(self.writer())
                    .await?;
                Ok(exists.map(|_| false))
            }

            async fn touch_token(
                &self,
                id: i64,
                now: chrono::DateTime<chrono::Utc>,
            ) -> $crate::storage::StoreResult<()> {
                sqlx::query("update api_tokens set last_used_at = $1 where id = $2")
                    .bind(now)
                    .bind(id)
                    .execute(self.writer())
                    .await?;
                Ok(())
            }

            async fn create_user(
                &self,
                user: &$crate::storage::NewUser,
                now: chrono::DateTime<chrono::Utc>,
            ) -> $crate::storage::StoreResult<$crate::storage::UserRecord> {
                let roles: Vec<&str> = user.roles.iter().map(|r| r.as_str()).collect();
                sqlx::query(
                    "insert into users (username, display_name, password_hash, roles, disabled, failed_logins, \
                     lang, created_at, updated_at) values ($1, $2, $3, $4, $5, 0, 'zh', $6, $6)",
                )
                .bind(&user.username)
                .bind(&user.display_name)
                .bind(&user.password_hash)
                .bind(roles.join(","))
                .bind(false)
                .bind(now)
                .execute(self.writer())
                .await?;
                self.user_by_username(&user.username)
                    .await?
                    .ok_or_else(|| anyhow::anyhow!("the user just created is missing").into())
            }

            async fn user_by_username(
                &self,
                username: &str,
            ) -> $crate::storage::StoreResult<Option<$crate::storage::UserRecord>> {
                let row: Option<UserRow> = sqlx::query_as(&format!("select {USER_COLUMNS} from users u where u.username = $1"))
                    .bind(username)
                    .fetch_optional(self.writer())
                    .await?;
                row.map(user_record).transpose()
            }

            async fn list_users(&self) -> $crate::storage::StoreResult<Vec<($crate::storage::UserRecord, Option<String>)>> {
                #[derive(sqlx::FromRow)]
                struct Row {
                    #[sqlx(flatten)]
                    user: UserRow,
                    email: Option<String>,
                }
                let rows: Vec<Row> = sqlx::query_as(&format!(
                    "select {USER_COLUMNS}, u.email from users u order by u.disabled, u.display_name, u.id"
                ))
                .fetch_all(self.reader())
                .await?;
                rows.into_iter().map(|r| Ok((user_record(r.user)?, r.email))).collect()
            }

            async fn user_by_display_name(&self, name: &str) -> $crate::storage::StoreResult<Option<($crate::storage::UserRecord, Option<String>)>> {
                #[derive(sqlx::FromRow)]
                struct Row {
                    #[sqlx(flatten)]
                    user: UserRow,
                    email: Option<String>,
                }
                let row: Option<Row> = sqlx::query_as(&format!(
                    "select {USER_COLUMNS}, u.email from users u where u.display_name = $1 and u.disabled = $2 order by u.id limit 1"
                ))
                .bind(name)
                .bind(false)
                .fetch_optional(self.reader())
                .await?;
                row.map(|r| Ok((user_record(r.user)?, r.email))).transpose()
            }

            async fn set_password(&self, username: &str, hash: &str, temporary: bool, now: chrono::DateTime<chrono::Utc>) -> $crate::storage::StoreResult<bool> {
                let mut tx = self.writer().begin().await?;
                let done = sqlx::query(
                    "update users set password_hash = $1, must_change_password = $4, failed_logins = 0, locked_until = null, \
                     updated_at = $2 where username = $3",
                )
                .bind(hash)
                .bind(now)
                .bind(username)
                .bind(temporary)
                .execute(&mut *tx)
                .await?;
                sqlx::query("delete from sessions where user_id = (select id from users where username = $1)")
                    .bind(username)
                    .execute(&mut *tx)
                    .await?;
                tx.commit().await?;
                Ok(done.rows_affected() == 1)
            }

            async fn set_disabled(&self, username: &str, disabled: bool, now: chrono::DateTime<chrono::Utc>) -> $crate::storage::StoreResult<bool> {
                let mut tx = self.writer().begin().await?;
                let done = sqlx::query("update users set disabled = $1, updated_at = $2 where username = $3")
                    .bind(disabled)
                    .bind(now)
                    .bind(username)
                    .execute(&mut *tx)
                    .await?;
                if disabled {
                    sqlx::query("delete from sessions where user_id = (select id from users where username = $1)")
                        .bind(username)
                        .execute(&mut *tx)
                        .await?;
                }
                tx.commit().await?;
                Ok(done.rows_affected() == 1)
            }

            async fn set_user_lang(&self, user_id: i64, lang: &str, now: chrono::DateTime<chrono::Utc>) -> $crate::storage::StoreResult<()> {
                sqlx::query("update users set lang = $1, updated_at = $2 where id = $3")
                    .bind(lang)
                    .bind(now)
                    .bind(user_id)
                    .execute(self.writer())
                    .await?;
                Ok(())
            }

            async fn set_user_email(&self, username: &str, email: Option<&str>, now: chrono::DateTime<chrono::Utc>) -> $crate::storage::StoreResult<bool> {
                let done = sqlx::query("update users set email = $1, updated_at = $2 where username = $3")
                    .bind(email)
                    .bind(now)
                    .bind(username)
                    .execute(self.writer())
                    .await?;
                Ok(done.rows_affected() == 1)
            }

            async fn reserve_sign_in(
                &self,
                user_id: i64,
                hold_until: chrono::DateTime<chrono::Utc>,
                now: chrono::DateTime<chrono::Utc>,
            ) -> $crate::storage::StoreResult<Option<i64>> {
                // `locked_until` is when the account's next attempt is due.
                let row: Option<(i64,)> = sqlx::query_as(
                    "update users set locked_until = $1, updated_at = $2 \
                     where id = $3 and (locked_until is null or locked_until <= $2) returning failed_logins",
                )
                .bind(hold_until)
                .bind(now)
                .bind(user_id)
                .fetch_optional(self.writer())
                .await?;
                Ok(row.map(|(n,)| n))
            }

            async fn release_sign_in(&self, user_id: i64, now: chrono::DateTime<chrono::Utc>) -> $crate::storage::StoreResult<()> {
                sqlx::query("update users set locked_until = null, updated_at = $1 where id = $2")
                    .bind(now)
                    .bind(user_id)
                    .execute(self.writer())
                    .await?;
                Ok(())
            }

            async fn sign_in_failed(
                &self,
                user_id: i64,
                next_at: chrono::DateTime<chrono::Utc>,
                now: chrono::DateTime<chrono::Utc>,
            ) -> $crate::storage::StoreResult<()> {
                sqlx::query(
                    "update users set failed_logins = failed_logins + 1, locked_until = $1, updated_at = $2 where id = $3",
                )
                .bind(next_at)
                .bind(now)
                .bind(user_id)
                .execute(self.writer())
                .await?;
                Ok(())
            }

            async fn login_succeeded(&self, user_id: i64, now: chrono::DateTime<chrono::Utc>) -> $crate::storage::StoreResult<()> {
                sqlx::query("update users set failed_logins = 0, locked_until = null, updated_at = $1 where id = $2")
                    .bind(now)
                    .bind(user_id)
                    .execute(self.writer())
                    .await?;
                Ok(())
            }

            async fn create_session(
                &self,
                id_hash: &str,
                user_id: i64,
                csrf_token: &str,
                expires_at: chrono::DateTime<chrono::Utc>,
                now: chrono::DateTime<chrono::Utc>,
            ) -> $crate::storage::StoreResult<()> {
                sqlx::query(
                    "insert into sessions (id_hash, user_id, csrf_token, created_at, last_seen_at, expires_at) \
                     values ($1, $2, $3, $4, $4, $5)",
                )
                .bind(id_hash)
                .bind(user_id)
                .bind(csrf_token)
                .bind(now)
                .bind(expires_at)
                .execute(self.writer())
                .await?;
                Ok(())
            }

            async fn session(
                &self,
                id_hash: &str,
                idle_since: chrono::DateTime<chrono::Utc>,
                now: chrono::DateTime<chrono::Utc>,
            ) -> $crate::storage::StoreResult<Option<$crate::storage::SessionRecord>> {
                #[derive(sqlx::FromRow)]
                struct Row {
                    #[sqlx(flatten)]
                    user: UserRow,
                    csrf_token: String,
                    expires_at: chrono::DateTime<chrono::Utc>,
                    last_seen_at: chrono::DateTime<chrono::Utc>,
                }
                let row: Option<Row> = sqlx::query_as(&format!(
                    "select {USER_COLUMNS}, s.csrf_token, s.expires_at, s.last_seen_at from sessions s \
                     join users u on u.id = s.user_id where s.id_hash = $1 and s.expires_at > $2 \
                     and s.last_seen_at > $3 and u.disabled = $4"
                ))
                .bind(id_hash)
                .bind(now)
                .bind(idle_since)
                .bind(false)
                .fetch_optional(self.reader())
                .await?;
                let Some(row) = row else {
                    return Ok(None);
                };
                // Refreshing at most once a minute keeps reads from becoming writes.
                if now - row.last_seen_at > chrono::Duration::minutes(1) {
                    sqlx::query("update sessions set last_seen_at = $1 where id_hash = $2")
                        .bind(now)
                        .bind(id_hash)
                        .execute(self.writer())
                        .await?;
                }
                Ok(Some($crate::storage::SessionRecord {
                    user: user_record(row.user)?,
                    csrf_token: row.csrf_token,
                    expires_at: row.expires_at,
                }))
            }

            async fn delete_session(&self, id_hash: &str) -> $crate::storage::StoreResult<()> {
                sqlx::query("delete from sessions where id_hash = $1")
                    .bind(id_hash)
                    .execute(self.writer())
                    .await?;
                Ok(())
            }
        }

        const TOKEN_COLUMNS: &str = $crate::storage::rows::TOKEN_COLUMNS;

        const USER_COLUMNS: &str = "u.id, u.username, u.display_name, u.password_hash, u.roles, u.disabled, \
             u.failed_logins, u.locked_until, u.lang, u.must_change_password";

        #[derive(sqlx::FromRow)]
        struct UserRow {
            id: i64,
            username: String,
            display_name: String,
            password_hash: String,
            roles: String,
            disabled: bool,
            failed_logins: i64,
            locked_until: Option<chrono::DateTime<chrono::Utc>>,
            lang: String,
            must_change_password: bool,
        }

        fn user_record(r: UserRow) -> $crate::storage::StoreResult<$crate::storage::UserRecord> {
            let roles = r
                .roles
                .split(',')
                .filter(|s| !s.is_empty())
                .map(|s| s.parse().map_err(anyhow::Error::new))
                .collect::<anyhow::Result<Vec<$crate::domain::Role>>>()?;
            Ok($crate::storage::UserRecord {
                id: r.id,
                username: r.username,
                display_name: r.display_name,
                password_hash: r.password_hash,
                roles,
                disabled: r.disabled,
                failed_logins: r.failed_logins,
                locked_until: r.locked_until,
                lang: r.lang,
                must_change_password: r.must_change_password,
            })
        }
    };
}

pub(crate) use impl_account_store;
