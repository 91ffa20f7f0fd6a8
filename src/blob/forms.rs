//! A pattern program rendered back to SBPL forms: `(literal ...)`,
//! `(subpath ...)`, `(prefix ...)`, `(regex #"...")`.
//!
//! A program is the union of its accepting paths: walk it depth first, the
//! success edge of a test adding its atom, the failure edge adding nothing,
//! `05` starting a new section from the mark (each section expanded once).
//! Adjacent literals merge. A path `X $` together with the path `X "/"` (no
//! end test) is `(subpath X)`; a lone `X $` is `(literal X)`; a path of only
//! literals and variables without an end test is `(prefix X)`; anything with
//! classes, stars, skip-to or search is a regex. Siblings of a trie are
//! prefix-free, so the union of the forms equals the program (checked by
//! tests against the matcher).

use super::program::{regex_char, ByteSet, Insn, Match, Program, HARD};
use std::collections::{HashMap, HashSet};

/// One element of an accepting path.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Atom {
    Lit(Vec<u8>),
    Var(u8),
    Class(ByteSet),
    Star(ByteSet),
    SkipTo(u8),
    Search(u8),
    End,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FormKind {
    Literal,
    Subpath,
    Prefix,
    Regex,
}

impl FormKind {
    pub fn name(self) -> &'static str {
        match self {
            FormKind::Literal => "literal",
            FormKind::Subpath => "subpath",
            FormKind::Prefix => "prefix",
            FormKind::Regex => "regex",
        }
    }
}

/// One SBPL form of a pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Form {
    pub kind: FormKind,
    /// The text atoms (literal/subpath without the end test).
    pub atoms: Vec<Atom>,
    /// The accepting paths the form stands for (two for a subpath).
    pub paths: Vec<Vec<Atom>>,
}

/// More accepting paths than a rendering should list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TooManyPaths {
    pub limit: usize,
}

/// The most paths (and walk steps, times 50) a rendering will enumerate.
pub const PATH_LIMIT: usize = 20_000;

/// The program's accepting paths, in depth-first order (success first).
pub fn paths(p: &Program) -> Result<Vec<Vec<Atom>>, TooManyPaths> {
    let steps = p.steps();
    let mut out = Vec::new();
    let mut atoms: Vec<Atom> = Vec::new();
    // A restore goes on from the atoms read up to its mark; the same step
    // after the same atoms is one section, expanded once.
    let mut restarted: HashSet<(u32, Vec<Atom>, Vec<usize>)> = HashSet::new();
    // (step, atoms kept, section start, marks: atom counts at each save)
    let mut stack: Vec<(u32, usize, usize, Vec<usize>)> = vec![(0, 0, 0, Vec::new())];
    let mut budget = PATH_LIMIT * 50;
    while let Some((i, kept, start, marks)) = stack.pop() {
        budget = budget
            .checked_sub(1)
            .ok_or(TooManyPaths { limit: PATH_LIMIT })?;
        atoms.truncate(kept);
        let Some(s) = steps.get(i as usize) else {
            continue;
        };
        let atom = match s.insn {
            Insn::Success => {
                if out.len() >= PATH_LIMIT {
                    return Err(TooManyPaths { limit: PATH_LIMIT });
                }
                out.push(merge_literals(&atoms[start..]));
                continue;
            }
            Insn::Fail => continue,
            Insn::Save => {
                let mut m = marks;
                m.push(kept);
                stack.push((s.next, kept, start, m));
                continue;
            }
            Insn::Restore => {
                // The section goes on from the atoms read up to the mark.
                // Entries below on the stack still need `atoms[..kept]`, so
                // the prefix is copied past `kept` rather than cut back to.
                if let Some(&mark) = marks.last() {
                    let prefix = atoms[start..mark].to_vec();
                    let relative: Vec<usize> = marks.iter().map(|m| m - start).collect();
                    if restarted.insert((i, prefix.clone(), relative.clone())) {
                        atoms.extend(prefix);
                        let moved = relative.iter().map(|m| kept + m).collect();
                        stack.push((s.next, atoms.len(), kept, moved));
                    }
                }
                continue;
            }
            Insn::Pop => {
                let mut m = marks.clone();
                if m.pop().is_some() {
                    stack.push((s.next, kept, start, m));
                } else if s.on_fail != HARD {
                    stack.push((s.on_fail, kept, start, marks));
                }
                continue;
            }
            Insn::Star(k) => {
                atoms.push(Atom::Star(*p.set(k)));
                stack.push((s.next, kept + 1, start, marks));
                continue;
            }
            Insn::Lit { at, len } => Atom::Lit(p.lit(at, len).to_vec()),
            Insn::End => Atom::End,
            Insn::Var(k) => Atom::Var(k),
            Insn::Class(k) => Atom::Class(*p.set(k)),
            Insn::SkipTo(c) => Atom::SkipTo(c),
            Insn::Search(c) => Atom::Search(c),
        };
        // Failure edge below the success edge on the stack: success first.
        if s.on_fail != HARD {
            stack.push((s.on_fail, kept, start, marks.clone()));
        }
        atoms.push(atom);
        stack.push((s.next, kept + 1, start, marks));
    }
    Ok(out)
}

