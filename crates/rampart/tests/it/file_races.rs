//! The race loop through the real entry points: while a thread keeps
//! swapping a directory of the volume for a symbolic link to a directory
//! outside it, the HTTP file manager and an SFTP session hammer paths
//! under it. Nothing may ever be written, created, changed or removed
//! outside (the opener resolves every path beneath the volume's descriptor
//! in one `openat2` call, so there is no check-then-use window).

use std::os::unix::fs::{PermissionsExt, symlink};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use serde_json::json;

use crate::file_manager::Api;
use crate::files_rig::files_rig;
use crate::sftp::run_batch;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_symlink_swapped_in_during_http_and_sftp_operations_never_lets_one_out() {
    let rig = files_rig(64).await;
    let vol = rig.volume.clone();
    let outside = rig._dir.path().join("outside");
    std::fs::create_dir_all(&outside).unwrap();
    std::fs::write(outside.join("secret"), "top secret").unwrap();
    std::fs::set_permissions(
        outside.join("secret"),
        std::fs::Permissions::from_mode(0o600),
    )
    .unwrap();
    std::fs::write(vol.join("seed.txt"), "seed").unwrap();

    let stop = Arc::new(AtomicBool::new(false));
    let flips = Arc::new(AtomicUsize::new(0));
    let flipper = {
        let (stop, flips, vol, outside) =
            (stop.clone(), flips.clone(), vol.clone(), outside.clone());
        std::thread::spawn(move || {
            let d = vol.join("swap");
            while !stop.load(Ordering::Relaxed) {
                // A real directory (with whatever the operations left in
                // it removed), then the link out.
                let _ = std::fs::remove_file(&d);
                let _ = std::fs::remove_dir_all(&d);
                let _ = std::fs::create_dir(&d);
                let _ = std::fs::remove_dir_all(&d);
                let _ = symlink(&outside, &d);
                flips.fetch_add(1, Ordering::Relaxed);
            }
        })
    };

    // SFTP: one session running many operations under swap/.
    let local = tempfile::tempdir().unwrap();
    let up = local.path().join("up.txt");
    std::fs::write(&up, "written over sftp").unwrap();
    let stolen = local.path().join("stolen");
    let mut commands = String::new();
    for i in 0..150 {
        commands.push_str(&format!(
            "put {up} swap/s{i}\nmkdir swap/sd{i}\nchmod 777 swap/secret\nrm swap/secret\n\
             rename seed.txt swap/seed{i}\nget swap/secret {stolen}\n",
            up = up.display(),
            stolen = stolen.display(),
        ));
    }
    // HTTP: the file manager's operations under swap/, in a task of its
    // own so that they run while the SFTP session does.
    let api = Api::new(&rig, rig.owner).await;
    let http = tokio::spawn(async move {
        for i in 0..150 {
            let put = api
                .put(&format!("swap/h{i}"), b"written over http".to_vec(), None)
                .await;
            let calls = [
                ("mkdir", json!({"path": format!("swap/hd{i}")})),
                ("chmod", json!({"path": "swap/secret", "mode": 0o777})),
                (
                    "copy",
                    json!({"from": "swap/secret", "to": format!("c{i}")}),
                ),
                ("delete", json!({"path": "swap/secret"})),
                (
                    "rename",
                    json!({"from": "swap/secret", "to": format!("r{i}")}),
                ),
            ];
            let mut results = vec![put];
            for (op, body) in calls {
                let (status, v) = api.op(op, body).await;
                results.push((status, v.to_string()));
            }
            // Every call gets a definite answer from the agent: done, or
            // refused for its path; never a lost link or a timeout.
            for (status, body) in &results {
                assert!(
                    status.is_success() || (status.is_client_error() && !body.contains("agent")),
                    "{status} {body}"
                );
            }
            let (status, body) = api.get("swap/secret").await;
            assert!(
                !(status.is_success() && body == b"top secret"),
                "a read went through the link"
            );
        }
    });
    let user = format!("olga.{}", rig.id.as_str().trim_start_matches("sv_"));
    let (sftp_ok, sftp_out) = tokio::task::block_in_place(|| {
        run_batch(&rig, &user, rampart_testkit::GOOD_PASSWORD, &commands)
    });
    tokio::time::timeout(std::time::Duration::from_secs(120), http)
        .await
        .expect("the HTTP calls hung")
        .unwrap();
    stop.store(true, Ordering::Relaxed);
    flipper.join().unwrap();
    assert!(flips.load(Ordering::Relaxed) > 100, "the link hardly moved");
    assert!(
        sftp_out.contains("sftp>") || sftp_ok,
        "the SFTP session ran: {sftp_out}"
    );

    // Outside: exactly what was there, untouched.
    let names: Vec<String> = std::fs::read_dir(&outside)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    assert_eq!(names, ["secret"], "something was created outside");
    assert_eq!(
        std::fs::read_to_string(outside.join("secret")).unwrap(),
        "top secret"
    );
    let mode = std::fs::metadata(outside.join("secret"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600, "the secret's mode changed");
    assert!(!stolen.exists(), "SFTP read the secret through the link");
    // Nothing copied or renamed out of the link landed in the volume either.
    for entry in std::fs::read_dir(&vol).unwrap() {
        let entry = entry.unwrap();
        if entry.file_type().unwrap().is_file() {
            assert_ne!(
                std::fs::read(entry.path()).unwrap(),
                b"top secret",
                "{:?} holds the secret",
                entry.file_name()
            );
        }
    }
}
