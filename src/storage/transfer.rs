//! Moving a whole youmen database to another engine: `youmen export` writes every table of
//! the configured database (SQLite or PostgreSQL) as JSON Lines, and `youmen import` loads
//! such a file into a new, empty PostgreSQL database of the same youmen version, in one
//! transaction, then checks the row counts and the audit chains.
//!
//! Carried: every case, event, recording reference, voicemail ingest, download, message,
//! outbox row, callback list, user, token, roster entry, rating and audit event, with their
//! ids (the hash chains and the per-day case numbering continue where they were).
//! Not carried: the search index (rebuilt on import), rate-limit counters and sign-in
//! sessions (everyone signs in again). The recordings' audio files are not in the export:
//! the audio folder is copied (or kept) as it is, and the import reports any that is missing.

use std::collections::{BTreeMap, HashMap};
use std::io::{BufRead, Write};
use std::str::FromStr;

use anyhow::{bail, Context};
use chrono::{DateTime, NaiveDate, Utc};
use futures_util::TryStreamExt;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use sqlx::postgres::Postgres;

/// Derived or short-lived tables left out of an export.
const SKIPPED: [&str; 6] = [
    "_sqlx_migrations",
    "case_grams",
    "case_search",
    "search_backlog",
    "rate_hits",
    "sessions",
];

/// Rows per multi-row insert (well under PostgreSQL's 65,535 bind parameters).
const BATCH: usize = 200;

const FORMAT: &str = "youmen-export";

/// The migrations applied to a database (to match an export with its importer).
macro_rules! count_migrations {
    ($pool:expr) => {{
        let counted: Result<(i64,), sqlx::Error> =
            sqlx::query_as("select count(*) from _sqlx_migrations where success")
                .fetch_one($pool)
                .await;
        counted
            .map(|(n,)| n)
            .context("reading the applied migrations (is this a youmen database?)")
    }};
}

/// One line of an export file.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
enum Record {
    Header {
        format: String,
        migrations: i64,
        backend: String,
        exported_at: DateTime<Utc>,
    },
    Row {
        table: String,
        row: Map<String, Value>,
    },
    End {
        counts: BTreeMap<String, u64>,
    },
}

/// Writes the rows of each `(table, query)` but the skipped ones, then the end record with
/// the counts, and closes the pool.
macro_rules! dump {
    ($pool:expr, $out:expr, $queries:expr) => {{
        let mut counts = BTreeMap::new();
        for (table, sql) in $queries {
            if SKIPPED.contains(&table.as_str()) {
                continue;
            }
            let rows = sqlx::query_scalar::<_, String>(&sql).fetch(&$pool);
            let n = write_rows($out, &table, rows).await?;
            counts.insert(table, n);
        }
        write_record(
            $out,
            &Record::End {
                counts: counts.clone(),
            },
        )?;
        $pool.close().await;
        Ok(counts)
    }};
}

fn write_record(out: &mut impl Write, record: &Record) -> anyhow::Result<()> {
    serde_json::to_writer(&mut *out, record)?;
    out.write_all(b"\n")?;
    Ok(())
}

/// Writes the database at `url` to `out`; returns the rows written per table.
pub async fn export(url: &str, out: &mut impl Write) -> anyhow::Result<BTreeMap<String, u64>> {
    if url.starts_with("sqlite:") {
        let options = sqlx::sqlite::SqliteConnectOptions::from_str(url)?.read_only(true);
        let pool = sqlx::sqlite::SqlitePoolOptions::new()
            .max_connections(1)
            .connect_with(options)
            .await
            .context("opening the SQLite database")?;
        write_record(out, &header(count_migrations!(&pool)?, "sqlite"))?;
        // Tables in the order they were created: parents before the tables that refer to them.
        let tables: Vec<(String,)> = sqlx::query_as(
            "select name from sqlite_master where type = 'table' and name not like 'sqlite_%' order by rowid",
        )
        .fetch_all(&pool)
        .await?;
        let mut queries = Vec::new();
        for (table,) in tables {
            let columns: Vec<(String,)> = sqlx::query_as("select name from pragma_table_info($1)")
                .bind(&table)
                .fetch_all(&pool)
                .await?;
            let pairs: Vec<String> = columns
                .iter()
                .map(|(c,)| format!("'{c}', \"{c}\""))
                .collect();
            let sql = format!(
                "select json_object({}) from \"{table}\" order by rowid",
                pairs.join(", ")
            );
            queries.push((table, sql));
        }
        dump!(pool, out, queries)
    } else {
        let pool = sqlx::postgres::PgPoolOptions::new()
            .max_connections(1)
            .connect(url)
            .await
            .context("connecting to PostgreSQL")?;
        write_record(out, &header(count_migrations!(&pool)?, "postgres"))?;
        let tables: Vec<(String,)> = sqlx::query_as(
            "select c.relname::text from pg_class c join pg_namespace n on n.oid = c.relnamespace \
             where n.nspname = current_schema() and c.relkind = 'r' order by c.oid",
        )
        .fetch_all(&pool)
        .await?;
        let queries = tables.into_iter().map(|(table,)| {
            let sql = format!("select row_to_json(t)::text from \"{table}\" t");
            (table, sql)
        });
        dump!(pool, out, queries)
    }
}

