//! Node identity: typed ids (`nd_` + 24 hex) and validated, hostname-like names.

/// A node's id; its own namespace, never confused with a user or client id.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct NodeId(String);

impl NodeId {
    pub fn generate(rng: &dyn crate::Random) -> NodeId {
        let mut bytes = [0u8; 12];
        rng.fill(&mut bytes);
        NodeId(format!("nd_{}", hex::encode(bytes)))
    }

    pub fn parse(s: &str) -> Option<NodeId> {
        let hex_part = s.strip_prefix("nd_")?;
        (hex_part.len() == 24
            && hex_part
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)))
        .then(|| NodeId(s.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for NodeId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// 1–63 characters of `a-z 0-9 -`, not starting or ending with `-` (a DNS label).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct NodeName(String);

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("node names are 1 to 63 characters of a-z, 0-9 and '-', not starting or ending with '-'")]
pub struct BadNodeName;

impl NodeName {
    pub fn parse(s: &str) -> Result<NodeName, BadNodeName> {
        let ok = (1..=63).contains(&s.len())
            && s.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
            && !s.starts_with('-')
            && !s.ends_with('-');
        if ok {
            Ok(NodeName(s.to_owned()))
        } else {
            Err(BadNodeName)
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for NodeName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_and_names() {
        let id = NodeId::generate(&crate::OsRandom);
        assert_eq!(NodeId::parse(id.as_str()), Some(id.clone()));
        assert!(NodeId::parse("nd_xyz").is_none());
        assert!(NodeId::parse("rc_000000000000000000000000").is_none());
        for ok in ["local", "node-1", "a"] {
            assert!(NodeName::parse(ok).is_ok(), "{ok}");
        }
        for bad in ["", "-a", "a-", "Node", "a.b", "a b", &"a".repeat(64)] {
            assert!(NodeName::parse(bad).is_err(), "{bad}");
        }
    }
}
