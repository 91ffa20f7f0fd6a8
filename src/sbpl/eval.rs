//! The Scheme SBPL profiles are written in (TinyScheme's, as Apple's
//! profiles use it), evaluated to [`Rules`].
//!
//! Special forms: `quote`, `quasiquote`, `if`, `cond`, `case`, `when`,
//! `unless`, `and`, `or`, `let` (also named), `let*`, `letrec`, `lambda`,
//! `define`, `set!`, `begin`, `macro`, `defined?`, and the SBPL ones:
//! `version`, `allow`, `deny`, `with`, `debug`, `import`, `with-filter`,
//! `with-operations`, `with-modifier`. Procedures: the filter forms of
//! [`super::filters`], `require-all`, `require-any`, `require-not`, `param`,
//! the list procedures that call back (`map`, `for-each`, `apply`), Apple's
//! library ([`super::library`]: `path-ancestors`, `define-storage-class`,
//! `require-entitlement`, `trace`, aliases, ...) and the plain procedures of
//! [`super::procs`] (numbers, strings, characters, lists).
//!
//! In `(allow OPS... FILTERS... MODIFIERS...)` a bare symbol that names an
//! operation is that operation (`file-read*` stands for itself and every
//! operation inheriting from it); anything else is evaluated and must give a
//! filter, a `(with ...)` modifier, an operation symbol or a list of those.
//! Several filters in one rule: the rule applies when any of them holds.
//!
//! Evaluation is bounded (nesting depth and step count), so a runaway
//! recursion in a profile is an error, not a hang or a stack overflow.

use super::error::{hint, CompileError};
use super::filters::{self, ArgKind, Form, WithKind};
use super::library::{self, Alias};
use super::procs;
use super::reader::{read, Datum, Sexp, Span};
use super::regex::Regex;
use super::rules::{Filter, InlineModifier, Leaf, ModifierArg, Outcome, PathKind, Rule, Rules};
use crate::blob::action;
use crate::vocab::{OpId, Vocab};
use std::cell::RefCell;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::rc::Rc;

/// Compile options: parameters for `(param "KEY")`.
#[derive(Debug, Clone, Default)]
pub struct Options {
    pub params: Vec<(String, String)>,
}

/// Deepest evaluation nesting (forms inside forms, calls inside calls).
const MAX_DEPTH: usize = 160;
/// Most evaluation steps one profile may take.
const MAX_STEPS: u64 = 1_000_000;
/// Longest string or list a profile may build: bounds memory when a
/// profile doubles a value in a loop.
const MAX_VALUE_LEN: usize = 1 << 16;

/// A value of the SBPL Scheme subset.
#[derive(Debug, Clone)]
pub enum Value {
    Unspecified,
    Bool(bool),
    Int(i64),
    Str(String),
    /// A `#"..."` literal, its text as written: a string read without
    /// escapes, which a string filter takes as its regex variant.
    Regex(String),
    Symbol(String),
    Char(char),
    List(Vec<Value>),
    Procedure(Rc<Closure>),
    /// A `(macro ...)`: called with the whole unevaluated form, it gives
    /// the form to evaluate in its place.
    Macro(Rc<Closure>),
    Builtin(Builtin),
    Filter(Filter),
    Modifier(Modifier),
}

impl Value {
    /// The type name used in messages, as Apple's compiler words them.
    pub fn kind(&self) -> &'static str {
        match self {
            Value::Unspecified => "unspecified",
            Value::Bool(_) => "boolean",
            Value::Int(_) => "integer",
            Value::Str(_) => "string",
            Value::Regex(_) => "regex",
            Value::Symbol(_) => "symbol",
            Value::Char(_) => "character",
            Value::List(_) => "list",
            Value::Macro(_) => "macro",
            Value::Procedure(_) | Value::Builtin(_) => "procedure",
            Value::Filter(_) => "filter",
            Value::Modifier(_) => "modifier",
        }
    }

    fn truthy(&self) -> bool {
        !matches!(self, Value::Bool(false))
    }
}

/// A `lambda`: parameters, body, and where it was made.
#[derive(Debug)]
pub struct Closure {
    name: String,
    params: Vec<String>,
    rest: Option<String>,
    body: Rc<[Sexp]>,
    env: usize,
    file: usize,
}

/// A `(with ...)` value.
#[derive(Debug, Clone)]
pub struct Modifier {
    kind: WithKind,
    arg: Option<ModifierArg>,
}

/// Procedures implemented here.
#[derive(Debug, Clone, Copy)]
pub enum Builtin {
    Filter(&'static Form),
    RequireAll,
    RequireAny,
    RequireNot,
    Param,
    StringAppend,
    List,
    Not,
    Equal,
    IsNull,
    IsString,
    Map,
    Apply,
    Append,
    Cons,
    Car,
    Cdr,
    Length,
    /// A procedure of [`procs`], by name.
    Proc(
        &'static str,
        fn(&[Value]) -> std::result::Result<Value, String>,
    ),
    ForEach,
    Error,
    /// `allow` / `deny` as values (`(define (f op) (op file-read* ...))`
    /// called as `(f allow)`); true for deny.
    Rule(bool),
    Trace,
    PathAncestors,
    DefineStorageClass,
    RequireEntitlement,
    EntitlementValue,
    EntitlementValueRegex,
    /// A sandbox option asked for by a call of no arguments
    /// (`(disable-callouts)`): nothing in the blob [model].
    SandboxOption(&'static str),
    /// One of [`library::FILTER_PROCEDURES`], by index.
    FilterProcedure(usize),
}

const BUILTINS: &[(&str, Builtin)] = &[
    ("require-all", Builtin::RequireAll),
    ("require-any", Builtin::RequireAny),
    ("require-not", Builtin::RequireNot),
    ("param", Builtin::Param),
    ("string-append", Builtin::StringAppend),
    ("list", Builtin::List),
    ("not", Builtin::Not),
    ("equal?", Builtin::Equal),
    ("eq?", Builtin::Equal),
    ("eqv?", Builtin::Equal),
    ("string=?", Builtin::Equal),
    ("null?", Builtin::IsNull),
    ("string?", Builtin::IsString),
    ("map", Builtin::Map),
    ("apply", Builtin::Apply),
    ("append", Builtin::Append),
    ("cons", Builtin::Cons),
    ("car", Builtin::Car),
    ("cdr", Builtin::Cdr),
    ("length", Builtin::Length),
    ("for-each", Builtin::ForEach),
    ("allow", Builtin::Rule(false)),
    ("deny", Builtin::Rule(true)),
    ("error", Builtin::Error),
    ("trace", Builtin::Trace),
    ("path-ancestors", Builtin::PathAncestors),
    ("define-storage-class", Builtin::DefineStorageClass),
    ("require-entitlement", Builtin::RequireEntitlement),
    ("entitlement-value", Builtin::EntitlementValue),
    ("entitlement-value-regex", Builtin::EntitlementValueRegex),
];

const SPECIAL_FORMS: &[&str] = &[
    "quote",
    "if",
    "cond",
    "case",
    "when",
    "unless",
    "and",
    "or",
    "let",
    "let*",
    "letrec",
    "letrec*",
    "lambda",
    "define",
    "set!",
    "begin",
    "version",
    "allow",
    "deny",
    "with",
    "debug",
    "import",
    "quasiquote",
    "macro",
    "defined?",
    "with-filter",
    "with-operations",
    "with-modifier",
];

/// A procedure this compiler provides under `name` (filters first, then
/// the evaluator's, then the plain ones of [`procs`], then Apple's
/// library), aliases not included.
fn builtin(name: &str) -> Option<Builtin> {
    if let Some(form) = filters::find(name) {
        return Some(Builtin::Filter(form));
    }
    if let Some((_, b)) = BUILTINS.iter().find(|(n, _)| *n == name) {
        return Some(*b);
    }
    if let Some((n, f)) = procs::find(name) {
        return Some(Builtin::Proc(n, f));
    }
    if let Some(n) = library::SANDBOX_OPTIONS.iter().find(|n| **n == name) {
        return Some(Builtin::SandboxOption(n));
    }
    library::FILTER_PROCEDURES
        .iter()
        .position(|(n, _)| *n == name)
        .map(Builtin::FilterProcedure)
}

/// What an extra `with-filter` / `with-operations` / `with-modifier` adds
/// to every rule made while its body runs.
#[derive(Debug, Clone)]
enum Inject {
    Filter(Filter),
    /// The operations' expansion and their names (their precedence).
    Ops(Vec<OpId>, Vec<OpId>),
    Modifier(Modifier),
}

struct Frame {
    vars: Vec<(String, Value)>,
    parent: Option<usize>,
}

/// The folders macOS installs its system profiles in.
pub const SYSTEM_PROFILE_DIRS: [&str; 2] =
    ["/System/Library/Sandbox/Profiles", "/usr/share/sandbox"];

/// Where imports are looked for after the importing file's directory.
#[derive(Debug, Clone, Default)]
pub struct SearchPath(pub Vec<PathBuf>);

impl SearchPath {
    /// Where macOS keeps its profiles (the system's own copy wins, as an
    /// import on a Mac finds it), then `$SBCHECK_SBPL_PATH`
    /// (colon-separated): where a Linux machine keeps a copy of Apple's
    /// text, which the project does not ship.
    pub fn standard() -> SearchPath {
        let mut dirs: Vec<PathBuf> = SYSTEM_PROFILE_DIRS.iter().map(PathBuf::from).collect();
        dirs.extend(
            std::env::var_os("SBCHECK_SBPL_PATH")
                .map(|v| std::env::split_paths(&v).collect::<Vec<_>>())
                .unwrap_or_default(),
        );
        SearchPath(dirs)
    }

    /// The first `dir/name` that exists, for a profile named as macOS
    /// names its system profiles (`bsd.sb`).
    pub fn find(&self, name: &str) -> Option<PathBuf> {
        self.0.iter().map(|d| d.join(name)).find(|p| p.is_file())
    }
}

/// Reads and evaluates `src` (from `file`, if it came from one) into rules,
/// with the rules Apple's compiler adds.
pub fn evaluate(
    src: &str,
    file: Option<&Path>,
    options: &Options,
    search: &SearchPath,
) -> Result<Rules> {
    let mut ev = Evaluator {
        vocab: Vocab::macos_14(),
        options,
        search,
        rules: Rules::default(),
        default_seen: false,
        frames: vec![Frame {
            vars: Vec::new(),
            parent: None,
        }],
        files: vec![file.map(Path::to_path_buf)],
        file: 0,
        importing: Vec::new(),
        depth: 0,
        steps: 0,
        in_rule: 0,
        inject: Vec::new(),
        trace: None,
        storage_classes: Vec::new(),
        expanded: RefCell::default(),
    };
    ev.importing.extend(file.map(canonical));
    ev.run_source(src)?;
    if !ev.default_seen {
        // Apple's own profiles rely on this (opendirectory.sb, quicklookd-
        // job-creation.sb and others have rules and no default): a profile
        // that names no default denies what its rules do not allow [model].
        let mut implicit = Rules::default();
        implicit.push_default(ev.vocab, Outcome::DENY);
        implicit.rules.append(&mut ev.rules.rules);
        ev.rules = implicit;
    }
    ev.rules.push_flow_divert();
    Ok(ev.rules)
}

fn canonical(path: &Path) -> PathBuf {
    path.canonicalize().unwrap_or_else(|_| path.to_path_buf())
}

struct Evaluator<'a> {
    vocab: &'static Vocab,
    options: &'a Options,
    search: &'a SearchPath,
    rules: Rules,
    default_seen: bool,
    /// Environment frames; 0 is the global one. Closures hold an index, so
    /// no reference cycles.
    frames: Vec<Frame>,
    /// Files read so far; `file` indexes the one being evaluated.
    files: Vec<Option<PathBuf>>,
    file: usize,
    /// Files being imported, outermost first, to catch cycles.
    importing: Vec<PathBuf>,
    depth: usize,
    steps: u64,
    /// Above 0 while the arguments of a rule are evaluated.
    in_rule: usize,
    /// Open `with-filter` / `with-operations` / `with-modifier` bodies,
    /// outermost first.
    inject: Vec<Inject>,
    /// `(trace "FILE")`: where the sandbox would log; one per profile.
    trace: Option<String>,
    /// Names given to `define-storage-class`, each once.
    storage_classes: Vec<String>,
    /// The operations each operation name used so far stands for.
    expanded: RefCell<HashMap<String, Vec<OpId>>>,
}

type Result<T> = std::result::Result<T, CompileError>;

impl Evaluator<'_> {
    fn error(&self, form: &Sexp, message: impl Into<String>) -> CompileError {
        CompileError::at(form, message).in_file(self.files[self.file].as_ref())
    }

