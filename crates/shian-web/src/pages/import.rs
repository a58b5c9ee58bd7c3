//! 数据导入: uploading a file of one record kind — CSV (UTF-8 or GB18030), XLSX or JSON lines —
//! into the store through `shian_services::import`, as `shian import` does on the command line.
//!
//! `POST /import` (multipart: `csrf`, `kind`, `file`) saves the upload to a private temporary
//! directory and starts a job ([`jobs`]) that imports it on a blocking thread, then answers with a
//! redirect to the job's page, `/import/job/{id}`: its result, or its progress while it runs (the
//! request waits a little first, so a small file shows its result at once). The result lists the
//! counts, the first rejected rows with their line, column, value and reason, and offers all
//! rejected rows as a CSV to correct and upload again (`/import/rejected/{id}`). Jobs and their
//! files belong to the user who uploaded them; anyone else gets "not found".
//!
//! Only roles that may write import, and a scoped user only rows within their scope
//! ([`scope`]); every import is written to the audit log, and a successful one makes the
//! dashboard's figures be computed afresh.

mod jobs;
mod scope;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use askama::Template;
use axum::extract::multipart::{Field, MultipartError, MultipartRejection};
use axum::extract::{ConnectInfo, Multipart, Path as UrlPath, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::{Extension, Router};
use shian_domain::{Kind, Lang};
use shian_services::Format;
use shian_services::accounts::{Principal, random_hex};

use super::render;
use super::trace::attachment;
use super::view::{field_label, kind_label};
use crate::AppState;
use crate::auth::{Auth, Ctx};
use crate::error::AppError;
use jobs::{Job, NewJob, Phase, Summary, Uploads};

/// How long an upload's request waits for its import before showing the progress page.
const WAIT_FOR_RESULT: Duration = Duration::from_secs(20);

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/import", get(form).post(upload))
        .route("/import/job/{id}", get(job_page))
        .route("/import/rejected/{id}", get(rejected))
        .layer(Extension(Arc::new(Uploads::default())))
}

/// A user who may import, or 403.
fn importer(user: &Principal) -> Result<(), AppError> {
    if user.role.may_write() { Ok(()) } else { Err(AppError::forbidden()) }
}

/// The kinds a user may import, in the order references need them.
fn kinds(user: &Principal) -> Vec<Kind> {
    Kind::ALL.into_iter().filter(|k| scope::may_import(user, *k)).collect()
}

struct KindOption {
    name: &'static str,
    label: &'static str,
    required: String,
    /// For a scoped user: the columns that place a row within the scope.
    placed_by: String,
    selected: bool,
}

#[derive(Template)]
#[template(path = "import.html")]
struct ImportPage {
    ctx: Ctx,
    kinds: Vec<KindOption>,
    scope_note: Option<String>,
    max_mib: usize,
}

/// `GET /import`: the upload form.
async fn form(Auth(user, ctx): Auth, query: axum::extract::Query<KindQuery>) -> Result<Response, AppError> {
    importer(&user)?;
    let lang = ctx.lang;
    let kinds = kinds(&user)
        .into_iter()
        .map(|k| {
            let def = k.def();
            let required: Vec<String> =
                def.fields.iter().filter(|f| f.required && !f.derived).map(|f| field_label(f, lang)).collect();
            KindOption {
                name: def.name,
                label: kind_label(k, lang),
                required: required.join(if lang == Lang::Zh { "、" } else { ", " }),
                placed_by: scope::placed_by(k, &user.scope, lang),
                selected: query.kind == def.name,
            }
        })
        .collect();
    let scope_note = (user.scope != shian_domain::access::Scope::All).then(|| match lang {
        Lang::Zh => format!(
            "您只能导入管辖范围（{}）内的记录：范围以外的行不会写入，并在结果中逐行说明原因。",
            user.scope_label
        ),
        Lang::En => format!(
            "You may import records within your scope ({}) only: rows outside it are not written, and the \
             result says why, row by row.",
            user.scope_label
        ),
    });
    render(&ImportPage { ctx, kinds, scope_note, max_mib: crate::MAX_UPLOAD_BYTES >> 20 })
}

#[derive(Debug, Default, serde::Deserialize)]
#[serde(default)]
struct KindQuery {
    kind: String,
}

/// The fields of the upload form.
#[derive(Debug, Default)]
struct UploadForm {
    csrf: String,
    kind: String,
    file: Option<Saved>,
}

