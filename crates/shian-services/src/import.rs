//! Bulk import: a file of one record kind into the store.
//!
//! Rows are parsed against the kind's fields, references are resolved to stored records, and the
//! good rows are written in batches, each batch in one transaction. A bad row is reported with its
//! file, line, column, value and reason and the rest go on. Writing is idempotent: a row whose
//! natural key is stored with the same values changes nothing, a changed row updates the record
//! and keeps the previous version. A batch that was reported committed survives a crash; running
//! the same import again finishes the job.

use std::collections::HashMap;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::sync::mpsc::sync_channel;

use shian_domain::field::{FieldType, Value};
use shian_domain::{Kind, KindDef, Lang, Msg};
use shian_store::{BatchOutcome, Row, RunId, RunSummary, Store, StoreError};

use crate::source::{self, RawRecord, SourceError};
use crate::{Encoding, Format};

/// How to import.
#[derive(Debug, Clone)]
pub struct ImportOptions {
    /// The file's format; `None` means from its extension.
    pub format: Option<Format>,
    pub encoding: Encoding,
    /// Rows per transaction.
    pub batch_size: usize,
    /// Where to write the rejected rows with their reasons, for correction and re-import.
    pub errors_path: Option<PathBuf>,
    /// Language of the reasons in the errors file.
    pub lang: Lang,
}

impl Default for ImportOptions {
    fn default() -> Self {
        ImportOptions { format: None, encoding: Encoding::Auto, batch_size: 20_000, errors_path: None, lang: Lang::Zh }
    }
}

/// A rejected cell or row.
#[derive(Debug, Clone, PartialEq)]
pub struct RowError {
    pub file: String,
    pub line: u64,
    /// The column's header as it stood in the file (empty for a problem with the whole row).
    pub column: String,
    pub value: String,
    pub reason: Msg,
}

impl RowError {
    /// One line for a person: `file:line 列 "value": reason`.
    pub fn describe(&self, lang: Lang) -> String {
        let column = if self.column.is_empty() { String::new() } else { format!(" [{}]", self.column) };
        let value = if self.value.is_empty() { String::new() } else { format!(" \"{}\"", truncate(&self.value, 40)) };
        format!("{}:{}{column}{value}: {}", self.file, self.line, self.reason.get(lang))
    }
}

fn truncate(s: &str, n: usize) -> String {
    if s.chars().count() <= n { s.to_string() } else { s.chars().take(n).chain("…".chars()).collect() }
}

/// What an import did.
#[derive(Debug, Clone)]
pub struct ImportReport {
    pub kind: Kind,
    pub file: String,
    pub encoding: &'static str,
    pub run: RunId,
    pub rows_read: u64,
    pub rejected: u64,
    pub outcome: BatchOutcome,
    /// Notes about the file as a whole, e.g. columns that were ignored.
    pub warnings: Vec<Msg>,
    /// The first rejected cells (all of them are in the errors file).
    pub errors: Vec<RowError>,
}

