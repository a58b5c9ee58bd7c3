//! Delivery of the outbox to real sockets: a webhook receiver that fails twice and then accepts,
//! across a restart of the worker; the SMS gateway gets the market roster's phone numbers; mail
//! reaches a small SMTP server; a receiver that never answers well is given up after the last
//! attempt and the message stays in the outbox with its error.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};

use shian_services::supervision::NotifyConfig;
use shian_services::supervision::deliver::{Backoff, Deliverer, MAX_ATTEMPTS, deliver_due};
use shian_services::supervision::dispatch::run_once;
use shian_store::supervision::Supervision;

use crate::supervision::{HOUR, Province, T0, all_entries};

/// What a receiver was sent: the request head and body.
#[derive(Debug, Clone)]
struct Received {
    head: String,
    body: String,
}

/// A tiny HTTP server on a thread: answers the n-th request with `statuses[n]` (then 200).
struct Receiver {
    url: String,
    got: Arc<Mutex<Vec<Received>>>,
}

fn read_request(stream: &mut TcpStream) -> Option<Received> {
    let mut reader = BufReader::new(stream.try_clone().ok()?);
    let mut head = String::new();
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).ok()? == 0 {
            return None;
        }
        if line == "\r\n" {
            break;
        }
        head += &line;
    }
    let length = head
        .lines()
        .find_map(|l| l.to_ascii_lowercase().strip_prefix("content-length:").map(|v| v.trim().parse().unwrap_or(0)))
        .unwrap_or(0);
    let mut body = vec![0; length];
    reader.read_exact(&mut body).ok()?;
    Some(Received { head, body: String::from_utf8_lossy(&body).into_owned() })
}

fn receiver(statuses: &[u16]) -> Receiver {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let url = format!("http://{}/hook", listener.local_addr().expect("addr"));
    let got = Arc::new(Mutex::new(Vec::new()));
    let (seen, statuses) = (Arc::clone(&got), statuses.to_vec());
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let Some(request) = read_request(&mut stream) else { continue };
            let n = {
                let mut seen = seen.lock().expect("lock");
                seen.push(request);
                seen.len()
            };
            let status = statuses.get(n - 1).copied().unwrap_or(200);
            let _ = write!(stream, "HTTP/1.1 {status} X\r\ncontent-length: 0\r\nconnection: close\r\n\r\n");
        }
    });
    Receiver { url, got }
}

impl Receiver {
    fn requests(&self) -> Vec<Received> {
        self.got.lock().expect("lock").clone()
    }
}

fn config(vars: &[(&str, &str)]) -> NotifyConfig {
    let vars: Vec<(String, String)> = vars.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    NotifyConfig::from_lookup(|k| vars.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone())).expect("config")
}

const BACKOFF: Backoff = Backoff { base_ms: 1_000, max_ms: 60_000 };

#[test]
fn delivery_survives_a_receiver_that_fails_twice_and_a_restart_of_the_worker() {
    let hook = receiver(&[500, 500, 200]);
    let sms = receiver(&[]);
    let cfg = config(&[("SHIAN_WEBHOOK_URL", &hook.url), ("SHIAN_SMS_WEBHOOK_URL", &sms.url)]);
    let mut p = Province::new();
    p.positive_rapid_test("KJ1", T0 + HOUR);
    run_once(&mut p.s, &cfg).expect("dispatch");
    let entry = all_entries(&p.s)[0].id;
    let t0 = p.s.messages_of(entry).expect("outbox")[0].created_ms;

    let d = Deliverer::new(cfg.clone(), BACKOFF).expect("deliverer");
    let first = deliver_due(&mut p.s, &d, t0, 10).expect("deliver");
    assert_eq!((first.delivered, first.retrying), (1, 1), "the SMS goes, the webhook answers 500");
    assert_eq!(deliver_due(&mut p.s, &d, t0 + 999, 10).expect("too early").retrying, 0, "waits for its backoff");
    drop(d);

    // The worker restarts: the state is in the database.
    let mut s = p.reopen();
    let d = Deliverer::new(cfg, BACKOFF).expect("deliverer");
    assert_eq!(deliver_due(&mut s, &d, t0 + 1_000, 10).expect("second").retrying, 1, "500 again");
    assert_eq!(deliver_due(&mut s, &d, t0 + 2_999, 10).expect("early").delivered, 0, "the wait doubled");
    assert_eq!(deliver_due(&mut s, &d, t0 + 3_000, 10).expect("third").delivered, 1);
    assert_eq!(deliver_due(&mut s, &d, t0 + 100_000, 10).expect("nothing left"), Default::default());

    let messages = s.messages_of(entry).expect("outbox");
    let webhook = messages.iter().find(|m| m.channel == "webhook").expect("webhook message");
    assert_eq!((webhook.attempts, webhook.delivered_ms), (3, Some(t0 + 3_000)));
    assert!(webhook.last_error.as_deref().is_some_and(|e| e.contains("500")), "{webhook:?}");

    let got = hook.requests();
    assert_eq!(got.len(), 3);
    let key = format!("idempotency-key: shian-outbox-{}", webhook.id);
    assert!(got.iter().all(|r| r.head.to_ascii_lowercase().contains(&key)), "{got:?}");
    let body: serde_json::Value = serde_json::from_str(&got[2].body).expect("JSON body");
    assert_eq!((body["entry_id"].as_i64(), body["key"].as_str()), (Some(entry), Some("KJ1")));
    assert_eq!(body["market"]["code"], "M1");

    let sms_body: serde_json::Value = serde_json::from_str(&sms.requests()[0].body).expect("SMS JSON");
    assert_eq!(sms_body["phones"], serde_json::json!(["13800000001", "13800000002"]), "M1's assigned officials");
    assert!(sms_body["text"].as_str().is_some_and(|t| t.starts_with("【食安】")));
}