fn merge_literals(atoms: &[Atom]) -> Vec<Atom> {
    let mut out: Vec<Atom> = Vec::with_capacity(atoms.len());
    for a in atoms {
        match (out.last_mut(), a) {
            (Some(Atom::Lit(prev)), Atom::Lit(more)) => prev.extend_from_slice(more),
            _ => out.push(a.clone()),
        }
    }
    out
}

fn simple(atoms: &[Atom]) -> bool {
    atoms
        .iter()
        .all(|a| matches!(a, Atom::Lit(_) | Atom::Var(_)))
}

/// The program as SBPL forms, in path order.
pub fn forms(p: &Program) -> Result<Vec<Form>, TooManyPaths> {
    let paths = paths(p)?;
    let index: HashMap<&[Atom], usize> = paths
        .iter()
        .enumerate()
        .map(|(i, a)| (a.as_slice(), i))
        .collect();
    let mut used = vec![false; paths.len()];
    let mut forms: Vec<(usize, Form)> = Vec::new();
    // Pass 1: subpaths, the pair {X $, X "/"}.
    for (i, path) in paths.iter().enumerate() {
        let Some((Atom::End, text)) = path.split_last() else {
            continue;
        };
        if text.is_empty() || !simple(text) || used[i] {
            continue;
        }
        let mut slash = text.to_vec();
        slash.push(Atom::Lit(b"/".to_vec()));
        let slash = merge_literals(&slash);
        if let Some(&j) = index.get(slash.as_slice()) {
            if !used[j] {
                used[i] = true;
                used[j] = true;
                forms.push((
                    i,
                    Form {
                        kind: FormKind::Subpath,
                        atoms: text.to_vec(),
                        paths: vec![path.clone(), paths[j].clone()],
                    },
                ));
            }
        }
    }
    // Pass 2: everything else.
    for (i, path) in paths.iter().enumerate() {
        if used[i] {
            continue;
        }
        let (kind, atoms) = match path.split_last() {
            Some((Atom::End, text)) if simple(text) => (FormKind::Literal, text.to_vec()),
            _ if simple(path) => (FormKind::Prefix, path.clone()),
            _ => (FormKind::Regex, path.clone()),
        };
        forms.push((
            i,
            Form {
                kind,
                atoms,
                paths: vec![path.clone()],
            },
        ));
    }
    forms.sort_by_key(|(i, _)| *i);
    Ok(forms.into_iter().map(|(_, f)| f).collect())
}

impl Form {
    /// The form's text: quoted for literal/subpath/prefix (variables as
    /// `${NAME}`), regex text for a regex.
    pub fn text(&self, var_name: &dyn Fn(u8) -> String) -> String {
        match self.kind {
            FormKind::Regex => regex_text(&self.atoms, var_name),
            _ => {
                let mut raw = Vec::new();
                for a in &self.atoms {
                    match a {
                        Atom::Lit(b) => raw.extend_from_slice(b),
                        Atom::Var(k) => {
                            raw.extend_from_slice(format!("${{{}}}", var_name(*k)).as_bytes())
                        }
                        _ => {}
                    }
                }
                super::pattern::quote(&raw)
            }
        }
    }

    /// `(literal "/a")`, `(subpath "/b")`, `(regex #"^/c")`.
    pub fn sbpl(&self, var_name: &dyn Fn(u8) -> String) -> String {
        match self.kind {
            FormKind::Regex => format!("(regex #\"{}\")", self.text(var_name)),
            k => format!("({} {})", k.name(), self.text(var_name)),
        }
    }

    /// Whether `input` matches this form alone.
    pub fn matches(&self, input: &[u8], vars: &[(u8, &[u8])]) -> Match {
        let mut unknown = None;
        for path in &self.paths {
            match path_matches(path, input, vars) {
                Match::Yes => return Match::Yes,
                Match::UnknownVar(k) => unknown = Some(k),
                Match::No => {}
            }
        }
        unknown.map_or(Match::No, Match::UnknownVar)
    }
}

/// Regex text of a path: `^` + atoms, `$` for the end test; `X X*` is
/// written `X+`, and a leading `^.*` (a search) is dropped.
fn regex_text(atoms: &[Atom], var_name: &dyn Fn(u8) -> String) -> String {
    let mut out = String::from("^");
    let mut i = 0;
    while i < atoms.len() {
        match (&atoms[i], atoms.get(i + 1)) {
            (Atom::Class(a), Some(Atom::Star(b))) if a == b => {
                out.push_str(&a.class_text());
                out.push('+');
                i += 2;
                continue;
            }
            (Atom::Lit(b), _) => b.iter().for_each(|&c| out.push_str(&regex_char(c))),
            (Atom::Var(k), _) => out.push_str(&format!("${{{}}}", var_name(*k))),
            (Atom::Class(s), _) => out.push_str(&s.class_text()),
            (Atom::Star(s), _) => {
                out.push_str(&s.class_text());
                out.push('*');
            }
            (Atom::SkipTo(c), _) => {
                let c = regex_char(*c);
                out.push_str(&format!("[^{c}]*{c}"));
            }
            (Atom::Search(c), _) => {
                out.push_str(".*");
                out.push_str(&regex_char(*c));
            }
            (Atom::End, _) => out.push('$'),
        }
        i += 1;
    }
    match out.strip_prefix("^.*") {
        Some(rest) => rest.to_owned(),
        None => out,
    }
}

