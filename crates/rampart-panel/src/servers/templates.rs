//! Template documents: the JSON form of a template (import/export), its
//! validation, and the built-ins seeded at start.

use rampart_core::UnixTime;
use rampart_core::template::{Rule, Variable, check_template};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::store::{Store, StoreError, TemplateRecord};

/// Placeholders every server has, besides its template's variables.
pub const BUILTIN_VARIABLES: [&str; 2] = ["SERVER_PORT", "SERVER_MEMORY"];

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TemplateDoc {
    /// A slug: 1–48 of `a-z 0-9 -`.
    pub id: String,
    pub name: String,
    #[serde(default)]
    pub description: String,
    pub image: String,
    /// argv with `{{VARIABLE}}` placeholders; never run by a shell.
    pub startup: String,
    /// How many ports the server needs from the node's range.
    #[serde(default)]
    pub ports: u8,
    #[serde(default)]
    pub variables: Vec<VariableDoc>,
    #[serde(default)]
    pub stop: StopDoc,
    /// Capabilities from the short allowlist (e.g. `NET_BIND_SERVICE`).
    #[serde(default)]
    pub capabilities: Vec<String>,
    #[serde(default = "yes")]
    pub read_only_root: bool,
    #[serde(default)]
    pub install: Option<InstallDoc>,
    /// Credentials for a private registry (the password is never exported).
    #[serde(default)]
    pub registry: Option<RegistryDoc>,
    /// Files written into the server's volume at install, with `{{VARIABLE}}`
    /// placeholders of the server's own variables (nothing else).
    #[serde(default)]
    pub config_files: Vec<ConfigFileDoc>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ConfigFileDoc {
    /// Relative to the server's volume.
    pub path: String,
    pub content: String,
}

#[derive(Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RegistryDoc {
    pub username: String,
    pub password: String,
}

impl std::fmt::Debug for RegistryDoc {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RegistryDoc")
            .field("username", &self.username)
            .finish_non_exhaustive()
    }
}

