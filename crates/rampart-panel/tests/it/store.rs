//! The store, on every engine (SQLite; PostgreSQL when reachable).

use rampart_core::{Role, RoleName, SecretToken, UnixTime, Username, random::OsRandom};
use rampart_panel::store::{NewSession, NewUser, SessionStage, StoreError};

fn user(name: &str) -> Username {
    Username::parse(name).unwrap()
}

#[tokio::test]
async fn users_are_unique_and_found_by_name() {
    let stores = rampart_testkit::stores().await;
    for (engine, store) in &stores.all {
        let ada = user("ada");
        assert!(!store.admin_exists().await.unwrap(), "{engine}");
        let new = NewUser {
            username: &ada,
            password_hash: "$argon2id$fake",
            role: &RoleName::from(Role::Viewer),
            created_at: UnixTime(10),
        };
        let id = store.create_user(&new).await.unwrap();
        let again = store.create_user(&new).await;
        assert!(
            matches!(again, Err(StoreError::UsernameTaken)),
            "{engine}: {again:?}"
        );
        let found = store.find_user_by_username(&ada).await.unwrap().unwrap();
        assert_eq!(found.id, id, "{engine}");
        assert_eq!(found.role, RoleName::from(Role::Viewer), "{engine}");
        assert_eq!(found.created_at, UnixTime(10), "{engine}");
        assert!(
            store
                .find_user_by_username(&user("bob"))
                .await
                .unwrap()
                .is_none()
        );
        assert!(
            !store.admin_exists().await.unwrap(),
            "a viewer is no admin ({engine})"
        );
    }
    stores.cleanup().await;
}

#[tokio::test]
async fn setup_token_is_single_use_expiring_and_replaced() {
    let stores = rampart_testkit::stores().await;
    for (engine, store) in &stores.all {
        let first = SecretToken::generate(&OsRandom).hash();
        let second = SecretToken::generate(&OsRandom).hash();
        store
            .replace_setup_token(&first, UnixTime(100))
            .await
            .unwrap();
        assert!(
            store.setup_token_valid(&first, UnixTime(99)).await.unwrap(),
            "{engine}"
        );
        assert!(
            !store
                .setup_token_valid(&first, UnixTime(100))
                .await
                .unwrap(),
            "expired at 100 ({engine})"
        );

        store
            .replace_setup_token(&second, UnixTime(200))
            .await
            .unwrap();
        assert!(
            !store.setup_token_valid(&first, UnixTime(50)).await.unwrap(),
            "replaced ({engine})"
        );

        let root = user("root-admin");
        let admin = NewUser {
            username: &root,
            password_hash: "$argon2id$fake",
            role: &RoleName::from(Role::Admin),
            created_at: UnixTime(150),
        };
        assert!(
            store
                .complete_setup(&first, UnixTime(150), &admin)
                .await
                .unwrap()
                .is_none()
        );
        assert!(
            store
                .complete_setup(&second, UnixTime(200), &admin)
                .await
                .unwrap()
                .is_none(),
            "expired"
        );
        assert!(
            !store.admin_exists().await.unwrap(),
            "refused setups change nothing ({engine})"
        );
        assert!(
            store
                .complete_setup(&second, UnixTime(150), &admin)
                .await
                .unwrap()
                .is_some()
        );
        assert!(store.admin_exists().await.unwrap());
        assert!(
            store
                .complete_setup(&second, UnixTime(150), &admin)
                .await
                .unwrap()
                .is_none(),
            "reused"
        );
    }
    stores.cleanup().await;
}

#[tokio::test]
async fn creating_an_admin_closes_setup() {
    let stores = rampart_testkit::stores().await;
    for (engine, store) in &stores.all {
        let token = SecretToken::generate(&OsRandom).hash();
        store
            .replace_setup_token(&token, UnixTime(1_000))
            .await
            .unwrap();
        let name = user("ops");
        store
            .create_user(&NewUser {
                username: &name,
                password_hash: "$argon2id$fake",
                role: &RoleName::from(Role::Admin),
                created_at: UnixTime(1),
            })
            .await
            .unwrap();
        assert!(
            !store.setup_token_valid(&token, UnixTime(2)).await.unwrap(),
            "{engine}"
        );
    }
    stores.cleanup().await;
}

#[tokio::test]
async fn sessions_round_trip_touch_delete_and_purge() {
    let stores = rampart_testkit::stores().await;
    for (engine, store) in &stores.all {
        let name = user("ada");
        let uid = store
            .create_user(&NewUser {
                username: &name,
                password_hash: "$argon2id$fake",
                role: &RoleName::from(Role::Operator),
                created_at: UnixTime(1),
            })
            .await
            .unwrap();
        let live = SecretToken::generate(&OsRandom).hash();
        let old = SecretToken::generate(&OsRandom).hash();
        for (hash, expires) in [(&live, 10_000), (&old, 500)] {
            store
                .create_session(&NewSession {
                    id_hash: hash,
                    public_id: &hash.as_str()[..16],
                    stage: SessionStage::Full,
                    user_id: uid,
                    now: UnixTime(100),
                    expires_at: UnixTime(expires),
                    ip: Some("127.0.0.1"),
                    user_agent: None,
                })
                .await
                .unwrap();
        }
        let s = store.find_session(&live).await.unwrap().unwrap();
        assert_eq!(s.user.id, uid, "{engine}");
        assert_eq!(s.user.username, name);
        assert_eq!(
            (s.created_at, s.last_seen_at, s.expires_at),
            (UnixTime(100), UnixTime(100), UnixTime(10_000))
        );
        store.touch_session(&live, UnixTime(160)).await.unwrap();
        assert_eq!(
            store
                .find_session(&live)
                .await
                .unwrap()
                .unwrap()
                .last_seen_at,
            UnixTime(160)
        );

        assert_eq!(
            store.purge_expired_sessions(UnixTime(600)).await.unwrap(),
            1,
            "{engine}"
        );
        assert!(store.find_session(&old).await.unwrap().is_none());
        assert!(store.delete_session(&live).await.unwrap());
        assert!(!store.delete_session(&live).await.unwrap());
        assert!(store.find_session(&live).await.unwrap().is_none());
    }
    stores.cleanup().await;
}