    /// An error at `at` (an atom, say) quoting the form `within` it is in.
    fn error_within(&self, at: &Sexp, within: &Sexp, message: impl Into<String>) -> CompileError {
        CompileError {
            span: at.span,
            ..self.error(within, message)
        }
    }

    fn run_source(&mut self, src: &str) -> Result<()> {
        let forms = read(src).map_err(|e| {
            CompileError::new(e.span, e.message).in_file(self.files[self.file].as_ref())
        })?;
        for form in &forms {
            self.eval(form, 0)?;
        }
        Ok(())
    }

    // ---------------------------------------------------------------- core

    fn eval(&mut self, form: &Sexp, env: usize) -> Result<Value> {
        self.steps += 1;
        if self.steps > MAX_STEPS {
            return Err(self.error(
                form,
                format!("evaluation did not finish within {MAX_STEPS} steps (runaway recursion?)"),
            ));
        }
        if self.depth >= MAX_DEPTH {
            return Err(self.error(form, format!("evaluation nested deeper than {MAX_DEPTH}")));
        }
        self.depth += 1;
        let result = self.eval_inner(form, env);
        self.depth -= 1;
        result
    }

    fn eval_inner(&mut self, form: &Sexp, env: usize) -> Result<Value> {
        match &form.datum {
            Datum::Bool(b) => Ok(Value::Bool(*b)),
            Datum::Int(n) => Ok(Value::Int(*n)),
            Datum::Str(s) => Ok(Value::Str(s.clone())),
            Datum::Regex(r) => Ok(Value::Regex(r.clone())),
            Datum::Char(c) => Ok(Value::Char(*c)),
            Datum::Symbol(name) => self.variable(name, form, env),
            Datum::List(items) => match items.first() {
                None => Err(self.error(form, "empty form ()")),
                Some(head) => match head.symbol() {
                    Some(name) if SPECIAL_FORMS.contains(&name) && !self.bound(name, env) => {
                        self.special(name, form, items, env)
                    }
                    _ => self.call(form, items, env),
                },
            },
        }
    }

    fn lookup(&self, name: &str, env: usize) -> Option<&Value> {
        let mut frame = Some(env);
        while let Some(i) = frame {
            if let Some((_, v)) = self.frames[i].vars.iter().rev().find(|(n, _)| n == name) {
                return Some(v);
            }
            frame = self.frames[i].parent;
        }
        None
    }

    fn bound(&self, name: &str, env: usize) -> bool {
        self.lookup(name, env).is_some()
    }

    fn define(&mut self, env: usize, name: &str, value: Value) {
        let vars = &mut self.frames[env].vars;
        match vars.iter_mut().find(|(n, _)| n == name) {
            Some(slot) => slot.1 = value,
            None => vars.push((name.to_owned(), value)),
        }
    }

    fn new_frame(&mut self, parent: usize) -> usize {
        self.frames.push(Frame {
            vars: Vec::new(),
            parent: Some(parent),
        });
        self.frames.len() - 1
    }

    /// Every name in scope, for suggestions.
    fn names_in_scope(&self, env: usize) -> Vec<&str> {
        let mut names = Vec::new();
        let mut frame = Some(env);
        while let Some(i) = frame {
            names.extend(self.frames[i].vars.iter().map(|(n, _)| n.as_str()));
            frame = self.frames[i].parent;
        }
        names
    }

    fn variable(&self, name: &str, form: &Sexp, env: usize) -> Result<Value> {
        if let Some(v) = self.lookup(name, env) {
            return Ok(v.clone());
        }
        if let Some(v) = self.global(name) {
            return Ok(v);
        }
        let mut names = self.names_in_scope(env);
        names.extend(BUILTINS.iter().map(|(n, _)| *n));
        names.extend(
            procs::names()
                .chain(library::alias_names())
                .collect::<Vec<&str>>(),
        );
        names.extend(filters::forms().map(|f| f.name));
        for n in filters::constant_names() {
            names.push(n);
        }
        Err(self.error(
            form,
            format!(
                "unbound variable {name}{}",
                hint(filters::closest(name, names))
            ),
        ))
    }

    /// What an unbound `name` is: a procedure of this compiler, a
    /// constant, an operation (its vocabulary name, as a symbol), or what
    /// Apple's library makes of it. Aliases are looked up last.
    fn global(&self, name: &str) -> Option<Value> {
        if let Some(b) = builtin(name) {
            return Some(Value::Builtin(b));
        }
        if filters::is_constant(name) || name == "default" {
            return Some(Value::Symbol(name.to_owned()));
        }
        if let Some(op) = self.canonical_op(name) {
            return Some(Value::Symbol(op));
        }
        match library::alias(name)? {
            Alias::Name(target) => self
                .global(target)
                .or(Some(Value::Symbol(target.to_owned()))),
            Alias::NoOp => Some(Value::Symbol(NO_OP.to_owned())),
            Alias::Symbol(s) => Some(Value::Symbol(s.to_owned())),
        }
    }

    fn call(&mut self, form: &Sexp, items: &[Sexp], env: usize) -> Result<Value> {
        let head = &items[0];
        // A named head is resolved once: a binding, else what the compiler
        // or Apple's library calls by that name.
        let f = match head.symbol() {
            Some(name) => match self.lookup(name, env) {
                Some(v) => v.clone(),
                None => match self.callable_global(name) {
                    Some(v) => v,
                    None => return Err(self.unknown_head(library_target(name), form, env)),
                },
            },
            None => self.eval(head, env)?,
        };
        if let Value::Macro(m) = f {
            return self.expand(&m, form, env);
        }
        let mut args = Vec::with_capacity(items.len() - 1);
        for item in &items[1..] {
            args.push(self.eval(item, env)?);
        }
        self.apply(f, args, form)
    }

    /// [`Self::global`] when it is something a call may name.
    fn callable_global(&self, name: &str) -> Option<Value> {
        self.global(name)
            .filter(|v| matches!(v, Value::Builtin(_) | Value::Procedure(_)))
    }

    /// Calls the macro `m` with the whole form and evaluates what it gives.
    fn expand(&mut self, m: &Closure, form: &Sexp, env: usize) -> Result<Value> {
        let expansion = self.call_closure(m, vec![quote(form)], form)?;
        let expansion = to_sexp(&expansion, form.span).map_err(|m| self.error(form, m))?;
        self.eval(&expansion, env)
    }

