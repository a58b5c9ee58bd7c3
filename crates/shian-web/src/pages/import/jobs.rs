//! Import jobs: an uploaded file is imported on a blocking thread while its page shows the
//! progress; the outcome and the file of rejected rows stay for a day, for the uploader only.
//!
//! A province-wide user's file goes to `shian_services::import::import_file` as it is, its errors
//! file being the rejected-rows download. A scoped user's file first goes through
//! [`super::scope::filter`]; the rows it rejects and those the service rejects end up in one
//! download, and the service's line numbers are mapped back to the upload's.

use std::collections::HashMap;
use std::fs::File;
use std::io::{self, BufRead, BufReader, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU8, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use shian_domain::access::Scope;
use shian_domain::{Kind, Lang, Msg};
use shian_services::accounts::{self, Principal};
use shian_services::import::{self, ImportError, ImportOptions, ImportReport, Progress, RowError};
use shian_services::source::SourceError;
use shian_services::{Encoding, Format};
use shian_store::{Store, StoreError};
use tokio::sync::watch;

use super::scope::{self, Filtered, Outputs};
use crate::AppState;
use crate::error::AppError;

/// Rejected rows listed on the result page (all of them are in the download).
pub const MAX_REPORTED: usize = 200;
/// How long a finished job's result and rejected rows are kept.
const KEEP_SECS: i64 = 24 * 3600;
/// Finished jobs kept at most, the oldest forgotten first.
const MAX_JOBS: usize = 500;

/// What a job is doing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    Waiting,
    /// Placing rows within the uploader's scope.
    Checking,
    Importing,
}

/// Progress of a job, written by the import thread and read by the page.
#[derive(Debug, Default)]
pub struct Meter {
    phase: AtomicU8,
    done: AtomicU64,
    total: AtomicU64,
    rows: AtomicU64,
}

impl Meter {
    pub fn set_phase(&self, phase: Phase) {
        self.phase.store(phase as u8, Ordering::Relaxed);
        self.update_counts(0, 0, 0);
    }

    /// `done` of `total` bytes read (`total` 0 when unknown), `rows` rows so far.
    pub fn update_counts(&self, done: u64, total: u64, rows: u64) {
        self.done.store(done, Ordering::Relaxed);
        self.total.store(total, Ordering::Relaxed);
        self.rows.store(rows, Ordering::Relaxed);
    }

    /// The phase, the percentage done (if the total is known) and the rows so far.
    pub fn read(&self) -> (Phase, Option<u64>, u64) {
        let phase = match self.phase.load(Ordering::Relaxed) {
            1 => Phase::Checking,
            2 => Phase::Importing,
            _ => Phase::Waiting,
        };
        let (done, total) = (self.done.load(Ordering::Relaxed), self.total.load(Ordering::Relaxed));
        let percent = (total > 0).then(|| (done.min(total) * 100) / total);
        (phase, percent, self.rows.load(Ordering::Relaxed))
    }
}

impl Progress for Meter {
    fn update(&self, done: u64, total: u64, rows: u64) {
        self.update_counts(done, total, rows);
    }
}

/// Why a job stopped: the file's fault (told to the uploader) or the server's (logged).
#[derive(Debug)]
pub enum Fail {
    User(Msg),
    Internal(String),
}

impl Fail {
    /// A file that cannot be read, with the line where it went wrong.
    pub fn source(e: SourceError) -> Fail {
        Fail::User(match e.line {
            Some(l) => Msg::new(format!("第 {l} 行：{}", e.reason.zh), format!("line {l}: {}", e.reason.en)),
            None => e.reason,
        })
    }

    pub fn not_importable(kind: Kind) -> Fail {
        let def = kind.def();
        Fail::User(Msg::new(format!("您不能导入{}", def.zh), format!("you may not import {}", def.en)))
    }

    fn import(e: ImportError) -> Fail {
        match e {
            ImportError::Source(e) => Fail::source(e),
            ImportError::Header { reason, .. } => Fail::User(reason),
            e @ ImportError::NotImportable(_) => Fail::User(Msg::new(e.describe(Lang::Zh), e.describe(Lang::En))),
            e => Fail::Internal(e.to_string()),
        }
    }
}

impl From<io::Error> for Fail {
    fn from(e: io::Error) -> Fail {
        Fail::Internal(e.to_string())
    }
}

impl From<StoreError> for Fail {
    fn from(e: StoreError) -> Fail {
        Fail::Internal(e.to_string())
    }
}

