//! Usage and setup errors: exit 2 with a one-line reason, before any
//! traffic is sent.

mod common;

use common::{racegate, stderr};

#[test]
fn exit_2_for_usage_and_setup_errors_with_a_one_line_reason() {
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap()
    };
    let unreachable = format!("http://{closed}/");
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (vec!["fire", "not a url"], "bad URL"),
        (vec!["fire", "ftp://127.0.0.1/"], "use http:// or https://"),
        (
            vec![
                "fire",
                "https://127.0.0.1:9/",
                "--cacert",
                "/no/such/ca.pem",
            ],
            "--cacert /no/such/ca.pem",
        ),
        (vec!["fire", &unreachable], "cannot reach"),
        // Refused before any traffic is sent.
        (vec!["fire", "http://10.255.255.1:9/"], "not loopback"),
        (
            vec!["fire", "http://127.0.0.1:9/", "-d", "@/no/such/file"],
            "cannot read body file",
        ),
        (
            vec!["fire", "http://127.0.0.1:9/", "--expect-status", "7xx"],
            "bad status",
        ),
        (
            vec!["fire", "http://127.0.0.1:9/", "-z", "ten"],
            "bad duration",
        ),
        (
            vec!["fire", "http://127.0.0.1:9/", "--rate", "5", "--burst"],
            "do not mix",
        ),
        (
            vec!["fire", "http://127.0.0.1:9/", "-c", "0"],
            "concurrency",
        ),
        (
            vec!["fire", "http://127.0.0.1:9/", "-H", "novalue"],
            "bad header",
        ),
        (
            vec!["fire", "http://127.0.0.1:9/", "--min-pass-rate", "1.5"],
            "between 0 and 1",
        ),
        (
            vec!["merge", "x.json", "--min-pass-rate=-1"],
            "between 0 and 1",
        ),
        (vec!["nonsense"], "unrecognized subcommand"),
    ];
    for (args, needle) in cases {
        let o = racegate(&args);
        let err = stderr(&o);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {err}");
        assert!(
            err.contains(needle),
            "{args:?}: expected {needle:?} in {err}"
        );
    }
}