    fn unknown_head(&self, name: &str, form: &Sexp, env: usize) -> CompileError {
        if self.vocab.filter_id(name).is_some() {
            return self.error(
                form,
                format!(
                    "filter {name} is in the macOS 14.4.1 vocabulary, but this compiler does not \
                     know how its argument is encoded yet"
                ),
            );
        }
        if self.in_rule > 0 {
            let names = filters::forms().map(|f| f.name).chain([
                "require-all",
                "require-any",
                "require-not",
                "with",
            ]);
            return self.error(
                form,
                format!(
                    "unknown filter {name}{}",
                    hint(filters::closest(name, names))
                ),
            );
        }
        let mut names = self.names_in_scope(env);
        names.extend(SPECIAL_FORMS);
        names.extend(BUILTINS.iter().map(|(n, _)| *n));
        names.extend(
            procs::names()
                .chain(library::alias_names())
                .collect::<Vec<&str>>(),
        );
        names.extend(filters::forms().map(|f| f.name));
        self.error(
            form,
            format!(
                "unknown form ({name} ...){}",
                hint(filters::closest(name, names))
            ),
        )
    }

    fn apply(&mut self, f: Value, args: Vec<Value>, form: &Sexp) -> Result<Value> {
        match f {
            Value::Procedure(closure) => self.call_closure(&closure, args, form),
            Value::Builtin(b) => self.call_builtin(b, args, form),
            Value::Macro(m) => Err(self.error(
                form,
                format!("macro {} cannot be applied to evaluated arguments", m.name),
            )),
            other => Err(self.error(
                form,
                format!("cannot call a {}; expected a procedure", other.kind()),
            )),
        }
    }

    fn call_closure(&mut self, c: &Closure, args: Vec<Value>, form: &Sexp) -> Result<Value> {
        let arity_ok = match c.rest {
            Some(_) => args.len() >= c.params.len(),
            None => args.len() == c.params.len(),
        };
        if !arity_ok {
            let at_least = if c.rest.is_some() { "at least " } else { "" };
            return Err(self.error(
                form,
                format!(
                    "{} takes {at_least}{} argument(s), got {}",
                    c.name,
                    c.params.len(),
                    args.len()
                ),
            ));
        }
        let frame = self.new_frame(c.env);
        let mut args = args.into_iter();
        for p in &c.params {
            let v = args.next().unwrap_or(Value::Unspecified);
            self.define(frame, p, v);
        }
        if let Some(rest) = &c.rest {
            self.define(frame, rest, Value::List(args.collect()));
        }
        // The body's errors belong to the file the procedure was written in.
        let caller_file = std::mem::replace(&mut self.file, c.file);
        let result = self.body(&c.body, frame);
        self.file = caller_file;
        result
    }

    fn body(&mut self, forms: &[Sexp], env: usize) -> Result<Value> {
        let mut last = Value::Unspecified;
        for f in forms {
            last = self.eval(f, env)?;
        }
        Ok(last)
    }

    // ------------------------------------------------------- special forms

    fn special(&mut self, name: &str, form: &Sexp, items: &[Sexp], env: usize) -> Result<Value> {
        let args = &items[1..];
        match name {
            "quote" => match args {
                [datum] => Ok(quote(datum)),
                _ => Err(self.error(form, "(quote ...) takes one datum")),
            },
            "if" => self.if_form(form, args, env),
            "cond" => self.cond(args, env),
            "case" => self.case(form, args, env),
            "set!" => self.set(form, args, env),
            "quasiquote" => match args {
                [template] => self.quasiquote(template, 1, env),
                _ => Err(self.error(form, "(quasiquote ...) takes one template")),
            },
            "macro" => self.macro_form(form, args, env),
            "defined?" => match args {
                [arg] => match self.eval(arg, env)? {
                    Value::Symbol(name) => Ok(Value::Bool(
                        self.bound(&name, env)
                            || SPECIAL_FORMS.contains(&name.as_str())
                            || self.global(&name).is_some(),
                    )),
                    other => Err(self.error(
                        form,
                        format!("(defined? 'NAME) takes a symbol, got {}", other.kind()),
                    )),
                },
                _ => Err(self.error(form, "(defined? 'NAME) takes one symbol")),
            },
            "with-filter" | "with-operations" | "with-modifier" => {
                self.with_injection(name, form, args, env)
            }
            "when" | "unless" => {
                let Some((test, body)) = args.split_first() else {
                    return Err(self.error(form, format!("({name} ...) needs a test")));
                };
                let holds = self.eval(test, env)?.truthy();
                if holds == (name == "when") {
                    self.body(body, env)
                } else {
                    Ok(no_branch())
                }
            }
            "and" => {
                let mut last = Value::Bool(true);
                for a in args {
                    last = self.eval(a, env)?;
                    if !last.truthy() {
                        break;
                    }
                }
                Ok(last)
            }
            "or" => {
                for a in args {
                    let v = self.eval(a, env)?;
                    if v.truthy() {
                        return Ok(v);
                    }
                }
                Ok(Value::Bool(false))
            }
            "let" => self.let_form(form, args, env),
            "let*" | "letrec" | "letrec*" => self.let_star(form, args, env),
            "lambda" => {
                let Some((params, body)) = args.split_first() else {
                    return Err(self.error(form, "(lambda PARAMS BODY...) needs parameters"));
                };
                self.lambda("lambda", params, body, form, env)
            }
            "define" => self.define_form(form, args, env),
            "begin" => self.body(args, env),
            "version" => match args {
                [v] if matches!(v.datum, Datum::Int(1)) => Ok(Value::Unspecified),
                _ => Err(self.error(form, "only (version 1) is supported")),
            },
            // `(debug deny)` asked old releases to log denials; a deny
            // reports already, so it changes nothing in the blob [model].
            "debug" => Ok(Value::Unspecified),
            "allow" | "deny" => self.rule(name == "deny", form, args, env),
            "with" => self.with(form, args, env),
            "import" => self.import(form, args, env),
            _ => Err(self.error(form, format!("special form {name} is not implemented"))),
        }
    }

    fn if_form(&mut self, form: &Sexp, args: &[Sexp], env: usize) -> Result<Value> {
        let (test, then, otherwise) = match args {
            [t, a] => (t, a, None),
            [t, a, b] => (t, a, Some(b)),
            _ => return Err(self.error(form, "(if TEST THEN [ELSE]) takes two or three forms")),
        };
        if self.eval(test, env)?.truthy() {
            self.eval(then, env)
        } else {
            otherwise.map_or(Ok(no_branch()), |e| self.eval(e, env))
        }
    }

    fn cond(&mut self, clauses: &[Sexp], env: usize) -> Result<Value> {
        for clause in clauses {
            let Some((test, body)) = clause.list().and_then(<[Sexp]>::split_first) else {
                return Err(self.error(clause, "a cond clause is (TEST BODY...)"));
            };
            let value = if test.symbol() == Some("else") {
                Value::Bool(true)
            } else {
                self.eval(test, env)?
            };
            if value.truthy() {
                return if body.is_empty() {
                    Ok(value)
                } else {
                    self.body(body, env)
                };
            }
        }
        Ok(no_branch())
    }

    /// `(case KEY ((DATUM...) BODY...) ... (else BODY...))`, data compared
    /// with `eqv?`.
    fn case(&mut self, form: &Sexp, args: &[Sexp], env: usize) -> Result<Value> {
        let Some((key, clauses)) = args.split_first() else {
            return Err(self.error(form, "(case KEY CLAUSE...) needs a key"));
        };
        let key = self.eval(key, env)?;
        for clause in clauses {
            let Some((data, body)) = clause.list().and_then(<[Sexp]>::split_first) else {
                return Err(self.error(clause, "a case clause is ((DATUM...) BODY...)"));
            };
            let hit = match (&data.datum, data.list()) {
                (Datum::Symbol(e), _) if e == "else" => true,
                (_, Some(items)) => items.iter().any(|d| procs::same(&quote(d), &key)),
                _ => return Err(self.error(clause, "a case clause is ((DATUM...) BODY...)")),
            };
            if hit {
                return self.body(body, env);
            }
        }
        Ok(no_branch())
    }

    /// `(set! NAME VALUE)`: changes the innermost binding of NAME.
    fn set(&mut self, form: &Sexp, args: &[Sexp], env: usize) -> Result<Value> {
        let [target, value] = args else {
            return Err(self.error(form, "(set! NAME VALUE) takes a name and a value"));
        };
        let Some(name) = target.symbol() else {
            return Err(self.error(target, "(set! NAME VALUE) needs a name"));
        };
        let v = self.eval(value, env)?;
        let mut frame = Some(env);
        while let Some(i) = frame {
            if let Some(slot) = self.frames[i]
                .vars
                .iter_mut()
                .rev()
                .find(|(n, _)| n == name)
            {
                slot.1 = v;
                return Ok(Value::Unspecified);
            }
            frame = self.frames[i].parent;
        }
        Err(self.error(
            form,
            format!("set! of {name}, which is not defined (define it first)"),
        ))
    }

    /// A quasiquoted template at nesting `depth` (1 = outermost): `,x` is
    /// evaluated, `,@x` spliced, the rest quoted.
    fn quasiquote(&mut self, template: &Sexp, depth: usize, env: usize) -> Result<Value> {
        let Some(items) = template.list() else {
            return Ok(quote(template));
        };
        match (items.first().and_then(Sexp::symbol), items.len()) {
            (Some("unquote"), 2) if depth == 1 => return self.eval(&items[1], env),
            (Some(word @ ("unquote" | "unquote-splicing" | "quasiquote")), 2) => {
                let inner = if word == "quasiquote" {
                    depth + 1
                } else {
                    depth - 1
                };
                let v = self.quasiquote(&items[1], inner.max(1), env)?;
                return Ok(Value::List(vec![Value::Symbol(word.to_owned()), v]));
            }
            _ => {}
        }
        let mut out = Vec::with_capacity(items.len());
        for item in items {
            let splice = item.list().filter(|l| {
                depth == 1 && l.len() == 2 && l[0].symbol() == Some("unquote-splicing")
            });
            match splice {
                Some(l) => match self.eval(&l[1], env)? {
                    Value::List(vs) => out.extend(vs),
                    other => {
                        return Err(self.error(
                            item,
                            format!("unquote-splicing (,@) needs a list, got {}", other.kind()),
                        ))
                    }
                },
                None => out.push(self.quasiquote(item, depth, env)?),
            }
            self.bounded(out.len(), template)?;
        }
        Ok(Value::List(out))
    }

