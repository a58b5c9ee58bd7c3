//! Running the `shian` binary and looking at what it did.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

use tempfile::TempDir;

/// The binary under test.
pub const BIN: &str = env!("CARGO_BIN_EXE_shian");

/// The seed of the shared fixture province.
pub const FIXTURE_SEED: u64 = 2026;

/// The workspace root (where `examples/` and `docs/` live).
pub fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// `shian` with no inherited settings, run from `dir` (so a forgotten `--db` cannot touch a
/// database outside the test's directory).
pub fn shian_in(dir: &Path) -> Command {
    let mut cmd = Command::new(BIN);
    cmd.env_remove("SHIAN_DB").env_remove("SHIAN_LANG").env_remove("SHIAN_PEAK_MEMORY_FILE").current_dir(dir);
    cmd
}

/// Runs `shian ARGS` from a scratch directory, with no database argument.
pub fn shian(args: &[&str]) -> Out {
    let dir = tempfile::tempdir().unwrap();
    Out::of(args, shian_in(dir.path()).args(args).output().unwrap())
}

/// What a run of the binary left behind.
pub struct Out {
    pub args: String,
    pub code: Option<i32>,
    pub bytes: Vec<u8>,
    pub stdout: String,
    pub stderr: String,
}

impl Out {
    pub fn of(args: &[&str], o: Output) -> Out {
        Out {
            args: args.join(" "),
            code: o.status.code(),
            stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
            bytes: o.stdout,
        }
    }

    /// Asserts the exit code, showing what the command printed if it differs.
    #[track_caller]
    pub fn code(&self, expected: i32) -> &Out {
        assert_eq!(
            self.code,
            Some(expected),
            "`shian {}` exited with {:?}, expected {expected}\n--- stdout:\n{}\n--- stderr:\n{}",
            self.args,
            self.code,
            truncate(&self.stdout),
            truncate(&self.stderr)
        );
        self.no_panic()
    }

    #[track_caller]
    pub fn ok(&self) -> &Out {
        self.code(0)
    }

    /// A user never sees a Rust panic, whatever they typed.
    #[track_caller]
    pub fn no_panic(&self) -> &Out {
        assert!(!self.stderr.contains("panicked"), "`shian {}` panicked:\n{}", self.args, self.stderr);
        self
    }

    /// The import summary (printed with `--lang en`).
    #[track_caller]
    pub fn summary(&self) -> Summary {
        Summary::parse(&self.stdout).unwrap_or_else(|| panic!("no import summary in {:?}", self.stdout))
    }
}

fn truncate(s: &str) -> String {
    if s.chars().count() > 4000 { s.chars().take(4000).chain("…".chars()).collect() } else { s.to_string() }
}

/// The figures of `… : read 3 rows, 2 inserted, 0 updated, 0 unchanged, 1 rejected; …`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Summary {
    pub read: u64,
    pub inserted: u64,
    pub updated: u64,
    pub unchanged: u64,
    pub rejected: u64,
}

impl Summary {
    fn parse(stdout: &str) -> Option<Summary> {
        let line = stdout.lines().find(|l| l.contains(" rows, ") && l.contains(" inserted"))?;
        let figures = &line[line.find("): ")? + 3..];
        let mut s = Summary::default();
        let mut seen = 0;
        for part in figures.split([',', ';']) {
            let words: Vec<&str> = part.split_whitespace().collect();
            let slot = match words.as_slice() {
                ["read", n, "rows"] => Some((&mut s.read, *n)),
                [n, "inserted"] => Some((&mut s.inserted, *n)),
                [n, "updated"] => Some((&mut s.updated, *n)),
                [n, "unchanged"] => Some((&mut s.unchanged, *n)),
                [n, "rejected"] => Some((&mut s.rejected, *n)),
                _ => None,
            };
            if let Some((slot, n)) = slot {
                *slot = n.parse().ok()?;
                seen += 1;
            }
        }
        (seen == 5).then_some(s)
    }
}

/// A database in a directory of its own.
pub struct Db {
    pub dir: PathBuf,
    pub path: PathBuf,
    _temp: Option<TempDir>,
}

