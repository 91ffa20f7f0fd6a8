//! The Scheme subset SBPL profiles are written in, evaluated to [`Rules`].
//!
//! Special forms: `quote`, `if`, `cond`, `when`, `unless`, `and`, `or`,
//! `let` (also named), `let*`, `letrec`, `lambda`, `define`, `begin`, and the
//! SBPL ones: `version`, `allow`, `deny`, `with`, `debug`, `import`.
//! Procedures: the filter forms of [`super::filters`], `require-all`,
//! `require-any`, `require-not`, `param`, `string-append` and a few list and
//! comparison procedures (`list`, `map`, `apply`, `not`, `equal?`, ...).
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
use super::reader::{read, Datum, Sexp, Span};
use super::regex::Regex;
use super::rules::{Filter, InlineModifier, Leaf, ModifierArg, Outcome, PathKind, Rule, Rules};
use crate::blob::action;
use crate::vocab::{OpId, Vocab};
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
    /// A `#"..."` literal, its text as written.
    Regex(String),
    Symbol(String),
    List(Vec<Value>),
    Procedure(Rc<Closure>),
    Builtin(Builtin),
    Filter(Filter),
    Modifier(Modifier),
}

impl Value {
    /// The type name used in messages, as Apple's compiler words them.
    fn kind(&self) -> &'static str {
        match self {
            Value::Unspecified => "unspecified",
            Value::Bool(_) => "boolean",
            Value::Int(_) => "integer",
            Value::Str(_) => "string",
            Value::Regex(_) => "regex",
            Value::Symbol(_) => "symbol",
            Value::List(_) => "list",
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
];

const SPECIAL_FORMS: &[&str] = &[
    "quote", "if", "cond", "when", "unless", "and", "or", "let", "let*", "letrec", "letrec*",
    "lambda", "define", "begin", "version", "allow", "deny", "with", "debug", "import",
];

fn builtin(name: &str) -> Option<Builtin> {
    if let Some(form) = filters::find(name) {
        return Some(Builtin::Filter(form));
    }
    BUILTINS.iter().find(|(n, _)| *n == name).map(|(_, b)| *b)
}

struct Frame {
    vars: Vec<(String, Value)>,
    parent: Option<usize>,
}

/// Where imports are looked for after the importing file's directory.
#[derive(Debug, Clone, Default)]
pub struct SearchPath(pub Vec<PathBuf>);

impl SearchPath {
    /// `$SBCHECK_SBPL_PATH` (colon-separated), then where macOS keeps its
    /// profiles.
    pub fn standard() -> SearchPath {
        let mut dirs: Vec<PathBuf> = std::env::var_os("SBCHECK_SBPL_PATH")
            .map(|v| std::env::split_paths(&v).collect())
            .unwrap_or_default();
        dirs.push(PathBuf::from("/System/Library/Sandbox/Profiles"));
        dirs.push(PathBuf::from("/usr/share/sandbox"));
        SearchPath(dirs)
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
    };
    ev.importing.extend(file.map(canonical));
    ev.run_source(src)?;
    if !ev.default_seen {
        let e = CompileError::new(
            Span { line: 1, column: 1 },
            "profile has no (allow default) or (deny default)",
        );
        return Err(e.in_file(ev.files[0].as_ref()));
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
        if let Some(b) = builtin(name) {
            return Ok(Value::Builtin(b));
        }
        if filters::is_constant(name) {
            return Ok(Value::Symbol(name.to_owned()));
        }
        let mut names = self.names_in_scope(env);
        names.extend(BUILTINS.iter().map(|(n, _)| *n));
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

    fn call(&mut self, form: &Sexp, items: &[Sexp], env: usize) -> Result<Value> {
        let head = &items[0];
        let f = match head.symbol() {
            Some(name) if !self.bound(name, env) && builtin(name).is_none() => {
                return Err(self.unknown_head(name, form, env));
            }
            _ => self.eval(head, env)?,
        };
        let mut args = Vec::with_capacity(items.len() - 1);
        for item in &items[1..] {
            args.push(self.eval(item, env)?);
        }
        self.apply(f, args, form)
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
            "when" | "unless" => {
                let Some((test, body)) = args.split_first() else {
                    return Err(self.error(form, format!("({name} ...) needs a test")));
                };
                let holds = self.eval(test, env)?.truthy();
                if holds == (name == "when") {
                    self.body(body, env)
                } else {
                    Ok(Value::Unspecified)
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
            otherwise.map_or(Ok(Value::Unspecified), |e| self.eval(e, env))
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
        Ok(Value::Unspecified)
    }

    /// `((name init) ...)` as pairs.
    fn bindings<'f>(&self, list: &'f Sexp) -> Result<Vec<(&'f str, &'f Sexp)>> {
        let Some(items) = list.list() else {
            return Err(self.error(list, "expected bindings ((NAME VALUE) ...)"));
        };
        items
            .iter()
            .map(|b| match b.list() {
                Some([name, init]) if name.symbol().is_some() => {
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
        if body.is_empty() {
            return Err(self.error(form, format!("{name} has an empty body")));
        }
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
            [target, value] => {
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
        let Value::Str(name) = self.eval(arg, env)? else {
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
            if let Some(dir) = self.files[self.file].as_ref().and_then(|f| f.parent()) {
                candidates.push(dir.join(name));
            }
            candidates.extend(self.search.0.iter().map(|d| d.join(name)));
        }
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
                Some(name) if self.is_operation(name) && !self.bound(name, env) => {
                    let ops = self
                        .operation(name)
                        .map_err(|m| self.error_within(arg, form, m))?;
                    parts.ops.extend(ops);
                }
                Some(name) if !self.bound(name, env) && builtin(name).is_none() => {
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
        let outcome = self.outcome(deny, &parts.modifiers, form)?;
        if parts.default {
            if !parts.ops.is_empty() || !parts.filters.is_empty() {
                return Err(self.error(form, "default takes no other operations or filters"));
            }
            self.default_seen = true;
            self.rules.push_default(self.vocab, outcome);
            return Ok(Value::Unspecified);
        }
        if parts.ops.is_empty() {
            return Err(self.error(form, "rule names no operation"));
        }
        parts.ops.sort_unstable();
        parts.ops.dedup();
        let filter = match parts.filters.len() {
            0 => None,
            1 => parts.filters.pop(),
            _ => Some(Filter::Any(parts.filters)),
        };
        self.rules.rules.push(Rule {
            outcome,
            ops: parts.ops,
            filter,
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
    /// [model].
    fn canonical_op(&self, name: &str) -> Option<String> {
        if self.vocab.op_id(name).is_some() {
            return Some(name.to_owned());
        }
        let family = format!("{name}*");
        self.vocab.op_id(&family).map(|_| family)
    }

    fn operation(&self, name: &str) -> std::result::Result<Vec<OpId>, String> {
        let name = self.canonical_op(name).unwrap_or_else(|| name.to_owned());
        let name = name.as_str();
        match self.vocab.expand(name) {
            Some(ops) if !ops.is_empty() => Ok(ops),
            Some(_) => Err(format!(
                "operation {name} has no op-table entry in macOS 14.4.1 (it belongs to message filters)"
            )),
            None => Err(format!(
                "unknown operation {name}{}",
                hint(self.vocab.closest_op(name))
            )),
        }
    }

    /// Sorts one evaluated rule argument into operations, filters, modifiers.
    fn collect(&self, v: Value, arg: &Sexp, parts: &mut RuleParts) -> Result<()> {
        match v {
            Value::Filter(f) => parts.filters.push(f),
            Value::Modifier(m) => parts.modifiers.push(m),
            Value::Symbol(name) if name == "default" => parts.default = true,
            Value::Symbol(name) if self.is_operation(&name) => {
                let ops = self.operation(&name).map_err(|m| self.error(arg, m))?;
                parts.ops.extend(ops);
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
            (WithKind::StrModifier(_), [a]) => match self.eval(a, env)? {
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
            Builtin::Param => match args.as_slice() {
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
                        Value::Str(s) => out.push_str(&s),
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
                [a, b] => Ok(Value::Bool(same(a, b))),
                _ => Err(self.error(form, "comparison takes two arguments")),
            },
            Builtin::IsNull => match args.as_slice() {
                [v] => Ok(Value::Bool(matches!(v, Value::List(l) if l.is_empty()))),
                _ => Err(self.error(form, "(null? X) takes one argument")),
            },
            Builtin::IsString => match args.as_slice() {
                [v] => Ok(Value::Bool(matches!(v, Value::Str(_)))),
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
        }
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
    ops: Vec<OpId>,
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
        Datum::Symbol(s) => Value::Symbol(s.clone()),
        Datum::List(items) => Value::List(items.iter().map(quote).collect()),
    }
}

fn same(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Bool(x), Value::Bool(y)) => x == y,
        (Value::Int(x), Value::Int(y)) => x == y,
        (Value::Str(x), Value::Str(y)) | (Value::Symbol(x), Value::Symbol(y)) => x == y,
        (Value::List(x), Value::List(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(a, b)| same(a, b))
        }
        (Value::Filter(x), Value::Filter(y)) => x == y,
        _ => false,
    }
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
