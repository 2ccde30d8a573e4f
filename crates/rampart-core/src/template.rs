//! Server templates as data (SPEC R50): variables with validation rules and
//! a startup command whose `{{VARIABLE}}` placeholders become parts of an
//! argv array — never a shell string. The command splits on whitespace;
//! `'…'` and `"…"` group words and nothing else is interpreted. A value always stays inside the one
//! argument it was placed in, whatever characters it holds, and no value
//! may contain a control character (CR, LF, NUL, ESC…).

use std::collections::BTreeMap;

/// How a variable's value is checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rule {
    /// Any printable text up to `max_len` characters.
    Text { max_len: usize },
    /// Letters, digits, `-`, `_` and `.`, 1 to `max_len` characters.
    Word { max_len: usize },
    /// A decimal integer within bounds.
    Integer { min: i64, max: i64 },
    /// One of a fixed list.
    Choice(Vec<String>),
    /// `true` or `false`.
    Boolean,
}

/// One variable of a template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Variable {
    /// `[A-Z_][A-Z0-9_]*`, at most 64 characters; also the environment name.
    pub name: String,
    pub description: String,
    pub default: String,
    pub rule: Rule,
    /// Whether the server's users may change it (else only the template does).
    pub user_editable: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TemplateError {
    #[error("variable name {0:?} must be upper-case letters, digits and '_' (1 to 64)")]
    BadName(String),
    #[error("variable {0} is declared twice")]
    Duplicate(String),
    #[error("{0} may not contain control characters (CR, LF, NUL…)")]
    ControlCharacter(String),
    #[error("{name}: {reason}")]
    Invalid { name: String, reason: String },
    #[error("unknown variable {0}")]
    Unknown(String),
    #[error("variable {0} may not be changed")]
    NotEditable(String),
    #[error("the startup command is empty")]
    EmptyStartup,
    #[error("the startup command has an unclosed placeholder")]
    Unclosed,
    #[error("the startup command has an unclosed quote")]
    UnclosedQuote,
    #[error("a placeholder may not be passed to a shell ({0})")]
    PlaceholderInShell(String),
    #[error("the startup command is longer than {MAX_STARTUP} characters")]
    StartupTooLong,
}

/// Longest startup command template.
pub const MAX_STARTUP: usize = 4096;
const SHELLS: [&str; 7] = ["sh", "bash", "ash", "dash", "zsh", "ksh", "busybox"];

fn has_control(s: &str) -> bool {
    s.chars().any(char::is_control)
}

/// Checks a variable name.
pub fn check_name(name: &str) -> Result<(), TemplateError> {
    let mut bytes = name.bytes();
    let first_ok = bytes
        .next()
        .is_some_and(|b| b.is_ascii_uppercase() || b == b'_');
    let rest_ok = bytes.all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_');
    if first_ok && rest_ok && name.len() <= 64 {
        Ok(())
    } else {
        Err(TemplateError::BadName(name.chars().take(80).collect()))
    }
}

impl Variable {
    /// Checks `value` against this variable's rule.
    pub fn check(&self, value: &str) -> Result<(), TemplateError> {
        if has_control(value) {
            return Err(TemplateError::ControlCharacter(self.name.clone()));
        }
        let invalid = |reason: String| TemplateError::Invalid {
            name: self.name.clone(),
            reason,
        };
        match &self.rule {
            Rule::Text { max_len } => {
                if value.chars().count() > *max_len {
                    return Err(invalid(format!("at most {max_len} characters")));
                }
            }
            Rule::Word { max_len } => {
                let ok = !value.is_empty()
                    && value.len() <= *max_len
                    && value
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b));
                if !ok {
                    return Err(invalid(format!(
                        "1 to {max_len} letters, digits, '-', '_' or '.'"
                    )));
                }
            }
            Rule::Integer { min, max } => {
                let n: i64 = value
                    .parse()
                    .map_err(|_| invalid("must be a whole number".into()))?;
                if n < *min || n > *max {
                    return Err(invalid(format!("must be between {min} and {max}")));
                }
            }
            Rule::Choice(options) => {
                if !options.iter().any(|o| o == value) {
                    return Err(invalid(format!("must be one of {}", options.join(", "))));
                }
            }
            Rule::Boolean => {
                if value != "true" && value != "false" {
                    return Err(invalid("must be true or false".into()));
                }
            }
        }
        Ok(())
    }
}

/// Checks a template's declarations: names, duplicates, defaults against
/// their own rules, and that the startup command renders with the defaults.
pub fn check_template(startup: &str, variables: &[Variable]) -> Result<(), TemplateError> {
    let mut seen = std::collections::BTreeSet::new();
    for v in variables {
        check_name(&v.name)?;
        if !seen.insert(v.name.as_str()) {
            return Err(TemplateError::Duplicate(v.name.clone()));
        }
        if has_control(&v.description) {
            return Err(TemplateError::ControlCharacter(v.name.clone()));
        }
        v.check(&v.default)?;
    }
    let values = resolve(variables, &BTreeMap::new(), true)?;
    render_argv(startup, &values).map(|_| ())
}

