//! What the benchmarks share: a fresh database of either engine, dropped at the end.

/// The PostgreSQL server's administrative URL (`YOUMEN_TEST_POSTGRES_URL`, else the local one).
pub fn postgres_admin_url() -> String {
    std::env::var("YOUMEN_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
}

/// A fresh database for one bench run: a SQLite file in a temporary folder, or a new
/// PostgreSQL database.
pub struct BenchDatabase {
    pub url: String,
    _dir: tempfile::TempDir,
    postgres: Option<(sqlx::PgPool, String)>,
}

impl BenchDatabase {
    /// `backend` is `sqlite` or `postgres`; `label` names the PostgreSQL database.
    pub async fn create(backend: &str, label: &str) -> BenchDatabase {
        let dir = tempfile::tempdir().unwrap();
        match backend {
            "sqlite" => BenchDatabase {
                url: format!("sqlite://{}", dir.path().join("bench.db").display()),
                _dir: dir,
                postgres: None,
            },
            "postgres" => {
                let name = format!("youmen_{label}_{}", std::process::id());
                let admin_url = postgres_admin_url();
                let admin = sqlx::PgPool::connect(&admin_url).await.expect("PostgreSQL");
                sqlx::query(&format!("create database {name}"))
                    .execute(&admin)
                    .await
                    .unwrap();
                let base = admin_url
                    .rsplit_once('/')
                    .map(|(b, _)| b.to_owned())
                    .unwrap_or(admin_url.clone());
                BenchDatabase {
                    url: format!("{base}/{name}"),
                    _dir: dir,
                    postgres: Some((admin, name)),
                }
            }
            other => panic!("unknown backend {other}"),
        }
    }

    /// Drops the PostgreSQL database (the SQLite folder goes with `self`).
    pub async fn drop(self) {
        if let Some((admin, name)) = self.postgres {
            sqlx::query(&format!("drop database if exists {name} with (force)"))
                .execute(&admin)
                .await
                .unwrap();
        }
    }
}
