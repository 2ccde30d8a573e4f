//! The file manager in real headless Chromium: upload with the progress
//! bar, edit a file in the text editor, rename (prompt) and delete
//! (confirm) through the context actions; every change lands on disk
//! inside the volume; no CSP violation or script error.

use fantoccini::Locator;
use rampart_testkit::webdriver::{start_browser, wait_for};

use crate::files_rig::files_rig;

/// Opens the actions menu of `name` and clicks `action`.
async fn row_action(c: &fantoccini::Client, name: &str, action: &str) {
    let row = format!("tr[data-name=\"{name}\"]");
    c.find(Locator::Css(&format!("{row} details.menu summary")))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    c.find(Locator::Css(&format!(
        "{row} button[data-action=\"{action}\"]"
    )))
    .await
    .unwrap()
    .click()
    .await
    .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn files_are_uploaded_edited_renamed_and_deleted_in_chromium() {
    let rig = files_rig(64).await;
    let Some(browser) = start_browser().await else {
        return;
    };
    let vol = rig.volume.clone();
    std::fs::write(vol.join("server.properties"), "motd=hi\n").unwrap();
    let local = tempfile::tempdir().unwrap();
    let upload = local.path().join("world.bin");
    let data: Vec<u8> = (0..(8u32 << 20)).map(|i| (i % 253) as u8).collect();
    std::fs::write(&upload, &data).unwrap();

    let c = &browser.client;
    browser
        .sign_in(&rig.panel.url, "olga", rampart_testkit::GOOD_PASSWORD)
        .await;
    c.goto(&format!(
        "{}/servers/{}/files?path=/",
        rig.panel.url, rig.id
    ))
    .await
    .unwrap();

    // Upload: the bar reaches 100 % and the bytes are on disk.
    c.find(Locator::Id("upload-input"))
        .await
        .unwrap()
        .send_keys(upload.to_str().unwrap())
        .await
        .unwrap();
    c.find(Locator::Id("upload-button"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    wait_for(
        async || std::fs::read(vol.join("world.bin")).is_ok_and(|b| b == data),
        "the upload on disk",
    )
    .await;
    wait_for(
        async || {
            c.find(Locator::Css("tr[data-name=\"world.bin\"]"))
                .await
                .is_ok()
        },
        "the uploaded file in the list",
    )
    .await;

    // Edit server.properties in the text editor.
    row_action(c, "server.properties", "edit").await;
    let text = c.find(Locator::Id("editor-text")).await.unwrap();
    wait_for(
        async || text.prop("value").await.ok().flatten().as_deref() == Some("motd=hi\n"),
        "the file in the editor",
    )
    .await;
    text.clear().await.unwrap();
    text.send_keys("motd=edited in chromium\n").await.unwrap();
    c.find(Locator::Id("editor-save"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    wait_for(
        async || {
            std::fs::read_to_string(vol.join("server.properties"))
                .ok()
                .as_deref()
                == Some("motd=edited in chromium\n")
        },
        "the edit on disk",
    )
    .await;

    // Rename through the prompt.
    row_action(c, "world.bin", "rename").await;
    c.send_alert_text("renamed.bin").await.unwrap();
    c.accept_alert().await.unwrap();
    wait_for(
        async || vol.join("renamed.bin").is_file() && !vol.join("world.bin").exists(),
        "the rename on disk",
    )
    .await;
    wait_for(
        async || {
            c.find(Locator::Css("tr[data-name=\"renamed.bin\"]"))
                .await
                .is_ok()
        },
        "the list after the rename",
    )
    .await;

    // A name that leaves the volume is refused and said so.
    row_action(c, "renamed.bin", "rename").await;
    c.send_alert_text("../../escaped.bin").await.unwrap();
    c.accept_alert().await.unwrap();
    wait_for(
        async || {
            c.find(Locator::Id("files-status"))
                .await
                .unwrap()
                .text()
                .await
                .is_ok_and(|t| !t.is_empty())
        },
        "the refusal shown",
    )
    .await;
    assert!(vol.join("renamed.bin").is_file());
    assert!(!rig._dir.path().join("escaped.bin").exists());

    // Delete after the confirmation.
    row_action(c, "renamed.bin", "delete").await;
    c.accept_alert().await.unwrap();
    wait_for(
        async || !vol.join("renamed.bin").exists(),
        "the delete on disk",
    )
    .await;

    // The one expected failure is the refused rename's 400.
    let mut problems = browser.console_problems().await;
    problems.retain(|p| {
        !p["message"].as_str().is_some_and(|m| {
            m.contains("/files/rename - Failed to load resource") && m.contains("400")
        })
    });
    assert!(problems.is_empty(), "console problems: {problems:#?}");
    browser.close().await;
}