/// What an import did.
#[derive(Debug, Clone)]
pub struct Summary {
    pub encoding: &'static str,
    pub run: i64,
    pub read: u64,
    pub inserted: u64,
    pub updated: u64,
    pub unchanged: u64,
    pub rejected: u64,
    /// Rows rejected because they lie outside the uploader's scope.
    pub outside: u64,
    pub warnings: Vec<Msg>,
    /// The first rejected cells, by line.
    pub errors: Vec<RowError>,
}

impl Summary {
    fn of(report: &ImportReport) -> Summary {
        Summary {
            encoding: report.encoding,
            run: report.run.0,
            read: report.rows_read,
            inserted: report.outcome.inserted,
            updated: report.outcome.updated,
            unchanged: report.outcome.unchanged,
            rejected: report.rejected,
            outside: 0,
            warnings: report.warnings.clone(),
            errors: report.errors.clone(),
        }
    }

    /// The service's report on the filtered file, with the scope pass's rejections and the
    /// upload's line numbers.
    fn within_scope(report: &ImportReport, f: &Filtered) -> Summary {
        let mut s = Summary::of(report);
        s.encoding = f.encoding;
        s.read = f.read;
        s.rejected += f.rejected;
        s.outside = f.outside;
        for e in &mut s.errors {
            e.line = f.original_line(e.line);
        }
        s.errors.extend(f.errors.iter().cloned());
        s.errors.sort_by_key(|e| e.line);
        s.errors.truncate(MAX_REPORTED);
        s
    }

    fn audit_json(&self, job: &Job) -> String {
        serde_json::json!({
            "file": job.file_name, "kind": job.kind.name(), "run": self.run, "rows_read": self.read,
            "inserted": self.inserted, "updated": self.updated, "unchanged": self.unchanged,
            "rejected": self.rejected, "outside_scope": self.outside,
        })
        .to_string()
    }
}

/// One upload being imported, or imported.
#[derive(Debug)]
pub struct Job {
    pub id: String,
    pub owner: i64,
    pub kind: Kind,
    pub format: Format,
    /// The uploaded file's name, as the uploader's computer called it.
    pub file_name: String,
    /// The language of the reasons in the rejected-rows file.
    pub lang: Lang,
    pub created: i64,
    pub upload: PathBuf,
    pub rejected: PathBuf,
    pub meter: Meter,
    outcome: Mutex<Option<Result<Summary, Msg>>>,
    done: watch::Sender<bool>,
}

/// What a job is made from.
pub struct NewJob {
    pub id: String,
    pub owner: i64,
    pub kind: Kind,
    pub format: Format,
    pub file_name: String,
    pub lang: Lang,
    pub upload: PathBuf,
}

impl Job {
    pub fn new(n: NewJob) -> Job {
        let rejected = n.upload.with_extension("rejected.csv");
        Job {
            id: n.id,
            owner: n.owner,
            kind: n.kind,
            format: n.format,
            file_name: n.file_name,
            lang: n.lang,
            created: accounts::now(),
            upload: n.upload,
            rejected,
            meter: Meter::default(),
            outcome: Mutex::new(None),
            done: watch::Sender::new(false),
        }
    }

    /// The outcome, once the job has finished.
    pub fn outcome(&self) -> Option<Result<Summary, Msg>> {
        self.outcome.lock().unwrap_or_else(PoisonError::into_inner).clone()
    }

    /// Waits until the job finishes, or `limit` passes.
    pub async fn wait(&self, limit: Duration) {
        let mut rx = self.done.subscribe();
        let _ = tokio::time::timeout(limit, rx.wait_for(|done| *done)).await;
    }

    fn finish(&self, outcome: Result<Summary, Msg>) {
        *self.outcome.lock().unwrap_or_else(PoisonError::into_inner) = Some(outcome);
        self.done.send_replace(true);
    }

    fn finished(&self) -> bool {
        *self.done.borrow()
    }

    /// Whether there is a rejected-rows file to download.
    pub fn has_rejected_file(&self) -> bool {
        matches!(self.outcome(), Some(Ok(s)) if s.rejected > 0) && self.rejected.exists()
    }
}

/// The jobs of one server, and the directory holding their files (removed with it).
#[derive(Debug)]
pub struct Uploads {
    dir: PathBuf,
    jobs: Mutex<HashMap<String, Arc<Job>>>,
}

impl Default for Uploads {
    fn default() -> Self {
        let name = format!("shian-import-{}-{}", std::process::id(), accounts::random_hex(8));
        Uploads { dir: std::env::temp_dir().join(name), jobs: Mutex::new(HashMap::new()) }
    }
}

