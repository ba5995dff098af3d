//! The embedded database (redb): typed tables of JSON values and a schema version.
//!
//! The store knows nothing of what it stores: each table names its value type, and callers
//! own those types. Every write runs in one redb transaction, so it lands whole or not at all.

use std::marker::PhantomData;
use std::path::Path;

use redb::{ReadableDatabase, ReadableTable, TableDefinition};
use serde::Serialize;
use serde::de::DeserializeOwned;

/// The schema this build reads and writes. Bump it when a stored type changes incompatibly.
pub const SCHEMA_VERSION: u64 = 1;

/// Page cache of the database file. 12 MiB keeps RSS after the 200-client mix below 40 MiB
/// (16 MiB measured 41) with 4 KiB GET rates within noise of 16 MiB's (scripts/bench-s3.sh).
const CACHE_BYTES: usize = 12 * 1024 * 1024;

const META: TableDefinition<&str, u64> = TableDefinition::new("meta");

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error(
        "the data directory was written by a newer onyxia-lite (schema {found}); this build \
         understands schema {supported}. Upgrade onyxia-lite or use another --data-dir"
    )]
    NewerSchema { found: u64, supported: u64 },
    #[error("database {path} is already in use by another onyxia-lite process")]
    InUse { path: String },
    #[error("database error: {path}: {source}")]
    Open {
        path: String,
        #[source]
        source: redb::DatabaseError,
    },
    #[error("database error: {0}")]
    InMemory(#[source] redb::DatabaseError),
    #[error("database error: {0}")]
    Transaction(#[from] redb::TransactionError),
    #[error("database error: {0}")]
    Table(#[from] redb::TableError),
    #[error("database error: {0}")]
    Storage(#[from] redb::StorageError),
    #[error("database error: {0}")]
    Commit(#[from] redb::CommitError),
    #[error("stored value in table {table} under {key} is unreadable: {source}")]
    Corrupt {
        table: &'static str,
        key: String,
        #[source]
        source: serde_json::Error,
    },
}

pub type Result<T> = std::result::Result<T, StoreError>;

/// A table of `T` values (stored as JSON) under string keys.
pub struct Table<T> {
    name: &'static str,
    _value: PhantomData<fn() -> T>,
}

impl<T> Table<T> {
    pub const fn new(name: &'static str) -> Self {
        Table {
            name,
            _value: PhantomData,
        }
    }
    fn def(&self) -> TableDefinition<'static, &'static str, &'static [u8]> {
        TableDefinition::new(self.name)
    }
}

/// A table of raw bytes under string keys (object bytes small enough to live in the database).
pub struct RawTable {
    name: &'static str,
}

impl RawTable {
    pub const fn new(name: &'static str) -> Self {
        RawTable { name }
    }
    fn def(&self) -> TableDefinition<'static, &'static str, &'static [u8]> {
        TableDefinition::new(self.name)
    }
}

fn decode<T: DeserializeOwned>(table: &'static str, key: &str, bytes: &[u8]) -> Result<T> {
    serde_json::from_slice(bytes).map_err(|source| StoreError::Corrupt {
        table,
        key: key.to_owned(),
        source,
    })
}

fn encode<T: Serialize>(value: &T) -> Vec<u8> {
    // Serializing plain data structs to JSON cannot fail.
    serde_json::to_vec(value).unwrap_or_default()
}

pub struct Store {
    db: redb::Database,
}

impl Store {
    /// Opens (or creates) the database file and checks its schema version.
    pub fn open(path: &Path) -> Result<Self> {
        // A bounded page cache keeps the resident size small (redb's default is 1 GiB).
        let db = redb::Database::builder()
            .set_cache_size(CACHE_BYTES)
            .create(path)
            .map_err(|e| match e {
                redb::DatabaseError::DatabaseAlreadyOpen => StoreError::InUse {
                    path: path.display().to_string(),
                },
                source => StoreError::Open {
                    path: path.display().to_string(),
                    source,
                },
            })?;
        let store = Store { db };
        store.check_schema()?;
        Ok(store)
    }

    /// A store in memory only (commands that must not touch a running server's file).
    pub fn in_memory() -> Result<Self> {
        let db = redb::Database::builder()
            .create_with_backend(redb::backends::InMemoryBackend::new())
            .map_err(StoreError::InMemory)?;
        let store = Store { db };
        store.check_schema()?;
        Ok(store)
    }

    fn check_schema(&self) -> Result<()> {
        let txn = self.db.begin_write()?;
        {
            let mut meta = txn.open_table(META)?;
            let found = meta.get("schema_version")?.map(|v| v.value());
            match found {
                Some(found) if found > SCHEMA_VERSION => {
                    return Err(StoreError::NewerSchema {
                        found,
                        supported: SCHEMA_VERSION,
                    });
                }
                Some(_) => {}
                None => {
                    meta.insert("schema_version", SCHEMA_VERSION)?;
                }
            }
        }
        txn.commit()?;
        Ok(())
    }

    /// The schema version recorded in the file.
    pub fn schema_version(&self) -> Result<u64> {
        let txn = self.db.begin_read()?;
        let meta = txn.open_table(META)?;
        Ok(meta.get("schema_version")?.map(|v| v.value()).unwrap_or(0))
    }

    #[doc(hidden)]
    /// Overwrites the recorded schema version (tests of upgrade refusal).
    pub fn force_schema_version(&self, version: u64) -> Result<()> {
        let txn = self.db.begin_write()?;
        txn.open_table(META)?.insert("schema_version", version)?;
        txn.commit()?;
        Ok(())
    }

    pub fn get<T: DeserializeOwned>(&self, table: &Table<T>, key: &str) -> Result<Option<T>> {
        self.snapshot()?.get(table, key)
    }

    /// Up to `limit` entries with `start <= key < end` (no end: to the last key), in key order.
    pub fn range<T: DeserializeOwned>(
        &self,
        table: &Table<T>,
        start: &str,
        end: Option<&str>,
        limit: usize,
    ) -> Result<Vec<(String, T)>> {
        self.snapshot()?.range(table, start, end, limit)
    }

    /// A read-only view of the database as of now: reads through it see one state, whatever
    /// commits meanwhile (for answers that read several tables or keys).
    pub fn snapshot(&self) -> Result<Snapshot> {
        Ok(Snapshot(self.db.begin_read()?))
    }

    /// Every entry of a table, in key order.
    pub fn scan<T: DeserializeOwned>(&self, table: &Table<T>) -> Result<Vec<(String, T)>> {
        let txn = self.db.begin_read()?;
        let t = match txn.open_table(table.def()) {
            Ok(t) => t,
            Err(redb::TableError::TableDoesNotExist(_)) => return Ok(Vec::new()),
            Err(e) => return Err(e.into()),
        };
        let mut out = Vec::new();
        for entry in t.iter()? {
            let (k, v) = entry?;
            let key = k.value().to_owned();
            let value = decode(table.name, &key, v.value())?;
            out.push((key, value));
        }
        Ok(out)
    }

    pub fn get_raw(&self, table: &RawTable, key: &str) -> Result<Option<Vec<u8>>> {
        let txn = self.db.begin_read()?;
        let t = match txn.open_table(table.def()) {
            Ok(t) => t,
            Err(redb::TableError::TableDoesNotExist(_)) => return Ok(None),
            Err(e) => return Err(e.into()),
        };
        Ok(t.get(key)?.map(|v| v.value().to_vec()))
    }

    /// Runs `f` in one write transaction; nothing is written unless it returns `Ok`.
    pub fn write<R, E: From<StoreError>>(
        &self,
        f: impl FnOnce(&mut Writer<'_>) -> std::result::Result<R, E>,
    ) -> std::result::Result<R, E> {
        let txn = self.db.begin_write().map_err(StoreError::from)?;
        let mut writer = Writer { txn: &txn };
        let out = f(&mut writer)?;
        txn.commit().map_err(StoreError::from)?;
        Ok(out)
    }

    pub fn put<T: Serialize>(&self, table: &Table<T>, key: &str, value: &T) -> Result<()> {
        self.write(|w| w.put(table, key, value))
    }

    pub fn remove<T: DeserializeOwned>(&self, table: &Table<T>, key: &str) -> Result<Option<T>> {
        self.write(|w| w.remove(table, key))
    }
}

/// One consistent read view ([`Store::snapshot`]).
pub struct Snapshot(redb::ReadTransaction);

impl Snapshot {
    pub fn get<T: DeserializeOwned>(&self, table: &Table<T>, key: &str) -> Result<Option<T>> {
        let t = match self.0.open_table(table.def()) {
            Ok(t) => t,
            Err(redb::TableError::TableDoesNotExist(_)) => return Ok(None),
            Err(e) => return Err(e.into()),
        };
        match t.get(key)? {
            Some(v) => decode(table.name, key, v.value()).map(Some),
            None => Ok(None),
        }
    }

    /// Up to `limit` entries with `start <= key < end` (no end: to the last key), in key order.
    pub fn range<T: DeserializeOwned>(
        &self,
        table: &Table<T>,
        start: &str,
        end: Option<&str>,
        limit: usize,
    ) -> Result<Vec<(String, T)>> {
        let t = match self.0.open_table(table.def()) {
            Ok(t) => t,
            Err(redb::TableError::TableDoesNotExist(_)) => return Ok(Vec::new()),
            Err(e) => return Err(e.into()),
        };
        let iter = match end {
            Some(end) => t.range(start..end)?,
            None => t.range(start..)?,
        };
        let mut out = Vec::new();
        for entry in iter.take(limit) {
            let (k, v) = entry?;
            let key = k.value().to_owned();
            let value = decode(table.name, &key, v.value())?;
            out.push((key, value));
        }
        Ok(out)
    }
}

/// Reads that work alike in a snapshot and inside a write transaction, so one function can
/// serve a read-only answer and a write that must judge the same rows.
pub trait Rows {
    fn row<T: DeserializeOwned>(&mut self, table: &Table<T>, key: &str) -> Result<Option<T>>;
    /// Up to `limit` entries with `start <= key < end`, in key order.
    fn rows<T: DeserializeOwned>(
        &mut self,
        table: &Table<T>,
        start: &str,
        end: &str,
        limit: usize,
    ) -> Result<Vec<(String, T)>>;
}

impl Rows for Snapshot {
    fn row<T: DeserializeOwned>(&mut self, table: &Table<T>, key: &str) -> Result<Option<T>> {
        self.get(table, key)
    }

    fn rows<T: DeserializeOwned>(
        &mut self,
        table: &Table<T>,
        start: &str,
        end: &str,
        limit: usize,
    ) -> Result<Vec<(String, T)>> {
        self.range(table, start, Some(end), limit)
    }
}

impl Rows for Writer<'_> {
    fn row<T: DeserializeOwned>(&mut self, table: &Table<T>, key: &str) -> Result<Option<T>> {
        self.get(table, key)
    }

    fn rows<T: DeserializeOwned>(
        &mut self,
        table: &Table<T>,
        start: &str,
        end: &str,
        limit: usize,
    ) -> Result<Vec<(String, T)>> {
        self.range(table, start, end, limit)
    }
}

/// Typed access inside one write transaction.
pub struct Writer<'a> {
    txn: &'a redb::WriteTransaction,
}

impl Writer<'_> {
    pub fn get<T: DeserializeOwned>(&mut self, table: &Table<T>, key: &str) -> Result<Option<T>> {
        let t = self.txn.open_table(table.def())?;
        match t.get(key)? {
            Some(v) => decode(table.name, key, v.value()).map(Some),
            None => Ok(None),
        }
    }

    pub fn put<T: Serialize>(&mut self, table: &Table<T>, key: &str, value: &T) -> Result<()> {
        let mut t = self.txn.open_table(table.def())?;
        t.insert(key, encode(value).as_slice())?;
        Ok(())
    }

    /// Puts `value` under `key` and returns the value it replaced, read in the same step.
    pub fn replace<T: Serialize + DeserializeOwned>(
        &mut self,
        table: &Table<T>,
        key: &str,
        value: &T,
    ) -> Result<Option<T>> {
        let mut t = self.txn.open_table(table.def())?;
        let old = t.insert(key, encode(value).as_slice())?;
        match old {
            Some(v) => decode(table.name, key, v.value()).map(Some),
            None => Ok(None),
        }
    }

    pub fn remove<T: DeserializeOwned>(
        &mut self,
        table: &Table<T>,
        key: &str,
    ) -> Result<Option<T>> {
        let mut t = self.txn.open_table(table.def())?;
        let old = t.remove(key)?;
        match old {
            Some(v) => decode(table.name, key, v.value()).map(Some),
            None => Ok(None),
        }
    }

    pub fn put_raw(&mut self, table: &RawTable, key: &str, bytes: &[u8]) -> Result<()> {
        let mut t = self.txn.open_table(table.def())?;
        t.insert(key, bytes)?;
        Ok(())
    }

    pub fn remove_raw(&mut self, table: &RawTable, key: &str) -> Result<()> {
        let mut t = self.txn.open_table(table.def())?;
        t.remove(key)?;
        Ok(())
    }

    /// Keys (with values) in `start <= key < end`, up to `limit`.
    pub fn range<T: DeserializeOwned>(
        &mut self,
        table: &Table<T>,
        start: &str,
        end: &str,
        limit: usize,
    ) -> Result<Vec<(String, T)>> {
        let t = self.txn.open_table(table.def())?;
        let mut out = Vec::new();
        for entry in t.range(start..end)?.take(limit) {
            let (k, v) = entry?;
            let key = k.value().to_owned();
            let value = decode(table.name, &key, v.value())?;
            out.push((key, value));
        }
        Ok(out)
    }

    /// Removes every entry for which `doomed` is true; returns how many went.
    pub fn retain<T: DeserializeOwned>(
        &mut self,
        table: &Table<T>,
        mut keep: impl FnMut(&str, &T) -> bool,
    ) -> Result<usize> {
        let mut t = self.txn.open_table(table.def())?;
        let mut doomed = Vec::new();
        for entry in t.iter()? {
            let (k, v) = entry?;
            let key = k.value().to_owned();
            // Unreadable values are dropped rather than blocking the sweep.
            let keep_it =
                decode::<T>(table.name, &key, v.value()).is_ok_and(|value| keep(&key, &value));
            if !keep_it {
                doomed.push(key);
            }
        }
        for key in &doomed {
            t.remove(key.as_str())?;
        }
        Ok(doomed.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const THINGS: Table<Vec<u32>> = Table::new("things");

    #[test]
    fn a_snapshot_keeps_seeing_the_state_it_began_with() {
        let store = Store::in_memory().unwrap();
        store.put(&THINGS, "a", &vec![1]).unwrap();
        let before = store.snapshot().unwrap();
        store.put(&THINGS, "a", &vec![2]).unwrap();
        store.put(&THINGS, "b", &vec![3]).unwrap();
        assert_eq!(before.get(&THINGS, "a").unwrap(), Some(vec![1]));
        assert_eq!(before.range(&THINGS, "", None, 10).unwrap().len(), 1);
        assert_eq!(store.range(&THINGS, "", None, 10).unwrap().len(), 2);
    }

    #[test]
    fn typed_round_trip_and_newer_schema_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("db.redb");
        {
            let store = Store::open(&path).unwrap();
            assert_eq!(store.get(&THINGS, "a").unwrap(), None);
            store.put(&THINGS, "a", &vec![1, 2]).unwrap();
            store.put(&THINGS, "b", &vec![3]).unwrap();
            assert_eq!(store.get(&THINGS, "a").unwrap(), Some(vec![1, 2]));
            let removed = store.write(|w| w.retain(&THINGS, |k, _| k == "a")).unwrap();
            assert_eq!(removed, 1);
            assert_eq!(store.scan(&THINGS).unwrap().len(), 1);
            store.force_schema_version(SCHEMA_VERSION + 1).unwrap();
        }
        let err = Store::open(&path).err().unwrap();
        assert!(matches!(err, StoreError::NewerSchema { .. }), "{err}");
        assert!(err.to_string().contains("newer onyxia-lite"));
    }

    #[test]
    fn an_unreadable_value_keeps_its_json_error() {
        let store = Store::in_memory().unwrap();
        store
            .write(|w| {
                let mut t = w.txn.open_table(THINGS.def())?;
                t.insert("bad", b"not json".as_slice())?;
                Ok::<_, StoreError>(())
            })
            .unwrap();
        let err = store.get(&THINGS, "bad").unwrap_err();
        assert!(
            matches!(
                err,
                StoreError::Corrupt {
                    table: "things",
                    ..
                }
            ),
            "{err}"
        );
        let source = std::error::Error::source(&err).expect("the JSON error");
        assert!(source.is::<serde_json::Error>());
    }
}
