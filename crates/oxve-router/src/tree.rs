//! Path matching: literal segments and `{param}` segments, trailing and duplicate slashes
//! ignored as Proxmox's find_handler ignores them.

use std::collections::BTreeMap;

use percent_encoding::percent_decode_str;

use crate::{ApiMethod, HttpMethod};

#[derive(Default)]
struct Node {
    literal: BTreeMap<String, Node>,
    /// A `{name}` child and its subtree.
    param: Option<(String, Box<Node>)>,
    /// Index into `Router::methods` per HTTP method.
    methods: BTreeMap<HttpMethod, usize>,
}

/// All declared methods, with a tree to find them by path.
pub struct Router<C> {
    methods: Vec<ApiMethod<C>>,
    root: Node,
}

/// The result of looking up a request.
pub enum Lookup<'a, C> {
    Found {
        method: &'a ApiMethod<C>,
        /// `{placeholder}` values from the path, percent-decoded.
        path_params: Vec<(String, String)>,
    },
    /// A directory with no GET handler of its own: its literal children.
    Index(Vec<String>),
    NotFound,
}

impl<C> Default for Router<C> {
    fn default() -> Self {
        Router {
            methods: Vec::new(),
            root: Node::default(),
        }
    }
}

fn segments(path: &str) -> impl Iterator<Item = &str> {
    path.split('/').filter(|s| !s.is_empty())
}

impl<C> Router<C> {
    pub fn new() -> Self {
        Self::default()
    }

    /// Add a method. Panics on a duplicate declaration or conflicting placeholder names:
    /// both are programming errors in the static API tree.
    pub fn add(&mut self, method: ApiMethod<C>) -> &mut Self {
        let mut node = &mut self.root;
        for seg in segments(method.path) {
            node = if let Some(name) = seg.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
                let (existing, child) = node
                    .param
                    .get_or_insert_with(|| (name.to_string(), Box::default()));
                assert_eq!(
                    existing, name,
                    "conflicting placeholders at {}",
                    method.path
                );
                child
            } else {
                node.literal.entry(seg.to_string()).or_default()
            };
        }
        let index = self.methods.len();
        let previous = node.methods.insert(method.method, index);
        assert!(
            previous.is_none(),
            "duplicate API method {} {}",
            method.method.as_str(),
            method.path
        );
        self.methods.push(method);
        self
    }

    /// Add several methods.
    pub fn extend(&mut self, methods: impl IntoIterator<Item = ApiMethod<C>>) -> &mut Self {
        for m in methods {
            self.add(m);
        }
        self
    }

    pub fn methods(&self) -> &[ApiMethod<C>] {
        &self.methods
    }

    /// Find the method for `method` on `path` (relative to `/api2/json`).
    pub fn lookup(&self, method: HttpMethod, path: &str) -> Lookup<'_, C> {
        let mut node = &self.root;
        let mut path_params = Vec::new();
        for seg in segments(path) {
            let decoded = percent_decode_str(seg).decode_utf8_lossy();
            if let Some(child) = node.literal.get(decoded.as_ref()) {
                node = child;
            } else if let Some((name, child)) = &node.param {
                path_params.push((name.clone(), decoded.into_owned()));
                node = child;
            } else {
                return Lookup::NotFound;
            }
        }
        match node.methods.get(&method) {
            Some(&index) => Lookup::Found {
                method: &self.methods[index],
                path_params,
            },
            None if method == HttpMethod::Get && !node.literal.is_empty() => {
                Lookup::Index(node.literal.keys().cloned().collect())
            }
            None => Lookup::NotFound,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn router() -> Router<()> {
        let mut r = Router::new();
        r.add(ApiMethod::new(HttpMethod::Get, "/nodes", "index"));
        r.add(ApiMethod::new(
            HttpMethod::Get,
            "/nodes/{node}/tasks/{upid}/status",
            "status",
        ));
        r.add(ApiMethod::new(
            HttpMethod::Delete,
            "/nodes/{node}/tasks/{upid}",
            "stop",
        ));
        r
    }

    #[test]
    fn matches_params_and_ignores_extra_slashes() {
        let r = router();
        match r.lookup(HttpMethod::Get, "//nodes/n1/tasks/UPID%3An1%3A/status/") {
            Lookup::Found {
                method,
                path_params,
            } => {
                assert_eq!(method.name, "status");
                assert_eq!(path_params[0], ("node".into(), "n1".into()));
                assert_eq!(path_params[1], ("upid".into(), "UPID:n1:".into()));
            }
            _ => panic!("not found"),
        }
    }

    #[test]
    fn unknown_paths_and_methods() {
        let r = router();
        assert!(matches!(
            r.lookup(HttpMethod::Get, "/bogus"),
            Lookup::NotFound
        ));
        assert!(matches!(
            r.lookup(HttpMethod::Put, "/nodes"),
            Lookup::NotFound
        ));
        assert!(matches!(r.lookup(HttpMethod::Get, "/"), Lookup::Index(c) if c == ["nodes"]));
    }

    #[test]
    #[should_panic(expected = "duplicate API method")]
    fn duplicate_declaration_panics() {
        let mut r = router();
        r.add(ApiMethod::new(HttpMethod::Get, "/nodes", "index"));
    }
}
