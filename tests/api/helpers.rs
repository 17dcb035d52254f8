//! Starting a real youmen for a test: a real SQLite file or a fresh PostgreSQL database,
//! on a free port, driven over HTTP like any client.

use std::sync::OnceLock;

use reqwest::{Client, RequestBuilder, Response};
use serde_json::Value;
use youmen::app::Application;
use youmen::config::Settings;
use youmen::domain::Role;

/// The server the PostgreSQL tests use; each test gets its own database on it.
pub fn postgres_admin_url() -> String {
    std::env::var("YOUMEN_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_owned())
}

pub fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true" || v == "1")
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    /// PostgreSQL when it can be reached. Otherwise: in CI a failure (the suite must not
    /// pass without it), on a laptop a skip with the reason printed.
    pub async fn postgres() -> Option<Backend> {
        static AVAILABLE: OnceLock<Result<(), String>> = OnceLock::new();
        if AVAILABLE.get().is_none() {
            let probe = sqlx::postgres::PgPoolOptions::new()
                .max_connections(1)
                .acquire_timeout(std::time::Duration::from_secs(3))
                .connect(&postgres_admin_url())
                .await
                .map(|_| ())
                .map_err(|e| e.to_string());
            let _ = AVAILABLE.set(probe);
        }
        match AVAILABLE.get().expect("set above") {
            Ok(()) => Some(Backend::Postgres),
            Err(e) if in_ci() => panic!(
                "PostgreSQL is required in CI but {} is unreachable: {e}",
                postgres_admin_url()
            ),
            Err(e) => {
                eprintln!(
                    "skipping PostgreSQL test: {} is unreachable ({e}); set YOUMEN_TEST_POSTGRES_URL",
                    postgres_admin_url()
                );
                None
            }
        }
    }
}

/// Runs the listed async test functions (each taking a `Backend`) on SQLite and PostgreSQL.
#[macro_export]
macro_rules! on_both_backends {
    ($($name:ident),+ $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test]
                async fn $name() {
                    super::$name($crate::helpers::Backend::Sqlite).await
                }
            )+
        }
        mod postgres {
            $(
                #[tokio::test]
                async fn $name() {
                    if let Some(backend) = $crate::helpers::Backend::postgres().await {
                        super::$name(backend).await
                    }
                }
            )+
        }
    };
}

/// The password of every account `TestApp::user` makes.
pub const PASSWORD: &str = "morning-shift-2026";

pub struct TestApp {
    pub address: String,
    pub client: Client,
    pub database_url: String,
    backend: Backend,
    state: youmen::http::AppState,
    outbox_wake: std::sync::Arc<tokio::sync::Notify>,
    _dir: tempfile::TempDir,
    pg_database: Option<String>,
}

impl TestApp {
    pub async fn spawn(backend: Backend) -> TestApp {
        Self::spawn_with(backend, |_| {}).await
    }

    pub async fn spawn_with(backend: Backend, adjust: impl FnOnce(&mut Settings)) -> TestApp {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut settings = Settings::load(None).expect("default settings");
        settings.server.port = 0;
        let mut pg_database = None;
        settings.database.url = match backend {
            Backend::Sqlite => format!("sqlite://{}", dir.path().join("data/youmen.db").display()),
            Backend::Postgres => {
                let (url, name) = fresh_postgres_database().await;
                pg_database = Some(name);
                url
            }
        };
        // The background jobs run on the wall clock; tests drive them by hand at the moments
        // they choose, so the jobs wait an hour before their first round.
        settings.callbacks.check_seconds = 3600;
        settings.hotline.audio_dir = dir.path().join("audio");
        settings.secrets.dir = dir.path().join("secrets");
        settings.oversight.scan_seconds = 3600;
        // The test SMTP server speaks plain SMTP on the loopback.
        settings.mail.tls = "none".into();
        adjust(&mut settings);
        let database_url = settings.database.url.clone();
        let app = Application::build(settings).await.expect("app builds");
        let address = format!("http://127.0.0.1:{}", app.port());
        let state = app.state().clone();
        let outbox_wake = app.outbox_wake();
        tokio::spawn(app.run_until(std::future::pending()));
        TestApp {
            address,
            client: Client::new(),
            database_url,
            backend,
            state,
            outbox_wake,
            _dir: dir,
            pg_database,
        }
    }