/// Why an import could not run at all.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error(transparent)]
    Source(#[from] SourceError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("{file}: {reason}")]
    Header { file: String, reason: Msg },
    #[error("{0} cannot be imported")]
    NotImportable(&'static str),
    #[error("cannot write the errors file: {0}")]
    ErrorsFile(#[from] std::io::Error),
}

impl ImportError {
    /// The message for a person, in `lang`.
    pub fn describe(&self, lang: Lang) -> String {
        match self {
            ImportError::Source(e) => {
                let line = e.line.map(|l| format!(":{l}")).unwrap_or_default();
                format!("{}{line}: {}", e.file, e.reason.get(lang))
            }
            ImportError::Header { file, reason } => format!("{file}: {}", reason.get(lang)),
            ImportError::NotImportable(k) => match lang {
                Lang::Zh => format!("{k} 是参考数据，不能导入"),
                Lang::En => format!("{k} is reference data and cannot be imported"),
            },
            other => other.to_string(),
        }
    }
}

/// Receives progress of a long import.
pub trait Progress {
    /// `done` of `total` bytes (or rows, for XLSX) read, and rows written so far.
    fn update(&self, done: u64, total: u64, rows: u64);
    fn finish(&self) {}
}

/// Progress that goes nowhere.
pub struct NoProgress;

impl Progress for NoProgress {
    fn update(&self, _: u64, _: u64, _: u64) {}
}

/// Imports `path` as records of `kind`.
pub fn import_file(
    store: &mut dyn Store,
    kind: Kind,
    path: &Path,
    opts: &ImportOptions,
    progress: &dyn Progress,
) -> Result<ImportReport, ImportError> {
    let def = kind.def();
    if !def.importable {
        return Err(ImportError::NotImportable(def.name));
    }
    let mut opened = source::open(path, opts.format, opts.encoding)?;
    let file = path.file_name().map(|f| f.to_string_lossy().into_owned()).unwrap_or_default();
    let (mapping, warnings) = map_headers(def, &opened.headers, &file)?;
    let errors_out = match &opts.errors_path {
        Some(p) => Some(ErrorsFile::create(p, &opened.headers, opts.lang)?),
        None => None,
    };
    let run = store.begin_run(kind, &path.display().to_string())?;
    let parser = Parser { def, headers: opened.headers.clone(), mapping };
    let mut job = Job {
        def,
        parser: &parser,
        store,
        file: file.clone(),
        run,
        cache: HashMap::new(),
        pending: Vec::with_capacity(opts.batch_size),
        batch_size: opts.batch_size.max(1),
        errors_out,
        report: ImportReport {
            kind,
            file,
            encoding: opened.encoding,
            run,
            rows_read: 0,
            rejected: 0,
            outcome: BatchOutcome::default(),
            warnings,
            errors: Vec::new(),
        },
    };
    let total = if opened.encoding == "XLSX" { 0 } else { opened.total_bytes };
    let bytes_read = opened.bytes_read.clone();
    let result = std::thread::scope(|scope| {
        // Parsing and validation run beside the writing: the store is the bottleneck.
        let (tx, rx) = sync_channel::<Result<Vec<Parsed>, SourceError>>(4);
        let parser = &parser;
        scope.spawn(move || {
            while let Some(batch) = opened.next_batch() {
                let parsed = batch.map(|records| records.into_iter().map(|r| parser.take(r)).collect());
                if tx.send(parsed).is_err() {
                    return;
                }
            }
        });
        let result = (|| {
            for batch in rx.iter() {
                for parsed in batch? {
                    job.take(parsed)?;
                    job.flush_if_full()?;
                }
                progress.update(bytes_read.load(Ordering::Relaxed), total, job.report.rows_read);
            }
            job.flush()
        })();
        drop(rx); // stops the parsing thread if writing failed
        result
    });
    progress.finish();
    let status = match &result {
        Ok(()) if job.report.rejected > 0 => "finished_with_rejections",
        Ok(()) => "finished",
        Err(_) => "failed",
    };
    let summary =
        RunSummary { rows_read: job.report.rows_read, rejected: job.report.rejected, outcome: job.report.outcome };
    job.store.finish_run(run, status, summary)?;
    if let Some(out) = job.errors_out.as_mut() {
        out.flush()?;
    }
    result.map(|()| job.report)
}

/// Which field each header feeds, and warnings about headers that feed none.
type Mapping = Vec<Option<usize>>;

fn map_headers(def: &KindDef, headers: &[String], file: &str) -> Result<(Mapping, Vec<Msg>), ImportError> {
    let mut mapping = Vec::with_capacity(headers.len());
    let mut warnings = Vec::new();
    let mut seen = vec![false; def.fields.len()];
    for h in headers {
        let found = def.fields.iter().position(|f| f.matches_header(h));
        match found {
            Some(i) if def.fields[i].derived => {
                warnings.push(Msg::new(
                    format!("“{h}”由系统计算，文件中的值不读取"),
                    format!("\"{h}\" is computed; the file's values are ignored"),
                ));
                mapping.push(None);
            }
            Some(i) if seen[i] => {
                let reason = Msg::new(format!("表头“{h}”重复"), format!("header \"{h}\" appears twice"));
                return Err(ImportError::Header { file: file.to_string(), reason });
            }
            Some(i) => {
                seen[i] = true;
                mapping.push(Some(i));
            }
            None => {
                if !h.is_empty() {
                    warnings
                        .push(Msg::new(format!("未识别的列“{h}”已忽略"), format!("unknown column \"{h}\" ignored")));
                }
                mapping.push(None);
            }
        }
    }
    let missing: Vec<_> =
        def.fields.iter().enumerate().filter(|(i, f)| f.required && !f.derived && !seen[*i]).map(|(_, f)| f).collect();
    if !missing.is_empty() {
        let zh: Vec<_> = missing.iter().map(|f| f.zh).collect();
        let en: Vec<_> = missing.iter().map(|f| f.name).collect();
        let reason = Msg::new(
            format!("缺少必需的列：{}（{}数据标准见 docs/data-standard.md）", zh.join("、"), def.zh),
            format!("missing required columns: {} (see docs/data-standard.md, {})", en.join(", "), def.en),
        );
        return Err(ImportError::Header { file: file.to_string(), reason });
    }
    Ok((mapping, warnings))
}

/// Turns raw records into rows; runs on its own thread, beside the one that writes.
struct Parser {
    def: &'static KindDef,
    headers: Vec<String>,
    mapping: Mapping,
}

/// A problem with one cell: the header as written, the value, the reason.
type Problem = (String, String, Msg);

/// A record after parsing.
enum Parsed {
    Good(Pending),
    Bad { line: u64, cells: Vec<String>, problems: Vec<Problem> },
}

impl Parser {
    fn take(&self, record: RawRecord) -> Parsed {
        if let Some(problem) = record.problem {
            return Parsed::Bad {
                line: record.line,
                cells: record.cells,
                problems: vec![(String::new(), String::new(), problem)],
            };
        }
        match self.parse(&record) {
            Ok(row) => Parsed::Good(Pending { line: record.line, row, cells: record.cells }),
            Err(problems) => Parsed::Bad { line: record.line, cells: record.cells, problems },
        }
    }

    /// Parses one record into a row whose references still hold natural keys.
    fn parse(&self, record: &RawRecord) -> Result<Row, Vec<(String, String, Msg)>> {
        let def = self.def;
        let mut row = vec![Value::Null; def.fields.len()];
        let mut problems = Vec::new();
        for (pos, cell) in record.cells.iter().enumerate() {
            let Some(Some(fi)) = self.mapping.get(pos) else { continue };
            let cell = cell.trim();
            if cell.is_empty() {
                continue;
            }
            let ty = def.fields[*fi].ty;
            match ty.parse(cell) {
                Ok(v) => row[*fi] = v,
                Err(e) => problems.push((self.headers[pos].clone(), cell.to_string(), e.reason)),
            }
        }
        for (fi, field) in def.fields.iter().enumerate() {
            if field.required
                && !field.derived
                && row[fi].is_null()
                && !problems.iter().any(|p| field.matches_header(&p.0))
            {
                let header = self.header_of(fi);
                problems.push((header, String::new(), Msg::new("必填项为空", "required value is empty")));
            }
        }
        if problems.is_empty()
            && let Err((name, e)) = def.derive(&mut row)
        {
            let fi = def.field(name).map(|(i, _)| i).unwrap_or(0);
            problems.push((self.header_of(fi), String::new(), e.reason));
        }
        if problems.is_empty() { Ok(row) } else { Err(problems) }
    }

    fn header_of(&self, field: usize) -> String {
        self.mapping
            .iter()
            .position(|m| *m == Some(field))
            .map(|p| self.headers[p].clone())
            .unwrap_or_else(|| self.def.fields[field].zh.to_string())
    }
}

struct Pending {
    line: u64,
    row: Row,
    cells: Vec<String>,
}

struct Job<'a> {
    def: &'static KindDef,
    parser: &'a Parser,
    store: &'a mut dyn Store,
    file: String,
    run: RunId,
    /// Natural key → id of referenced records, per kind.
    cache: HashMap<Kind, HashMap<String, i64>>,
    pending: Vec<Pending>,
    batch_size: usize,
    errors_out: Option<ErrorsFile>,
    report: ImportReport,
}

const MAX_REPORTED: usize = 200;
const MAX_CACHE: usize = 1_000_000;

impl Job<'_> {
    fn take(&mut self, parsed: Parsed) -> Result<(), ImportError> {
        self.report.rows_read += 1;
        match parsed {
            Parsed::Good(pending) => {
                self.pending.push(pending);
                Ok(())
            }
            Parsed::Bad { line, cells, problems } => self.reject(&line, &cells, problems),
        }
    }

    fn cached(&self, kind: Kind, key: &str) -> Option<i64> {
        self.cache.get(&kind).and_then(|m| m.get(key)).copied()
    }

    fn reject(
        &mut self,
        line: &u64,
        cells: &[String],
        problems: Vec<(String, String, Msg)>,
    ) -> Result<(), ImportError> {
        self.report.rejected += 1;
        if let Some(out) = self.errors_out.as_mut() {
            out.write(cells, &problems)?;
        }
        for (column, value, reason) in problems {
            if self.report.errors.len() < MAX_REPORTED {
                self.report.errors.push(RowError { file: self.file.clone(), line: *line, column, value, reason });
            }
        }
        Ok(())
    }

    fn flush_if_full(&mut self) -> Result<(), ImportError> {
        if self.pending.len() >= self.batch_size { self.flush() } else { Ok(()) }
    }

    /// Resolves the pending rows' references and writes the good ones in one transaction.
    fn flush(&mut self) -> Result<(), ImportError> {
        if self.pending.is_empty() {
            return Ok(());
        }
        if self.cache.values().map(HashMap::len).sum::<usize>() > MAX_CACHE {
            self.cache.clear();
        }
        let pending = std::mem::take(&mut self.pending);
        self.prefetch(&pending)?;
        let mut ready: Vec<Row> = Vec::with_capacity(pending.len());
        for mut p in pending {
            match self.resolve_row(&mut p.row, &mut ready)? {
                Ok(()) => ready.push(p.row),
                Err(problem) => self.reject(&p.line, &p.cells, vec![problem])?,
            }
        }
        self.write(&mut ready)
    }

    fn write(&mut self, ready: &mut Vec<Row>) -> Result<(), ImportError> {
        if !ready.is_empty() {
            self.report.outcome += self.store.write_batch(self.def.kind, ready, Some(self.run))?;
            ready.clear();
        }
        Ok(())
    }

    /// The kind a reference field of `row` points to, if any.
    fn target(&self, row: &Row, ty: FieldType) -> Option<Kind> {
        match ty {
            FieldType::Ref(k) => Some(k),
            FieldType::PolyRef { kind_field } => {
                let (i, f) = self.def.field(kind_field)?;
                let FieldType::Enum(choices) = f.ty else { return None };
                let code = row[i].as_text()?;
                choices.iter().find(|c| c.code == code)?.target
            }
            _ => None,
        }
    }

    /// Looks up, in one query per referenced kind, every key of the batch not yet cached.
    fn prefetch(&mut self, pending: &[Pending]) -> Result<(), ImportError> {
        let mut wanted: HashMap<Kind, Vec<&str>> = HashMap::new();
        for p in pending {
            for (fi, field) in self.def.fields.iter().enumerate() {
                if let (Some(target), Value::Text(key)) = (self.target(&p.row, field.ty), &p.row[fi])
                    && self.cached(target, key).is_none()
                {
                    wanted.entry(target).or_default().push(key);
                }
            }
        }
        for (kind, mut keys) in wanted {
            keys.sort_unstable();
            keys.dedup();
            for (key, id) in self.store.resolve(kind, &keys)? {
                self.cache.entry(kind).or_default().insert(key, id);
            }
        }
        Ok(())
    }

    /// Replaces the natural keys in `row` by ids. A reference to a record of the same kind earlier
    /// in this batch first writes the rows before it.
    fn resolve_row(
        &mut self,
        row: &mut Row,
        ready: &mut Vec<Row>,
    ) -> Result<Result<(), (String, String, Msg)>, ImportError> {
        for (fi, field) in self.def.fields.iter().enumerate() {
            if !field.ty.is_ref() {
                continue;
            }
            let Value::Text(key) = &row[fi] else { continue };
            let key = key.clone();
            let Some(target) = self.target(row, field.ty) else {
                let reason = Msg::new(
                    "该类型的对方不登记编码，请留空并填写名称",
                    "this kind of counterparty has no code: leave it empty",
                );
                return Ok(Err((self.parser.header_of(fi), key, reason)));
            };
            let mut id = self.cached(target, &key);
            if id.is_none() && target == self.def.kind {
                self.write(ready)?;
                if let Some((_, found)) = self.store.resolve(target, &[key.as_str()])?.pop() {
                    self.cache.entry(target).or_default().insert(key.clone(), found);
                    id = Some(found);
                }
            }
            match id {
                Some(id) => row[fi] = Value::Int(id),
                None => {
                    let tdef = target.def();
                    let reason = Msg::new(
                        format!("{}“{}”不存在，请先导入{}", tdef.zh, key, tdef.zh),
                        format!("no {} with code \"{}\": import it first", tdef.en, key),
                    );
                    return Ok(Err((self.parser.header_of(fi), key, reason)));
                }
            }
        }
        Ok(Ok(()))
    }
}

