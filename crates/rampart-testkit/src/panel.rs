//! A real panel, in process, on an ephemeral loopback port.

use std::net::SocketAddr;
use std::sync::Arc;

use rampart_core::{
    Clock, ManualClock, OsRandom, RoleName, TotpSecret, UnixTime, UserId, Username, totp,
};
use rampart_panel::audit::AuditRecord;
use rampart_panel::auth::ClientInfo;
use rampart_panel::store::Store;
use rampart_panel::store::{AuditFilter, SessionStage};
use rampart_panel::{PanelSettings, Services};
use tokio::sync::oneshot;

use crate::client::TestClient;

/// 2027-01-15T08:00:00Z: where every test panel's clock starts.
pub const START: UnixTime = UnixTime(1_800_000_000);

pub struct TestPanel {
    pub addr: SocketAddr,
    /// `http://127.0.0.1:PORT`
    pub url: String,
    pub clock: ManualClock,
    pub services: Arc<Services>,
    /// The setup token issued at start (while no admin exists).
    pub setup_token: Option<String>,
    shutdown: Option<oneshot::Sender<()>>,
    _dir: tempfile::TempDir,
}

impl Drop for TestPanel {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

/// A panel with the production defaults (admins must enrol in 2FA).
pub async fn spawn_panel() -> TestPanel {
    spawn_panel_with(PanelSettings::default()).await
}

/// A panel where no role is forced to enrol in 2FA, for tests about other
/// things that want a signed-in admin in one step.
pub async fn spawn_panel_no_forced_2fa() -> TestPanel {
    spawn_panel_with(PanelSettings {
        require_2fa_for: Vec::new(),
        ..PanelSettings::default()
    })
    .await
}

/// A panel with `settings`, on SQLite in a fresh temp dir.
pub async fn spawn_panel_with(settings: PanelSettings) -> TestPanel {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = Store::open_sqlite_in(dir.path()).await.expect("open store");
    let clock = ManualClock::new(START);
    let services = Arc::new(
        Services::new(store, Arc::new(clock.clone()), Arc::new(OsRandom), settings)
            .expect("services"),
    );
    services.seed_templates().await.expect("templates");
    let setup_token = services
        .issue_setup_token()
        .await
        .expect("setup token")
        .map(|t| t.expose().to_owned());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let (tx, rx) = oneshot::channel::<()>();
    let serving = services.clone();
    tokio::spawn(async move {
        let _ = rampart_panel::web::serve(listener, serving, async {
            let _ = rx.await;
        })
        .await;
    });
    TestPanel {
        addr,
        url: format!("http://{addr}"),
        clock,
        services,
        setup_token,
        shutdown: Some(tx),
        _dir: dir,
    }
}

impl TestPanel {
    /// A fresh client (empty cookie jar) for this panel.
    pub fn client(&self) -> TestClient {
        TestClient::new(&self.url)
    }

    /// The setup link path with the issued token.
    pub fn setup_path(&self) -> String {
        format!(
            "/setup?token={}",
            self.setup_token
                .as_deref()
                .expect("no setup token was issued")
        )
    }

    /// Creates the first admin through the setup form; `client` ends up
    /// signed in as that admin.
    pub async fn create_admin(&self, client: &TestClient, username: &str, password: &str) {
        let page = client.get(&self.setup_path()).await;
        assert_eq!(page.status, 200, "setup page: {}", page.body);
        let csrf = page.csrf_token().expect("csrf token on setup page");
        let done = client
            .post_form(
                &self.setup_path(),
                &[
                    ("username", username),
                    ("password", password),
                    ("csrf_token", &csrf),
                ],
            )
            .await;
        assert_eq!(done.status, 303, "setup submit: {}", done.body);
        assert_eq!(done.location(), Some("/"));
    }

    /// Creates a user with [`crate::GOOD_PASSWORD`] and `role` directly
    /// through the service (as the admin CLI does).
    pub async fn user(&self, username: &str, role: &str) -> UserId {
        self.services
            .create_user_unchecked(
                &Username::parse(username).expect("username"),
                crate::GOOD_PASSWORD,
                &RoleName::parse(role).expect("role"),
            )
            .await
            .expect("create user")
    }

    /// A client holding a fresh full session of `user` (no password round).
    pub async fn session_for(&self, user: UserId) -> TestClient {
        let token = self
            .services
            .start_session(user, SessionStage::Full, &ClientInfo::default())
            .await
            .expect("session");
        let client = self.client();
        client.set_cookie(self.services.settings.session_cookie(), token.expose());
        client
    }