    /// A staff account with `roles`, signing in with [`PASSWORD`]; alerts to `email`.
    pub async fn user(&self, username: &str, name: &str, roles: Vec<Role>, email: Option<&str>) {
        let hash = youmen::auth::hash_password(PASSWORD.into()).await.unwrap();
        let store = self.store();
        store
            .create_user(
                &youmen::storage::NewUser {
                    username: username.into(),
                    display_name: name.into(),
                    password_hash: hash,
                    roles,
                },
                chrono::Utc::now(),
            )
            .await
            .unwrap();
        if email.is_some() {
            store
                .set_user_email(username, email, chrono::Utc::now())
                .await
                .unwrap();
        }
    }

    /// Tells the outbox worker to look now (after queueing notifications by hand).
    pub fn wake_outbox(&self) {
        self.outbox_wake.notify_one();
    }

    pub fn state(&self) -> &youmen::http::AppState {
        &self.state
    }

    /// The folder of this app's files (its SQLite database, audio, secrets).
    pub fn data_dir(&self) -> &std::path::Path {
        self._dir.path()
    }

    pub fn store(&self) -> std::sync::Arc<dyn youmen::storage::Store> {
        self.state.store.clone()
    }

    /// A fresh bearer token with `role`, named `name`.
    pub async fn token(&self, name: &str, role: Role) -> String {
        let token = youmen::auth::generate_token();
        self.state
            .store
            .insert_token(
                name,
                role,
                &youmen::auth::hash_token(&token),
                None,
                chrono::Utc::now(),
            )
            .await
            .expect("token stored");
        token
    }

    pub fn get(&self, path: &str) -> RequestBuilder {
        self.client.get(format!("{}{path}", self.address))
    }

    pub fn post(&self, path: &str) -> RequestBuilder {
        self.client.post(format!("{}{path}", self.address))
    }

    /// GET as the holder of `token`: the status and the JSON body.
    pub async fn get_json(&self, path: &str, token: &str) -> (u16, Value) {
        json(
            self.get(path)
                .bearer_auth(token)
                .send()
                .await
                .expect("request sent"),
        )
        .await
    }

    /// POST a JSON body as the holder of `token`: the status and the JSON body.
    pub async fn post_json(&self, path: &str, token: &str, body: &Value) -> (u16, Value) {
        json(
            self.post(path)
                .bearer_auth(token)
                .json(body)
                .send()
                .await
                .expect("request sent"),
        )
        .await
    }

    /// A number read straight from the database (`select count(*) ...`), bypassing youmen.
    pub async fn raw_count(&self, sql: &str) -> i64 {
        match self.backend {
            Backend::Sqlite => {
                let pool = sqlite_raw_pool(&self.database_url).await.unwrap();
                let (n,): (i64,) = sqlx::query_as(sql).fetch_one(&pool).await.unwrap();
                pool.close().await;
                n
            }
            Backend::Postgres => {
                let pool = sqlx::PgPool::connect(&self.database_url).await.unwrap();
                let (n,): (i64,) = sqlx::query_as(sql).fetch_one(&pool).await.unwrap();
                pool.close().await;
                n
            }
        }
    }

    /// The search index as rows of `(gram, case_id)`, to select from: SQLite keeps it so
    /// (`case_grams`, in its search file), PostgreSQL as one array of bigrams per case
    /// (`case_search`).
    pub fn search_grams(&self) -> &'static str {
        match self.backend {
            Backend::Sqlite => "case_grams",
            Backend::Postgres => "(select unnest(grams) as gram, case_id from case_search) g",
        }
    }

    /// The search index's table, to empty it straight in the database.
    pub fn search_table(&self) -> &'static str {
        match self.backend {
            Backend::Sqlite => "case_grams",
            Backend::Postgres => "case_search",
        }
    }

    /// Runs a statement straight against the database, bypassing youmen.
    pub async fn raw_execute(&self, sql: &str) -> Result<u64, String> {
        match self.backend {
            Backend::Sqlite => {
                let pool = sqlite_raw_pool(&self.database_url)
                    .await
                    .map_err(|e| e.to_string())?;
                let r = sqlx::query(sql)
                    .execute(&pool)
                    .await
                    .map(|r| r.rows_affected())
                    .map_err(|e| e.to_string());
                pool.close().await;
                r
            }
            Backend::Postgres => {
                let pool = sqlx::PgPool::connect(&self.database_url)
                    .await
                    .map_err(|e| e.to_string())?;
                let r = sqlx::query(sql)
                    .execute(&pool)
                    .await
                    .map(|r| r.rows_affected())
                    .map_err(|e| e.to_string());
                pool.close().await;
                r
            }
        }
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(name) = self.pg_database.take() {
            drop_postgres_database(name);
        }
    }
}

