//! A strict parser of the Prometheus text exposition format (0.0.4).
//!
//! Checks: `# HELP name text` and `# TYPE name kind` well-formed, at most once per family and
//! before its samples; every sample `name{label="value",…} value [timestamp]` with valid names,
//! escapes and a float value, belonging to a declared family, families not interleaved, no
//! series twice; histograms with cumulative buckets, a `+Inf` bucket equal to `_count`.

use std::collections::{BTreeMap, HashMap, HashSet};

/// Label pairs, in the order written.
pub type Labels = Vec<(String, String)>;

/// One sample line.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    pub name: String,
    pub labels: Vec<(String, String)>,
    pub value: f64,
}

/// A parsed exposition.
#[derive(Debug, Clone)]
pub struct Exposition {
    pub text: String,
    pub samples: Vec<Sample>,
    /// Family name → type.
    pub types: HashMap<String, String>,
    /// Family name → help text.
    pub helps: HashMap<String, String>,
}

fn is_metric_name(s: &str) -> bool {
    let mut chars = s.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_' || c == ':')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
}

fn is_label_name(s: &str) -> bool {
    let mut chars = s.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

fn parse_float(s: &str) -> Option<f64> {
    match s {
        "+Inf" | "Inf" => Some(f64::INFINITY),
        "-Inf" => Some(f64::NEG_INFINITY),
        "NaN" => Some(f64::NAN),
        _ if s.chars().all(|c| c.is_ascii_digit() || "+-.eE".contains(c)) && !s.is_empty() => s.parse().ok(),
        _ => None,
    }
}

/// Parses `{a="x",b="y"}` at the start of `s`; returns the labels and the rest.
fn parse_labels(s: &str) -> Result<(Labels, &str), String> {
    let mut rest = s.strip_prefix('{').ok_or("expected {")?;
    let mut labels: Labels = Vec::new();
    loop {
        rest = rest.trim_start();
        if let Some(r) = rest.strip_prefix('}') {
            return Ok((labels, r));
        }
        let eq = rest.find('=').ok_or("label without =")?;
        let name = rest[..eq].trim();
        if !is_label_name(name) {
            return Err(format!("bad label name {name:?}"));
        }
        if labels.iter().any(|(n, _)| n == name) {
            return Err(format!("label {name} twice"));
        }
        rest = rest[eq + 1..].trim_start().strip_prefix('"').ok_or("label value not quoted")?;
        let mut value = String::new();
        let mut chars = rest.char_indices();
        let end = loop {
            match chars.next() {
                None => return Err("unterminated label value".into()),
                Some((i, '"')) => break i,
                Some((_, '\\')) => match chars.next() {
                    Some((_, '\\')) => value.push('\\'),
                    Some((_, '"')) => value.push('"'),
                    Some((_, 'n')) => value.push('\n'),
                    other => return Err(format!("bad escape {other:?} in a label value")),
                },
                Some((_, '\n')) => return Err("newline in a label value".into()),
                Some((_, c)) => value.push(c),
            }
        };
        labels.push((name.to_string(), value));
        rest = rest[end + 1..].trim_start();
        if let Some(r) = rest.strip_prefix(',') {
            rest = r;
        } else if !rest.starts_with('}') {
            return Err("expected , or } after a label".into());
        }
    }
}

/// The family a sample name belongs to, given the declared types.
fn family_of<'a>(name: &'a str, types: &HashMap<String, String>) -> Option<&'a str> {
    if types.contains_key(name) {
        return Some(name);
    }
    for suffix in ["_bucket", "_sum", "_count"] {
        if let Some(base) = name.strip_suffix(suffix) {
            match types.get(base).map(String::as_str) {
                Some("histogram") => return Some(base),
                Some("summary") if suffix != "_bucket" => return Some(base),
                _ => {}
            }
        }
    }
    None
}

