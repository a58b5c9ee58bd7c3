//! Export of any record kind as CSV, XLSX or JSON lines, in the columns the import reads, so that
//! export → import round-trips. Cells that a spreadsheet would run as a formula are defused.

use std::io::Write;

use rust_xlsxwriter::{Format as CellFormat, Workbook, XlsxError};
use shian_domain::field::FieldType;
use shian_domain::{Kind, KindDef, Lang, Value};
use shian_store::{Store, StoreError};

use crate::{Encoding, Format};

/// How to export.
#[derive(Debug, Clone, Copy)]
pub struct ExportOptions {
    pub format: Format,
    /// Language of the headers and of enumerated values.
    pub headers: Lang,
    /// Text encoding of CSV output.
    pub encoding: Encoding,
}

impl Default for ExportOptions {
    fn default() -> Self {
        ExportOptions { format: Format::Csv, headers: Lang::Zh, encoding: Encoding::Utf8 }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("write failed: {0}")]
    Io(#[from] std::io::Error),
    #[error("XLSX: {0}")]
    Xlsx(#[from] XlsxError),
    #[error("CSV: {0}")]
    Csv(#[from] csv::Error),
}

/// The most data rows one XLSX sheet holds; more go on further sheets.
pub const XLSX_ROWS_PER_SHEET: u32 = 1_048_575;

fn is_textual(ty: FieldType) -> bool {
    matches!(
        ty,
        FieldType::Text(_) | FieldType::Code | FieldType::Ref(_) | FieldType::PolyRef { .. } | FieldType::Enum(_)
    )
}

/// A cell as exported, with formula-like text prefixed by an apostrophe (which the import removes).
fn cell(ty: FieldType, v: &Value, lang: Lang) -> String {
    let s = ty.format(v, lang);
    if is_textual(ty) { shian_domain::field::defuse(s) } else { s }
}

fn headers(def: &KindDef, lang: Lang) -> Vec<&'static str> {
    def.fields.iter().map(|f| if lang == Lang::Zh { f.zh } else { f.name }).collect()
}

/// Writes every record of `kind` to `out`; returns the number of records.
pub fn export(store: &dyn Store, kind: Kind, opts: ExportOptions, out: &mut dyn Write) -> Result<u64, ExportError> {
    match opts.format {
        Format::Csv => export_csv(store, kind.def(), opts, out),
        Format::Jsonl => export_jsonl(store, kind.def(), opts, out),
        Format::Xlsx => export_xlsx(store, kind.def(), opts, out),
    }
}

/// Adapts a writer so that what the CSV writer emits is encoded as GB18030.
struct Gb18030<'a> {
    out: &'a mut dyn Write,
    encoder: encoding_rs::Encoder,
    buf: Vec<u8>,
    /// The start of a UTF-8 sequence whose end is still to come.
    tail: Vec<u8>,
}

impl Write for Gb18030<'_> {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        // The CSV writer flushes its buffer when it is full, which may split a character.
        self.tail.extend_from_slice(data);
        let complete = match std::str::from_utf8(&self.tail) {
            Ok(text) => text.len(),
            Err(e) if e.error_len().is_none() => e.valid_up_to(),
            Err(e) => return Err(std::io::Error::other(e)),
        };
        let text = std::str::from_utf8(&self.tail[..complete]).map_err(std::io::Error::other)?;
        self.buf.clear();
        self.buf.reserve(text.len() * 2 + 16);
        let (_, _) = self.encoder.encode_from_utf8_to_vec_without_replacement(text, &mut self.buf, false);
        self.out.write_all(&self.buf)?;
        self.tail.drain(..complete);
        Ok(data.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.out.flush()
    }
}

fn export_csv(store: &dyn Store, def: &KindDef, opts: ExportOptions, out: &mut dyn Write) -> Result<u64, ExportError> {
    let mut sink: Box<dyn Write + '_> = match opts.encoding {
        Encoding::Gb18030 => {
            Box::new(Gb18030 { out, encoder: encoding_rs::GB18030.new_encoder(), buf: Vec::new(), tail: Vec::new() })
        }
        Encoding::Utf8Bom => {
            out.write_all("\u{feff}".as_bytes())?;
            Box::new(out)
        }
        _ => Box::new(out),
    };
    let mut w = csv::WriterBuilder::new().buffer_capacity(1 << 16).from_writer(&mut sink);
    w.write_record(headers(def, opts.headers))?;
    let mut n = 0;
    let mut record = Vec::with_capacity(def.fields.len());
    store.scan(def.kind, &mut |row| {
        record.clear();
        record.extend(def.fields.iter().zip(row).map(|(f, v)| cell(f.ty, v, opts.headers)));
        w.write_record(&record).map_err(|e| StoreError::Invalid(e.to_string()))?;
        n += 1;
        Ok(())
    })?;
    w.flush()?;
    Ok(n)
}