    /// `(macro (NAME FORM) BODY...)` or `(macro NAME (lambda (FORM) ...))`:
    /// a procedure given the whole call form (head included), whose value
    /// is evaluated in the call's place (TinyScheme's `macro`).
    fn macro_form(&mut self, form: &Sexp, args: &[Sexp], env: usize) -> Result<Value> {
        let (name, closure) = match args {
            [target, body @ ..] if target.list().is_some() => {
                let items = target.list().unwrap_or_default();
                let [name, param] = items else {
                    return Err(self.error(target, "a macro is (macro (NAME FORM) BODY...)"));
                };
                let Some(name) = name.symbol() else {
                    return Err(self.error(name, "a macro name must be a symbol"));
                };
                let params = Sexp {
                    datum: Datum::List(vec![param.clone()]),
                    span: target.span,
                };
                (name, self.lambda(name, &params, body, form, env)?)
            }
            [target, value] if target.symbol().is_some() => {
                (target.symbol().unwrap_or_default(), self.eval(value, env)?)
            }
            _ => {
                return Err(self.error(
                    form,
                    "(macro (NAME FORM) BODY...) or (macro NAME PROCEDURE)",
                ))
            }
        };
        let Value::Procedure(closure) = closure else {
            return Err(self.error(form, "a macro must be a procedure of one argument"));
        };
        self.define(env, name, Value::Macro(closure));
        Ok(Value::Unspecified)
    }

    /// `(with-filter FILTER RULES...)` and its siblings: every rule made
    /// while RULES run (in called procedures too) gains the filter (all of
    /// its own filters and this one must hold), the operations, or the
    /// modifier, as Apple's library re-binds `allow` and `deny` for them.
    fn with_injection(
        &mut self,
        name: &str,
        form: &Sexp,
        args: &[Sexp],
        env: usize,
    ) -> Result<Value> {
        let Some((extra, body)) = args.split_first() else {
            return Err(self.error(
                form,
                format!("({name} EXTRA RULES...) needs its first argument"),
            ));
        };
        let v = self.eval(extra, env)?;
        let inject = match name {
            "with-filter" => {
                let mut fs = self.filter_args(vec![v], extra)?;
                match fs.len() {
                    1 => Inject::Filter(fs.remove(0)),
                    _ => Inject::Filter(Filter::Any(fs)),
                }
            }
            "with-operations" => {
                let mut parts = RuleParts::default();
                self.collect(v, extra, &mut parts)?;
                if !parts.filters.is_empty() || !parts.modifiers.is_empty() || parts.default {
                    return Err(self.error(extra, "with-operations takes a list of operations"));
                }
                Inject::Ops(parts.ops, parts.named)
            }
            _ => match v {
                Value::Modifier(m) => Inject::Modifier(m),
                other => {
                    return Err(self.error(
                        extra,
                        format!(
                            "with-modifier takes a (with ...) modifier, got {}",
                            other.kind()
                        ),
                    ))
                }
            },
        };
        self.inject.push(inject);
        let result = self.body(body, env);
        self.inject.pop();
        result
    }