#[test]
fn a_receiver_that_never_accepts_is_given_up_after_the_last_attempt() {
    let hook = receiver(&[503; 100]);
    let cfg = config(&[("SHIAN_WEBHOOK_URL", &hook.url)]);
    let mut p = Province::new();
    p.positive_rapid_test("KJ1", T0 + HOUR);
    run_once(&mut p.s, &cfg).expect("dispatch");
    let d = Deliverer::new(cfg, Backoff { base_ms: 1, max_ms: 1 }).expect("deliverer");
    let (mut rounds, mut gave_up) = (0, 0);
    while let Some(m) = p.s.due_messages(i64::MAX / 2, 1).expect("due").pop() {
        gave_up += deliver_due(&mut p.s, &d, m.next_attempt_ms, 10).expect("deliver").gave_up;
        rounds += 1;
        assert!(rounds <= MAX_ATTEMPTS, "still trying after {rounds} attempts");
    }
    assert_eq!((rounds, gave_up), (MAX_ATTEMPTS, 1));
    let counts = p.s.outbox_counts().expect("counts");
    assert_eq!((counts.pending, counts.delivered, counts.gave_up), (0, 0, 1));
    assert_eq!(hook.requests().len(), MAX_ATTEMPTS as usize);
}

/// A minimal SMTP server: accepts one mail and returns its DATA.
fn smtp_server() -> (String, std::thread::JoinHandle<String>) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr");
    let handle = std::thread::spawn(move || {
        let (mut stream, _) = listener.accept().expect("accept");
        let mut reader = BufReader::new(stream.try_clone().expect("clone"));
        let mut data = String::new();
        let mut in_data = false;
        write!(stream, "220 test ESMTP\r\n").expect("greet");
        loop {
            let mut line = String::new();
            if reader.read_line(&mut line).unwrap_or(0) == 0 {
                return data;
            }
            if in_data {
                if line == ".\r\n" {
                    in_data = false;
                    write!(stream, "250 queued\r\n").expect("queued");
                } else {
                    data += &line;
                }
                continue;
            }
            let verb = line.get(..4).unwrap_or("").to_ascii_uppercase();
            let reply = match verb.as_str() {
                "EHLO" | "HELO" => "250 test\r\n",
                "DATA" => {
                    in_data = true;
                    "354 go on\r\n"
                }
                "QUIT" => {
                    let _ = write!(stream, "221 bye\r\n");
                    return data;
                }
                _ => "250 ok\r\n",
            };
            write!(stream, "{reply}").expect("reply");
        }
    });
    (format!("smtp://{addr}"), handle)
}

#[test]
fn mail_goes_out_over_smtp_when_configured() {
    let (url, server) = smtp_server();
    let cfg = config(&[
        ("SHIAN_SMTP_URL", &url),
        ("SHIAN_SMTP_FROM", "shian@example.gov.cn"),
        ("SHIAN_SMTP_TO", "duty@example.gov.cn"),
    ]);
    let mut p = Province::new();
    p.positive_rapid_test("KJ1", T0 + HOUR);
    run_once(&mut p.s, &cfg).expect("dispatch");
    let d = Deliverer::new(cfg, Backoff::default()).expect("deliverer");
    let r = deliver_due(&mut p.s, &d, i64::MAX / 2, 10).expect("deliver");
    assert_eq!(r.delivered, 1, "{:?}", p.s.due_messages(i64::MAX, 10));
    let data = server.join().expect("server");
    assert!(data.contains("duty@example.gov.cn") && data.to_ascii_lowercase().contains("subject:"), "{data}");
}