/// The value of every variable: defaults overridden by `given`. `given`
/// may only name declared variables, and only editable ones unless
/// `privileged` (an administrator or the template itself).
pub fn resolve(
    variables: &[Variable],
    given: &BTreeMap<String, String>,
    privileged: bool,
) -> Result<BTreeMap<String, String>, TemplateError> {
    for (name, value) in given {
        let var = variables
            .iter()
            .find(|v| &v.name == name)
            .ok_or_else(|| TemplateError::Unknown(name.chars().take(80).collect()))?;
        if !var.user_editable && !privileged && *value != var.default {
            return Err(TemplateError::NotEditable(name.clone()));
        }
        var.check(value)?;
    }
    Ok(variables
        .iter()
        .map(|v| {
            let value = given.get(&v.name).unwrap_or(&v.default).clone();
            (v.name.clone(), value)
        })
        .collect())
}

/// Splits `startup` on whitespace into argv and replaces each `{{NAME}}`
/// inside one argument with its value. A placeholder passed to a shell
/// (`sh -c …`) is refused: the shell would parse the value.
pub fn render_argv(
    startup: &str,
    values: &BTreeMap<String, String>,
) -> Result<Vec<String>, TemplateError> {
    if startup.len() > MAX_STARTUP {
        return Err(TemplateError::StartupTooLong);
    }
    if startup.chars().any(|c| c.is_control() && c != '\t') {
        return Err(TemplateError::ControlCharacter("startup".into()));
    }
    let words = split_words(startup)?;
    let program = words.first().ok_or(TemplateError::EmptyStartup)?;
    let base = program.rsplit('/').next().unwrap_or(program).to_owned();
    let is_shell = SHELLS.contains(&base.as_str());
    let mut argv = Vec::with_capacity(words.len());
    for word in &words {
        if is_shell && word.contains("{{") {
            return Err(TemplateError::PlaceholderInShell(base));
        }
        argv.push(substitute(word, values)?);
    }
    Ok(argv)
}

/// Splits on whitespace; `'…'` and `"…"` group words (quotes removed,
/// nothing inside them is interpreted). Placeholders are not expanded yet,
/// so a value can never add a word or a quote.
fn split_words(startup: &str) -> Result<Vec<String>, TemplateError> {
    let mut words = Vec::new();
    let mut word = String::new();
    let mut in_word = false;
    let mut quote: Option<char> = None;
    for c in startup.chars() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), c) => word.push(c),
            (None, '\'' | '"') => {
                quote = Some(c);
                in_word = true;
            }
            (None, c) if c.is_ascii_whitespace() => {
                if in_word {
                    words.push(std::mem::take(&mut word));
                    in_word = false;
                }
            }
            (None, c) => {
                word.push(c);
                in_word = true;
            }
        }
    }
    if quote.is_some() {
        return Err(TemplateError::UnclosedQuote);
    }
    if in_word {
        words.push(word);
    }
    Ok(words)
}

/// Renders a config file's text: each `{{NAME}}` becomes the server's own
/// value of that variable. Nothing else is reachable from a template (a
/// rival leaked node secrets through a templating engine with wider reach).
pub fn render_text(text: &str, values: &BTreeMap<String, String>) -> Result<String, TemplateError> {
    if text.contains('\0') {
        return Err(TemplateError::ControlCharacter("file".into()));
    }
    substitute(text, values)
}