    /// `((name init) ...)` as pairs.
    fn bindings<'f>(&self, list: &'f Sexp) -> Result<Vec<(&'f str, &'f Sexp)>> {
        let Some(items) = list.list() else {
            return Err(self.error(list, "expected bindings ((NAME VALUE) ...)"));
        };
        items
            .iter()
            .map(|b| match b.list() {
                // `(NAME VALUE EXTRA...)`: the first value, as TinyScheme
                // (com.apple.homed.sb writes one binding with two).
                Some([name, init, ..]) if name.symbol().is_some() => {
                    Ok((name.symbol().unwrap_or_default(), init))
                }
                _ => Err(self.error(b, "a binding is (NAME VALUE)")),
            })
            .collect()
    }

    fn let_form(&mut self, form: &Sexp, args: &[Sexp], env: usize) -> Result<Value> {
        // Named let: (let loop ((i 0)) body) defines and calls `loop`.
        if let Some((name, rest)) = args.split_first() {
            if let Some(name) = name.symbol() {
                return self.named_let(name, form, rest, env);
            }
        }
        let Some((bindings, body)) = args.split_first() else {
            return Err(self.error(form, "(let BINDINGS BODY...) needs bindings"));
        };
        let pairs = self.bindings(bindings)?;
        let mut values = Vec::with_capacity(pairs.len());
        for (name, init) in &pairs {
            values.push((*name, self.eval(init, env)?));
        }
        let frame = self.new_frame(env);
        for (name, v) in values {
            self.define(frame, name, v);
        }
        self.body(body, frame)
    }

    fn named_let(&mut self, name: &str, form: &Sexp, args: &[Sexp], env: usize) -> Result<Value> {
        let Some((bindings, body)) = args.split_first() else {
            return Err(self.error(form, "(let NAME BINDINGS BODY...) needs bindings"));
        };
        let pairs = self.bindings(bindings)?;
        let mut values = Vec::with_capacity(pairs.len());
        for (_, init) in &pairs {
            values.push(self.eval(init, env)?);
        }
        let frame = self.new_frame(env);
        let closure = Closure {
            name: name.to_owned(),
            params: pairs.iter().map(|(n, _)| (*n).to_owned()).collect(),
            rest: None,
            body: body.into(),
            env: frame,
            file: self.file,
        };
        let closure = Rc::new(closure);
        self.define(frame, name, Value::Procedure(closure.clone()));
        self.call_closure(&closure, values, form)
    }

    fn let_star(&mut self, form: &Sexp, args: &[Sexp], env: usize) -> Result<Value> {
        let Some((bindings, body)) = args.split_first() else {
            return Err(self.error(form, "(let* BINDINGS BODY...) needs bindings"));
        };
        let pairs = self.bindings(bindings)?;
        let frame = self.new_frame(env);
        for (name, init) in pairs {
            let v = self.eval(init, frame)?;
            self.define(frame, name, v);
        }
        self.body(body, frame)
    }

    fn lambda(
        &mut self,
        name: &str,
        params: &Sexp,
        body: &[Sexp],
        form: &Sexp,
        env: usize,
    ) -> Result<Value> {
        let (names, rest) = match &params.datum {
            Datum::Symbol(all) => (Vec::new(), Some(all.clone())),
            Datum::List(items) => self.parameters(items, form)?,
            _ => return Err(self.error(form, "parameters must be a list of names")),
        };
        // An empty body is allowed: Apple's profiles define stubs such as
        // `(define (protect-redirected-paths))`; calling one gives nothing.
        Ok(Value::Procedure(Rc::new(Closure {
            name: name.to_owned(),
            params: names,
            rest,
            body: body.into(),
            env,
            file: self.file,
        })))
    }

    /// `(a b . rest)` as names and the rest name.
    fn parameters(&self, items: &[Sexp], form: &Sexp) -> Result<(Vec<String>, Option<String>)> {
        let mut names = Vec::new();
        let mut rest = None;
        let mut it = items.iter();
        while let Some(p) = it.next() {
            match p.symbol() {
                Some(".") => {
                    rest = it.next().and_then(Sexp::symbol).map(str::to_owned);
                    if rest.is_none() || it.next().is_some() {
                        return Err(self.error(form, "'.' must be followed by one name"));
                    }
                }
                Some(n) => names.push(n.to_owned()),
                None => return Err(self.error(p, "a parameter must be a name")),
            }
        }
        Ok((names, rest))
    }

    fn define_form(&mut self, form: &Sexp, args: &[Sexp], env: usize) -> Result<Value> {
        match args {
            // (define (name . params) body...)
            [target, body @ ..] if target.list().is_some() => {
                let items = target.list().unwrap_or_default();
                let Some((name, params)) = items.split_first() else {
                    return Err(self.error(form, "(define () ...) names nothing"));
                };
                let Some(name) = name.symbol() else {
                    return Err(self.error(name, "a procedure name must be a symbol"));
                };
                let params = Sexp {
                    datum: Datum::List(params.to_vec()),
                    span: target.span,
                };
                let proc = self.lambda(name, &params, body, form, env)?;
                self.define(env, name, proc);
                Ok(Value::Unspecified)
            }
            // `(define NAME VALUE EXTRA...)`: TinyScheme takes the first
            // value and ignores the rest, and an Apple profile relies on it
            // (ClassroomMCXService.sb splits a path over three strings).
            [target, value, ..] if target.symbol().is_some() => {
                let Some(name) = target.symbol() else {
                    return Err(self.error(target, "(define NAME VALUE) needs a name"));
                };
                let v = self.eval(value, env)?;
                self.define(env, name, v);
                Ok(Value::Unspecified)
            }
            _ => Err(self.error(
                form,
                "(define NAME VALUE) or (define (NAME ARGS...) BODY...)",
            )),
        }
    }

    fn import(&mut self, form: &Sexp, args: &[Sexp], env: usize) -> Result<Value> {
        let [arg] = args else {
            return Err(self.error(form, "(import \"FILE.sb\") takes one file name"));
        };
        let Value::Str(name) = text(self.eval(arg, env)?) else {
            return Err(self.error(arg, "(import ...) takes a string"));
        };
        let path = self.resolve_import(&name, form)?;
        let key = canonical(&path);
        if self.importing.contains(&key) {
            let chain: Vec<String> = self
                .importing
                .iter()
                .chain([&key])
                .map(|p| p.display().to_string())
                .collect();
            return Err(self.error(form, format!("import cycle: {}", chain.join(" -> "))));
        }
        let src = std::fs::read_to_string(&path)
            .map_err(|e| self.error(form, format!("cannot read {}: {e}", path.display())))?;
        self.files.push(Some(path));
        let outer = std::mem::replace(&mut self.file, self.files.len() - 1);
        self.importing.push(key);
        let result = self.run_source(&src);
        self.importing.pop();
        self.file = outer;
        result.map(|()| Value::Unspecified)
    }

    /// The importing file's directory first, then the search path.
    fn resolve_import(&self, name: &str, form: &Sexp) -> Result<PathBuf> {
        let as_given = Path::new(name);
        let mut tried = Vec::new();
        let mut candidates = Vec::new();
        if as_given.is_absolute() {
            candidates.push(as_given.to_path_buf());
        } else {
            // Apple's library searches `(param "IMPORT_DIR")` when given.
            if let Some((_, dir)) = self
                .options
                .params
                .iter()
                .rev()
                .find(|(k, _)| k == "IMPORT_DIR")
            {
                candidates.push(Path::new(dir).join(name));
            }
            if let Some(dir) = self.files[self.file].as_ref().and_then(|f| f.parent()) {
                candidates.push(dir.join(name));
            }
            candidates.extend(self.search.0.iter().map(|d| d.join(name)));
        }
        candidates.dedup();
        for c in candidates {
            if c.is_file() {
                return Ok(c);
            }
            tried.push(c.display().to_string());
        }
        Err(self.error(
            form,
            format!(
                "cannot find {name:?} to import; looked in: {}",
                tried.join(", ")
            ),
        ))
    }

    // ----------------------------------------------------------------- SBPL

    fn rule(&mut self, deny: bool, form: &Sexp, args: &[Sexp], env: usize) -> Result<Value> {
        let mut parts = RuleParts::default();
        for arg in args {
            match arg.symbol() {
                Some("default") => parts.default = true,
                Some(name)
                    if !self.bound(name, env) && library::alias(name) == Some(Alias::NoOp) =>
                {
                    parts.no_op = true;
                }
                Some(name) if self.is_operation(name) && !self.bound(name, env) => {
                    let ops = self
                        .operation(name)
                        .map_err(|m| self.error_within(arg, form, m))?;
                    parts.ops.extend(ops);
                    parts.named.extend(self.named_op(name));
                }
                Some(name) if !self.bound(name, env) && self.global(name).is_none() => {
                    let hint = hint(self.vocab.closest_op(name));
                    let message = format!("unknown operation {name}{hint}");
                    return Err(self.error_within(arg, form, message));
                }
                _ => {
                    self.in_rule += 1;
                    let v = self.eval(arg, env);
                    self.in_rule -= 1;
                    self.collect(v?, arg, &mut parts)?;
                }
            }
        }
        self.push_rule(deny, parts, form)
    }

    /// Adds the rule `parts` make, with what open `with-*` forms inject.
    fn push_rule(&mut self, deny: bool, mut parts: RuleParts, form: &Sexp) -> Result<Value> {
        // Innermost first: each wraps what the inner ones made, as the
        // library's nested re-bindings of allow/deny do.
        for inject in self.inject.iter().rev() {
            match inject {
                Inject::Filter(extra) => {
                    let own = std::mem::take(&mut parts.filters);
                    parts.filters.push(match own.len() {
                        0 => extra.clone(),
                        1 => Filter::All(vec![
                            own.into_iter().next().unwrap_or(Filter::Any(Vec::new())),
                            extra.clone(),
                        ]),
                        _ => Filter::All(vec![Filter::Any(own), extra.clone()]),
                    });
                }
                Inject::Ops(ops, named) if !parts.default => {
                    parts.ops.extend(ops);
                    parts.named.extend(named);
                }
                Inject::Ops(..) => {}
                Inject::Modifier(m) => parts.modifiers.insert(0, m.clone()),
            }
        }
        let outcome = self.outcome(deny, &parts.modifiers, form)?;
        if parts.default {
            if !parts.filters.is_empty() {
                return Err(self.error(form, "default takes no filters"));
            }
            self.default_seen = true;
            self.rules.push_default(self.vocab, outcome.clone());
            // `(deny default OP...)`: the default, then the operations
            // named beside it, unfiltered, with the same action.
            if parts.ops.is_empty() {
                return Ok(Value::Unspecified);
            }
        }
        if parts.ops.is_empty() {
            if parts.no_op {
                // Only operations the library retired: no rule.
                return Ok(Value::Unspecified);
            }
            return Err(self.error(form, "rule names no operation"));
        }
        parts.ops.sort_unstable();
        parts.ops.dedup();
        parts.named.sort_unstable();
        parts.named.dedup();
        let filter = match parts.filters.len() {
            0 => None,
            1 => parts.filters.pop(),
            _ => Some(Filter::Any(parts.filters)),
        };
        self.rules.rules.push(Rule {
            outcome,
            ops: parts.ops,
            filter,
            named: parts.named,
            span: Some(form.span),
        });
        Ok(Value::Unspecified)
    }

    fn is_operation(&self, name: &str) -> bool {
        self.canonical_op(name).is_some()
    }

    /// The vocabulary name `name` stands for. An operation family may be
    /// named without its `*`, as older profiles do: `process-exec` is
    /// `process-exec*` [blob: param_path_*], and Apple's own profiles write
    /// `ipc-posix-shm` for `ipc-posix-shm*`; the same holds for every family
    /// [model]. Apple's library aliases (`file-fsctl` = `system-fsctl`) are
    /// looked up last.
    fn canonical_op(&self, name: &str) -> Option<String> {
        if self.vocab.op_id(name).is_some() {
            return Some(name.to_owned());
        }
        let family = format!("{name}*");
        if self.vocab.op_id(&family).is_some() {
            return Some(family);
        }
        match library::alias(name) {
            Some(Alias::Name(target)) if self.vocab.op_id(target).is_some() => {
                return Some(target.to_owned());
            }
            _ => {}
        }
        // macOS 10.15's process-codesigning-* operations are 14.4.1's
        // process-legacy-codesigning-* (the vocabulary has each old suffix
        // under the new name; process-codesigning itself is a new, separate
        // operation) [model].
        let legacy = name
            .strip_prefix("process-codesigning-")
            .map(|rest| format!("process-legacy-codesigning-{rest}"))?;
        self.canonical_op(&legacy)
    }

    /// The op-table id of the operation `name` names (a family as its
    /// `*` operation), for the rule's precedence.
    fn named_op(&self, name: &str) -> Option<OpId> {
        self.canonical_op(name).and_then(|n| self.vocab.op_id(&n))
    }

    fn operation(&self, name: &str) -> std::result::Result<Vec<OpId>, String> {
        if let Some(ops) = self.expanded.borrow().get(name) {
            return Ok(ops.clone());
        }
        let canonical = self.canonical_op(name).unwrap_or_else(|| name.to_owned());
        let canonical = canonical.as_str();
        match self.vocab.expand(canonical) {
            Some(ops) if !ops.is_empty() => {
                // Expanding walks the whole op table; profiles name the
                // same few operations in hundreds of rules.
                self.expanded
                    .borrow_mut()
                    .insert(name.to_owned(), ops.clone());
                Ok(ops)
            }
            Some(_) => Err(format!(
                "operation {canonical} has no op-table entry in macOS 14.4.1 (it belongs to message filters)"
            )),
            None => Err(format!(
                "unknown operation {canonical}{}",
                hint(self.vocab.closest_op(canonical))
            )),
        }
    }

    /// Sorts one evaluated rule argument into operations, filters, modifiers.
    fn collect(&self, v: Value, arg: &Sexp, parts: &mut RuleParts) -> Result<()> {
        match v {
            Value::Filter(f) => parts.filters.push(f),
            Value::Modifier(m) => parts.modifiers.push(m),
            Value::Symbol(name) if name == "default" => parts.default = true,
            Value::Symbol(name) if name == NO_OP => parts.no_op = true,
            Value::Symbol(name) if self.is_operation(&name) => {
                let ops = self.operation(&name).map_err(|m| self.error(arg, m))?;
                parts.ops.extend(ops);
                parts.named.extend(self.named_op(&name));
            }
            Value::List(items) => {
                for item in items {
                    self.collect(item, arg, parts)?;
                }
            }
            other => {
                return Err(self.error(
                    arg,
                    format!(
                        "invalid argument of a rule; expected an operation, a filter or a (with ...) modifier, got {}{}",
                        other.kind(),
                        param_note(arg)
                    ),
                ))
            }
        }
        Ok(())
    }

    /// The terminal a rule leads to: the action and its modifiers.
    fn outcome(&self, deny: bool, modifiers: &[Modifier], form: &Sexp) -> Result<Outcome> {
        let mut outcome = if deny { Outcome::DENY } else { Outcome::ALLOW };
        for m in modifiers {
            match (m.kind, &m.arg) {
                (WithKind::Flag(bits), _) => outcome.word |= bits,
                (WithKind::NoReport, _) => outcome.word &= !action::REPORT,
                (WithKind::Deprecated, _) => {}
                (
                    WithKind::IntModifier(id, _)
                    | WithKind::Preset(id, _)
                    | WithKind::StrModifier(id)
                    | WithKind::Inline(id),
                    Some(arg),
                ) => {
                    if outcome.modifier.is_some() {
                        return Err(self.error(
                            form,
                            "a rule takes at most one modifier with an argument (the terminal node has room for one)",
                        ));
                    }
                    outcome.modifier = Some(InlineModifier {
                        id,
                        arg: arg.clone(),
                    });
                }
                _ => return Err(self.error(form, "modifier without its argument")),
            }
        }
        Ok(outcome)
    }

    fn with(&mut self, form: &Sexp, args: &[Sexp], env: usize) -> Result<Value> {
        let Some((name_form, rest)) = args.split_first() else {
            return Err(self.error(form, "(with NAME ...) needs a modifier name"));
        };
        let name = name_form.symbol().unwrap_or_default();
        let name = match library::alias(name) {
            Some(Alias::Name(target)) if filters::with_option(name).is_none() => target,
            _ => name,
        };
        let Some(kind) = filters::with_option(name) else {
            let names = filters::WITH_OPTIONS.iter().map(|(n, _)| *n);
            return Err(self.error(
                form,
                format!(
                    "unknown modifier {name_form}{}",
                    hint(filters::closest(name, names))
                ),
            ));
        };
        let arg = match (kind, rest) {
            (WithKind::Flag(_) | WithKind::NoReport | WithKind::Deprecated, []) => None,
            (WithKind::Preset(_, v), []) => Some(ModifierArg::Int(v)),
            (WithKind::Inline(_), []) => Some(ModifierArg::Int(0)),
            (WithKind::Inline(_), [a]) => {
                let v = self.eval(a, env)?;
                Some(ModifierArg::Int(self.int_arg(v, &[], name, a)?))
            }
            (WithKind::IntModifier(_, table), [a]) => {
                let v = self.eval(a, env)?;
                Some(ModifierArg::Int(self.int_arg(v, table(), name, a)?))
            }
            (WithKind::StrModifier(_), [a]) => match text(self.eval(a, env)?) {
                Value::Str(s) => Some(ModifierArg::Str(s.into_bytes())),
                other => {
                    return Err(self.error(
                        a,
                        format!("(with {name} ...) takes a string, got {}", other.kind()),
                    ))
                }
            },
            (
                WithKind::Flag(_)
                | WithKind::NoReport
                | WithKind::Deprecated
                | WithKind::Preset(..),
                _,
            ) => return Err(self.error(form, format!("(with {name}) takes no argument"))),
            (WithKind::IntModifier(..) | WithKind::StrModifier(_) | WithKind::Inline(_), _) => {
                return Err(self.error(form, format!("(with {name} ...) takes one argument")))
            }
        };
        Ok(Value::Modifier(Modifier { kind, arg }))
    }

    /// A 16-bit integer argument: a number or one of `table`'s constants.
    fn int_arg(&self, v: Value, table: &[(&str, i64)], what: &str, at: &Sexp) -> Result<u16> {
        let n = match v {
            Value::Int(n) => n,
            Value::Symbol(name) => match filters::constant(table, &name) {
                Some(n) => n,
                None => {
                    let names: Vec<&str> = table.iter().map(|(n, _)| *n).collect();
                    let expected = if names.is_empty() {
                        "a number".to_owned()
                    } else {
                        format!("a number or one of {}", names.join(", "))
                    };
                    return Err(self.error(
                        at,
                        format!("{name} is not a {what} constant; expected {expected}"),
                    ));
                }
            },
            other => {
                return Err(self.error(
                    at,
                    format!(
                        "invalid data type of {what}; expected integer, got {}{}",
                        other.kind(),
                        param_note(at)
                    ),
                ))
            }
        };
        u16::try_from(n).map_err(|_| {
            self.error(
                at,
                format!("{n} does not fit the 16-bit argument of {what}"),
            )
        })
    }

    // ------------------------------------------------------------ builtins

    fn call_builtin(&mut self, b: Builtin, args: Vec<Value>, form: &Sexp) -> Result<Value> {
        match b {
            Builtin::Filter(f) => self.filter(f, args, form).map(Value::Filter),
            Builtin::RequireAll | Builtin::RequireAny => {
                let parts = self.filter_args(args, form)?;
                Ok(Value::Filter(if matches!(b, Builtin::RequireAll) {
                    Filter::All(parts)
                } else {
                    Filter::Any(parts)
                }))
            }
            Builtin::RequireNot => {
                let mut parts = self.filter_args(args, form)?;
                match (parts.pop(), parts.is_empty()) {
                    (Some(f), true) => Ok(Value::Filter(Filter::Not(Box::new(f)))),
                    _ => Err(self.error(form, "(require-not ...) takes exactly one filter")),
                }
            }
            Builtin::Param => match texts(args).as_slice() {
                // A key given twice takes its last value, as a later
                // sandbox_set_param call would.
                [Value::Str(key)] => Ok(self
                    .options
                    .params
                    .iter()
                    .rev()
                    .find(|(k, _)| k == key)
                    .map_or(Value::Bool(false), |(_, v)| Value::Str(v.clone()))),
                _ => Err(self.error(form, "(param \"KEY\") takes one string")),
            },
            Builtin::StringAppend => {
                let mut out = String::new();
                for (i, a) in args.into_iter().enumerate() {
                    match a {
                        Value::Str(s) | Value::Regex(s) => out.push_str(&s),
                        other => {
                            return Err(self.error(
                                form,
                                format!(
                                    "string-append: argument {} must be a string, got {}{}",
                                    i + 1,
                                    other.kind(),
                                    arg_param_note(form, i)
                                ),
                            ))
                        }
                    }
                }
                self.bounded(out.len(), form)?;
                Ok(Value::Str(out))
            }
            Builtin::List => Ok(Value::List(args)),
            Builtin::Not => match args.as_slice() {
                [v] => Ok(Value::Bool(!v.truthy())),
                _ => Err(self.error(form, "(not X) takes one argument")),
            },
            Builtin::Equal => match args.as_slice() {
                [a, b] => Ok(Value::Bool(procs::same(a, b))),
                _ => Err(self.error(form, "comparison takes two arguments")),
            },
            Builtin::IsNull => match args.as_slice() {
                [v] => Ok(Value::Bool(matches!(v, Value::List(l) if l.is_empty()))),
                _ => Err(self.error(form, "(null? X) takes one argument")),
            },
            Builtin::IsString => match args.as_slice() {
                [v] => Ok(Value::Bool(matches!(v, Value::Str(_) | Value::Regex(_)))),
                _ => Err(self.error(form, "(string? X) takes one argument")),
            },
            Builtin::Map => self.map(args, form),
            Builtin::Apply => self.apply_builtin(args, form),
            Builtin::Append => {
                let mut out = Vec::new();
                for a in args {
                    match a {
                        Value::List(items) => {
                            out.extend(items);
                            self.bounded(out.len(), form)?;
                        }
                        other => {
                            return Err(self
                                .error(form, format!("append takes lists, got {}", other.kind())))
                        }
                    }
                }
                Ok(Value::List(out))
            }
            Builtin::Cons => match <[Value; 2]>::try_from(args) {
                Ok([head, Value::List(mut tail)]) => {
                    tail.insert(0, head);
                    Ok(Value::List(tail))
                }
                _ => Err(self.error(form, "(cons X LIST) takes a value and a list")),
            },
            Builtin::Car | Builtin::Cdr | Builtin::Length => match args.as_slice() {
                [Value::List(items)] => Ok(match b {
                    Builtin::Length => Value::Int(items.len() as i64),
                    Builtin::Car if !items.is_empty() => items[0].clone(),
                    Builtin::Cdr if !items.is_empty() => Value::List(items[1..].to_vec()),
                    _ => return Err(self.error(form, "car/cdr of an empty list")),
                }),
                _ => Err(self.error(form, "takes one list")),
            },
            Builtin::Proc(name, f) => f(&args).map_err(|m| {
                let m = if m.starts_with(name) {
                    m
                } else {
                    format!("{name}: {m}")
                };
                self.error(form, m)
            }),
            Builtin::ForEach => {
                self.map(args, form)?;
                Ok(Value::Unspecified)
            }
            Builtin::Error => {
                let text: Vec<String> = args.iter().map(display).collect();
                Err(self.error(form, format!("error: {}", text.join(" "))))
            }
            Builtin::Trace => self.trace(texts(args), form),
            Builtin::Rule(deny) => {
                let mut parts = RuleParts::default();
                for a in args {
                    self.collect(a, form, &mut parts)?;
                }
                self.push_rule(deny, parts, form)
            }
            Builtin::PathAncestors => self.path_ancestors(texts(args), form),
            Builtin::DefineStorageClass => self.define_storage_class(texts(args), form),
            Builtin::RequireEntitlement => self.require_entitlement(texts(args), form),
            Builtin::EntitlementValue => match args.as_slice() {
                [Value::Str(_)] => self.library_filter("%entitlement-string", args, form),
                [Value::Bool(_)] => self.library_filter("%entitlement-boolean", args, form),
                _ => Err(self.error(form, "entitlement-value argument must be string or boolean")),
            },
            Builtin::EntitlementValueRegex => match args.as_slice() {
                [Value::Str(_) | Value::Regex(_)] => {
                    self.library_filter("%entitlement-string-regex", args, form)
                }
                _ => Err(self.error(form, "entitlement-value-regex argument must be string")),
            },
            Builtin::SandboxOption(name) => match args.as_slice() {
                [] => Ok(Value::Unspecified),
                _ => Err(self.error(form, format!("({name}) takes no argument"))),
            },
            Builtin::FilterProcedure(i) => self.filter_procedure(i, args, form),
        }
    }

    /// `(trace "FILE")`: names where the sandbox logs its decisions; it
    /// changes no rule. Only one per profile, as Apple's library says.
    fn trace(&mut self, args: Vec<Value>, form: &Sexp) -> Result<Value> {
        match args.as_slice() {
            [Value::Str(path)] if self.trace.is_none() => {
                self.trace = Some(path.clone());
                Ok(Value::Unspecified)
            }
            [Value::Str(_)] => Err(self.error(form, "only one trace path may be specified")),
            _ => Err(self.error(form, "argument to trace must be a string")),
        }
    }

    /// `(path-ancestors PATH...)`: the directories above each path, as
    /// literals (see [`library::path_ancestors`]).
    fn path_ancestors(&self, args: Vec<Value>, form: &Sexp) -> Result<Value> {
        let literal =
            filters::find("path").ok_or_else(|| self.error(form, "the path filter is missing"))?;
        let mut any = Vec::with_capacity(args.len());
        for (i, a) in args.into_iter().enumerate() {
            let Value::Str(path) = a else {
                return Err(self.error(
                    form,
                    format!(
                        "path-ancestors: argument {} must be a string, got {}{}",
                        i + 1,
                        a.kind(),
                        arg_param_note(form, i)
                    ),
                ));
            };
            let dirs = library::path_ancestors(&path).map_err(|m| self.error(form, m))?;
            let dirs = dirs.into_iter().map(Value::Str).collect();
            any.push(self.filter(literal, dirs, form)?);
        }
        Ok(Value::Filter(match any.len() {
            1 => any.remove(0),
            _ => Filter::Any(any),
        }))
    }

    /// `(define-storage-class NAME FILTER)`: files the filter matches
    /// belong to storage class NAME, as the rule
    /// `(allow storage-class-map (with assign-storage-class NAME) FILTER)`.
    fn define_storage_class(&mut self, args: Vec<Value>, form: &Sexp) -> Result<Value> {
        let mut args = args.into_iter();
        let (Some(Value::Str(name)), Some(filter), None) = (args.next(), args.next(), args.next())
        else {
            return Err(self.error(
                form,
                "(define-storage-class \"NAME\" FILTER) takes a name and a filter",
            ));
        };
        if self.storage_classes.contains(&name) {
            return Err(self.error(form, format!("storage class \"{name}\" multiply defined")));
        }
        self.storage_classes.push(name.clone());
        let kind = filters::with_option("assign-storage-class")
            .ok_or_else(|| self.error(form, "assign-storage-class is not a modifier here"))?;
        let ops = self
            .operation("storage-class-map")
            .map_err(|m| self.error(form, m))?;
        let parts = RuleParts {
            ops,
            filters: self.filter_args(vec![filter], form)?,
            modifiers: vec![Modifier {
                kind,
                arg: Some(ModifierArg::Str(name.into_bytes())),
            }],
            ..RuleParts::default()
        };
        self.push_rule(false, parts, form)
    }

    /// `(require-entitlement NAME [VALUE-FILTER])`: the process holds the
    /// entitlement NAME (with the value the filter names; `#t` when none).
    fn require_entitlement(&self, args: Vec<Value>, form: &Sexp) -> Result<Value> {
        let mut args = args.into_iter();
        let (Some(name @ Value::Str(_)), value, None) = (args.next(), args.next(), args.next())
        else {
            return Err(self.error(
                form,
                "(require-entitlement \"NAME\" [VALUE]) takes a name and at most one value filter",
            ));
        };
        let value = match value {
            Some(v) => v,
            None => self.library_filter("%entitlement-boolean", vec![Value::Bool(true)], form)?,
        };
        let load = self.library_filter("%entitlement-load", vec![name], form)?;
        let parts = self.filter_args(vec![load, value], form)?;
        Ok(Value::Filter(Filter::All(parts)))
    }

    /// A filter the library calls by its vocabulary name.
    fn library_filter(&self, name: &str, args: Vec<Value>, form: &Sexp) -> Result<Value> {
        match filters::find(name) {
            Some(def) => self.filter(def, args, form).map(Value::Filter),
            None => Err(self.error(
                form,
                format!(
                    "filter {name} is in the macOS 14.4.1 vocabulary, but this compiler does not \
                     know how its argument is encoded yet"
                ),
            )),
        }
    }

    /// One of the library's filter shortcuts, e.g. `(tty)`.
    fn filter_procedure(&mut self, i: usize, args: Vec<Value>, form: &Sexp) -> Result<Value> {
        let (name, body) = library::FILTER_PROCEDURES[i];
        if !args.is_empty() {
            return Err(self.error(form, format!("({name}) takes no argument")));
        }
        let forms = read(body).map_err(|e| self.error(form, format!("{name}: {e}")))?;
        let mut last = Value::Unspecified;
        for f in &forms {
            // Placed at the call, so an error names the profile's line.
            let placed = to_sexp(&quote(f), form.span).map_err(|m| self.error(form, m))?;
            last = self.eval(&placed, 0)?;
        }
        Ok(last)
    }

    fn bounded(&self, len: usize, form: &Sexp) -> Result<()> {
        if len > MAX_VALUE_LEN {
            return Err(self.error(
                form,
                format!("value of {len} elements or bytes exceeds the limit of {MAX_VALUE_LEN}"),
            ));
        }
        Ok(())
    }

    fn map(&mut self, args: Vec<Value>, form: &Sexp) -> Result<Value> {
        let mut args = args.into_iter();
        let (Some(f), Some(Value::List(items)), None) = (args.next(), args.next(), args.next())
        else {
            return Err(self.error(form, "(map PROCEDURE LIST) takes a procedure and one list"));
        };
        let mut out = Vec::with_capacity(items.len());
        for item in items {
            out.push(self.apply(f.clone(), vec![item], form)?);
        }
        Ok(Value::List(out))
    }

    fn apply_builtin(&mut self, mut args: Vec<Value>, form: &Sexp) -> Result<Value> {
        let Some(Value::List(last)) = args.pop() else {
            return Err(self.error(form, "(apply PROCEDURE ... LIST) ends with a list"));
        };
        if args.is_empty() {
            return Err(self.error(form, "(apply PROCEDURE ... LIST) needs a procedure"));
        }
        let f = args.remove(0);
        args.extend(last);
        self.apply(f, args, form)
    }

    /// Filters given to require-*: filters or lists of them.
    fn filter_args(&self, args: Vec<Value>, form: &Sexp) -> Result<Vec<Filter>> {
        let mut out = Vec::new();
        for (i, a) in args.into_iter().enumerate() {
            match a {
                Value::Filter(f) => out.push(f),
                Value::List(items) => out.extend(self.filter_args(items, form)?),
                other => {
                    return Err(self.error(
                        form,
                        format!(
                            "invalid data type; expected filter, got {}{}",
                            other.kind(),
                            arg_param_note(form, i)
                        ),
                    ))
                }
            }
        }
        Ok(out)
    }

    /// A filter form applied to its arguments; several arguments mean any
    /// of them.
    fn filter(&self, form_def: &Form, args: Vec<Value>, form: &Sexp) -> Result<Filter> {
        let id = self.vocab.filter_id(form_def.filter).ok_or_else(|| {
            self.error(
                form,
                format!("filter {} is not in the vocabulary", form_def.filter),
            )
        })?;
        if form_def.arg == ArgKind::Network {
            return self.network(id, args, form);
        }
        if args.is_empty() {
            // `(extension-path-ancestor)`: a boolean filter written bare
            // holds when the property is true [model].
            if let (ArgKind::Int(_), true) = (form_def.arg, filters::is_boolean(form_def.filter)) {
                return Ok(Filter::Leaf(Leaf::Int {
                    filter: id,
                    value: 1,
                }));
            }
            return Err(self.error(form, format!("({} ...) needs an argument", form_def.name)));
        }
        let mut leaves = Vec::with_capacity(args.len());
        for (i, a) in args.into_iter().enumerate() {
            leaves.push(Filter::Leaf(self.leaf(form_def, id, a, form, i)?));
        }
        if let Some(mask) = mask_of(id, &leaves) {
            return Ok(Filter::Leaf(mask));
        }
        Ok(if leaves.len() == 1 {
            leaves.pop().unwrap_or(Filter::Any(Vec::new()))
        } else {
            Filter::Any(leaves)
        })
    }

    fn leaf(&self, def: &Form, id: u8, v: Value, form: &Sexp, i: usize) -> Result<Leaf> {
        let bad = |expected: &str, got: &Value| {
            self.error(
                form,
                format!(
                    "invalid data type of {} filter; expected {expected}, got {}{}",
                    def.filter,
                    got.kind(),
                    arg_param_note(form, i)
                ),
            )
        };
        let regex = |text: &str| -> Result<Leaf> {
            let regex = Regex::parse(text)
                .map_err(|e| self.error(form, format!("bad regex #\"{text}\": {e}")))?;
            regex
                .program()
                .map_err(|e| self.error(form, format!("bad regex #\"{text}\": {e}")))?;
            Ok(Leaf::Regex { filter: id, regex })
        };
        match (def.arg, v) {
            (ArgKind::Pattern(kind), Value::Str(s)) => Ok(pattern_leaf(id, kind, s.into_bytes())),
            // `(xattr #"^com\.apple\.")`: a regex literal given to a string
            // filter is its regex variant, as Apple's own profiles write it.
            (ArgKind::Pattern(_) | ArgKind::Str, Value::Regex(text)) => regex(&text),
            // The nested spelling the decoder prints for a pattern of a
            // non-path filter: `(xpc-service-name (prefix "com.apple."))`.
            (
                ArgKind::Pattern(_),
                Value::Filter(Filter::Leaf(Leaf::Pattern { kind, text, .. })),
            ) => Ok(pattern_leaf(id, kind, text)),
            (
                ArgKind::Pattern(_) | ArgKind::Str,
                Value::Filter(Filter::Leaf(Leaf::Regex { regex, .. })),
            ) => Ok(Leaf::Regex { filter: id, regex }),
            (ArgKind::Pattern(_), other) => Err(bad("pattern", &other)),
            (ArgKind::Regex, Value::Regex(text) | Value::Str(text)) => regex(&text),
            (ArgKind::Regex, other) => Err(bad("regex", &other)),
            (ArgKind::Str, Value::Str(s)) => Ok(Leaf::Str {
                filter: id,
                text: s.into_bytes(),
            }),
            (ArgKind::Str, other) => Err(bad("string", &other)),
            // `(%entitlement-boolean #t)`: booleans are 1 and 0 [blob].
            (ArgKind::Int(_), Value::Bool(b)) => Ok(Leaf::Int {
                filter: id,
                value: u16::from(b),
            }),
            (ArgKind::Int(table), v) => Ok(Leaf::Int {
                filter: id,
                value: self.int_arg(v, table, def.filter, form)?,
            }),
            (ArgKind::Network, _) => {
                Err(self.error(form, "network filters take (PROTOCOL \"HOST:PORT\")"))
            }
        }
    }

    /// `(local|remote PROTOCOL ["HOST:PORT"]...)`; several addresses mean
    /// any of them. `unix` / `unix-socket` is Apple's old spelling of a
    /// Unix socket: with a path filter it is that filter (Apple's library
    /// says to write `(literal "/path")` instead), bare it is any Unix
    /// socket, `(socket-domain AF_UNIX)` [model].
    fn network(&self, id: u8, args: Vec<Value>, form: &Sexp) -> Result<Filter> {
        let usage = || {
            self.error(
                form,
                "a network filter is (local|remote PROTOCOL \"HOST:PORT\"...), e.g. (remote tcp \"*:443\")",
            )
        };
        let mut args = args.into_iter();
        let Some(Value::Symbol(protocol)) = args.next() else {
            return Err(usage());
        };
        let rest: Vec<Value> = args.collect();
        if protocol == "unix" || protocol == "unix-socket" {
            return self.unix_socket(rest, form);
        }
        let addresses: Vec<String> = if rest.is_empty() {
            vec!["*:*".to_owned()]
        } else {
            rest.into_iter()
                .map(|v| match v {
                    Value::Str(a) => Ok(a),
                    _ => Err(usage()),
                })
                .collect::<Result<_>>()?
        };
        let mut leaves = Vec::with_capacity(addresses.len());
        for address in &addresses {
            let (host, port) =
                filters::network_address(address).map_err(|e| self.error(form, e))?;
            let host = filters::network_host(&protocol, host).map_err(|e| self.error(form, e))?;
            leaves.push(Filter::Leaf(Leaf::Network {
                filter: id,
                host,
                port,
            }));
        }
        Ok(if leaves.len() == 1 {
            leaves.pop().unwrap_or(Filter::Any(Vec::new()))
        } else {
            Filter::Any(leaves)
        })
    }

    fn unix_socket(&self, rest: Vec<Value>, form: &Sexp) -> Result<Filter> {
        if rest.is_empty() {
            let domain = self
                .vocab
                .filter_id("socket-domain")
                .ok_or_else(|| self.error(form, "filter socket-domain is not in the vocabulary"))?;
            return Ok(Filter::Leaf(Leaf::Int {
                filter: domain,
                value: AF_UNIX,
            }));
        }
        let mut parts = Vec::with_capacity(rest.len());
        for v in rest {
            match v {
                Value::Filter(f) => parts.push(f),
                Value::Str(path) => parts.push(Filter::Leaf(pattern_leaf(
                    crate::vocab::filter::PATH,
                    PathKind::Literal,
                    path.into_bytes(),
                ))),
                other => {
                    return Err(self.error(
                        form,
                        format!(
                        "a Unix socket is (remote unix-socket (path-literal \"/path\")), got {}",
                        other.kind()
                    ),
                    ))
                }
            }
        }
        Ok(if parts.len() == 1 {
            parts.pop().unwrap_or(Filter::Any(Vec::new()))
        } else {
            Filter::Any(parts)
        })
    }
}