fn json_value(ty: FieldType, v: &Value, lang: Lang) -> serde_json::Value {
    match (ty, v) {
        (_, Value::Null) => serde_json::Value::Null,
        (FieldType::Money | FieldType::DateTime | FieldType::Bool | FieldType::Enum(_), _) => ty.format(v, lang).into(),
        (_, Value::Int(i)) => (*i).into(),
        (_, Value::Real(r)) => (*r).into(),
        (_, Value::Text(s)) => s.clone().into(),
    }
}

fn export_jsonl(
    store: &dyn Store,
    def: &KindDef,
    opts: ExportOptions,
    out: &mut dyn Write,
) -> Result<u64, ExportError> {
    let names = headers(def, opts.headers);
    let mut out = std::io::BufWriter::with_capacity(1 << 16, out);
    let mut n = 0;
    store.scan(def.kind, &mut |row| {
        // Empty fields are written as null, not left out: the import takes its columns from the
        // first line.
        let object: serde_json::Map<String, serde_json::Value> = def
            .fields
            .iter()
            .zip(row)
            .zip(&names)
            .map(|((f, v), name)| (name.to_string(), json_value(f.ty, v, opts.headers)))
            .collect();
        serde_json::to_writer(&mut out, &object).map_err(|e| StoreError::Invalid(e.to_string()))?;
        out.write_all(b"\n").map_err(|e| StoreError::Invalid(e.to_string()))?;
        n += 1;
        Ok(())
    })?;
    out.flush()?;
    Ok(n)
}

fn export_xlsx(store: &dyn Store, def: &KindDef, opts: ExportOptions, out: &mut dyn Write) -> Result<u64, ExportError> {
    let mut book = Workbook::new();
    let bold = CellFormat::new().set_bold();
    let names = headers(def, opts.headers);
    let mut n: u64 = 0;
    let mut r: u32 = XLSX_ROWS_PER_SHEET;
    let mut sheets = 0;
    let mut failure: Option<XlsxError> = None;
    let mut write_row = |book: &mut Workbook, row: &[Value]| -> Result<(), XlsxError> {
        if r == XLSX_ROWS_PER_SHEET {
            sheets += 1;
            let name = if sheets == 1 { def.zh.to_string() } else { format!("{}{}", def.zh, sheets) };
            let sheet = book.add_worksheet_with_constant_memory()?;
            sheet.set_name(name)?.write_row_with_format(0, 0, names.iter().copied(), &bold)?;
            r = 0;
        }
        r += 1;
        let sheet = book.worksheet_from_index(sheets - 1)?;
        for (c, (f, v)) in def.fields.iter().zip(row).enumerate() {
            let c = c as u16;
            match (f.ty, v) {
                (_, Value::Null) => continue,
                (
                    FieldType::Int { .. }
                    | FieldType::Real { .. }
                    | FieldType::Quantity
                    | FieldType::Lon
                    | FieldType::Lat,
                    _,
                ) => sheet.write_number(r, c, v.as_real().unwrap_or(0.0))?,
                _ => sheet.write_string(r, c, f.ty.format(v, opts.headers))?,
            };
        }
        n += 1;
        Ok(())
    };
    store.scan(def.kind, &mut |row| {
        write_row(&mut book, row).map_err(|e| {
            let msg = e.to_string();
            failure = Some(e);
            StoreError::Invalid(msg)
        })
    })?;
    if let Some(e) = failure {
        return Err(e.into());
    }
    if sheets == 0 {
        let sheet = book.add_worksheet();
        sheet.set_name(def.zh)?.write_row_with_format(0, 0, names.iter().copied(), &bold)?;
    }
    out.write_all(&book.save_to_buffer()?)?;
    Ok(n)
}