/// Matches one straight-line path by simulating the set of positions.
fn path_matches(path: &[Atom], input: &[u8], vars: &[(u8, &[u8])]) -> Match {
    let mut positions = vec![0usize];
    for atom in path {
        let mut next = Vec::new();
        for &pos in &positions {
            let rest = &input[pos..];
            match atom {
                Atom::Lit(b) => {
                    if rest.starts_with(b) {
                        next.push(pos + b.len());
                    }
                }
                Atom::End => {
                    if rest.is_empty() {
                        next.push(pos);
                    }
                }
                Atom::Class(s) => {
                    if rest.first().is_some_and(|&c| s.contains(c)) {
                        next.push(pos + 1);
                    }
                }
                Atom::Star(s) => {
                    next.push(pos);
                    for (q, &c) in rest.iter().enumerate() {
                        if !s.contains(c) {
                            break;
                        }
                        next.push(pos + q + 1);
                    }
                }
                Atom::SkipTo(c) => {
                    if let Some(q) = rest.iter().position(|b| b == c) {
                        next.push(pos + q + 1);
                    }
                }
                Atom::Search(c) => {
                    next.extend(
                        rest.iter()
                            .enumerate()
                            .filter(|(_, b)| *b == c)
                            .map(|(q, _)| pos + q + 1),
                    );
                }
                Atom::Var(k) => {
                    let mut given = false;
                    for &(_, v) in vars.iter().filter(|(vk, _)| vk == k) {
                        given = true;
                        if rest.starts_with(v) {
                            next.push(pos + v.len());
                        }
                    }
                    if !given {
                        return Match::UnknownVar(*k);
                    }
                }
            }
        }
        next.sort_unstable();
        next.dedup();
        if next.is_empty() {
            return Match::No;
        }
        positions = next;
    }
    Match::Yes
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lit(s: &str) -> Vec<u8> {
        let mut v = vec![0x40 + s.len() as u8 - 1];
        v.extend_from_slice(s.as_bytes());
        v
    }

    fn sbpl(code: &[u8]) -> Vec<String> {
        let p = Program::decode(code, 2).unwrap();
        let names = |k: u8| ["HOME", "ANY_UUID"][usize::from(k)].to_owned();
        forms(&p).unwrap().iter().map(|f| f.sbpl(&names)).collect()
    }

    #[test]
    fn the_three_path_shapes() {
        let base = lit("/tmp/foo");
        assert_eq!(
            sbpl(&[&base[..], &[0x0f, 0x00, 0x0f, 0x0a]].concat()),
            ["(literal \"/tmp/foo\")"]
        );
        assert_eq!(
            sbpl(&[&base[..], &[0x0f, 0x40, b'/', 0x80, 0x0a, 0x00, 0x0f, 0x0a]].concat()),
            ["(subpath \"/tmp/foo\")"]
        );
        assert_eq!(
            sbpl(&[&base[..], &[0x0f, 0x0a]].concat()),
            ["(prefix \"/tmp/foo\")"]
        );
    }

    #[test]
    fn a_trie_lists_every_literal_and_variables_by_name() {
        // "com.apple." then "bird" [end | ".token" end] or "cloudd" end.
        let code = [
            lit("com.apple."),
            vec![0x0f],
            lit("bird"),
            vec![0x8d, 0x00, 0x80, 0x0a],
            lit(".token"),
            vec![0x0f, 0x00, 0x0f, 0x0a],
            lit("cloudd"),
            vec![0x0f, 0x00, 0x0f, 0x0a],
        ]
        .concat();
        assert_eq!(
            sbpl(&code),
            [
                "(literal \"com.apple.bird\")",
                "(literal \"com.apple.bird.token\")",
                "(literal \"com.apple.cloudd\")"
            ]
        );
        let home = [vec![0x10, 0x0f], lit("/tmp"), vec![0x0f, 0x00, 0x0f, 0x0a]].concat();
        assert_eq!(sbpl(&home), ["(literal \"${HOME}/tmp\")"]);
    }

    #[test]
    fn classes_and_searches_render_as_regex() {
        // `.*\.app/[^/]+$`
        let code = [
            vec![0x03, b'.', 0x0f],
            lit("app/"),
            vec![0x0f, 0x0b, 0x01, 0x30, 0xff, 0x00, 0x2e, 0x0f],
            vec![0x0b, 0x81, 0x30, 0xff, 0x00, 0x2e, 0x00, 0x0f, 0x0a],
        ]
        .concat();
        assert_eq!(sbpl(&code), ["(regex #\"\\.app/[^/]+$\")"]);
    }
}