/// One integer filter given at least this many values in one form compiles
/// to its mask variant (a bitmap item), as Apple's iOS 17 profile has
/// `syscall-number` over 554 values. Where Apple's compiler switches from
/// one node per value to a mask no blob shows: this threshold is [model].
pub const MASK_MIN_VALUES: usize = 16;

/// The mask leaf of `leaves` when they are all values of integer filter
/// `id` and there are enough of them.
fn mask_of(id: u8, leaves: &[Filter]) -> Option<Leaf> {
    if leaves.len() < MASK_MIN_VALUES {
        return None;
    }
    let mut bits: Vec<u8> = Vec::new();
    for leaf in leaves {
        let Filter::Leaf(Leaf::Int { value, .. }) = leaf else {
            return None;
        };
        let byte = usize::from(*value) / 8;
        if bits.len() <= byte {
            bits.resize(byte + 1, 0);
        }
        bits[byte] |= 1 << (value % 8);
    }
    Some(Leaf::Mask { filter: id, bits })
}

/// Darwin's AF_UNIX, for a bare `(remote unix-socket)`.
const AF_UNIX: u16 = 1;

#[derive(Default)]
struct RuleParts {
    default: bool,
    /// An operation Apple's library retired (`'no-op`) was named.
    no_op: bool,
    ops: Vec<OpId>,
    /// The operations as named, before expansion (their precedence).
    named: Vec<OpId>,
    filters: Vec<Filter>,
    modifiers: Vec<Modifier>,
}