/// Parses and checks an exposition.
pub fn parse(text: &str) -> Result<Exposition, String> {
    let mut types: HashMap<String, String> = HashMap::new();
    let mut helps: HashMap<String, String> = HashMap::new();
    let mut samples = Vec::new();
    let mut seen_series = HashSet::new();
    let mut finished_families: HashSet<String> = HashSet::new();
    let mut current_family: Option<String> = None;
    if !text.is_empty() && !text.ends_with('\n') {
        return Err("the exposition does not end with a newline".into());
    }
    for (n, line) in text.lines().enumerate() {
        let at = |e: String| format!("line {}: {e}: {line:?}", n + 1);
        if line.trim().is_empty() {
            continue;
        }
        if let Some(comment) = line.strip_prefix('#') {
            let comment = comment.trim_start();
            let mut words = comment.splitn(3, ' ');
            let keyword = words.next().unwrap_or("");
            if keyword != "HELP" && keyword != "TYPE" {
                continue;
            }
            let name = words.next().unwrap_or("");
            if !is_metric_name(name) {
                return Err(at(format!("bad metric name {name:?} in # {keyword}")));
            }
            let rest = words.next().unwrap_or("").trim();
            if keyword == "HELP" {
                if rest.is_empty() {
                    return Err(at("empty HELP text".into()));
                }
                if helps.insert(name.into(), rest.into()).is_some() {
                    return Err(at(format!("second HELP for {name}")));
                }
            } else {
                if !["counter", "gauge", "histogram", "summary", "untyped"].contains(&rest) {
                    return Err(at(format!("bad type {rest:?}")));
                }
                if samples.iter().any(|s: &Sample| family_of(&s.name, &types) == Some(name) || s.name == name) {
                    return Err(at(format!("TYPE of {name} after its samples")));
                }
                if types.insert(name.into(), rest.into()).is_some() {
                    return Err(at(format!("second TYPE for {name}")));
                }
            }
            continue;
        }
        let name_end = line.find(['{', ' ', '\t']).ok_or_else(|| at("no value".into()))?;
        let name = &line[..name_end];
        if !is_metric_name(name) {
            return Err(at(format!("bad metric name {name:?}")));
        }
        let (labels, rest) = if line[name_end..].starts_with('{') {
            parse_labels(&line[name_end..]).map_err(at)?
        } else {
            (Vec::new(), &line[name_end..])
        };
        let mut fields = rest.split_whitespace();
        let value_text = fields.next().ok_or_else(|| at("no value".into()))?;
        let value = parse_float(value_text).ok_or_else(|| at(format!("bad value {value_text:?}")))?;
        if let Some(ts) = fields.next() {
            ts.parse::<i64>().map_err(|_| at(format!("bad timestamp {ts:?}")))?;
        }
        if fields.next().is_some() {
            return Err(at("trailing fields".into()));
        }
        if !rest.starts_with([' ', '\t']) {
            return Err(at("no space before the value".into()));
        }
        let family = family_of(name, &types).ok_or_else(|| at(format!("sample of {name} has no # TYPE")))?.to_string();
        if current_family.as_deref() != Some(family.as_str()) {
            if finished_families.contains(&family) {
                return Err(at(format!("samples of {family} are not in one group")));
            }
            if let Some(prev) = current_family.replace(family.clone()) {
                finished_families.insert(prev);
            }
        }
        let mut key_labels = labels.clone();
        key_labels.sort();
        if !seen_series.insert((name.to_string(), key_labels)) {
            return Err(at("series appears twice".into()));
        }
        let kind = types[&family].as_str();
        if kind == "counter" && (value.is_nan() || value < 0.0) {
            return Err(at("negative or NaN counter".into()));
        }
        if kind == "histogram" && name.ends_with("_bucket") && !labels.iter().any(|(k, _)| k == "le") {
            return Err(at("histogram bucket without le".into()));
        }
        samples.push(Sample { name: name.into(), labels, value });
    }
    let exposition = Exposition { text: text.into(), samples, types, helps };
    exposition.check_histograms()?;
    Ok(exposition)
}

impl Exposition {
    fn check_histograms(&self) -> Result<(), String> {
        for (family, kind) in &self.types {
            if kind != "histogram" {
                continue;
            }
            // Series are keyed by their labels other than `le`.
            let mut buckets: BTreeMap<Labels, Vec<(f64, f64)>> = BTreeMap::new();
            for s in self.samples.iter().filter(|s| s.name == format!("{family}_bucket")) {
                let le = s.labels.iter().find(|(k, _)| k == "le").map(|(_, v)| v.as_str()).unwrap_or("");
                let le = parse_float(le).ok_or_else(|| format!("{family}: bad le {le:?}"))?;
                let rest: Vec<_> = s.labels.iter().filter(|(k, _)| k != "le").cloned().collect();
                buckets.entry(rest).or_default().push((le, s.value));
            }
            if buckets.is_empty() {
                return Err(format!("histogram {family} has no buckets"));
            }
            for (labels, mut bs) in buckets {
                bs.sort_by(|a, b| a.0.total_cmp(&b.0));
                if bs.windows(2).any(|w| w[1].1 < w[0].1) {
                    return Err(format!("{family}{labels:?}: buckets are not cumulative: {bs:?}"));
                }
                let inf = bs.last().filter(|b| b.0 == f64::INFINITY).map(|b| b.1);
                let inf = inf.ok_or_else(|| format!("{family}{labels:?}: no +Inf bucket"))?;
                let count = self
                    .find(&format!("{family}_count"), &labels)
                    .ok_or_else(|| format!("{family}{labels:?}: no _count"))?;
                if count != inf {
                    return Err(format!("{family}{labels:?}: _count {count} != +Inf bucket {inf}"));
                }
                if self.find(&format!("{family}_sum"), &labels).is_none() {
                    return Err(format!("{family}{labels:?}: no _sum"));
                }
            }
        }
        Ok(())
    }

    fn find(&self, name: &str, labels: &[(String, String)]) -> Option<f64> {
        let mut want = labels.to_vec();
        want.sort();
        self.samples
            .iter()
            .find(|s| {
                let mut have = s.labels.clone();
                have.sort();
                s.name == name && have == want
            })
            .map(|s| s.value)
    }

    /// The value of the series `name{labels}` (exactly these labels), if present.
    pub fn value(&self, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
        let labels: Vec<(String, String)> = labels.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        self.find(name, &labels)
    }

    /// The value of `name{labels}`; panics (showing the exposition) if absent.
    pub fn get(&self, name: &str, labels: &[(&str, &str)]) -> f64 {
        self.value(name, labels).unwrap_or_else(|| panic!("no series {name}{labels:?} in /metrics:\n{}", self.text))
    }
}
