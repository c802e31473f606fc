//! `CallbackClient` against a stub HTTP server that records what it receives.

use std::{
    io::{BufRead, BufReader, Read, Write},
    net::{Ipv4Addr, TcpListener},
    sync::mpsc,
    thread,
};

use koofill_signing::{basic, body_sign, kit, percent::parse_query, v1};
use koofill_testkit::{CallbackClient, spec_example, wire_json};

const BASIC_KEY: &[u8] = b"basic-key";
const KIT_KEY: &[u8] = b"kit-key";
const ANSWER: &[u8] = br#"{"resultCode":"000000","resultMsg":"success."}"#;

/// One request as the stub saw it.
struct Seen {
    method: String,
    target: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Seen {
    fn header(&self, name: &str) -> &str {
        self.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str()).unwrap_or_default()
    }

    fn query(&self) -> Vec<(String, String)> {
        self.target.split_once('?').map(|(_, q)| parse_query(q)).unwrap_or_default()
    }

    fn param(&self, name: &str) -> String {
        self.query().into_iter().find(|(k, _)| k == name).map(|(_, v)| v).unwrap_or_default()
    }
}

/// Serves `answers` in turn, one connection each, answering with a `Body-Sign` over the body
/// under `sign_key` when given; returns the port and the requests seen.
fn stub(answers: Vec<(Vec<u8>, Option<&'static [u8]>)>) -> (u16, mpsc::Receiver<Seen>) {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).expect("bind stub");
    let port = listener.local_addr().expect("stub addr").port();
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        for (answer, sign_key) in answers {
            let (mut stream, _) = listener.accept().expect("accept");
            let mut reader = BufReader::new(stream.try_clone().expect("clone stream"));
            let mut line = String::new();
            reader.read_line(&mut line).expect("request line");
            let mut parts = line.split_whitespace();
            let method = parts.next().unwrap_or_default().to_owned();
            let target = parts.next().unwrap_or_default().to_owned();
            let mut headers = Vec::new();
            loop {
                let mut header = String::new();
                reader.read_line(&mut header).expect("header");
                let header = header.trim_end();
                if header.is_empty() {
                    break;
                }
                if let Some((n, v)) = header.split_once(':') {
                    headers.push((n.trim().to_owned(), v.trim().to_owned()));
                }
            }
            let len = headers
                .iter()
                .find(|(n, _)| n.eq_ignore_ascii_case("content-length"))
                .and_then(|(_, v)| v.parse().ok())
                .unwrap_or(0);
            let mut body = vec![0; len];
            reader.read_exact(&mut body).expect("body");
            let sign = sign_key.map(|k| format!("Body-Sign: {}\r\n", body_sign::header_value(k, &answer)));
            let head = format!(
                "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\n{}Connection: close\r\n\r\n",
                answer.len(),
                sign.unwrap_or_default()
            );
            stream.write_all(head.as_bytes()).and_then(|()| stream.write_all(&answer)).expect("answer");
            tx.send(Seen { method, target, headers, body }).expect("record");
        }
    });
    (port, rx)
}

#[tokio::test]
async fn send_basic_posts_a_verifiable_request() {
    let (port, seen) = stub(vec![(ANSWER.to_vec(), Some(BASIC_KEY))]);
    let client = CallbackClient::new(format!("http://127.0.0.1:{port}/kg/produce"), BASIC_KEY, KIT_KEY);
    let body = spec_example("newInstance");
    let reply = client.send_basic(&body).await;

    assert_eq!(reply.status, 200);
    assert_eq!(reply.result_code(), "000000");
    assert_eq!(reply.result_msg(), "success.");
    assert_eq!(reply.body, ANSWER);
    assert!(reply.verify_body_sign(BASIC_KEY));
    assert!(!reply.verify_body_sign(KIT_KEY));

    let req = seen.recv().expect("request seen");
    assert_eq!(req.method, "POST");
    assert!(req.target.starts_with("/kg/produce?signature="), "{}", req.target);
    assert_eq!(req.header("content-type"), "application/json;charset=utf8");
    assert_eq!(req.body, wire_json(&body));
    let (nonce, ts, sig) = (req.param("nonce"), req.param("timestamp"), req.param("signature"));
    assert_eq!(nonce.len(), 64);
    assert!(basic::verify(BASIC_KEY, &nonce, &ts, &req.body, &sig).is_ok());
}

#[tokio::test]
async fn send_kit_signs_headers_with_the_kit_key() {
    let (port, seen) = stub(vec![(ANSWER.to_vec(), Some(KIT_KEY))]);
    let client = CallbackClient::new(format!("http://127.0.0.1:{port}/kg/produce/"), BASIC_KEY, KIT_KEY);
    let reply = client.send_kit("tenantSync", &spec_example("tenantSync")).await;
    assert!(reply.verify_body_sign(KIT_KEY));

    let req = seen.recv().expect("request seen");
    assert_eq!(req.target, "/kg/produce/produceAPI/v2/tenantSync");
    assert_eq!(req.header("content-type"), "application/json");
    let (sign, ts, nonce) = (req.header("x-sign"), req.header("x-timestamp"), req.header("x-nonce"));
    assert!(kit::verify(KIT_KEY, nonce, ts, &req.body, sign).is_ok());
    assert!(kit::verify(BASIC_KEY, nonce, ts, &req.body, sign).is_err());
}

#[tokio::test]
async fn raw_sends_and_odd_answers() {
    let (port, seen) = stub(vec![(b"not json".to_vec(), None), (ANSWER.to_vec(), None)]);
    let client = CallbackClient::new(format!("http://127.0.0.1:{port}/kg/produce"), BASIC_KEY, KIT_KEY);

    let reply = client.send_basic_raw(b"{\"activity\":\"x\"}", "nonce=1").await;
    assert_eq!(reply.json, serde_json::Value::Null);
    assert_eq!(reply.result_code(), "");
    assert_eq!(reply.text(), "not json");
    assert!(reply.body_sign.is_none() && !reply.verify_body_sign(BASIC_KEY));
    let req = seen.recv().expect("request seen");
    assert_eq!(req.target, "/kg/produce?nonce=1");
    assert_eq!(req.body, b"{\"activity\":\"x\"}");

    client.send_v1(&[("activity", "queryInstance"), ("instanceId", "i-1")]).await;
    let req = seen.recv().expect("request seen");
    assert_eq!(req.method, "GET");
    assert!(v1::verify(BASIC_KEY, &req.query(), None).is_ok());
}