/// A new, empty PostgreSQL database: its URL and name.
pub async fn fresh_postgres_database() -> (String, String) {
    let name = format!("youmen_test_{}", uuid::Uuid::new_v4().simple());
    let admin = sqlx::PgPool::connect(&postgres_admin_url())
        .await
        .expect("PostgreSQL");
    sqlx::query(&format!("create database {name}"))
        .execute(&admin)
        .await
        .expect("create database");
    admin.close().await;
    (with_database(&postgres_admin_url(), &name), name)
}

/// A test database of its own (from [`fresh_postgres_database`]), dropped with this guard.
pub struct Database(pub String);

impl Drop for Database {
    fn drop(&mut self) {
        drop_postgres_database(self.0.clone());
    }
}

/// Drops a test database from a plain thread (usable in Drop, which cannot await).
pub fn drop_postgres_database(name: String) {
    let _ = std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .ok()?;
        rt.block_on(async {
            let admin = sqlx::PgPool::connect(&postgres_admin_url()).await.ok()?;
            sqlx::query(&format!("drop database if exists {name} with (force)"))
                .execute(&admin)
                .await
                .ok()?;
            admin.close().await;
            Some(())
        })
    })
    .join();
}

/// The same server URL with another database name.
pub fn with_database(url: &str, database: &str) -> String {
    let base = url.rsplit_once('/').map(|(b, _)| b).unwrap_or(url);
    format!("{base}/{database}")
}

/// The day's sequence number of a case number (`YM-20261128-0007` → 7).
pub fn seq_of(case: &Value) -> u32 {
    let number = case["number"].as_str().expect("a case number");
    number
        .rsplit_once('-')
        .and_then(|(_, n)| n.parse().ok())
        .expect("NNNN at the end")
}

/// The status and JSON body of a response.
pub async fn json(response: Response) -> (u16, Value) {
    let status = response.status().as_u16();
    let text = response.text().await.expect("body");
    let value =
        serde_json::from_str(&text).unwrap_or_else(|_| panic!("not JSON ({status}): {text}"));
    (status, value)
}

/// A valid registration body; tests change what they need.
pub fn walk_in() -> Value {
    serde_json::json!({
        "channel": "counter",
        "citizen_name": "张三",
        "phone": "138 0013 8000",
        "matter": "pensions",
        "description": "养老金资格认证在社保窗口办不了，材料齐全仍被退回",
        "failed_counter": "pension-benefits",
    })
}

/// A PostgreSQL server of the test's own (initdb in a temp folder, on a free port), which a
/// test may stop and start without disturbing the shared server. As root, it runs as the
/// `postgres` user (PostgreSQL refuses root).
pub struct PrivatePostgres {
    pub port: u16,
    bin: std::path::PathBuf,
    data: std::path::PathBuf,
    as_postgres: bool,
    _dir: tempfile::TempDir,
}

impl PrivatePostgres {
    /// None (with the reason printed) where PostgreSQL's server binaries are missing; a
    /// failure in CI.
    pub fn start() -> Option<PrivatePostgres> {
        let bin = std::fs::read_dir("/usr/lib/postgresql")
            .ok()
            .and_then(|d| d.filter_map(|e| e.ok()).map(|e| e.path().join("bin")).max())
            .filter(|b| b.join("initdb").is_file());
        let Some(bin) = bin else {
            assert!(!in_ci(), "PostgreSQL's server binaries are required in CI");
            eprintln!("skipping: no /usr/lib/postgresql/*/bin/initdb here");
            return None;
        };
        let dir = tempfile::tempdir().expect("temp dir");
        let as_postgres = running_as_root();
        if as_postgres {
            let ok = std::process::Command::new("chown")
                .args(["-R", "postgres"])
                .arg(dir.path())
                .status()
                .is_ok_and(|s| s.success());
            assert!(ok, "chown of the private PostgreSQL folder");
        }
        let pg = PrivatePostgres {
            port: crate::smtp::free_port(),
            bin,
            data: dir.path().join("data"),
            as_postgres,
            _dir: dir,
        };
        let initdb = pg.run(
            "initdb",
            &["-A", "trust", "-U", "postgres", "--no-sync", "-D"],
            true,
        );
        assert!(initdb, "initdb");
        pg.up();
        Some(pg)
    }