/// The uploaded file, saved.
#[derive(Debug)]
struct Saved {
    name: String,
    bytes: u64,
    /// The first bytes, to recognise the format of a file without a known extension.
    head: Vec<u8>,
}

fn upload_error(e: MultipartError) -> AppError {
    if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
        let mib = crate::MAX_UPLOAD_BYTES >> 20;
        return AppError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "too_large",
            format!("文件超过 {mib} MiB 的上限，请拆分后分批导入"),
            format!("the file is larger than {mib} MiB: split it and import the parts"),
        );
    }
    let text = e.body_text();
    AppError::new(e.status(), "upload", format!("上传失败：{text}"), format!("upload failed: {text}"))
}

/// Reads the form, streaming the file to `path`.
async fn read_form(multipart: &mut Multipart, path: &Path) -> Result<UploadForm, AppError> {
    let mut form = UploadForm::default();
    while let Some(mut field) = multipart.next_field().await.map_err(upload_error)? {
        match field.name().unwrap_or_default() {
            "csrf" => form.csrf = small_text(&mut field).await?,
            "kind" => form.kind = small_text(&mut field).await?,
            "file" if form.file.is_none() => form.file = Some(save(&mut field, path).await?),
            _ => {}
        }
    }
    Ok(form)
}

/// A short text field of the form (at most 4 KiB: it is read into memory).
async fn small_text(field: &mut Field<'_>) -> Result<String, AppError> {
    let mut buf = Vec::new();
    while let Some(chunk) = field.chunk().await.map_err(upload_error)? {
        buf.extend_from_slice(&chunk);
        if buf.len() > 4096 {
            return Err(AppError::bad_request("表单字段过长", "a form field is too long"));
        }
    }
    String::from_utf8(buf)
        .map_err(|_| AppError::bad_request("表单字段不是 UTF-8 文本", "a form field is not UTF-8 text"))
}

async fn save(field: &mut Field<'_>, path: &Path) -> Result<Saved, AppError> {
    use std::io::Write;
    let name = clean_name(field.file_name().unwrap_or_default());
    let mut out = std::io::BufWriter::new(std::fs::File::create(path).map_err(AppError::internal)?);
    let (mut bytes, mut head) = (0u64, Vec::new());
    while let Some(chunk) = field.chunk().await.map_err(upload_error)? {
        head.extend(chunk.iter().take(8usize.saturating_sub(head.len())));
        out.write_all(&chunk).map_err(AppError::internal)?;
        bytes += chunk.len() as u64;
    }
    out.flush().map_err(AppError::internal)?;
    Ok(Saved { name, bytes, head })
}

/// The file's own name, without the folders some browsers send, control characters or excess.
fn clean_name(name: &str) -> String {
    let base = name.rsplit(['/', '\\']).next().unwrap_or_default();
    base.chars().filter(|c| !c.is_control()).take(120).collect::<String>().trim().to_string()
}

/// The format by the file's extension, or else by its first bytes.
fn format_of(saved: &Saved) -> Result<Format, AppError> {
    let ext = Path::new(&saved.name).extension().and_then(|e| e.to_str()).unwrap_or_default().to_ascii_lowercase();
    if ext == "xls" {
        return Err(AppError::bad_request(
            "不支持旧版 Excel（.xls）文件，请在 Excel 中另存为 .xlsx 或 CSV 后再导入",
            "old Excel (.xls) files are not read: save the file as .xlsx or CSV and import that",
        ));
    }
    if let Some(f) = Format::from_path(Path::new(&saved.name)) {
        return Ok(f);
    }
    Ok(if saved.head.starts_with(b"PK\x03\x04") {
        Format::Xlsx
    } else if saved.head.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'{') {
        Format::Jsonl
    } else {
        Format::Csv
    })
}

