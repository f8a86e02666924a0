//! `--name value` flags (and bare `--switch`es) for the tools; no clap needed.

use std::collections::BTreeMap;
use std::str::FromStr;

#[derive(Debug, Default, Clone)]
pub struct Args {
    values: BTreeMap<String, String>,
    switches: Vec<String>,
}

impl Args {
    /// Parses `args` (without the program name). `switches` lists the flags
    /// that take no value.
    pub fn parse(
        args: impl IntoIterator<Item = String>,
        switches: &[&str],
    ) -> Result<Self, String> {
        let mut out = Args::default();
        let mut it = args.into_iter();
        while let Some(a) = it.next() {
            let name = a
                .strip_prefix("--")
                .ok_or_else(|| format!("unexpected argument {a:?}"))?;
            if let Some((k, v)) = name.split_once('=') {
                out.values.insert(k.to_owned(), v.to_owned());
            } else if switches.contains(&name) {
                out.switches.push(name.to_owned());
            } else {
                let v = it.next().ok_or_else(|| format!("--{name} needs a value"))?;
                out.values.insert(name.to_owned(), v);
            }
        }
        Ok(out)
    }

    pub fn from_env(switches: &[&str]) -> Result<Self, String> {
        Self::parse(std::env::args().skip(1), switches)
    }

    pub fn has(&self, switch: &str) -> bool {
        self.switches.iter().any(|s| s == switch)
    }

    pub fn str(&self, name: &str) -> Option<&str> {
        self.values.get(name).map(String::as_str)
    }

    /// The value of `--name`, else `default`; an unparsable value is an error.
    pub fn get<T: FromStr>(&self, name: &str, default: T) -> Result<T, String> {
        match self.values.get(name) {
            None => Ok(default),
            Some(v) => v
                .parse()
                .map_err(|_| format!("--{name}: cannot parse {v:?}")),
        }
    }

    /// Whether `--name` was given (so a report can say "assumed" or "given").
    pub fn given(&self, name: &str) -> bool {
        self.values.contains_key(name)
    }

    /// A comma-separated list, e.g. `--levels 1,4,16,64`.
    pub fn list<T: FromStr + Clone>(&self, name: &str, default: &[T]) -> Result<Vec<T>, String> {
        match self.values.get(name) {
            None => Ok(default.to_vec()),
            Some(v) => v
                .split(',')
                .filter(|s| !s.trim().is_empty())
                .map(|s| {
                    s.trim()
                        .parse()
                        .map_err(|_| format!("--{name}: cannot parse {s:?}"))
                })
                .collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(a: &[&str]) -> Result<Args, String> {
        Args::parse(a.iter().map(|s| s.to_string()), &["json"])
    }

    #[test]
    fn values_switches_and_lists() {
        let a = parse(&[
            "--events",
            "20",
            "--json",
            "--levels=1,4, 16",
            "--name",
            "x",
        ])
        .unwrap();
        assert_eq!(a.get("events", 5u32).unwrap(), 20);
        assert_eq!(a.get("missing", 5u32).unwrap(), 5);
        assert!(a.has("json"));
        assert!(!a.has("other"));
        assert_eq!(a.list::<u32>("levels", &[]).unwrap(), vec![1, 4, 16]);
        assert_eq!(a.str("name"), Some("x"));
        assert!(a.given("events") && !a.given("missing"));
    }

    #[test]
    fn errors_name_the_flag() {
        assert!(parse(&["events"]).unwrap_err().contains("unexpected"));
        assert!(parse(&["--events"])
            .unwrap_err()
            .contains("--events needs a value"));
        let a = parse(&["--events", "many"]).unwrap();
        assert!(a.get("events", 1u32).unwrap_err().contains("--events"));
    }
}
