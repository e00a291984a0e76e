//! The output formatter, checked against what redis-cli prints.

use bytes::Bytes;
use disque_cli::{format_reply, OutputMode};
use disque_proto::Reply;

fn bulk(s: &str) -> Reply {
    Reply::Bulk(Bytes::from(s.to_string()))
}

fn show(reply: &Reply, mode: OutputMode) -> String {
    String::from_utf8(format_reply(reply, mode)).unwrap()
}

fn standard(reply: &Reply) -> String {
    show(reply, OutputMode::Standard)
}

fn raw(reply: &Reply) -> String {
    show(reply, OutputMode::Raw)
}

fn csv(reply: &Reply) -> String {
    show(reply, OutputMode::Csv)
}

/// An array holding a nested array, an empty array and a nil.
fn nested_and_mixed() -> Reply {
    Reply::Array(vec![
        Reply::Array(vec![
            bulk("q"),
            bulk("id"),
            Reply::Array(vec![Reply::Integer(1), bulk("x")]),
        ]),
        Reply::Array(vec![]),
        Reply::Nil,
    ])
}

const ID: &str = "D-dcb833cf-8YL1NT17e9+wsA/09NqxscQI-05a1";

#[test]
fn standard_scalars() {
    assert_eq!(standard(&Reply::Status(Bytes::from(ID))), format!("{ID}\n"));
    assert_eq!(standard(&Reply::ok()), "OK\n");
    assert_eq!(standard(&Reply::Integer(1)), "(integer) 1\n");
    assert_eq!(standard(&Reply::Integer(-7)), "(integer) -7\n");
    assert_eq!(standard(&Reply::Nil), "(nil)\n");
    assert_eq!(standard(&Reply::NullArray), "(nil)\n");
    assert_eq!(
        standard(&Reply::error("ERR unknown command 'foo'")),
        "(error) ERR unknown command 'foo'\n"
    );
    assert_eq!(standard(&bulk("queue")), "\"queue\"\n");
    assert_eq!(standard(&bulk("")), "\"\"\n");
    assert_eq!(standard(&Reply::Array(vec![])), "(empty list or set)\n");
}

#[test]
fn standard_bulk_escapes() {
    let data = Reply::Bulk(Bytes::from_static(b"a\"b\\c\n\r\t\x07\x08\x01\xff~ "));
    assert_eq!(
        standard(&data),
        "\"a\\\"b\\\\c\\n\\r\\t\\a\\b\\x01\\xff~ \"\n"
    );
}

#[test]
fn standard_arrays() {
    let job = Reply::Array(vec![bulk("queue"), bulk(ID), bulk("body")]);
    assert_eq!(
        standard(&Reply::Array(vec![job.clone(), job])),
        format!(
            "1) 1) \"queue\"\n   2) \"{ID}\"\n   3) \"body\"\n2) 1) \"queue\"\n   2) \"{ID}\"\n   3) \"body\"\n"
        )
    );
}

#[test]
fn standard_nested_and_mixed() {
    // Byte for byte what redis-cli prints for the same reply.
    let reply = nested_and_mixed();
    assert_eq!(
        standard(&reply),
        "1) 1) \"q\"\n   2) \"id\"\n   3) 1) (integer) 1\n      2) \"x\"\n2) (empty list or set)\n3) (nil)\n"
    );
}

#[test]
fn standard_index_alignment() {
    let eleven = Reply::Array((0..11).map(|i| bulk(&(i % 10).to_string())).collect());
    let text = standard(&eleven);
    assert!(text.starts_with(" 1) \"0\"\n 2) \"1\"\n"));
    assert!(text.ends_with(" 9) \"8\"\n10) \"9\"\n11) \"0\"\n"));

    let inner = Reply::Array((0..10).map(Reply::Integer).collect());
    let text = standard(&Reply::Array(vec![inner]));
    assert!(text.starts_with("1)  1) (integer) 0\n    2) (integer) 1\n"));
    assert!(text.ends_with("    9) (integer) 8\n   10) (integer) 9\n"));
}

#[test]
fn standard_hello() {
    let node = |id: &str, port: &str| {
        Reply::Array(vec![bulk(id), bulk("127.0.0.1"), bulk(port), bulk("1")])
    };
    let reply = Reply::Array(vec![
        Reply::Integer(1),
        bulk("aaaa"),
        node("aaaa", "7711"),
        node("bbbb", "7712"),
    ]);
    assert_eq!(
        standard(&reply),
        "1) (integer) 1\n2) \"aaaa\"\n3) 1) \"aaaa\"\n   2) \"127.0.0.1\"\n   3) \"7711\"\n   4) \"1\"\n\
         4) 1) \"bbbb\"\n   2) \"127.0.0.1\"\n   3) \"7712\"\n   4) \"1\"\n"
    );
}

#[test]
fn raw_output() {
    assert_eq!(raw(&Reply::Status(Bytes::from(ID))), format!("{ID}\n"));
    assert_eq!(raw(&Reply::Integer(42)), "42\n");
    assert_eq!(raw(&Reply::Nil), "\n");
    assert_eq!(raw(&Reply::NullArray), "\n");
    assert_eq!(raw(&Reply::Array(vec![])), "\n");
    // redis-cli --raw prints an error's text and an empty line.
    assert_eq!(raw(&Reply::error("ERR bad thing")), "ERR bad thing\n\n");
    // Bulk strings as they are, no quoting or escaping.
    assert_eq!(
        format_reply(
            &Reply::Bulk(Bytes::from_static(b"a\"\n\xff")),
            OutputMode::Raw
        ),
        b"a\"\n\xff\n".to_vec()
    );
    let reply = nested_and_mixed();
    assert_eq!(raw(&reply), "q\nid\n1\nx\n\n\n");
}

#[test]
fn csv_output() {
    assert_eq!(csv(&Reply::Status(Bytes::from("D-abc"))), "\"D-abc\"\n");
    assert_eq!(
        csv(&Reply::error("ERR bad thing")),
        "ERROR,\"ERR bad thing\"\n"
    );
    assert_eq!(csv(&Reply::Integer(42)), "42\n");
    assert_eq!(csv(&Reply::Nil), "NIL\n");
    assert_eq!(csv(&bulk("a\"b")), "\"a\\\"b\"\n");
    let reply = nested_and_mixed();
    assert_eq!(csv(&reply), "\"q\",\"id\",1,\"x\",,NIL\n");
}
