//! `shian user`, `shian demo`'s accounts and `shian serve`'s ready line.

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use shian_services::accounts;
use shian_store::Store;

use crate::support::*;

/// `shian --db URL ARGS` without a password in the environment and with a known OS user.
fn user_cmd(db: &Db, args: &[&str]) -> Command {
    let mut cmd = db.command(args);
    cmd.env_remove("SHIAN_PASSWORD").env("USER", "tester");
    cmd
}

fn run(db: &Db, args: &[&str]) -> Out {
    Out::of(args, user_cmd(db, args).output().unwrap())
}

/// Runs with `SHIAN_PASSWORD` set.
fn run_with_password(db: &Db, args: &[&str], password: &str) -> Out {
    Out::of(args, user_cmd(db, args).env("SHIAN_PASSWORD", password).output().unwrap())
}

/// Runs with `input` on standard input.
fn run_with_stdin(db: &Db, args: &[&str], input: &str) -> Out {
    let mut child =
        user_cmd(db, args).stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    child.stdin.take().unwrap().write_all(input.as_bytes()).unwrap();
    Out::of(args, child.wait_with_output().unwrap())
}

fn store(db: &Db) -> Box<dyn Store> {
    shian_store::open(&db.url()).unwrap()
}

/// Whether a user name and password sign in.
fn logs_in(db: &Db, username: &str, password: &str) -> bool {
    accounts::login(store(db).as_mut(), username, password, "test").is_ok()
}

/// `shian user list --json`.
fn list(db: &Db) -> Vec<serde_json::Value> {
    let out = run(db, &["user", "list", "--json"]);
    out.ok();
    serde_json::from_str(&out.stdout).unwrap_or_else(|e| panic!("user list --json: {e}: {}", out.stdout))
}

fn listed<'a>(users: &'a [serde_json::Value], name: &str) -> &'a serde_json::Value {
    users.iter().find(|u| u["username"] == name).unwrap_or_else(|| panic!("{name} is not listed: {users:?}"))
}

#[test]
fn an_added_user_is_listed_disabled_enabled_and_given_a_new_password() {
    let db = Db::copy_of_fixture();
    let out = run_with_password(
        &db,
        &["user", "add", "alice", "--role", "county_regulator", "--scope", "130102", "--name", "张三"],
        "first-password-1",
    );
    out.ok();
    assert!(out.stdout.contains("已创建用户 alice（县级监管人员，石家庄市长安区）"), "{}", out.stdout);
    assert!(!out.stdout.contains("初始密码"), "a given password is not printed: {}", out.stdout);
    assert!(logs_in(&db, "alice", "first-password-1"));

    let table = run(&db, &["user", "list"]);
    table.ok();
    let line = table.stdout.lines().find(|l| l.starts_with("alice")).expect("alice in the table");
    for cell in ["张三", "县级监管人员", "石家庄市长安区"] {
        assert!(line.contains(cell), "{cell} missing from {line:?}");
    }
    let users = list(&db);
    let alice = listed(&users, "alice");
    assert_eq!(alice["role"], "county_regulator");
    assert_eq!(alice["scope_label"], "石家庄市长安区");
    assert_eq!(alice["disabled"], false);

    run(&db, &["user", "disable", "alice"]).ok();
    assert_eq!(listed(&list(&db), "alice")["disabled"], true);
    assert!(!logs_in(&db, "alice", "first-password-1"), "a disabled account cannot sign in");
    run(&db, &["user", "enable", "alice"]).ok();
    assert_eq!(listed(&list(&db), "alice")["disabled"], false);

    let out = run_with_stdin(&db, &["user", "reset-password", "alice", "--password-stdin"], "second-password-2\n");
    out.ok();
    assert!(out.stdout.contains("已重置用户 alice 的密码"), "{}", out.stdout);
    assert!(logs_in(&db, "alice", "second-password-2"), "the line read from stdin, without its newline");
    assert!(!logs_in(&db, "alice", "first-password-1"));

    let audit = store(&db).audit_log(Some("cli:tester"), None, 100).unwrap();
    let actions: Vec<&str> = audit.iter().rev().map(|a| a.action.as_str()).collect();
    assert_eq!(actions, ["user.add", "user.disable", "user.enable", "user.reset_password"]);
}

