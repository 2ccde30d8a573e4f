//! Server ids: `sv_` + 16 hex digits; the first 8 are the short id users
//! see in SFTP user names.

#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ServerId(String);

impl ServerId {
    pub fn generate(rng: &dyn crate::Random) -> ServerId {
        let mut bytes = [0u8; 8];
        rng.fill(&mut bytes);
        ServerId(format!("sv_{}", hex::encode(bytes)))
    }

    pub fn parse(s: &str) -> Option<ServerId> {
        let hex_part = s.strip_prefix("sv_")?;
        (hex_part.len() == 16
            && hex_part
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)))
        .then(|| ServerId(s.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The first 8 hex digits.
    pub fn short(&self) -> &str {
        self.0.get(3..11).unwrap_or_default()
    }
}

impl std::fmt::Display for ServerId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_parse_strictly() {
        let id = ServerId::generate(&crate::random::SeededRandom::new(1));
        assert_eq!(ServerId::parse(id.as_str()), Some(id.clone()));
        assert_eq!(id.short().len(), 8);
        for bad in [
            "",
            "sv_",
            "sv_0123456789abcdeF",
            "nd_0123456789abcdef",
            "sv_0123456789abcdef0",
            "sv_../../etc/pas",
        ] {
            assert_eq!(ServerId::parse(bad), None, "{bad}");
        }
    }
}