/// `POST /import`: saves the upload, starts its import, and redirects to the job's page.
async fn upload(
    State(state): State<AppState>,
    ConnectInfo(addr): ConnectInfo<std::net::SocketAddr>,
    Extension(uploads): Extension<Arc<Uploads>>,
    Auth(user, ctx): Auth,
    multipart: Result<Multipart, MultipartRejection>,
) -> Result<Response, AppError> {
    importer(&user)?;
    let mut multipart = multipart.map_err(|e| {
        AppError::bad_request(format!("请通过导入表单上传文件（{e}）"), format!("upload through the import form ({e})"))
    })?;
    let id = random_hex(16);
    let path = uploads.dir().map_err(AppError::internal)?.join(format!("{id}.upload"));
    let started = match read_form(&mut multipart, &path).await {
        Ok(form) => start(&ctx, &user, form, id, path.clone()),
        Err(e) => Err(e),
    };
    let job = match started {
        Ok(job) => Arc::new(job),
        Err(e) => {
            let _ = std::fs::remove_file(&path);
            return Err(e);
        }
    };
    uploads.insert(Arc::clone(&job));
    let client = addr.ip().to_string();
    tokio::spawn(jobs::run(state, Arc::clone(&job), user, client));
    job.wait(WAIT_FOR_RESULT).await;
    Ok(Redirect::to(&format!("/import/job/{}", job.id)).into_response())
}

/// Checks the form and makes the job.
fn start(ctx: &Ctx, user: &Principal, form: UploadForm, id: String, upload: PathBuf) -> Result<Job, AppError> {
    ctx.check_csrf(&form.csrf)?;
    let kind = Kind::parse(&form.kind).filter(|k| scope::may_import(user, *k)).ok_or_else(|| {
        AppError::bad_request(
            format!("请选择您可以导入的记录类型（“{}”不可导入）", form.kind),
            format!("choose a kind of record you may import ({:?} is not one)", form.kind),
        )
    })?;
    let saved = form.file.filter(|f| f.bytes > 0).ok_or_else(|| {
        AppError::bad_request("请选择要导入的文件（文件不能为空）", "choose a file to import (it must not be empty)")
    })?;
    let format = format_of(&saved)?;
    let file_name = if saved.name.is_empty() { format!("upload.{}", format.extension()) } else { saved.name };
    Ok(Job::new(NewJob { id, owner: user.id, kind, format, file_name, lang: ctx.lang, upload }))
}

struct ProgressView {
    phase: &'static str,
    percent: Option<u64>,
    rows: u64,
}

struct SummaryView {
    encoding: &'static str,
    run: i64,
    read: u64,
    inserted: u64,
    updated: u64,
    unchanged: u64,
    rejected: u64,
    outside: u64,
    warnings: Vec<String>,
    errors: Vec<ErrorView>,
    more: bool,
    rejected_href: Option<String>,
}

struct ErrorView {
    line: u64,
    column: String,
    value: String,
    reason: String,
}

#[derive(Template)]
#[template(path = "import_result.html")]
struct ResultPage {
    ctx: Ctx,
    file_name: String,
    kind_label: String,
    kind_name: String,
    running: Option<ProgressView>,
    failed: Option<String>,
    summary: Option<SummaryView>,
}

fn summary_view(job: &Job, s: &Summary, lang: Lang) -> SummaryView {
    let errors: Vec<ErrorView> = s
        .errors
        .iter()
        .map(|e| ErrorView {
            line: e.line,
            column: e.column.clone(),
            value: e.value.chars().take(80).collect(),
            reason: e.reason.get(lang).to_string(),
        })
        .collect();
    let rows_listed: std::collections::HashSet<u64> = s.errors.iter().map(|e| e.line).collect();
    SummaryView {
        encoding: s.encoding,
        run: s.run,
        read: s.read,
        inserted: s.inserted,
        updated: s.updated,
        unchanged: s.unchanged,
        rejected: s.rejected,
        outside: s.outside,
        warnings: s.warnings.iter().map(|w| w.get(lang).to_string()).collect(),
        more: (rows_listed.len() as u64) < s.rejected,
        errors,
        rejected_href: job.has_rejected_file().then(|| format!("/import/rejected/{}", job.id)),
    }
}

fn progress_view(job: &Job, ctx: &Ctx) -> ProgressView {
    let (phase, percent, rows) = job.meter.read();
    let phase = match phase {
        Phase::Waiting => ctx.t("等待开始", "waiting to start"),
        Phase::Checking => ctx.t("正在核对管辖范围", "checking the scope of each row"),
        Phase::Importing => ctx.t("正在导入", "importing"),
    };
    ProgressView { phase, percent, rows }
}