fn yes() -> bool {
    true
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct VariableDoc {
    pub name: String,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub default: String,
    pub rule: RuleDoc,
    #[serde(default)]
    pub user_editable: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum RuleDoc {
    Text { max_len: usize },
    Word { max_len: usize },
    Integer { min: i64, max: i64 },
    Choice { options: Vec<String> },
    Boolean,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StopDoc {
    pub command: Option<String>,
    pub timeout_secs: u32,
}

impl Default for StopDoc {
    fn default() -> Self {
        StopDoc {
            command: None,
            timeout_secs: 10,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct InstallDoc {
    pub image: String,
    pub interpreter: String,
    pub script: String,
}

const BUILTINS: [&str; 3] = [
    include_str!("../../server-templates/generic.json"),
    include_str!("../../server-templates/static-web.json"),
    include_str!("../../server-templates/java-server.json"),
];

impl TemplateDoc {
    pub fn parse(json: &str) -> Result<TemplateDoc, String> {
        let doc: TemplateDoc = serde_json::from_str(json).map_err(|e| {
            format!(
                "not a template document: {}",
                e.to_string().chars().take(200).collect::<String>()
            )
        })?;
        doc.validate()?;
        Ok(doc)
    }

    pub fn variables(&self) -> Vec<Variable> {
        self.variables
            .iter()
            .map(|v| Variable {
                name: v.name.clone(),
                description: v.description.clone(),
                default: v.default.clone(),
                rule: match &v.rule {
                    RuleDoc::Text { max_len } => Rule::Text { max_len: *max_len },
                    RuleDoc::Word { max_len } => Rule::Word { max_len: *max_len },
                    RuleDoc::Integer { min, max } => Rule::Integer {
                        min: *min,
                        max: *max,
                    },
                    RuleDoc::Choice { options } => Rule::Choice(options.clone()),
                    RuleDoc::Boolean => Rule::Boolean,
                },
                user_editable: v.user_editable,
            })
            .collect()
    }

    /// The template's variables plus the built-in ones (with placeholder
    /// defaults), as the checker needs them.
    pub fn all_variables(&self) -> Vec<Variable> {
        let mut vars = self.variables();
        for name in BUILTIN_VARIABLES {
            vars.push(Variable {
                name: name.to_owned(),
                description: String::new(),
                default: "1".to_owned(),
                rule: Rule::Word { max_len: 16 },
                user_editable: false,
            });
        }
        vars
    }

    fn validate(&self) -> Result<(), String> {
        let slug_ok = (1..=48).contains(&self.id.len())
            && self
                .id
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
        if !slug_ok {
            return Err("id must be 1 to 48 of a-z, 0-9 and '-'".into());
        }
        let printable = |s: &str| !s.chars().any(char::is_control);
        if self.name.is_empty() || self.name.len() > 100 || !printable(&self.name) {
            return Err("name must be 1 to 100 printable characters".into());
        }
        if self.description.len() > 2000 || !printable(&self.description) {
            return Err("description must be at most 2000 printable characters".into());
        }
        rampart_proto::servers::check_image(&self.image)
            .map_err(|_| "image is not a valid image reference")?;
        if self.ports > 16 {
            return Err("a template may ask for at most 16 ports".into());
        }
        if self.capabilities.len() > 6 {
            return Err("too many capabilities".into());
        }
        for v in &self.variables {
            if BUILTIN_VARIABLES.contains(&v.name.as_str()) {
                return Err(format!("{} is a built-in variable", v.name));
            }
        }
        if let Some(c) = &self.stop.command
            && (c.len() > 256 || !printable(c))
        {
            return Err("stop command must be one line of at most 256 characters".into());
        }
        if !(1..=600).contains(&self.stop.timeout_secs) {
            return Err("stop timeout must be 1 to 600 seconds".into());
        }
        if let Some(r) = &self.registry
            && (r.username.len() > 256
                || r.password.len() > 1024
                || !printable(&r.username)
                || !printable(&r.password))
        {
            return Err(
                "registry credentials must be printable (username ≤ 256, password ≤ 1024)".into(),
            );
        }
        if let Some(i) = &self.install {
            rampart_proto::servers::check_image(&i.image)
                .map_err(|_| "install image is not a valid image reference")?;
            if i.script.len() > 64 * 1024 || i.script.contains('\0') {
                return Err("install script must be at most 64 KiB of text".into());
            }
            let interp_ok = !i.interpreter.is_empty()
                && i.interpreter.len() <= 64
                && i.interpreter
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"/-_.".contains(&b));
            if !interp_ok {
                return Err("install interpreter must be a program path".into());
            }
        }
        if self.config_files.len() > 16 {
            return Err("at most 16 config files".into());
        }
        let defaults = rampart_core::template::resolve(
            &self.all_variables(),
            &std::collections::BTreeMap::new(),
            true,
        )
        .map_err(|e| e.to_string())?;
        for f in &self.config_files {
            if !rampart_proto::servers::is_volume_path(&f.path) {
                return Err(format!(
                    "config file path {:?}: a relative path of letters, digits, '.', '_', '-' and '/', without '..'",
                    f.path.chars().take(80).collect::<String>()
                ));
            }
            if f.content.len() > 64 * 1024 {
                return Err(format!("{}: at most 64 KiB", f.path));
            }
            rampart_core::template::render_text(&f.content, &defaults)
                .map_err(|e| format!("{}: {e}", f.path))?;
        }
        check_template(&self.startup, &self.all_variables()).map_err(|e| e.to_string())
    }
}

/// Inserts or refreshes the built-in templates.
pub async fn seed_builtins(store: &Store, now: UnixTime) -> Result<(), StoreError> {
    for json in BUILTINS {
        let Ok(doc) = TemplateDoc::parse(json) else {
            tracing::error!("a built-in template does not validate");
            continue;
        };
        store
            .put_template(
                &TemplateRecord {
                    id: doc.id.clone(),
                    name: doc.name.clone(),
                    body: json.to_owned(),
                    builtin: true,
                },
                now,
            )
            .await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtins_validate() {
        for json in BUILTINS {
            TemplateDoc::parse(json).unwrap();
        }
    }

    #[test]
    fn bad_documents_are_refused() {
        let good = TemplateDoc::parse(BUILTINS[1]).unwrap();
        type Break = fn(&mut TemplateDoc);
        let cases: [(&str, Break); 6] = [
            ("slug", |d| d.id = "../x".into()),
            ("image", |d| d.image = "--privileged".into()),
            ("shell", |d| d.startup = "sh -c httpd{{SERVER_PORT}}".into()),
            ("unknown placeholder", |d| {
                d.startup = "httpd {{NOPE}}".into()
            }),
            ("newline in stop", |d| {
                d.stop.command = Some("stop\nop x".into())
            }),
            ("builtin clash", |d| {
                d.variables[0].name = "SERVER_PORT".into()
            }),
        ];
        for (what, f) in cases {
            let mut d = good.clone();
            f(&mut d);
            let json = serde_json::to_string(&d).unwrap();
            assert!(TemplateDoc::parse(&json).is_err(), "{what}");
        }
        assert!(TemplateDoc::parse(r#"{"id":"x"}"#).is_err());
        let mut d = good.clone();
        d.config_files = vec![ConfigFileDoc {
            path: "../../etc/passwd".into(),
            content: "x".into(),
        }];
        assert!(TemplateDoc::parse(&serde_json::to_string(&d).unwrap()).is_err());
        d.config_files = vec![ConfigFileDoc {
            path: "app.conf".into(),
            content: "secret={{PANEL_SECRET}}".into(),
        }];
        assert!(
            TemplateDoc::parse(&serde_json::to_string(&d).unwrap()).is_err(),
            "only the server's own variables"
        );
        d.config_files[0].content = "root={{DOCUMENT_ROOT}} port={{SERVER_PORT}}".into();
        assert!(TemplateDoc::parse(&serde_json::to_string(&d).unwrap()).is_ok());
        assert!(
            TemplateDoc::parse(&BUILTINS[0].replace("\"ports\"", "\"extra\": 1, \"ports\""))
                .is_err()
        );
    }
}
