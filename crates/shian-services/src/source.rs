//! Reading import files safely.
//!
//! A file is read on its own thread and handed over in batches of [`RawRecord`]s, so that parsing
//! and validation overlap with writing. Whatever a file claims to be, memory stays bounded: lines
//! longer than [`MAX_LINE`] are refused, text that is neither UTF-8 nor GB18030 is refused where it
//! goes wrong, and an XLSX whose parts would inflate beyond [`MAX_XLSX_BYTES`] or by more than
//! [`MAX_XLSX_RATIO`] times (a zip bomb) is refused before a byte of it is inflated.

use std::fs::File;
use std::io::{self, BufRead, BufReader, Read};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};

use encoding_rs::{DecoderResult, GB18030, UTF_8};
use shian_domain::Msg;

use crate::{Encoding, Format};

/// The longest line (or CSV record) accepted: 1 MiB.
pub const MAX_LINE: usize = 1 << 20;
/// The most an XLSX file may inflate to, all parts together: 2 GiB.
pub const MAX_XLSX_BYTES: u64 = 2 << 30;
/// The highest compression ratio accepted for any large part of an XLSX file.
pub const MAX_XLSX_RATIO: u64 = 200;
const BATCH: usize = 4096;

/// One record of input: its line (1-based, the header being line 1) and its cells in header order.
#[derive(Debug, Clone, PartialEq)]
pub struct RawRecord {
    pub line: u64,
    pub cells: Vec<String>,
    /// A problem with the record as a whole (e.g. a JSON line that is not an object).
    pub problem: Option<Msg>,
}

/// Why a file could not be read (as opposed to one bad row in it).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{file}{}: {reason}", line.map(|l| format!(":{l}")).unwrap_or_default())]
pub struct SourceError {
    pub file: String,
    pub line: Option<u64>,
    pub reason: Msg,
}

enum Message {
    Headers(Vec<String>, &'static str),
    Rows(Vec<RawRecord>),
    Failed(SourceError),
}

/// An open import file: its headers and a stream of record batches.
pub struct Opened {
    pub headers: Vec<String>,
    /// The text encoding that was used (`UTF-8`, `GB18030`, or `XLSX`).
    pub encoding: &'static str,
    /// File size in bytes.
    pub total_bytes: u64,
    /// Bytes read so far (for progress).
    pub bytes_read: Arc<AtomicU64>,
    rx: Receiver<Message>,
}

impl Opened {
    /// The next batch of records, `None` at the end, or the error that stopped the reading.
    pub fn next_batch(&mut self) -> Option<Result<Vec<RawRecord>, SourceError>> {
        match self.rx.recv().ok()? {
            Message::Rows(rows) => Some(Ok(rows)),
            Message::Failed(e) => Some(Err(e)),
            Message::Headers(..) => self.next_batch(),
        }
    }
}

fn refuse(file: &str, line: Option<u64>, zh: impl Into<String>, en: impl Into<String>) -> SourceError {
    SourceError { file: file.to_string(), line, reason: Msg::new(zh.into(), en.into()) }
}

/// Opens `path` for import. The format comes from `format` or else the file's extension.
pub fn open(path: &Path, format: Option<Format>, encoding: Encoding) -> Result<Opened, SourceError> {
    let name = path.display().to_string();
    let format = format.or_else(|| Format::from_path(path)).ok_or_else(|| {
        refuse(
            &name,
            None,
            "无法判断文件格式，请使用 .csv、.xlsx 或 .jsonl 扩展名",
            "unknown format: use .csv, .xlsx or .jsonl",
        )
    })?;
    let file =
        File::open(path).map_err(|e| refuse(&name, None, format!("无法打开文件：{e}"), format!("cannot open: {e}")))?;
    let total_bytes = file.metadata().map(|m| m.len()).unwrap_or(0);
    let bytes_read = Arc::new(AtomicU64::new(0));
    let (tx, rx) = sync_channel(4);
    let counter = bytes_read.clone();
    match format {
        Format::Csv => {
            let (encoding, head, file) = sniff(&name, file, encoding)?;
            let input = Counting { inner: io::Cursor::new(head).chain(file), count: counter };
            std::thread::spawn(move || read_csv(name, input, encoding, tx));
        }
        Format::Jsonl => {
            let input = Counting { inner: file, count: counter };
            std::thread::spawn(move || read_jsonl(name, input, tx));
        }
        Format::Xlsx => {
            check_zip(&name, file)?;
            let path = path.to_path_buf();
            std::thread::spawn(move || read_xlsx(name, &path, counter, tx));
        }
    }
    match rx.recv() {
        Ok(Message::Headers(headers, encoding)) => Ok(Opened { headers, encoding, total_bytes, bytes_read, rx }),
        Ok(Message::Failed(e)) => Err(e),
        _ => Err(refuse(&path.display().to_string(), None, "文件为空，没有表头", "the file is empty: no header row")),
    }
}

/// Decides the encoding from the first 64 KiB and refuses binary files.
fn sniff(
    name: &str,
    mut file: File,
    wanted: Encoding,
) -> Result<(&'static encoding_rs::Encoding, Vec<u8>, File), SourceError> {
    let mut head = Vec::with_capacity(1 << 16);
    (&mut file).take(1 << 16).read_to_end(&mut head).map_err(|e| refuse(name, None, e.to_string(), e.to_string()))?;
    if head.contains(&0) {
        return Err(refuse(name, None, "这是二进制文件，不是文本（CSV）文件", "this is a binary file, not text (CSV)"));
    }
    let encoding = match wanted {
        Encoding::Utf8 | Encoding::Utf8Bom => UTF_8,
        Encoding::Gb18030 => GB18030,
        Encoding::Auto => match std::str::from_utf8(&head) {
            Ok(_) => UTF_8,
            Err(e) if e.error_len().is_none() => UTF_8, // cut in the middle of a character
            // Text that goes wrong as GB18030 sooner than as UTF-8 is UTF-8 with a bad byte in it.
            Err(e) if gb18030_prefix(&head) < e.valid_up_to() => UTF_8,
            Err(_) => GB18030,
        },
    };
    Ok((encoding, head, file))
}

/// How many bytes at the start of `head` are valid GB18030.
fn gb18030_prefix(head: &[u8]) -> usize {
    let mut decoder = GB18030.new_decoder_without_bom_handling();
    let mut out = vec![0; head.len() * 4 + 16];
    match decoder.decode_to_utf8_without_replacement(head, &mut out, false) {
        (DecoderResult::Malformed(bad, after), read, _) => read.saturating_sub(bad as usize + after as usize),
        _ => head.len(),
    }
}

/// The name of an encoding as reports show it.
fn label(encoding: &'static encoding_rs::Encoding) -> &'static str {
    if encoding == GB18030 { "GB18030" } else { encoding.name() }
}

/// Counts bytes read, for progress.
struct Counting<R> {
    inner: R,
    count: Arc<AtomicU64>,
}

impl<R: Read> Read for Counting<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.count.fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }
}

