//! Accounts administered in the pages: changing a user's name, roles and e-mail, lifting
//! sign-in delays, and a user choosing their own password (a temporary one is set with
//! `AccountStore::set_password`).

use chrono::{DateTime, Utc};

use super::StoreResult;
use crate::domain::Role;

#[async_trait::async_trait]
pub trait UserAdminStore: Send + Sync {
    /// Sets a user's display name, roles and e-mail; a new name follows onto the cases they
    /// own (owners are recorded by name). False if there is no such user.
    async fn update_user(
        &self,
        username: &str,
        display_name: &str,
        roles: &[Role],
        email: Option<&str>,
        now: DateTime<Utc>,
    ) -> StoreResult<bool>;

    /// Lifts the sign-in delays that wrong passwords built up.
    async fn unlock_user(&self, username: &str, now: DateTime<Utc>) -> StoreResult<bool>;

    /// The user's own new password (no longer temporary); their other sessions (all but the
    /// one whose CSRF token is `keep_csrf`) end.
    async fn choose_password(
        &self,
        user_id: i64,
        hash: &str,
        keep_csrf: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<()>;
}

/// Implements [`UserAdminStore`] for an engine's store (see `impl_store!` in `storage/mod.rs`).
macro_rules! impl_user_admin_store {
    ($store:ty, $db:ty) => {
        #[async_trait::async_trait]
        impl $crate::storage::UserAdminStore for $store {
            async fn update_user(
                &self,
                username: &str,
                display_name: &str,
                roles: &[$crate::domain::Role],
                email: Option<&str>,
                now: chrono::DateTime<chrono::Utc>,
            ) -> $crate::storage::StoreResult<bool> {
                let roles: Vec<&str> = roles.iter().map(|r| r.as_str()).collect();
                let mut tx = self.writer().begin().await?;
                let old: Option<(String,)> = sqlx::query_as("select display_name from users where username = $1")
                    .bind(username)
                    .fetch_optional(&mut *tx)
                    .await?;
                let Some((old,)) = old else {
                    return Ok(false);
                };
                sqlx::query(
                    "update users set display_name = $1, roles = $2, email = $3, updated_at = $4 where username = $5",
                )
                .bind(display_name)
                .bind(roles.join(","))
                .bind(email)
                .bind(now)
                .bind(username)
                .execute(&mut *tx)
                .await?;
                if old != display_name {
                    sqlx::query("update cases set owner = $1 where owner = $2")
                        .bind(display_name)
                        .bind(&old)
                        .execute(&mut *tx)
                        .await?;
                }
                tx.commit().await?;
                Ok(true)
            }

            async fn unlock_user(&self, username: &str, now: chrono::DateTime<chrono::Utc>) -> $crate::storage::StoreResult<bool> {
                let done = sqlx::query(
                    "update users set failed_logins = 0, locked_until = null, updated_at = $1 where username = $2",
                )
                .bind(now)
                .bind(username)
                .execute(self.writer())
                .await?;
                Ok(done.rows_affected() == 1)
            }

            async fn choose_password(
                &self,
                user_id: i64,
                hash: &str,
                keep_csrf: &str,
                now: chrono::DateTime<chrono::Utc>,
            ) -> $crate::storage::StoreResult<()> {
                let mut tx = self.writer().begin().await?;
                sqlx::query("update users set password_hash = $1, must_change_password = $2, updated_at = $3 where id = $4")
                    .bind(hash)
                    .bind(false)
                    .bind(now)
                    .bind(user_id)
                    .execute(&mut *tx)
                    .await?;
                sqlx::query("delete from sessions where user_id = $1 and csrf_token <> $2")
                    .bind(user_id)
                    .bind(keep_csrf)
                    .execute(&mut *tx)
                    .await?;
                tx.commit().await?;
                Ok(())
            }
        }
    };
}

pub(crate) use impl_user_admin_store;