fn substitute(word: &str, values: &BTreeMap<String, String>) -> Result<String, TemplateError> {
    let mut out = String::with_capacity(word.len());
    let mut rest = word;
    while let Some(start) = rest.find("{{") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let end = after.find("}}").ok_or(TemplateError::Unclosed)?;
        let name = after[..end].trim();
        let value = values
            .get(name)
            .ok_or_else(|| TemplateError::Unknown(name.chars().take(80).collect()))?;
        if has_control(value) {
            return Err(TemplateError::ControlCharacter(name.to_owned()));
        }
        out.push_str(value);
        rest = &after[end + 2..];
    }
    out.push_str(rest);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn var(name: &str, rule: Rule, default: &str, editable: bool) -> Variable {
        Variable {
            name: name.into(),
            description: String::new(),
            default: default.into(),
            rule,
            user_editable: editable,
        }
    }

    fn vars() -> Vec<Variable> {
        vec![
            var(
                "MEMORY",
                Rule::Integer {
                    min: 128,
                    max: 8192,
                },
                "512",
                true,
            ),
            var("MOTD", Rule::Text { max_len: 64 }, "hello", true),
            var("JAR", Rule::Word { max_len: 64 }, "server.jar", false),
        ]
    }

    fn given(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn values_stay_inside_their_argument() {
        let values = resolve(
            &vars(),
            &given(&[("MOTD", "a; rm -rf / | $(id) `x` && y")]),
            false,
        )
        .unwrap();
        let argv =
            render_argv("java -Xmx{{MEMORY}}M -jar {{JAR}} --motd={{MOTD}}", &values).unwrap();
        assert_eq!(
            argv,
            [
                "java",
                "-Xmx512M",
                "-jar",
                "server.jar",
                "--motd=a; rm -rf / | $(id) `x` && y"
            ]
        );
    }

    #[test]
    fn control_characters_never_pass() {
        for bad in ["a\nb", "a\rb", "a\0b", "\u{1b}[2J", "x\u{7f}"] {
            let err = resolve(&vars(), &given(&[("MOTD", bad)]), true).unwrap_err();
            assert_eq!(
                err,
                TemplateError::ControlCharacter("MOTD".into()),
                "{bad:?}"
            );
        }
        // Even a value that bypassed resolve is refused at render time.
        let values = given(&[("X", "a\nb")]);
        assert!(render_argv("echo {{X}}", &values).is_err());
        assert!(render_argv("echo\nrm", &BTreeMap::new()).is_err());
    }

    #[test]
    fn rules_are_enforced() {
        let v = vars();
        assert!(resolve(&v, &given(&[("MEMORY", "64")]), false).is_err());
        assert!(resolve(&v, &given(&[("MEMORY", "1e3")]), false).is_err());
        assert!(resolve(&v, &given(&[("MEMORY", "1024")]), false).is_ok());
        assert!(resolve(&v, &given(&[("NOPE", "1")]), false).is_err());
        assert_eq!(
            resolve(&v, &given(&[("JAR", "other.jar")]), false).unwrap_err(),
            TemplateError::NotEditable("JAR".into())
        );
        assert!(resolve(&v, &given(&[("JAR", "other.jar")]), true).is_ok());
        assert!(resolve(&v, &given(&[("JAR", "../x y")]), true).is_err());
        let choice = var(
            "MODE",
            Rule::Choice(vec!["a".into(), "b".into()]),
            "a",
            true,
        );
        assert!(choice.check("b").is_ok() && choice.check("c").is_err());
        let b = var("ON", Rule::Boolean, "true", true);
        assert!(b.check("false").is_ok() && b.check("yes").is_err());
    }

    #[test]
    fn quotes_group_words_and_values_cannot_add_any() {
        let values = given(&[("X", "a' b\" c")]);
        assert_eq!(
            render_argv(r#"sh -c "trap '' TERM; sleep 1" x"#, &values).unwrap(),
            ["sh", "-c", "trap '' TERM; sleep 1", "x"]
        );
        assert_eq!(
            render_argv(r#"echo "--motd={{X}}" '{{X}}'"#, &values).unwrap(),
            ["echo", "--motd=a' b\" c", "a' b\" c"]
        );
        assert_eq!(
            render_argv("echo \"unclosed", &values).unwrap_err(),
            TemplateError::UnclosedQuote
        );
        assert_eq!(render_argv("echo ''", &values).unwrap(), ["echo", ""]);
    }

    #[test]
    fn placeholders_may_not_reach_a_shell() {
        let values = given(&[("X", "1")]);
        assert_eq!(
            render_argv("/bin/sh -c echo{{X}}", &values).unwrap_err(),
            TemplateError::PlaceholderInShell("sh".into())
        );
        assert!(render_argv("sh -c ./start", &values).is_ok());
        assert!(render_argv("echo {{X", &values).is_err());
        assert!(render_argv("echo {{Y}}", &values).is_err());
        assert!(render_argv("   ", &values).is_err());
    }

    #[test]
    fn config_files_see_only_the_servers_values() {
        let values = given(&[("MOTD", "hi $(x)"), ("PORT", "25565")]);
        assert_eq!(
            render_text("motd={{MOTD}}\nport={{ PORT }}\n", &values).unwrap(),
            "motd=hi $(x)\nport=25565\n"
        );
        // Anything else is unknown: there is nothing else to reach.
        for other in [
            "{{HOME}}",
            "{{env.SECRET}}",
            "{{ ../etc/passwd }}",
            "{{DATABASE_URL}}",
        ] {
            assert!(render_text(other, &values).is_err(), "{other}");
        }
    }

    #[test]
    fn templates_are_checked_as_a_whole() {
        assert!(check_template("java -jar {{JAR}}", &vars()).is_ok());
        let mut dup = vars();
        dup.push(var("JAR", Rule::Boolean, "true", true));
        assert!(check_template("x", &dup).is_err());
        let bad_default = vec![var("N", Rule::Integer { min: 1, max: 2 }, "3", true)];
        assert!(check_template("x", &bad_default).is_err());
        assert!(check_name("lower").is_err() && check_name("9X").is_err());
        assert!(check_name("SERVER_PORT").is_ok());
    }
}