/// A refusal carried through `io::Error` from the readers below to the thread that reports it.
#[derive(Debug)]
struct Refusal {
    line: u64,
    reason: Msg,
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "line {}: {}", self.line, self.reason.en)
    }
}

impl std::error::Error for Refusal {}

fn refusal(line: u64, zh: String, en: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, Refusal { line, reason: Msg::new(zh, en) })
}

/// Refuses lines longer than [`MAX_LINE`] before they are buffered. In CSV a line break inside a
/// quoted cell does not end the record, so there the limit holds for whole records.
struct LineGuard<R> {
    inner: R,
    line: u64,
    /// The line the current record started on.
    start: u64,
    run: usize,
    /// Where a CSV reader would be in the current record; `None` for input that is not CSV.
    csv: Option<CsvState>,
}

/// Just enough of CSV's grammar to know which line breaks end a record.
#[derive(Debug, Clone, Copy, PartialEq)]
enum CsvState {
    FieldStart,
    Unquoted,
    Quoted,
    QuoteInQuoted,
}

impl CsvState {
    /// The state after byte `b`, and whether `b` ended the record.
    fn next(self, b: u8) -> (CsvState, bool) {
        use CsvState::*;
        match (self, b) {
            (Quoted, b'"') => (QuoteInQuoted, false),
            (Quoted, _) => (Quoted, false),
            (FieldStart | QuoteInQuoted, b'"') => (Quoted, false),
            (_, b',') => (FieldStart, false),
            (_, b'\n') => (FieldStart, true),
            _ => (Unquoted, false),
        }
    }
}

impl<R: Read> Read for LineGuard<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        for &b in &buf[..n] {
            let ends = match self.csv.as_mut() {
                Some(state) => {
                    let (next, ends) = state.next(b);
                    *state = next;
                    ends
                }
                None => b == b'\n',
            };
            if b == b'\n' {
                self.line += 1;
            }
            if ends {
                self.start = self.line;
                self.run = 0;
            } else {
                self.run += 1;
                if self.run > MAX_LINE {
                    return Err(refusal(
                        self.start,
                        format!("第{}行超过{}字节，文件不像是表格数据", self.start, MAX_LINE),
                        format!("line {} is longer than {} bytes: not tabular data", self.start, MAX_LINE),
                    ));
                }
            }
        }
        Ok(n)
    }
}