/// A pattern leaf. `(subpath "/a/")` is `(subpath "/a")`, and `(subpath
/// "/")` covers every absolute path: the subpath bytecode tests for a `/`
/// after the text, which would make both match almost nothing. Apple's
/// compiler must do something of the kind; no blob shows what [model].
fn pattern_leaf(filter: u8, kind: PathKind, mut text: Vec<u8>) -> Leaf {
    if kind == PathKind::Subpath {
        while text.len() > 1 && text.last() == Some(&b'/') {
            text.pop();
        }
        if text == b"/" {
            return Leaf::Pattern {
                filter,
                kind: PathKind::Prefix,
                text,
            };
        }
    }
    Leaf::Pattern { filter, kind, text }
}

fn quote(datum: &Sexp) -> Value {
    match &datum.datum {
        Datum::Bool(b) => Value::Bool(*b),
        Datum::Int(n) => Value::Int(*n),
        Datum::Str(s) => Value::Str(s.clone()),
        Datum::Regex(r) => Value::Regex(r.clone()),
        Datum::Char(c) => Value::Char(*c),
        Datum::Symbol(s) => Value::Symbol(s.clone()),
        Datum::List(items) => Value::List(items.iter().map(quote).collect()),
    }
}

/// A `#"..."` literal as the string it is, for procedures that take text
/// (names, paths, parameters); filters keep it a regex.
fn text(v: Value) -> Value {
    match v {
        Value::Regex(r) => Value::Str(r),
        other => other,
    }
}