#[tokio::test]
async fn ping_fails_once_closed() {
    let stores = rampart_testkit::stores().await;
    for (engine, store) in &stores.all {
        store.ping().await.unwrap();
        store.close().await;
        assert!(store.ping().await.is_err(), "{engine}");
    }
    stores.cleanup().await;
}

#[tokio::test]
async fn foreign_keys_are_enforced() {
    let stores = rampart_testkit::stores().await;
    for (engine, store) in &stores.all {
        let orphan = store
            .create_session(&NewSession {
                id_hash: &SecretToken::generate(&OsRandom).hash(),
                public_id: "orphan",
                stage: SessionStage::Full,
                user_id: rampart_core::UserId(4242),
                now: UnixTime(1),
                expires_at: UnixTime(2),
                ip: None,
                user_agent: None,
            })
            .await;
        assert!(
            orphan.is_err(),
            "{engine}: a session for no user was stored"
        );
    }
    stores.cleanup().await;
}

#[tokio::test]
async fn sqlite_store_is_one_file_in_wal_mode() {
    let parent = tempfile::tempdir().unwrap();
    let new_dir = parent.path().join("new-data-dir");
    let dir = new_dir.as_path();
    let store = rampart_panel::store::Store::open_sqlite_in(dir)
        .await
        .unwrap();
    let name = user("ada");
    store
        .create_user(&NewUser {
            username: &name,
            password_hash: "$argon2id$fake",
            role: &RoleName::from(Role::Viewer),
            created_at: UnixTime(1),
        })
        .await
        .unwrap();
    assert!(dir.join("rampart.db").is_file());
    assert!(
        dir.join("rampart.db-wal").is_file(),
        "write-ahead log in use"
    );
    use std::os::unix::fs::PermissionsExt;
    let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(dir), 0o700, "data dir private");
    for f in ["rampart.db", "rampart.db-wal", "rampart.db-shm"] {
        assert_eq!(mode(&dir.join(f)), 0o600, "{f} readable by the owner only");
    }
    store.close().await;
    // Reopening applies no migration twice and keeps the data.
    let again = rampart_panel::store::Store::open_sqlite_in(dir)
        .await
        .unwrap();
    assert!(again.find_user_by_username(&name).await.unwrap().is_some());
}

#[tokio::test]
async fn ssh_keys_belong_to_their_user_on_both_engines() {
    let stores = rampart_testkit::stores().await;
    for (engine, store) in &stores.all {
        let mut ids = Vec::new();
        for name in ["ada", "bob"] {
            let id = store
                .create_user(&NewUser {
                    username: &user(name),
                    password_hash: "$argon2id$fake",
                    role: &RoleName::from(Role::Viewer),
                    created_at: UnixTime(10),
                })
                .await
                .unwrap();
            ids.push(id);
        }
        let key = rampart_panel::store::SshKeyRecord {
            id: "sk_000000000000000000000001".into(),
            user_id: ids[0],
            name: "laptop".into(),
            algorithm: "ssh-ed25519".into(),
            fingerprint: "SHA256:abc".into(),
            public_key: "ssh-ed25519 AAAA".into(),
            created_at: UnixTime(20),
            last_used_at: None,
        };
        store.add_ssh_key(&key).await.unwrap();
        // The same fingerprint twice for one user is refused by the schema.
        let twice = rampart_panel::store::SshKeyRecord {
            id: "sk_000000000000000000000002".into(),
            ..key.clone()
        };
        assert!(store.add_ssh_key(&twice).await.is_err(), "{engine}");
        assert_eq!(
            store.list_ssh_keys(ids[0]).await.unwrap(),
            std::slice::from_ref(&key),
            "{engine}"
        );
        assert!(
            store.list_ssh_keys(ids[1]).await.unwrap().is_empty(),
            "{engine}"
        );
        assert!(
            store
                .find_ssh_key(ids[1], "SHA256:abc")
                .await
                .unwrap()
                .is_none(),
            "{engine}"
        );
        store.touch_ssh_key(&key.id, UnixTime(30)).await.unwrap();
        let found = store
            .find_ssh_key(ids[0], "SHA256:abc")
            .await
            .unwrap()
            .unwrap();
        assert_eq!(found.last_used_at, Some(UnixTime(30)), "{engine}");
        // Another user cannot delete it; its owner can, once.
        assert!(
            store
                .delete_ssh_key(ids[1], &key.id)
                .await
                .unwrap()
                .is_none(),
            "{engine}"
        );
        assert!(
            store
                .delete_ssh_key(ids[0], &key.id)
                .await
                .unwrap()
                .is_some(),
            "{engine}"
        );
        assert!(
            store
                .delete_ssh_key(ids[0], &key.id)
                .await
                .unwrap()
                .is_none(),
            "{engine}"
        );
    }
}
