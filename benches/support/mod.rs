//! What the benchmarks share: a fresh database of either engine, dropped at the end.

/// The PostgreSQL server's administrative URL (`YOUMEN_TEST_POSTGRES_URL`, else the local one).
pub fn postgres_admin_url() -> String {
    std::env::var("YOUMEN_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
}

/// A number from the environment (`BENCH_CASES=200000`), or `default`.
#[allow(dead_code)] // not every bench takes one
pub fn env_number(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(default)
}

/// The engines to measure (`BENCH_BACKENDS=sqlite`), both by default.
#[allow(dead_code)] // not every bench measures both engines
pub fn backends() -> Vec<String> {
    std::env::var("BENCH_BACKENDS")
        .unwrap_or_else(|_| "sqlite,postgres".into())
        .split(',')
        .map(str::to_owned)
        .collect()
}

/// An account that signs in with `password_hash`, with one role.
#[allow(dead_code)] // not every bench signs in
pub async fn add_user(
    store: &dyn youmen::storage::Store,
    username: &str,
    display_name: &str,
    role: youmen::domain::Role,
    password_hash: &str,
) {
    store
        .create_user(
            &youmen::storage::NewUser {
                username: username.into(),
                display_name: display_name.into(),
                password_hash: password_hash.into(),
                roles: vec![role],
            },
            chrono::Utc::now(),
        )
        .await
        .unwrap();
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

    /// Keeps the database (file or PostgreSQL database) after the bench, to look at its
    /// plans: its URL.
    #[allow(dead_code)] // not every bench keeps one
    pub fn keep(self) -> String {
        let url = self.url.clone();
        std::mem::forget(self);
        url
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

/// The `name=value` pairs of a response's cookies.
#[allow(dead_code)] // not every bench signs in
pub fn cookies(r: &reqwest::Response) -> Vec<String> {
    r.headers()
        .get_all(reqwest::header::SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok()?.split(';').next().map(str::to_owned))
        .collect()
}

/// Signs `username` in through the form, as a person does, going on to `next`: the session
/// cookie.
#[allow(dead_code)] // not every bench signs in
pub async fn sign_in(
    client: &reqwest::Client,
    base: &str,
    username: &str,
    password: &str,
    next: &str,
) -> String {
    let r = client
        .get(format!("{base}/staff/login"))
        .send()
        .await
        .unwrap();
    let jar = cookies(&r).join("; ");
    let form = r.text().await.unwrap();
    let marker = "name=\"csrf\" value=\"";
    let start = form.find(marker).expect("a CSRF token") + marker.len();
    let csrf = &form[start..start + form[start..].find('"').unwrap()];
    let r = client
        .post(format!("{base}/staff/login"))
        .header(reqwest::header::COOKIE, jar)
        .form(&[
            ("csrf", csrf),
            ("username", username),
            ("password", password),
            ("next", next),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303, "signed in");
    cookies(&r)
        .into_iter()
        .find(|c| c.starts_with("youmen_session="))
        .expect("a session")
}

/// A plain connection pool of either engine, for what a bench reads or writes besides the
/// store: baselines, loading, plans.
#[allow(dead_code)] // not every bench uses every method
pub enum Pool {
    Sqlite(sqlx::SqlitePool),
    Postgres(sqlx::PgPool),
}

#[allow(dead_code)]
impl Pool {
    pub async fn connect(url: &str) -> Self {
        if url.starts_with("sqlite") {
            Pool::Sqlite(sqlx::SqlitePool::connect(url).await.unwrap())
        } else {
            Pool::Postgres(sqlx::PgPool::connect(url).await.unwrap())
        }
    }

    pub async fn execute(&self, sql: &str) {
        match self {
            Pool::Sqlite(p) => sqlx::query(sql).execute(p).await.map(|_| ()),
            Pool::Postgres(p) => sqlx::query(sql).execute(p).await.map(|_| ()),
        }
        .unwrap()
    }

    pub async fn ids(&self, sql: &str, bind: &str) -> Vec<i64> {
        match self {
            Pool::Sqlite(p) => sqlx::query_scalar(sql).bind(bind).fetch_all(p).await,
            Pool::Postgres(p) => sqlx::query_scalar(sql).bind(bind).fetch_all(p).await,
        }
        .unwrap()
    }

    pub async fn by_id(&self, id: i64) -> usize {
        let sql = "select * from cases where id = $1";
        match self {
            Pool::Sqlite(p) => sqlx::query(sql)
                .bind(id)
                .fetch_all(p)
                .await
                .map(|r| r.len()),
            Pool::Postgres(p) => sqlx::query(sql)
                .bind(id)
                .fetch_all(p)
                .await
                .map(|r| r.len()),
        }
        .unwrap()
    }

    /// `sql` (a count with `$1` and `$2` bound to the instants) answered.
    pub async fn count_between(
        &self,
        sql: &str,
        from: chrono::DateTime<chrono::Utc>,
        to: chrono::DateTime<chrono::Utc>,
    ) -> i64 {
        match self {
            Pool::Sqlite(p) => {
                sqlx::query_scalar(sql)
                    .bind(from)
                    .bind(to)
                    .fetch_one(p)
                    .await
            }
            Pool::Postgres(p) => {
                sqlx::query_scalar(sql)
                    .bind(from)
                    .bind(to)
                    .fetch_one(p)
                    .await
            }
        }
        .unwrap()
    }
}