fn texts(args: Vec<Value>) -> Vec<Value> {
    args.into_iter().map(text).collect()
}

/// A value as `error` prints it.
fn display(v: &Value) -> String {
    match v {
        Value::Str(s) => s.clone(),
        Value::Int(n) => n.to_string(),
        Value::Symbol(s) => s.clone(),
        Value::Char(c) => c.to_string(),
        Value::Bool(b) => (if *b { "#t" } else { "#f" }).to_owned(),
        other => format!("#<{}>", other.kind()),
    }
}

/// The value of a conditional none of whose branches ran. TinyScheme gives
/// the empty list, and Apple's profiles rely on it: `(map f (cond ...))`
/// and `(require-any (if (defined? 'x) (x)))` take it as "nothing".
fn no_branch() -> Value {
    Value::List(Vec::new())
}

/// What Apple's library binds a retired operation to.
const NO_OP: &str = "no-op";

/// The name an alias of Apple's library stands for, for messages.
fn library_target(name: &str) -> &str {
    match library::alias(name) {
        Some(Alias::Name(target)) => target,
        _ => name,
    }
}

/// A value as a form again (a macro's expansion). Only data converts.
fn to_sexp(v: &Value, span: Span) -> std::result::Result<Sexp, String> {
    let datum = match v {
        Value::Bool(b) => Datum::Bool(*b),
        Value::Int(n) => Datum::Int(*n),
        Value::Char(c) => Datum::Char(*c),
        Value::Str(s) => Datum::Str(s.clone()),
        Value::Regex(r) => Datum::Regex(r.clone()),
        Value::Symbol(s) => Datum::Symbol(s.clone()),
        Value::List(items) => Datum::List(
            items
                .iter()
                .map(|i| to_sexp(i, span))
                .collect::<std::result::Result<_, _>>()?,
        ),
        other => {
            return Err(format!(
                "a macro expanded to a {} value; an expansion must be a form (data only)",
                other.kind()
            ))
        }
    };
    Ok(Sexp { datum, span })
}

/// "; parameter KEY is not set" when `arg` is `(param "KEY")`.
fn param_note(arg: &Sexp) -> String {
    match arg.list() {
        Some([head, key]) if head.symbol() == Some("param") => match &key.datum {
            Datum::Str(k) => format!(" (parameter {k} is not set; pass --param {k}=VALUE)"),
            _ => String::new(),
        },
        _ => String::new(),
    }
}

/// [`param_note`] for argument `i` of the call `form`.
fn arg_param_note(form: &Sexp, i: usize) -> String {
    form.list()
        .and_then(|items| items.get(i + 1))
        .map(param_note)
        .unwrap_or_default()
}