fn header(migrations: i64, backend: &str) -> Record {
    Record::Header {
        format: FORMAT.to_owned(),
        migrations,
        backend: backend.to_owned(),
        exported_at: Utc::now(),
    }
}

async fn write_rows(
    out: &mut impl Write,
    table: &str,
    mut rows: impl futures_util::Stream<Item = Result<String, sqlx::Error>> + Unpin,
) -> anyhow::Result<u64> {
    let mut n = 0;
    while let Some(json) = rows.try_next().await? {
        let row: Map<String, Value> = serde_json::from_str(&json)?;
        write_record(
            out,
            &Record::Row {
                table: table.to_owned(),
                row,
            },
        )?;
        n += 1;
    }
    Ok(n)
}

/// What an import loaded.
#[derive(Debug)]
pub struct Imported {
    pub counts: BTreeMap<String, u64>,
    pub source_backend: String,
}

/// Loads an export into the (migrated, empty) PostgreSQL database at `url`, all or nothing.
pub async fn import(url: &str, input: impl BufRead) -> anyhow::Result<Imported> {
    anyhow::ensure!(
        url.starts_with("postgres:") || url.starts_with("postgresql:"),
        "import loads into PostgreSQL (database.url = postgres://...); to move a SQLite \
         database to another machine, copy its backup file instead"
    );
    let pool = sqlx::postgres::PgPoolOptions::new()
        .max_connections(1)
        .connect(url)
        .await
        .context("connecting to PostgreSQL")?;
    let migrations = count_migrations!(&pool)?;
    let types: Vec<(String, String, String)> = sqlx::query_as(
        "select table_name::text, column_name::text, data_type::text from information_schema.columns \
         where table_schema = current_schema()",
    )
    .fetch_all(&pool)
    .await?;
    let mut columns: HashMap<String, HashMap<String, String>> = HashMap::new();
    for (table, column, data_type) in types {
        columns.entry(table).or_default().insert(column, data_type);
    }
    let mut lines = input.lines();
    let first = lines.next().context("the export file is empty")??;
    let source_backend = match serde_json::from_str::<Record>(&first) {
        Ok(Record::Header {
            format,
            migrations: theirs,
            backend,
            ..
        }) if format == FORMAT => {
            anyhow::ensure!(
                theirs == migrations,
                "the export was made by a youmen with {theirs} migrations and this one has \
                 {migrations}: export and import with the same version"
            );
            backend
        }
        _ => bail!("not a youmen export file (the first line is not its header)"),
    };
    let mut tx = pool.begin().await?;
    for table in columns.keys() {
        if SKIPPED.contains(&table.as_str()) || table == "chain_heads" {
            continue;
        }
        let (rows,): (i64,) = sqlx::query_as(&format!("select count(*) from \"{table}\""))
            .fetch_one(&mut *tx)
            .await?;
        anyhow::ensure!(
            rows == 0,
            "the target database is not empty ({table} has {rows} rows): import only into a new database"
        );
    }
    // Seeded by the migrations; the export carries the real heads.
    sqlx::query("delete from chain_heads")
        .execute(&mut *tx)
        .await?;

    let mut counts: BTreeMap<String, u64> = BTreeMap::new();
    let mut batch: Vec<Map<String, Value>> = Vec::new();
    let mut batch_table = String::new();
    let mut expected = None;
    for (n, line) in lines.enumerate() {
        let line = line?;
        if line.trim().is_empty() {
            continue;
        }
        let record: Record = serde_json::from_str(&line)
            .with_context(|| format!("line {} of the export is not a record", n + 2))?;
        match record {
            Record::Row { table, row } => {
                if table != batch_table || batch.len() >= BATCH {
                    insert_batch(&mut tx, &batch_table, &batch, &columns).await?;
                    batch.clear();
                    batch_table = table;
                }
                *counts.entry(batch_table.clone()).or_default() += 1;
                batch.push(row);
            }
            Record::End { counts } => expected = Some(counts),
            Record::Header { .. } => bail!("line {}: a second header", n + 2),
        }
    }
    insert_batch(&mut tx, &batch_table, &batch, &columns).await?;
    let expected = expected.context("the export file is cut short (no end record)")?;
    let carried: BTreeMap<&String, &u64> = counts.iter().filter(|(_, n)| **n > 0).collect();
    let announced: BTreeMap<&String, &u64> = expected.iter().filter(|(_, n)| **n > 0).collect();
    anyhow::ensure!(
        carried == announced,
        "the export file does not hold the rows it announces: {announced:?} announced, {carried:?} read"
    );
    // Identity columns continue after the imported ids; the search index is rebuilt.
    for table in counts.keys() {
        let has_id = columns.get(table).is_some_and(|c| c.contains_key("id"));
        if has_id {
            sqlx::query(&format!(
                "select setval(pg_get_serial_sequence('\"{table}\"', 'id'), max(id)) from \"{table}\" \
                 having max(id) is not null and pg_get_serial_sequence('\"{table}\"', 'id') is not null"
            ))
            .execute(&mut *tx)
            .await?;
        }
    }
    sqlx::query("insert into search_backlog (case_id) select id from cases")
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    pool.close().await;
    Ok(Imported {
        counts,
        source_backend,
    })
}