impl Uploads {
    /// The directory for uploads, made on first use (readable by this user only on Unix).
    pub fn dir(&self) -> io::Result<&Path> {
        if !self.dir.exists() {
            std::fs::create_dir_all(&self.dir)?;
            #[cfg(unix)]
            {
                use std::os::unix::fs::PermissionsExt;
                std::fs::set_permissions(&self.dir, std::fs::Permissions::from_mode(0o700))?;
            }
        }
        Ok(&self.dir)
    }

    /// Adds a job, forgetting finished jobs older than a day (and the oldest beyond the cap).
    pub fn insert(&self, job: Arc<Job>) {
        let mut jobs = self.jobs.lock().unwrap_or_else(PoisonError::into_inner);
        let cutoff = accounts::now() - KEEP_SECS;
        let mut finished: Vec<(i64, String)> =
            jobs.values().filter(|j| j.finished()).map(|j| (j.created, j.id.clone())).collect();
        finished.sort();
        let excess = (jobs.len() + 1).saturating_sub(MAX_JOBS);
        for (i, (created, id)) in finished.iter().enumerate() {
            if (*created < cutoff || i < excess)
                && let Some(old) = jobs.remove(id)
            {
                let _ = std::fs::remove_file(&old.rejected);
            }
        }
        jobs.insert(job.id.clone(), job);
    }

    /// A job of `owner`; someone else's job is not there.
    pub fn get(&self, id: &str, owner: i64) -> Option<Arc<Job>> {
        let jobs = self.jobs.lock().unwrap_or_else(PoisonError::into_inner);
        jobs.get(id).filter(|j| j.owner == owner).cloned()
    }
}

impl Drop for Uploads {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Runs a job to its end: the import on a blocking thread, the audit line, the dashboard's
/// figures forgotten after a successful import.
pub async fn run(state: AppState, job: Arc<Job>, user: Principal, client: String) {
    let j = Arc::clone(&job);
    let outcome = state.db.run(move |store| Ok(execute(store, &j, &user, &client))).await;
    let outcome = outcome.unwrap_or_else(|e| Err(e.msg));
    if matches!(&outcome, Ok(s) if s.inserted + s.updated > 0) {
        state.summary.invalidate();
    }
    job.finish(outcome);
}

fn execute(store: &mut dyn Store, job: &Job, user: &Principal, client: &str) -> Result<Summary, Msg> {
    let result =
        if user.scope == Scope::All { import_as_is(store, job) } else { import_within_scope(store, job, user) };
    let _ = std::fs::remove_file(&job.upload);
    let outcome = result.map_err(|fail| match fail {
        Fail::User(msg) => msg,
        Fail::Internal(e) => AppError::internal(format!("import {}: {e}", job.id)).msg,
    });
    if !matches!(&outcome, Ok(s) if s.rejected > 0) {
        let _ = std::fs::remove_file(&job.rejected);
    }
    let after = match &outcome {
        Ok(s) => s.audit_json(job),
        Err(m) => serde_json::json!({"file": job.file_name, "kind": job.kind.name(), "failed": m.en}).to_string(),
    };
    let key = Some(job.file_name.as_str());
    let kind = Some(job.kind.name());
    if let Err(e) = accounts::audit(store, &user.username, "import", kind, key, None, Some(&after), Some(client)) {
        tracing::error!(error = %e, job = %job.id, "cannot write the audit line of an import");
    }
    outcome
}

fn options(format: Format, encoding: Encoding, errors: &Path, lang: Lang) -> ImportOptions {
    ImportOptions {
        format: Some(format),
        encoding,
        errors_path: Some(errors.to_path_buf()),
        lang,
        ..Default::default()
    }
}

/// A province-wide user's file, imported as it is.
fn import_as_is(store: &mut dyn Store, job: &Job) -> Result<Summary, Fail> {
    job.meter.set_phase(Phase::Importing);
    let opts = options(job.format, Encoding::Auto, &job.rejected, job.lang);
    let report = import::import_file(store, job.kind, &job.upload, &opts, &job.meter).map_err(Fail::import)?;
    Ok(Summary::of(&report))
}

/// A scoped user's file: its rows within the scope imported, the others rejected.
fn import_within_scope(store: &mut dyn Store, job: &Job, user: &Principal) -> Result<Summary, Fail> {
    let filtered = job.upload.with_extension("scoped.csv");
    let errors = job.upload.with_extension("errors.csv");
    let result = scoped_steps(store, job, user, &filtered, &errors);
    let _ = std::fs::remove_file(&filtered);
    let _ = std::fs::remove_file(&errors);
    result
}

fn scoped_steps(
    store: &mut dyn Store,
    job: &Job,
    user: &Principal,
    filtered: &Path,
    errors: &Path,
) -> Result<Summary, Fail> {
    let out = Outputs { filtered, rejected: &job.rejected, lang: job.lang };
    let mut f = scope::filter(store, user, job.kind, &job.upload, job.format, &out, &job.meter)?;
    job.meter.set_phase(Phase::Importing);
    let opts = options(Format::Csv, Encoding::Utf8, errors, job.lang);
    let report = import::import_file(store, job.kind, filtered, &opts, &job.meter).map_err(Fail::import)?;
    f.rejected_csv.append_errors_file(errors)?;
    f.rejected_csv.flush()?;
    Ok(Summary::within_scope(&report, &f))
}

/// A CSV record with every cell quoted, ending in a line feed.
pub fn csv_record<'a>(cells: impl IntoIterator<Item = &'a str>) -> String {
    let quoted: Vec<String> = cells.into_iter().map(|c| format!("\"{}\"", c.replace('"', "\"\""))).collect();
    quoted.join(",") + "\n"
}

