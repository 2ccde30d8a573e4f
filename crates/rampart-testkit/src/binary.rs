//! The real `rampart` executable as a child process, with stdout and stderr
//! collected for inspection (setup line, log lines).

use std::path::Path;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

pub struct Binary {
    child: Child,
    stdout: Arc<Mutex<Vec<String>>>,
    stderr: Arc<Mutex<Vec<String>>>,
}

fn collect(
    stream: impl tokio::io::AsyncRead + Unpin + Send + 'static,
    into: Arc<Mutex<Vec<String>>>,
) {
    tokio::spawn(async move {
        let mut lines = BufReader::new(stream).lines();
        while let Ok(Some(line)) = lines.next_line().await {
            into.lock().unwrap().push(line);
        }
    });
}

impl Binary {
    /// Starts `exe` with `args` and extra environment `env` (the rest of the
    /// environment is cleared of `RAMPART_*` so the host cannot leak in).
    pub fn start(exe: &Path, args: &[&str], env: &[(&str, &str)]) -> Binary {
        let mut cmd = Command::new(exe);
        cmd.args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        for (k, _) in std::env::vars() {
            if k.starts_with("RAMPART_") {
                cmd.env_remove(k);
            }
        }
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().expect("start rampart binary");
        let stdout = Arc::new(Mutex::new(Vec::new()));
        let stderr = Arc::new(Mutex::new(Vec::new()));
        collect(child.stdout.take().expect("stdout"), stdout.clone());
        collect(child.stderr.take().expect("stderr"), stderr.clone());
        Binary {
            child,
            stdout,
            stderr,
        }
    }

    /// Waits (up to `timeout`) for a stdout line starting with `prefix`.
    pub async fn wait_stdout_line(&self, prefix: &str, timeout: Duration) -> Option<String> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            if let Some(l) = self
                .stdout
                .lock()
                .unwrap()
                .iter()
                .find(|l| l.starts_with(prefix))
            {
                return Some(l.clone());
            }
            if tokio::time::Instant::now() > deadline {
                return None;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Waits for the process to exit (up to `timeout`); its exit code.
    pub async fn wait_exit(&mut self, timeout: Duration) -> Option<i32> {
        let status = tokio::time::timeout(timeout, self.child.wait())
            .await
            .ok()?;
        // Give the readers a moment to drain the pipes.
        tokio::time::sleep(Duration::from_millis(50)).await;
        status.ok().and_then(|s| s.code())
    }

    /// Stops the process (SIGKILL) and waits for it.
    pub async fn stop(&mut self) {
        let _ = self.child.kill().await;
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    pub fn pid(&self) -> Option<u32> {
        self.child.id()
    }

    pub fn stdout(&self) -> Vec<String> {
        self.stdout.lock().unwrap().clone()
    }

    pub fn stderr(&self) -> Vec<String> {
        self.stderr.lock().unwrap().clone()
    }
}