/// Decodes to UTF-8, refusing malformed input at the line where it occurs.
struct Decoding<R> {
    inner: R,
    decoder: encoding_rs::Decoder,
    name: &'static str,
    input: Vec<u8>,
    start: usize,
    end: usize,
    output: Vec<u8>,
    out_start: usize,
    out_end: usize,
    eof: bool,
    line: u64,
}

impl<R: Read> Decoding<R> {
    fn new(inner: R, encoding: &'static encoding_rs::Encoding) -> Self {
        Decoding {
            inner,
            decoder: encoding.new_decoder(),
            name: label(encoding),
            input: vec![0; 1 << 16],
            start: 0,
            end: 0,
            output: vec![0; 3 << 16],
            out_start: 0,
            out_end: 0,
            eof: false,
            line: 1,
        }
    }
}

impl<R: Read> Read for Decoding<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        while self.out_start == self.out_end {
            if self.eof && self.start == self.end {
                return Ok(0);
            }
            if self.start == self.end && !self.eof {
                self.start = 0;
                self.end = self.inner.read(&mut self.input)?;
                self.eof = self.end == 0;
            }
            let (result, read, written) = self.decoder.decode_to_utf8_without_replacement(
                &self.input[self.start..self.end],
                &mut self.output,
                self.eof,
            );
            self.line += bytecount(&self.output[..written]);
            self.start += read;
            self.out_start = 0;
            self.out_end = written;
            if let DecoderResult::Malformed(..) = result {
                return Err(refusal(
                    self.line,
                    format!("第{}行不是有效的{}文本（文件编码不对？可用 --encoding 指定）", self.line, self.name),
                    format!("line {} is not valid {} text (wrong encoding? see --encoding)", self.line, self.name),
                ));
            }
        }
        let n = buf.len().min(self.out_end - self.out_start);
        buf[..n].copy_from_slice(&self.output[self.out_start..self.out_start + n]);
        self.out_start += n;
        Ok(n)
    }
}

fn bytecount(b: &[u8]) -> u64 {
    b.iter().filter(|&&c| c == b'\n').count() as u64
}

fn io_refusal(name: &str, e: &io::Error) -> SourceError {
    match e.get_ref().and_then(|inner| inner.downcast_ref::<Refusal>()) {
        Some(r) => SourceError { file: name.to_string(), line: Some(r.line), reason: r.reason.clone() },
        None => refuse(name, None, format!("读取失败：{e}"), format!("read failed: {e}")),
    }
}

fn read_csv<R: Read>(name: String, input: R, encoding: &'static encoding_rs::Encoding, tx: SyncSender<Message>) {
    let guarded = LineGuard { inner: input, line: 1, start: 1, run: 0, csv: Some(CsvState::FieldStart) };
    let decoded = Decoding::new(guarded, encoding);
    let mut reader = csv::ReaderBuilder::new().has_headers(false).flexible(true).from_reader(decoded);
    let mut record = csv::StringRecord::new();
    let mut headers: Option<usize> = None;
    let mut batch = Vec::with_capacity(BATCH);
    loop {
        match reader.read_record(&mut record) {
            Ok(false) => break,
            Ok(true) => {}
            Err(e) => {
                let err = match e.kind() {
                    csv::ErrorKind::Io(io) => io_refusal(&name, io),
                    _ => refuse(
                        &name,
                        e.position().map(|p| p.line()),
                        format!("CSV格式错误：{e}"),
                        format!("malformed CSV: {e}"),
                    ),
                };
                let _ = tx.send(Message::Failed(err));
                return;
            }
        }
        let line = record.position().map(|p| p.line()).unwrap_or(0);
        if record.iter().all(|c| c.trim().is_empty()) {
            continue;
        }
        let Some(width) = headers else {
            let h: Vec<String> = record.iter().map(|c| c.trim().to_string()).collect();
            headers = Some(h.len());
            if tx.send(Message::Headers(h, label(encoding))).is_err() {
                return;
            }
            continue;
        };
        let problem = (record.len() != width).then(|| {
            Msg::new(
                format!("列数为{}，与表头的{}列不符", record.len(), width),
                format!("{} cells where the header has {}", record.len(), width),
            )
        });
        batch.push(RawRecord { line, cells: record.iter().map(String::from).collect(), problem });
        if batch.len() == BATCH && tx.send(Message::Rows(std::mem::take(&mut batch))).is_err() {
            return;
        }
    }
    if headers.is_none() {
        return; // dropping tx tells `open` the file had no header
    }
    if !batch.is_empty() {
        let _ = tx.send(Message::Rows(batch));
    }
}

