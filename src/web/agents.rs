//! Agents as the pages show them. A call carries its agent's id (`a1001`); the desk-phone
//! list (`hardware/phones.toml`) gives the person's name, so the pages say "王芳 (a1001)",
//! and a reviewer who types the name into the agent filter gets that agent's calls.

use std::collections::BTreeMap;

/// The desk-phone list's agent names, by agent id.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AgentNames {
    by_id: BTreeMap<String, String>,
}

impl AgentNames {
    /// From (id, name) pairs; an empty name is no name.
    pub fn new(pairs: impl IntoIterator<Item = (String, String)>) -> AgentNames {
        AgentNames {
            by_id: pairs
                .into_iter()
                .filter(|(_, name)| !name.trim().is_empty())
                .collect(),
        }
    }

    /// The agent ids the list names, in order.
    pub fn ids(&self) -> impl Iterator<Item = &str> {
        self.by_id.keys().map(String::as_str)
    }

    /// "王芳 (a1001)"; the id alone when the list has no name for it, or the name is the id.
    pub fn label(&self, id: &str) -> String {
        match self.by_id.get(id) {
            Some(name) if name != id => format!("{name} ({id})"),
            _ => id.to_string(),
        }
    }

    /// The agent id for what a reviewer typed: an id the list has, as it is; else a name
    /// the list has (ignoring case and surrounding spaces), as its id; else the text itself
    /// (an agent no longer in the list still has calls under their id).
    pub fn resolve<'a>(&'a self, typed: &'a str) -> &'a str {
        let typed = typed.trim();
        if self.by_id.contains_key(typed) {
            return typed;
        }
        let wanted = typed.to_lowercase();
        self.by_id
            .iter()
            .find(|(_, name)| name.trim().to_lowercase() == wanted)
            .map(|(id, _)| id.as_str())
            .unwrap_or(typed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names() -> AgentNames {
        AgentNames::new([
            ("a1001".to_string(), "王芳".to_string()),
            ("a1002".to_string(), "Li Wei".to_string()),
            ("a1003".to_string(), " ".to_string()),
            ("bob".to_string(), "bob".to_string()),
        ])
    }

    #[test]
    fn a_label_is_the_name_with_the_id_and_the_id_alone_without_a_name() {
        let names = names();
        assert_eq!(names.label("a1001"), "王芳 (a1001)");
        assert_eq!(names.label("a1003"), "a1003");
        assert_eq!(names.label("bob"), "bob");
        assert_eq!(names.label("gone"), "gone");
        assert_eq!(names.ids().collect::<Vec<_>>(), ["a1001", "a1002", "bob"]);
    }

    #[test]
    fn a_typed_name_becomes_its_id_and_anything_else_stays_as_typed() {
        let names = names();
        assert_eq!(names.resolve("王芳"), "a1001");
        assert_eq!(names.resolve(" li wei "), "a1002");
        assert_eq!(names.resolve("a1002"), "a1002");
        assert_eq!(names.resolve("gone"), "gone");
        assert_eq!(names.resolve("王"), "王");
    }
}