/// `GET /import/job/{id}`: the result of an import, or its progress (the page reloads itself).
async fn job_page(
    Extension(uploads): Extension<Arc<Uploads>>,
    Auth(user, ctx): Auth,
    UrlPath(id): UrlPath<String>,
) -> Result<Response, AppError> {
    let job = uploads.get(&id, user.id).ok_or_else(AppError::not_found)?;
    let lang = ctx.lang;
    let mut page = ResultPage {
        file_name: job.file_name.clone(),
        kind_label: kind_label(job.kind, lang).to_string(),
        kind_name: job.kind.name().to_string(),
        running: None,
        failed: None,
        summary: None,
        ctx,
    };
    match job.outcome() {
        None => page.running = Some(progress_view(&job, &page.ctx)),
        Some(Ok(s)) => page.summary = Some(summary_view(&job, &s, lang)),
        Some(Err(m)) => page.failed = Some(m.get(lang).to_string()),
    }
    let mut response = render(&page)?;
    response.headers_mut().insert(header::CACHE_CONTROL, header::HeaderValue::from_static("no-store"));
    Ok(response)
}

/// `GET /import/rejected/{id}`: the rejected rows with their reasons, as CSV.
async fn rejected(
    Extension(uploads): Extension<Arc<Uploads>>,
    Auth(user, ctx): Auth,
    UrlPath(id): UrlPath<String>,
) -> Result<Response, AppError> {
    let job = uploads.get(&id, user.id).filter(|j| j.has_rejected_file()).ok_or_else(AppError::not_found)?;
    let path = job.rejected.clone();
    let body = tokio::task::spawn_blocking(move || std::fs::read(path))
        .await
        .map_err(AppError::internal)?
        .map_err(|_| AppError::not_found())?;
    let stem = Path::new(&job.file_name).file_stem().and_then(|s| s.to_str()).unwrap_or("import");
    let name = format!("{stem}-{}.csv", ctx.t("被拒绝的行", "rejected-rows"));
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_string()),
            (header::CONTENT_DISPOSITION, attachment(&name)),
            (header::CACHE_CONTROL, "no-store".to_string()),
        ],
        body,
    )
        .into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn saved(name: &str, head: &[u8]) -> Saved {
        Saved { name: name.into(), bytes: 10, head: head.to_vec() }
    }

    #[test]
    fn formats_come_from_the_extension_or_the_first_bytes() {
        assert_eq!(format_of(&saved("a.XLSX", b"")).ok(), Some(Format::Xlsx));
        assert_eq!(format_of(&saved("a.csv", b"PK\x03\x04")).ok(), Some(Format::Csv));
        assert_eq!(format_of(&saved("data", b"PK\x03\x04")).ok(), Some(Format::Xlsx));
        assert_eq!(format_of(&saved("data", b"  {\"a\"")).ok(), Some(Format::Jsonl));
        assert_eq!(format_of(&saved("data", "销售者".as_bytes())).ok(), Some(Format::Csv));
        assert!(format_of(&saved("old.xls", b"")).is_err());
    }

    fn page(running: Option<ProgressView>, failed: Option<String>) -> ResultPage {
        let ctx =
            Ctx { lang: Lang::Zh, user: None, csrf: String::new(), path: "/import/job/x".into(), via_token: false };
        let (file_name, kind_label, kind_name) = ("v.csv".into(), "入场销售者".into(), "vendor".into());
        ResultPage { ctx, file_name, kind_label, kind_name, running, failed, summary: None }
    }

    #[test]
    fn a_running_job_shows_its_progress_and_reloads_itself() {
        let upload = PathBuf::from("/nonexistent/x.upload");
        let (kind, format, lang) = (Kind::Vendor, Format::Csv, Lang::Zh);
        let job = Job::new(NewJob { id: "x".into(), owner: 1, kind, format, file_name: "v.csv".into(), lang, upload });
        job.meter.set_phase(Phase::Importing);
        job.meter.update_counts(50, 200, 1234);
        let html = page(Some(progress_view(&job, &page(None, None).ctx)), None).render().expect("renders");
        assert!(html.contains("http-equiv=\"refresh\""), "{html}");
        assert!(html.contains("value=\"25\"") && html.contains("1234") && html.contains("正在导入"), "{html}");
        let failed = page(None, Some("第 3 行：坏".into())).render().expect("renders");
        assert!(failed.contains("id=\"import-failed\"") && !failed.contains("refresh"), "{failed}");
    }

    #[test]
    fn file_names_lose_their_folders_and_control_characters() {
        assert_eq!(clean_name("C:\\Users\\a\\销货.xlsx"), "销货.xlsx");
        assert_eq!(clean_name("../../etc/passwd"), "passwd");
        assert_eq!(clean_name("a\r\nb.csv"), "ab.csv");
    }
}
