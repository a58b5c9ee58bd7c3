//! `shian user`: accounts of the web platform, managed from the command line (the way the first
//! administrator is made).
//!
//! Passwords never travel as arguments (they would stay in the shell history and be visible in
//! the process list): they come from `--password-stdin` or `SHIAN_PASSWORD`, or are generated and
//! shown once. Every change is written to the audit log with the actor `cli:$USER`.

use std::io::BufRead;
use std::process::ExitCode;

use anyhow::{Result, anyhow};
use clap::Subcommand;
use shian_domain::access::Role;
use shian_domain::{Lang, time};
use shian_services::accounts::{self, AccountError, NewAccount};
use shian_store::Store;
use shian_store::accounts::UserRecord;

use super::columns;

/// The environment variable a password may come from.
pub const PASSWORD_ENV: &str = "SHIAN_PASSWORD";

#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Create an account (新建用户); the password comes from --password-stdin or SHIAN_PASSWORD,
    /// or is generated and shown once.
    Add(AddArgs),
    /// List the accounts (用户列表).
    List {
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Disable an account and end its sessions (停用).
    Disable { username: String },
    /// Enable a disabled account (启用).
    Enable { username: String },
    /// Set a new password, unlock the account and end its sessions (重置密码).
    ResetPassword {
        username: String,
        /// Read the new password from the first line of standard input.
        #[arg(long)]
        password_stdin: bool,
    },
    /// Create an API token for a machine client; it is shown once (API 令牌).
    Token {
        username: String,
        /// What the token is for.
        #[arg(long, default_value = "cli")]
        label: String,
    },
}

#[derive(Debug, clap::Args)]
pub struct AddArgs {
    /// User name: 3–40 letters, digits, dots, dashes or underscores.
    pub username: String,
    /// Role code: province_regulator, city_regulator, county_regulator, assigned_official,
    /// market_operator, market_staff, chain_hq, agri_liaison, admin, auditor.
    #[arg(long)]
    pub role: String,
    /// Scope: a region code (city, county regulators, liaison), a market code (official, operator,
    /// staff) or a supermarket HQ's buyer code (chain_hq); none for province-wide roles.
    #[arg(long)]
    pub scope: Option<String>,
    /// Display name (default: the user name).
    #[arg(long)]
    pub name: Option<String>,
    /// Read the password from the first line of standard input.
    #[arg(long)]
    pub password_stdin: bool,
}

/// Runs a `shian user` command.
pub fn run(store: &mut dyn Store, cmd: &UserCommand, lang: Lang) -> Result<ExitCode> {
    let actor = actor();
    match cmd {
        UserCommand::Add(args) => add(store, args, &actor, lang)?,
        UserCommand::List { json } => list(store, *json, lang)?,
        UserCommand::Disable { username } => set_disabled(store, username, true, &actor, lang)?,
        UserCommand::Enable { username } => set_disabled(store, username, false, &actor, lang)?,
        UserCommand::ResetPassword { username, password_stdin } => {
            reset_password(store, username, *password_stdin, &actor, lang)?
        }
        UserCommand::Token { username, label } => token(store, username, label, &actor, lang)?,
    }
    Ok(ExitCode::SUCCESS)
}

/// The audit log's actor: `cli:` and the operating-system user, or `cli`.
pub fn actor() -> String {
    match std::env::var("USER") {
        Ok(user) if !user.is_empty() => format!("cli:{user}"),
        _ => "cli".to_string(),
    }
}

/// An account error as the message for a person, in their language.
fn refused(e: AccountError, lang: Lang) -> anyhow::Error {
    anyhow!(e.message(lang))
}

fn add(store: &mut dyn Store, args: &AddArgs, actor: &str, lang: Lang) -> Result<()> {
    let role = parse_role(&args.role, lang)?;
    let password = password(args.password_stdin, lang)?;
    let display_name = args.name.as_deref().unwrap_or(&args.username);
    let account = NewAccount {
        username: &args.username,
        display_name,
        role,
        scope: args.scope.as_deref(),
        password: password.text(),
    };
    accounts::add_user(store, &account, actor).map_err(|e| refused(e, lang))?;
    let scope = match store.user_by_name(&args.username)? {
        Some(u) => accounts::principal(store, &u).map_err(|e| refused(e, lang))?.scope_label,
        None => String::new(),
    };
    match lang {
        Lang::Zh => println!("已创建用户 {}（{}，{scope}）", args.username, role.label(lang)),
        Lang::En => println!("created user {} ({}, {scope})", args.username, role.label(lang)),
    }
    password.show_if_generated(lang);
    Ok(())
}

/// A role code, or a message listing the codes.
fn parse_role(code: &str, lang: Lang) -> Result<Role> {
    Role::parse(code).ok_or_else(|| {
        let known: Vec<String> = Role::ALL.iter().map(|r| format!("{}（{}）", r.code(), r.label(lang))).collect();
        match lang {
            Lang::Zh => anyhow!("未知角色“{code}”，可用：{}", known.join("、")),
            Lang::En => anyhow!("unknown role {code:?}; one of: {}", known.join(", ")),
        }
    })
}

/// Where a password came from.
enum Password {
    /// From standard input or the environment.
    Given(String),
    /// Generated here: it must be shown (once).
    Generated(String),
}

impl Password {
    fn text(&self) -> &str {
        match self {
            Password::Given(p) | Password::Generated(p) => p,
        }
    }