fn json_cell(v: &serde_json::Value) -> Option<String> {
    match v {
        serde_json::Value::Null => Some(String::new()),
        serde_json::Value::String(s) => Some(s.clone()),
        serde_json::Value::Number(n) => Some(n.to_string()),
        serde_json::Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

fn read_jsonl<R: Read>(name: String, input: R, tx: SyncSender<Message>) {
    let guarded = LineGuard { inner: input, line: 1, start: 1, run: 0, csv: None };
    let reader = BufReader::new(Decoding::new(guarded, UTF_8));
    let mut headers: Option<Vec<String>> = None;
    let mut batch = Vec::with_capacity(BATCH);
    for (i, line) in reader.lines().enumerate() {
        let line_no = i as u64 + 1;
        let text = match line {
            Ok(t) => t,
            Err(e) => {
                let _ = tx.send(Message::Failed(io_refusal(&name, &e)));
                return;
            }
        };
        if text.trim().is_empty() {
            continue;
        }
        let object = match serde_json::from_str::<serde_json::Value>(&text) {
            Ok(serde_json::Value::Object(map)) => map,
            Ok(_) | Err(_) => {
                let problem = Some(Msg::new("不是一个JSON对象", "not a JSON object"));
                batch.push(RawRecord { line: line_no, cells: Vec::new(), problem });
                continue;
            }
        };
        let h = headers.get_or_insert_with(|| {
            let h: Vec<String> = object.keys().cloned().collect();
            let _ = tx.send(Message::Headers(h.clone(), "UTF-8"));
            h
        });
        let mut cells = vec![String::new(); h.len()];
        let mut problem = None;
        for (k, v) in &object {
            match (h.iter().position(|x| x == k), json_cell(v)) {
                (Some(p), Some(cell)) => cells[p] = cell,
                (None, _) => {
                    problem = Some(Msg::new(format!("第一行没有的键：{k}"), format!("key not in the first line: {k}")))
                }
                (_, None) => {
                    problem = Some(Msg::new(
                        format!("{k} 的值不能是数组或对象"),
                        format!("{k} must not be an array or object"),
                    ))
                }
            }
        }
        batch.push(RawRecord { line: line_no, cells, problem });
        if batch.len() == BATCH && tx.send(Message::Rows(std::mem::take(&mut batch))).is_err() {
            return;
        }
    }
    if headers.is_some() && !batch.is_empty() {
        let _ = tx.send(Message::Rows(batch));
    }
}

/// Refuses archives that are not XLSX or that would inflate dangerously.
fn check_zip(name: &str, file: File) -> Result<(), SourceError> {
    let not_xlsx = || refuse(name, None, "不是有效的XLSX文件", "not a valid XLSX file");
    let mut zip = zip::ZipArchive::new(file).map_err(|_| not_xlsx())?;
    let mut total = 0u64;
    for i in 0..zip.len() {
        let entry = zip.by_index_raw(i).map_err(|_| not_xlsx())?;
        let (size, packed) = (entry.size(), entry.compressed_size().max(1));
        total = total.saturating_add(size);
        if size > (1 << 20) && size / packed > MAX_XLSX_RATIO {
            return Err(refuse(
                name,
                None,
                format!("XLSX中的 {} 压缩比异常（{}倍），疑似压缩炸弹，已拒绝", entry.name(), size / packed),
                format!("{} inflates {}×: refused as a zip bomb", entry.name(), size / packed),
            ));
        }
    }
    if total > MAX_XLSX_BYTES {
        return Err(refuse(name, None, "XLSX解压后过大，已拒绝", "the XLSX would inflate beyond 2 GiB: refused"));
    }
    if zip.by_name("xl/workbook.xml").is_err() {
        return Err(not_xlsx());
    }
    Ok(())
}

fn xlsx_cell(d: &calamine::DataRef<'_>) -> String {
    use calamine::DataRef as D;
    match d {
        D::Empty => String::new(),
        D::String(s) => s.clone(),
        D::SharedString(s) => s.to_string(),
        D::Float(f) if f.fract() == 0.0 && f.abs() < 1e15 => format!("{}", *f as i64),
        D::Float(f) => format!("{f}"),
        D::Int(i) => i.to_string(),
        D::Bool(b) => b.to_string(),
        D::DateTime(dt) => match dt.as_datetime() {
            Some(t) if t.time() == chrono_midnight() => t.format("%Y-%m-%d").to_string(),
            Some(t) => t.format("%Y-%m-%d %H:%M:%S").to_string(),
            None => dt.to_string(),
        },
        D::DateTimeIso(s) | D::DurationIso(s) => s.clone(),
        D::Error(e) => format!("#{e:?}"),
    }
}

fn chrono_midnight() -> chrono::NaiveTime {
    chrono::NaiveTime::MIN
}

/// Streams the rows of one sheet, cells grouped by row, to `on_row(row index, cells)` until it
/// returns `false`. Returns whether the whole sheet was read.
fn read_sheet<R: Read + io::Seek>(
    book: &mut calamine::Xlsx<R>,
    sheet: &str,
    on_row: &mut dyn FnMut(u32, Vec<String>) -> bool,
) -> Result<bool, String> {
    let mut cells = book.worksheet_cells_reader(sheet).map_err(|e| e.to_string())?;
    let mut current: Option<(u32, Vec<String>)> = None;
    while let Some(cell) = cells.next_cell().map_err(|e| e.to_string())? {
        let (r, c) = cell.get_position();
        if current.as_ref().is_some_and(|(row, _)| *row != r) {
            let (row, done) = current.take().expect("checked");
            if !on_row(row, done) {
                return Ok(false);
            }
        }
        let (_, row) = current.get_or_insert_with(|| (r, Vec::new()));
        if c as usize >= 4096 {
            return Err("more than 4096 columns".into());
        }
        if row.len() <= c as usize {
            row.resize(c as usize + 1, String::new());
        }
        row[c as usize] = xlsx_cell(cell.get_value());
    }
    Ok(current.is_none_or(|(row, done)| on_row(row, done)))
}

/// Reads the first sheet and every further sheet whose header row is the same (an export of more
/// than 1,048,575 rows continues on such sheets); other sheets, e.g. notes, are not read. Line
/// numbers are the row numbers of the sheet a record is on.
fn read_xlsx(name: String, path: &Path, progress: Arc<AtomicU64>, tx: SyncSender<Message>) {
    use calamine::{Reader, Xlsx, open_workbook};
    let fail = |tx: &SyncSender<Message>, e: String| {
        let _ = tx.send(Message::Failed(refuse(
            &name,
            None,
            format!("无法读取XLSX：{e}"),
            format!("cannot read XLSX: {e}"),
        )));
    };
    let mut book: Xlsx<_> = match open_workbook(path) {
        Ok(b) => b,
        Err(e) => return fail(&tx, e.to_string()),
    };
    let sheets = book.sheet_names().to_vec();
    if sheets.is_empty() {
        return fail(&tx, "no sheet".into());
    }
    let mut headers: Option<Vec<String>> = None;
    let mut batch = Vec::with_capacity(BATCH);
    for (i, sheet) in sheets.iter().enumerate() {
        // On a continuation sheet the header row is checked, not read as data.
        let mut header_checked = i == 0;
        let mut stopped = false;
        let mut on_row = |row: u32, cells: Vec<String>| -> bool {
            if cells.iter().all(|c| c.trim().is_empty()) {
                return true;
            }
            let trimmed = || cells.iter().map(|c| c.trim().to_string()).collect::<Vec<_>>();
            let Some(h) = headers.as_ref() else {
                let h = trimmed();
                headers = Some(h.clone());
                return tx.send(Message::Headers(h, "XLSX")).is_ok();
            };
            if !header_checked {
                header_checked = true;
                let named = |v: &[String]| v.iter().rposition(|c| !c.is_empty()).map_or(0, |p| p + 1);
                let t = trimmed();
                return t[..named(&t)] == h[..named(h)]; // a sheet with other headers is not data
            }
            let width = h.len();
            let mut cells = cells;
            let problem = (cells.len() > width && cells[width..].iter().any(|c| !c.is_empty()))
                .then(|| Msg::new("表头以外的列有数据", "cells beyond the header's columns"));
            cells.resize(width, String::new());
            batch.push(RawRecord { line: row as u64 + 1, cells, problem });
            progress.fetch_add(1, Ordering::Relaxed);
            if batch.len() == BATCH && tx.send(Message::Rows(std::mem::take(&mut batch))).is_err() {
                stopped = true;
                return false;
            }
            true
        };
        if let Err(e) = read_sheet(&mut book, sheet, &mut on_row) {
            return fail(&tx, e);
        }
        if stopped {
            return;
        }
    }
    if headers.is_some() && !batch.is_empty() {
        let _ = tx.send(Message::Rows(batch));
    }
}