async fn insert_batch(
    tx: &mut sqlx::Transaction<'_, Postgres>,
    table: &str,
    rows: &[Map<String, Value>],
    columns: &HashMap<String, HashMap<String, String>>,
) -> anyhow::Result<()> {
    let Some(first) = rows.first() else {
        return Ok(());
    };
    let types = columns
        .get(table)
        .with_context(|| format!("the export has a table `{table}` this database does not"))?;
    let names: Vec<&String> = first.keys().collect();
    for name in &names {
        anyhow::ensure!(
            types.contains_key(*name),
            "the export's table `{table}` has a column `{name}` this database does not"
        );
    }
    let quoted: Vec<String> = names.iter().map(|n| format!("\"{n}\"")).collect();
    let mut insert = sqlx::QueryBuilder::<Postgres>::new(format!(
        "insert into \"{table}\" ({}) overriding system value ",
        quoted.join(", ")
    ));
    let mut problem = None;
    insert.push_values(rows, |mut b, row| {
        for name in &names {
            let value = row.get(*name).unwrap_or(&Value::Null);
            if let Err(e) = push_cell(&mut b, &types[*name], value) {
                problem.get_or_insert(format!("{table}.{name}: {e}"));
            }
        }
    });
    if let Some(problem) = problem {
        bail!("a value cannot be carried over: {problem}");
    }
    insert
        .build()
        .execute(&mut **tx)
        .await
        .with_context(|| format!("loading {table}"))?;
    Ok(())
}

/// Binds one exported JSON value as the target column's type.
fn push_cell(
    b: &mut sqlx::query_builder::Separated<'_, '_, Postgres, &'static str>,
    data_type: &str,
    value: &Value,
) -> Result<(), String> {
    match data_type {
        "bigint" | "integer" | "smallint" => {
            let v = match value {
                Value::Null => None,
                Value::Number(n) => Some(n.as_i64().ok_or("not an integer")?),
                Value::Bool(x) => Some(i64::from(*x)),
                Value::String(s) => Some(s.parse().map_err(|_| "not an integer")?),
                _ => return Err("not an integer".into()),
            };
            b.push_bind(v);
        }
        "boolean" => {
            let v = match value {
                Value::Null => None,
                Value::Bool(x) => Some(*x),
                Value::Number(n) => Some(n.as_i64() != Some(0)),
                _ => return Err("not a boolean".into()),
            };
            b.push_bind(v);
        }
        "double precision" | "real" | "numeric" => {
            let v = match value {
                Value::Null => None,
                Value::Number(n) => Some(n.as_f64().ok_or("not a number")?),
                _ => return Err("not a number".into()),
            };
            b.push_bind(v);
        }
        "timestamp with time zone" => {
            let v = match value {
                Value::Null => None,
                Value::String(s) => Some(parse_instant(s)?),
                _ => return Err("not a timestamp".into()),
            };
            b.push_bind(v);
        }
        "date" => {
            let v = match value {
                Value::Null => None,
                Value::String(s) => Some(
                    NaiveDate::parse_from_str(s, "%Y-%m-%d")
                        .map_err(|e| format!("not a date: {e}"))?,
                ),
                _ => return Err("not a date".into()),
            };
            b.push_bind(v);
        }
        _ => {
            let v = match value {
                Value::Null => None,
                Value::String(s) => Some(s.clone()),
                other => Some(other.to_string()),
            };
            b.push_bind(v);
        }
    }
    Ok(())
}

/// SQLite keeps instants as RFC 3339 text; PostgreSQL's JSON writes them the same way.
fn parse_instant(s: &str) -> Result<DateTime<Utc>, String> {
    DateTime::parse_from_rfc3339(s)
        .or_else(|_| DateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S%.f%:z"))
        .or_else(|_| DateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S%.f%#z"))
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| format!("`{s}` is not a timestamp: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn instants_from_either_engine_parse() {
        let want = "2026-11-28T02:03:04.123456Z"
            .parse::<DateTime<Utc>>()
            .unwrap();
        for s in [
            "2026-11-28T02:03:04.123456+00:00",
            "2026-11-28T10:03:04.123456+08:00",
            "2026-11-28 02:03:04.123456+00:00",
            "2026-11-28T02:03:04.123456+00",
        ] {
            assert_eq!(parse_instant(s), Ok(want), "{s}");
        }
        assert!(parse_instant("yesterday").is_err());
    }
}