    fn run(&self, tool: &str, args: &[&str], with_data: bool) -> bool {
        let program = self.bin.join(tool);
        let mut cmd = if self.as_postgres {
            let mut c = std::process::Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(&program);
            c
        } else {
            std::process::Command::new(&program)
        };
        cmd.args(args);
        if with_data {
            cmd.arg(&self.data);
        }
        cmd.stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    }

    pub fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }

    /// Starts the server and waits until it accepts connections.
    pub fn up(&self) {
        let options = format!(
            "-p {} -c listen_addresses=127.0.0.1 -c unix_socket_directories= -c fsync=off",
            self.port
        );
        let started = self.run(
            "pg_ctl",
            &["-w", "-o", &options, "-l", "/dev/null", "start", "-D"],
            true,
        );
        assert!(started, "pg_ctl start");
    }

    /// Stops the server at once (clients are disconnected).
    pub fn down(&self) {
        assert!(
            self.run("pg_ctl", &["-w", "-m", "fast", "stop", "-D"], true),
            "pg_ctl stop"
        );
    }
}

impl Drop for PrivatePostgres {
    fn drop(&mut self) {
        let _ = self.run("pg_ctl", &["-w", "-m", "immediate", "stop", "-D"], true);
    }
}

fn running_as_root() -> bool {
    std::process::Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

/// A pool straight on a SQLite database, its search index file attached as youmen's readers
/// have it (so `case_grams` is found by its bare name).
pub async fn sqlite_raw_pool(url: &str) -> Result<sqlx::SqlitePool, sqlx::Error> {
    use std::str::FromStr;
    let options = sqlx::sqlite::SqliteConnectOptions::from_str(url)?;
    let search = youmen::storage::search_file(options.get_filename())
        .to_string_lossy()
        .into_owned();
    sqlx::sqlite::SqlitePoolOptions::new()
        .after_connect(move |conn, _| {
            let search = search.clone();
            Box::pin(async move { youmen::storage::attach_search(conn, &search).await })
        })
        .connect_with(options)
        .await
}

/// A website case for the store directly (no HTTP), with `description` as its text.
/// Registers typed cases (their terms already decided) through the one intake path of
/// storage, in one batch: each case, or its error.
pub async fn register_typed(
    store: &dyn youmen::storage::Store,
    batch: &[(youmen::domain::NewCase, chrono::DateTime<chrono::Utc>)],
) -> Vec<youmen::storage::StoreResult<youmen::domain::Case>> {
    let batch: Vec<_> = batch
        .iter()
        .map(|(case, now)| (youmen::domain::Admission::from(case.clone()), *now))
        .collect();
    store
        .register(&batch, "YM", chrono_tz::Asia::Shanghai)
        .await
        .expect("the batch's transaction")
        .into_iter()
        .map(|r| r.map(|r| r.into_case().expect("a typed case is always new")))
        .collect()
}

pub fn new_case(description: &str, now: chrono::DateTime<chrono::Utc>) -> youmen::domain::NewCase {
    use youmen::domain::{Channel, Citizen, NewCase, Tier};
    NewCase {
        channel: Channel::Website,
        received_at: now,
        citizen: Citizen {
            name: None,
            phone: None,
            id_card_masked: None,
            id_card_digest: None,
        },
        matter: "other".into(),
        description: description.into(),
        tier: Tier::Simple,
        deadline: now,
        deadline_provisional: false,
        off_hours: false,
        urgent: false,
        callback: None,
        consultation: None,
        registered_by: "test".into(),
        registered_by_id: None,
        failed_at: Default::default(),
    }
}