/// The rejected rows as they were, with the reasons in a last column (as the service's errors
/// file, so that the reader can correct and import it again: the extra column is ignored).
#[derive(Debug)]
pub struct RejectedCsv {
    out: BufWriter<File>,
    lang: Lang,
    width: usize,
}

impl RejectedCsv {
    pub fn create(path: &Path, headers: &[String], lang: Lang) -> io::Result<RejectedCsv> {
        let mut out = BufWriter::new(File::create(path)?);
        out.write_all("\u{feff}".as_bytes())?; // so that Excel reads it as UTF-8
        let reason = if lang == Lang::Zh { "错误说明" } else { "error" };
        out.write_all(csv_record(headers.iter().map(String::as_str).chain([reason])).as_bytes())?;
        Ok(RejectedCsv { out, lang, width: headers.len() })
    }

    /// A row as it was, padded to the header's width, with its reasons.
    pub fn write(&mut self, cells: &[String], problems: &[(String, Msg)]) -> io::Result<()> {
        let reasons: Vec<String> = problems
            .iter()
            .map(
                |(col, r)| {
                    if col.is_empty() { r.get(self.lang).to_string() } else { format!("{col}: {}", r.get(self.lang)) }
                },
            )
            .collect();
        let joined = reasons.join("; ");
        let padding = std::iter::repeat_n("", self.width.saturating_sub(cells.len()));
        let record = csv_record(cells.iter().map(String::as_str).chain(padding).chain([joined.as_str()]));
        self.out.write_all(record.as_bytes())
    }

    /// Appends the rows of the service's errors file (everything after its header record).
    pub fn append_errors_file(&mut self, path: &Path) -> io::Result<()> {
        let mut input = BufReader::new(File::open(path)?);
        let mut header = Vec::new();
        // A line feed inside a quoted header cell does not end the header record.
        while input.read_until(b'\n', &mut header)? > 0 && header.iter().filter(|b| **b == b'"').count() % 2 == 1 {}
        io::copy(&mut input, &mut self.out)?;
        Ok(())
    }

    pub fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_records_quote_every_cell() {
        assert_eq!(csv_record(["a", "b\"c", "d,e\nf"]), "\"a\",\"b\"\"c\",\"d,e\nf\"\n");
    }

    #[test]
    fn the_service_errors_file_is_appended_without_its_header() {
        let dir = std::env::temp_dir().join(format!("shian-rejected-test-{}", accounts::random_hex(4)));
        std::fs::create_dir_all(&dir).expect("dir");
        let errors = dir.join("errors.csv");
        std::fs::write(&errors, "\u{feff}\"a\nb\",c,错误说明\n1,2,bad\n").expect("write");
        let out = dir.join("out.csv");
        let mut csv = RejectedCsv::create(&out, &["a\nb".into(), "c".into()], Lang::Zh).expect("create");
        csv.write(&["x".into()], &[("c".into(), Msg::new("超出", "outside"))]).expect("write");
        csv.append_errors_file(&errors).expect("append");
        csv.flush().expect("flush");
        let text = std::fs::read_to_string(&out).expect("read");
        assert_eq!(text, "\u{feff}\"a\nb\",\"c\",\"错误说明\"\n\"x\",\"\",\"c: 超出\"\n1,2,bad\n");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