    /// Prints a generated password; the only time it is ever shown.
    fn show_if_generated(&self, lang: Lang) {
        if let Password::Generated(p) = self {
            match lang {
                Lang::Zh => println!("初始密码（只显示这一次，请妥善转交）：{p}"),
                Lang::En => println!("initial password (shown only this once; hand it over safely): {p}"),
            }
        }
    }
}

/// The password from standard input (`--password-stdin`), else `SHIAN_PASSWORD`, else a new
/// random one.
fn password(from_stdin: bool, lang: Lang) -> Result<Password> {
    if from_stdin {
        return read_stdin_password(lang).map(Password::Given);
    }
    match std::env::var(PASSWORD_ENV) {
        Ok(p) if !p.is_empty() => Ok(Password::Given(p)),
        _ => Ok(Password::Generated(accounts::random_hex(8))),
    }
}

/// The first line of standard input, without its line ending.
fn read_stdin_password(lang: Lang) -> Result<String> {
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line)?;
    let password = line.trim_end_matches(['\r', '\n']);
    if password.is_empty() {
        anyhow::bail!(match lang {
            Lang::Zh => "标准输入中没有密码",
            Lang::En => "no password on standard input",
        });
    }
    Ok(password.to_string())
}

fn set_disabled(store: &mut dyn Store, username: &str, disabled: bool, actor: &str, lang: Lang) -> Result<()> {
    accounts::set_disabled(store, username, disabled, actor).map_err(|e| refused(e, lang))?;
    let done = match (lang, disabled) {
        (Lang::Zh, true) => format!("已停用用户 {username}，其会话已全部结束"),
        (Lang::Zh, false) => format!("已启用用户 {username}"),
        (Lang::En, true) => format!("disabled user {username} and ended its sessions"),
        (Lang::En, false) => format!("enabled user {username}"),
    };
    println!("{done}");
    Ok(())
}

fn reset_password(store: &mut dyn Store, username: &str, from_stdin: bool, actor: &str, lang: Lang) -> Result<()> {
    let password = password(from_stdin, lang)?;
    accounts::reset_password(store, username, password.text(), actor).map_err(|e| refused(e, lang))?;
    match lang {
        Lang::Zh => println!("已重置用户 {username} 的密码，账号已解锁，原有会话已结束"),
        Lang::En => println!("reset the password of {username}, unlocked the account and ended its sessions"),
    }
    password.show_if_generated(lang);
    Ok(())
}

/// Prints the new token alone on standard output (for scripts), the advice on standard error.
fn token(store: &mut dyn Store, username: &str, label: &str, actor: &str, lang: Lang) -> Result<()> {
    let token = accounts::create_token(store, username, label, actor).map_err(|e| refused(e, lang))?;
    println!("{token}");
    match lang {
        Lang::Zh => eprintln!("已为用户 {username} 创建 API 令牌（{label}）；令牌只显示这一次，请妥善保存"),
        Lang::En => {
            eprintln!("created an API token ({label}) for {username}; it is shown only this once, keep it safe")
        }
    }
    Ok(())
}

/// One account as listed.
struct Listed {
    user: UserRecord,
    role: String,
    role_label: String,
    scope_label: String,
    locked: bool,
}

/// An account with its role and scope in words; a role this binary does not know is shown as its
/// code.
fn listed(store: &dyn Store, user: UserRecord, lang: Lang) -> Result<Listed> {
    let (role, role_label, scope_label) = match accounts::principal(store, &user) {
        Ok(p) => (p.role.code().to_string(), p.role.label(lang).to_string(), p.scope_label),
        Err(AccountError::Refused(_)) => (user.role.clone(), user.role.clone(), String::new()),
        Err(e) => return Err(refused(e, lang)),
    };
    let locked = user.locked_until.is_some_and(|t| t > accounts::now());
    Ok(Listed { user, role, role_label, scope_label, locked })
}

fn list(store: &dyn Store, json: bool, lang: Lang) -> Result<()> {
    let users = store.users()?.into_iter().map(|u| listed(store, u, lang)).collect::<Result<Vec<_>>>()?;
    if json {
        let rows: Vec<serde_json::Value> = users.iter().map(to_json).collect();
        println!("{}", serde_json::to_string_pretty(&rows)?);
    } else {
        print!("{}", list_table(&users, lang));
    }
    Ok(())
}

fn to_json(l: &Listed) -> serde_json::Value {
    serde_json::json!({
        "username": l.user.username,
        "display_name": l.user.display_name,
        "role": l.role,
        "role_label": l.role_label,
        "scope_region": l.user.scope_region,
        "scope_label": l.scope_label,
        "disabled": l.user.disabled,
        "locked": l.locked,
        "created_at": time::format_datetime(l.user.created_at),
    })
}

fn list_table(users: &[Listed], lang: Lang) -> String {
    let headers = match lang {
        Lang::Zh => ["用户名", "姓名", "角色", "管辖范围", "停用", "锁定"],
        Lang::En => ["user name", "display name", "role", "scope", "disabled", "locked"],
    };
    let yes_no = |b: bool| {
        match (lang, b) {
            (Lang::Zh, true) => "是",
            (Lang::Zh, false) => "否",
            (Lang::En, true) => "yes",
            (Lang::En, false) => "no",
        }
        .to_string()
    };
    let rows: Vec<Vec<String>> = users
        .iter()
        .map(|l| {
            vec![
                l.user.username.clone(),
                l.user.display_name.clone(),
                l.role_label.clone(),
                l.scope_label.clone(),
                yes_no(l.user.disabled),
                yes_no(l.locked),
            ]
        })
        .collect();
    columns(&headers, &rows)
}
