//! Where tests find their real backends. Under CI (`CI=true`) a missing backend fails the test;
//! elsewhere the test is skipped with a note, so `cargo test` works on a laptop without Postgres.

/// The Postgres tests use unless `GRIDLOOP_TEST_DATABASE_URL` names another.
pub const DEFAULT_POSTGRES_URL: &str = "postgres://postgres@127.0.0.1:5432/test";
/// The NATS (with JetStream) tests use unless `GRIDLOOP_TEST_NATS_URL` names another.
pub const DEFAULT_NATS_URL: &str = "nats://127.0.0.1:4222";

/// A backend a test needs is missing: panics under CI, else notes the skip on stderr.
pub fn backend_missing(why: &str) {
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!("{why} and CI=true: backend tests are mandatory");
    }
    // Written to the process's stderr directly: the test harness captures `eprintln!`.
    let _ = std::io::Write::write_fmt(&mut std::io::stderr(), format_args!("skipping: {why}\n"));
}

/// The test Postgres URL if a server answers there (see [`backend_missing`] otherwise).
pub fn postgres_url() -> Option<String> {
    let url = std::env::var("GRIDLOOP_TEST_DATABASE_URL").unwrap_or_else(|_| DEFAULT_POSTGRES_URL.to_string());
    reachable(&url, 5432, "Postgres")
}

/// The test NATS URL if a server answers there (see [`backend_missing`] otherwise).
pub fn nats_url() -> Option<String> {
    let url = std::env::var("GRIDLOOP_TEST_NATS_URL").unwrap_or_else(|_| DEFAULT_NATS_URL.to_string());
    reachable(&url, 4222, "NATS")
}

fn reachable(url: &str, default_port: u16, what: &str) -> Option<String> {
    // host:port between the credentials and the path
    let authority = url.split("://").nth(1).unwrap_or(url).split('/').next().unwrap_or_default();
    let host_port = authority.rsplit('@').next().unwrap_or_default();
    let host_port = if host_port.contains(':') { host_port.to_string() } else { format!("{host_port}:{default_port}") };
    let answers = std::net::ToSocketAddrs::to_socket_addrs(&host_port)
        .ok()
        .and_then(|mut addrs| addrs.next())
        .is_some_and(|addr| std::net::TcpStream::connect_timeout(&addr, std::time::Duration::from_secs(2)).is_ok());
    if answers {
        return Some(url.to_string());
    }
    backend_missing(&format!("{what} is not reachable at {url}"));
    None
}