    /// Creates an API client for `user` with `scopes` (comma-separated);
    /// returns (client_id, client_secret).
    pub async fn api_client(&self, user: UserId, scopes: &str) -> (String, String) {
        let record = self
            .services
            .store
            .get_user(user)
            .await
            .expect("store")
            .expect("user");
        let creator = self
            .services
            .principal_of(&record)
            .await
            .expect("principal");
        let created = self
            .services
            .create_api_client(
                &creator,
                user,
                "test client",
                rampart_core::ScopeSet::parse_list(scopes).expect("scopes"),
                None,
                "",
            )
            .await
            .expect("store")
            .expect("client");
        (created.client_id, created.secret.expose().to_owned())
    }

    /// A bearer token for a new client of `user` with `scopes`.
    pub async fn api_token(&self, user: UserId, scopes: &str) -> String {
        let (id, secret) = self.api_client(user, scopes).await;
        let res = self
            .client()
            .request(
                reqwest::Method::POST,
                "/oauth/token",
                &[
                    ("authorization", &basic_auth(&id, &secret)),
                    ("content-type", "application/x-www-form-urlencoded"),
                ],
                Some("grant_type=client_credentials".into()),
            )
            .await;
        assert_eq!(res.status, 200, "token: {}", res.body);
        let v: serde_json::Value = serde_json::from_str(&res.body).expect("json");
        v["access_token"].as_str().expect("token").to_owned()
    }

    /// The panel's current (manual) time, in Unix seconds.
    pub fn clock_now(&self) -> i64 {
        self.clock.now().0
    }

    /// Every audit record, oldest first.
    pub async fn audit_records(&self) -> Vec<AuditRecord> {
        let mut all = self
            .services
            .store
            .list_audit(&AuditFilter::default(), 100_000)
            .await
            .expect("audit");
        all.reverse();
        all
    }

    /// Enrols the signed-in `client` in TOTP (see [`enroll_totp`]).
    pub async fn enroll_totp(&self, client: &TestClient) -> (TotpSecret, Vec<String>) {
        enroll_totp(client, self.clock.now()).await
    }

    /// Passes the second step with `code`; returns the response.
    pub async fn submit_second_factor(
        &self,
        client: &TestClient,
        code: &str,
    ) -> crate::TestResponse {
        let page = client.get("/login/2fa").await;
        let csrf = page.csrf_token().expect("csrf token on the 2FA page");
        client
            .post_form("/login/2fa", &[("code", code), ("csrf_token", &csrf)])
            .await
    }

    /// The TOTP code `steps` steps from now (0 = current).
    pub fn totp_code(&self, secret: &TotpSecret, steps: i64) -> String {
        secret.code_at_step(totp::step_of(self.clock.now()) + steps)
    }

    /// Signs `client` in; returns the response to the login post.
    pub async fn login(
        &self,
        client: &TestClient,
        username: &str,
        password: &str,
    ) -> crate::TestResponse {
        let page = client.get("/login").await;
        let csrf = page.csrf_token().expect("csrf token on login page");
        client
            .post_form(
                "/login",
                &[
                    ("username", username),
                    ("password", password),
                    ("csrf_token", &csrf),
                ],
            )
            .await
    }
}

/// Enrols the signed-in `client` in TOTP through the security page, as a
/// person with an authenticator app would, at time `now`; returns the
/// secret and the recovery codes shown once.
pub async fn enroll_totp(client: &TestClient, now: UnixTime) -> (TotpSecret, Vec<String>) {
    let page = client.get("/account/security").await;
    assert_eq!(page.status, 200, "security page: {}", page.body);
    let secret_text = page
        .element_text("id=\"totp-secret\"")
        .expect("secret on the page");
    let secret = TotpSecret::from_base32(&secret_text).expect("base32 secret");
    let csrf = page.csrf_token().expect("csrf");
    let code = secret.code_at_step(totp::step_of(now));
    let done = client
        .post_form(
            "/account/security/totp/confirm",
            &[("code", &code), ("csrf_token", &csrf)],
        )
        .await;
    assert_eq!(done.status, 200, "confirm: {}", done.body);
    let codes = done.elements_text("class=\"recovery-code\"");
    assert_eq!(codes.len(), 10, "ten recovery codes shown");
    (secret, codes)
}

/// `Basic base64(id:secret)` (RFC 7617; our ids and secrets need no escaping).
pub fn basic_auth(id: &str, secret: &str) -> String {
    const ALPHA: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let input = format!("{id}:{secret}");
    let bytes = input.as_bytes();
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(ALPHA[((n >> (18 - 6 * i)) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    format!("Basic {out}")
}