#[test]
fn wrong_roles_scopes_and_passwords_are_refused_in_chinese() {
    let db = Db::copy_of_fixture();
    let cases: [(&[&str], &str); 6] = [
        (&["user", "add", "bob", "--role", "root"], "未知角色“root”"),
        (&["user", "add", "bob", "--role", "county_regulator"], "需要指定管辖范围"),
        (&["user", "add", "bob", "--role", "city_regulator", "--scope", "130102"], "不是地级市代码"),
        (&["user", "add", "bob", "--role", "market_operator", "--scope", "NO-SUCH"], "找不到市场“NO-SUCH”"),
        (&["user", "add", "b", "--role", "admin"], "用户名须为"),
        (&["user", "disable", "nobody"], "找不到用户“nobody”"),
    ];
    for (args, message) in cases {
        let out = run_with_password(&db, args, "long-enough-password");
        out.code(1);
        assert!(out.stderr.contains(message), "`shian {}`: expected {message:?} in {}", out.args, out.stderr);
    }
    let short = run_with_password(&db, &["user", "add", "bob", "--role", "admin"], "short");
    short.code(1);
    assert!(short.stderr.contains("密码至少需要"), "{}", short.stderr);
    let empty = run_with_stdin(&db, &["user", "add", "bob", "--role", "admin", "--password-stdin"], "");
    empty.code(1);
    assert!(empty.stderr.contains("标准输入中没有密码"), "{}", empty.stderr);
    let en = run(&db, &["--lang", "en", "user", "add", "bob", "--role", "root"]);
    en.code(1);
    assert!(en.stderr.contains("unknown role \"root\""), "{}", en.stderr);
    assert!(list(&db).is_empty(), "nothing was created");
    let missing = Db::fresh();
    let out = run(&missing, &["user", "list"]);
    out.code(1);
    assert!(out.stderr.contains("不存在"), "{}", out.stderr);
    assert!(!missing.path.exists(), "user commands do not create a database");
}

#[test]
fn a_generated_password_and_a_token_are_shown_once() {
    let db = Db::copy_of_fixture();
    let out = run(&db, &["user", "add", "carol", "--role", "admin"]);
    out.ok();
    let line = out.stdout.lines().find(|l| l.starts_with("初始密码")).expect("the generated password is printed");
    let password = line.rsplit('：').next().unwrap();
    assert_eq!(password.len(), 16, "{line}");
    assert!(logs_in(&db, "carol", password));

    let out = run(&db, &["user", "token", "carol", "--label", "nightly export"]);
    out.ok();
    let tokens: Vec<&str> = out.stdout.lines().filter(|l| l.starts_with("shian_")).collect();
    assert_eq!(tokens.len(), 1, "one token on stdout: {}", out.stdout);
    assert_eq!(out.stdout.trim(), tokens[0], "stdout holds the token alone");
    assert!(out.stderr.contains("只显示这一次"), "{}", out.stderr);
    let principal = accounts::token_principal(store(&db).as_ref(), tokens[0]).unwrap().expect("the token works");
    assert_eq!(principal.username, "carol");
    let again = run(&db, &["user", "list"]);
    assert!(!again.stdout.contains(tokens[0]) && !again.stdout.contains(password), "secrets are never shown again");
}