/// The rejected rows, as they were, with the reasons in an extra column, ready to correct and
/// import again (the extra column is ignored on import).
struct ErrorsFile {
    out: csv::Writer<BufWriter<File>>,
    lang: Lang,
    /// The number of columns of the file imported.
    width: usize,
}

impl ErrorsFile {
    fn create(path: &Path, headers: &[String], lang: Lang) -> Result<ErrorsFile, std::io::Error> {
        let mut file = BufWriter::new(File::create(path)?);
        file.write_all("\u{feff}".as_bytes())?; // so that Excel reads it as UTF-8
        // Rows with more cells than the header are written as they were.
        let mut out = csv::WriterBuilder::new().flexible(true).from_writer(file);
        let reason = match lang {
            Lang::Zh => "错误说明",
            Lang::En => "error",
        };
        out.write_record(headers.iter().map(String::as_str).chain([reason]))?;
        Ok(ErrorsFile { out, lang, width: headers.len() })
    }

    fn write(&mut self, cells: &[String], problems: &[(String, String, Msg)]) -> Result<(), std::io::Error> {
        let reasons: Vec<String> = problems
            .iter()
            .map(
                |(col, _, r)| {
                    if col.is_empty() { r.get(self.lang).to_string() } else { format!("{col}: {}", r.get(self.lang)) }
                },
            )
            .collect();
        let joined = reasons.join("; ");
        // A row with fewer cells (or none, like a JSON line that is not an object) is padded, so
        // that the reasons stay in their column.
        let padding = std::iter::repeat_n("", self.width.saturating_sub(cells.len()));
        self.out.write_record(cells.iter().map(String::as_str).chain(padding).chain([joined.as_str()]))?;
        Ok(())
    }

    fn flush(&mut self) -> Result<(), std::io::Error> {
        self.out.flush()
    }
}