impl Db {
    /// A database that does not exist yet, `shian.db` in a new temporary directory.
    pub fn fresh() -> Db {
        let temp = tempfile::tempdir().unwrap();
        let dir = temp.path().to_path_buf();
        Db { path: dir.join("shian.db"), dir, _temp: Some(temp) }
    }

    /// A private copy of the fixture province, for a test that writes.
    pub fn copy_of_fixture() -> Db {
        let fixture = fixture();
        let db = Db::fresh();
        for ext in ["", "-wal"] {
            let from = PathBuf::from(format!("{}{ext}", fixture.path.display()));
            if from.exists() {
                std::fs::copy(&from, format!("{}{ext}", db.path.display())).unwrap();
            }
        }
        db
    }

    pub fn url(&self) -> String {
        format!("sqlite://{}", self.path.display())
    }

    /// A path in the database's directory.
    pub fn file(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }

    /// Writes a file in the database's directory.
    pub fn write(&self, name: &str, contents: impl AsRef<[u8]>) -> PathBuf {
        let path = self.file(name);
        std::fs::write(&path, contents).unwrap();
        path
    }

    /// A `shian` command on this database, not yet run.
    pub fn command(&self, args: &[&str]) -> Command {
        let mut cmd = shian_in(&self.dir);
        cmd.arg("--db").arg(self.url()).args(args);
        cmd
    }

    /// Runs `shian --db URL ARGS` (messages in the default language, Chinese).
    pub fn run(&self, args: &[&str]) -> Out {
        Out::of(args, self.command(args).output().unwrap())
    }

    /// Runs `shian --db URL --lang en ARGS`.
    pub fn run_en(&self, args: &[&str]) -> Out {
        let mut all = vec!["--lang", "en"];
        all.extend_from_slice(args);
        self.run(&all)
    }

    /// `shian stats --json`.
    #[track_caller]
    pub fn stats(&self) -> BTreeMap<String, u64> {
        let out = self.run(&["stats", "--json"]);
        out.ok();
        let map: serde_json::Map<String, serde_json::Value> =
            serde_json::from_str(&out.stdout).unwrap_or_else(|e| panic!("stats --json: {e}: {}", out.stdout));
        map.into_iter()
            .map(|(k, v)| {
                let n = v.as_u64().unwrap_or_else(|| panic!("stats {k}: {v} is no count"));
                (k, n)
            })
            .collect()
    }

    #[track_caller]
    pub fn count(&self, kind: &str) -> u64 {
        self.stats()[kind]
    }

    /// `shian import KIND FILE --lang en`, expecting exit code 0; returns the summary.
    #[track_caller]
    pub fn import(&self, kind: &str, file: &Path) -> Summary {
        self.run_en(&["import", kind, file.to_str().unwrap()]).ok().summary()
    }

    /// `shian export KIND ARGS` to standard output.
    #[track_caller]
    pub fn export(&self, kind: &str, args: &[&str]) -> Vec<u8> {
        let mut all = vec!["export", kind];
        all.extend_from_slice(args);
        let out = self.run(&all);
        out.ok();
        out.bytes
    }
}

/// The shared province: generated once per test binary at small scale with [`FIXTURE_SEED`], in
/// `target/tmp`. Tests only read it; a test that writes works on [`Db::copy_of_fixture`].
pub fn fixture() -> &'static Db {
    static FIXTURE: OnceLock<Db> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("shian-cli-fixture");
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let db = Db { path: dir.join("small.db"), dir, _temp: None };
        let out = db.run_en(&["generate", "--scale", "small", "--seed", &FIXTURE_SEED.to_string()]);
        out.ok();
        assert!(out.stdout.contains("order records"), "generate prints its counts: {}", out.stdout);
        db
    })
}

/// Splits a simple CSV line (no quoting) into its cells.
pub fn cells(line: &str) -> Vec<&str> {
    assert!(!line.contains('"'), "quoted CSV is not expected here: {line}");
    line.split(',').collect()
}
