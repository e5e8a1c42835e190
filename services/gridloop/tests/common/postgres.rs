//! A Postgres cluster of the test's own (initdb + pg_ctl in a temporary directory, on a free
//! port), so that a test can restart it or take it away without disturbing the machine's shared
//! server.
// Each test binary that includes this module uses a part of it.
#![allow(dead_code)]

use std::path::PathBuf;
use std::process::Command;
use tempfile::TempDir;

use super::free_port;

pub struct Postgres {
    bin: PathBuf,
    dir: TempDir,
    port: u16,
    /// initdb and postgres refuse to run as root: as root, they run as the `postgres` user.
    run_as_postgres: bool,
}

/// The newest installed server's binaries (Debian's layout), if any.
fn binaries() -> Option<PathBuf> {
    let mut versions: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .filter_map(|entry| Some(entry.ok()?.path().join("bin")))
        .filter(|bin| bin.join("initdb").is_file() && bin.join("pg_ctl").is_file())
        .collect();
    versions.sort();
    versions.pop()
}

fn running_as_root() -> bool {
    Command::new("id").arg("-u").output().is_ok_and(|out| out.stdout.starts_with(b"0\n"))
}

impl Postgres {
    /// initdb a fresh cluster and start it; None when no Postgres server is installed.
    pub fn start() -> Option<Postgres> {
        let bin = binaries()?;
        let dir = tempfile::Builder::new().prefix("gridloop-pg-").tempdir().expect("a temporary directory");
        let run_as_postgres = running_as_root();
        if run_as_postgres {
            let status = Command::new("chown").arg("postgres:").arg(dir.path()).status().expect("chown");
            assert!(status.success(), "chown the cluster's directory to postgres");
        }
        let postgres = Postgres { bin, dir, port: free_port(), run_as_postgres };
        let data = postgres.data().display().to_string();
        // No fsync: the faults here stop the server cleanly or kill its clients, never the machine.
        postgres.run("initdb", &["-D", &data, "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync"]);
        postgres.pg_ctl("start");
        Some(postgres)
    }

    fn data(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    pub fn url(&self) -> String {
        self.url_of("postgres")
    }

    /// The URL of another database of this cluster.
    pub fn url_of(&self, database: &str) -> String {
        format!("postgres://postgres@127.0.0.1:{}/{database}", self.port)
    }

    /// Make `dir` the server's to write in (it runs as `postgres` when the test runs as root).
    pub fn give_directory(&self, dir: &std::path::Path) {
        if self.run_as_postgres {
            let status = Command::new("chown").arg("postgres:").arg(dir).status().expect("chown");
            assert!(status.success(), "chown {} to postgres", dir.display());
        }
    }

    fn command(&self, program: &str) -> Command {
        let program = self.bin.join(program);
        if self.run_as_postgres {
            let mut command = Command::new("runuser");
            command.args(["-u", "postgres", "--"]).arg(program);
            command
        } else {
            Command::new(program)
        }
    }

    fn run(&self, program: &str, args: &[&str]) {
        let out = self.command(program).args(args).current_dir(self.dir.path()).output().expect("run a Postgres tool");
        assert!(
            out.status.success(),
            "{args:?}: {}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }

    fn pg_ctl(&self, action: &str) {
        let data = self.data().display().to_string();
        let log = self.dir.path().join("postgres.log").display().to_string();
        let options = format!(
            "-p {} -c listen_addresses=127.0.0.1 -k {} -c fsync=off -c max_connections=300",
            self.port,
            self.dir.path().display()
        );
        self.run("pg_ctl", &["-D", &data, "-l", &log, "-o", &options, "-w", "-t", "60", "-m", "fast", action]);
    }

    /// `pg_ctl restart -m fast`: every connection is cut, the server is back at once.
    pub fn restart(&self) {
        self.pg_ctl("restart");
    }

    /// `pg_ctl stop -m fast`: the database is gone until [`Postgres::resume`].
    pub fn stop(&self) {
        self.pg_ctl("stop");
    }

    pub fn resume(&self) {
        self.pg_ctl("start");
    }

    /// Run `statements` with psql, each in a transaction of its own, connected to `template1`
    /// (so that settings made on the `postgres` database do not apply to the session making them).
    pub fn sql(&self, statements: &[&str]) {
        let port = self.port.to_string();
        let mut args = vec!["-h", "127.0.0.1", "-p", &port, "-U", "postgres", "-d", "template1", "-X", "-q"];
        args.extend(["-v", "ON_ERROR_STOP=1"]);
        for statement in statements {
            args.extend(["-c", statement]);
        }
        self.run("psql", &args);
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        let data = self.data().display().to_string();
        let _ = self.command("pg_ctl").args(["-D", &data, "-m", "immediate", "stop"]).output();
    }
}