#[test]
fn the_demo_makes_its_ten_accounts_once() {
    let db = Db::fresh();
    let first = db.run_en(&["demo", "--scale", "small", "--no-serve"]);
    first.ok();
    assert!(first.stdout.contains("demo accounts: 10 created, 0 existing"), "{}", first.stdout);
    assert!(first.stdout.contains("shian-demo-2026"), "the demo password is shown: {}", first.stdout);
    assert!(first.stdout.contains("not serving (--no-serve)"), "{}", first.stdout);
    let users = list(&db);
    let names: Vec<&str> = users.iter().filter_map(|u| u["username"].as_str()).collect();
    let expected =
        ["admin", "province", "city", "county", "official", "operator", "staff", "chain", "liaison", "auditor"];
    let mut sorted = names.clone();
    sorted.sort_unstable();
    let mut expected_sorted = expected.to_vec();
    expected_sorted.sort_unstable();
    assert_eq!(sorted, expected_sorted);
    assert!(logs_in(&db, "admin", "shian-demo-2026"));
    assert!(logs_in(&db, "operator", "shian-demo-2026"), "a market-scoped account signs in");
    for (name, role) in [("official", "assigned_official"), ("chain", "chain_hq"), ("liaison", "agri_liaison")] {
        assert_eq!(listed(&users, name)["role"], role);
    }
    let city = listed(&users, "city")["scope_label"].as_str().unwrap().to_string();
    assert!(city.ends_with('市'), "the city regulator's scope is a city: {city}");
    assert_eq!(listed(&users, "liaison")["scope_label"], city.as_str());
    let county = listed(&users, "county")["scope_label"].as_str().unwrap();
    assert!(county.starts_with(&city) && county.len() > city.len(), "the county lies in the city: {county}");
    assert_eq!(listed(&users, "official")["scope_label"], listed(&users, "operator")["scope_label"]);
    for name in ["operator", "chain"] {
        let label = listed(&users, name)["scope_label"].as_str().unwrap();
        assert!(!label.is_empty(), "{name} is scoped to a named market or enterprise");
    }
    assert_eq!(listed(&users, "province")["scope_label"], "河北省");
    assert_eq!(store(&db).audit_log(Some("demo"), None, 100).unwrap().len(), 10);

    run(&db, &["user", "disable", "staff"]).ok();
    let second = db.run(&["demo", "--no-serve"]);
    second.ok();
    assert!(second.stdout.contains("演示账号：新建 0 个，已有 10 个"), "{}", second.stdout);
    assert!(second.stdout.contains("已存在"), "the existing province is summarised: {}", second.stdout);
    let again = list(&db);
    assert_eq!(again, {
        let mut users = users;
        for u in &mut users {
            if u["username"] == "staff" {
                u["disabled"] = true.into();
            }
        }
        users
    });
}

/// A child process killed when the test ends, however it ends.
struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn serve_prints_its_address_once_ready_and_refuses_a_missing_database() {
    let db = Db::copy_of_fixture();
    let child = user_cmd(&db, &["serve", "--listen", "127.0.0.1:0"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut child = Killed(child);
    let stdout = child.0.stdout.take().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut line = String::new();
        let _ = BufReader::new(stdout).read_line(&mut line);
        let _ = tx.send(line);
    });
    let line = rx.recv_timeout(Duration::from_secs(120)).expect("the ready line within two minutes");
    let url = line.trim_end().strip_prefix("食安平台已启动：").unwrap_or_else(|| panic!("ready line: {line:?}"));
    let addr: std::net::SocketAddr = url
        .strip_prefix("http://")
        .and_then(|s| s.strip_suffix('/'))
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no address in {url:?}"));
    assert_ne!(addr.port(), 0, "the port actually bound");
    assert!(std::net::TcpStream::connect(addr).is_ok(), "something listens on {addr}");
    drop(child);

    let missing = Db::fresh();
    let out = run(&missing, &["serve", "--listen", "127.0.0.1:0"]);
    out.code(1);
    assert!(out.stderr.contains("不存在"), "{}", out.stderr);
    assert!(!missing.path.exists(), "serve does not create a database");
}
