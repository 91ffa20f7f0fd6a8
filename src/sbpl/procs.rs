//! The Scheme procedures SBPL profiles call that need nothing of the
//! evaluator: numbers, characters, strings, lists, predicates (TinyScheme's
//! R5RS library as profiles use it), plus the library's `regex-quote` and
//! `_IO`. Each takes its evaluated arguments and gives a value or a message
//! the evaluator places at the call.

use super::eval::Value;
use super::library;

type Proc = fn(&[Value]) -> Result<Value, String>;

/// Longest string a procedure here may build (as the evaluator bounds
/// `string-append`).
const MAX_STRING: usize = 1 << 16;

const PROCS: &[(&str, Proc)] = &[
    ("+", |a| fold_ints("+", a, 0, i64::checked_add)),
    ("*", |a| fold_ints("*", a, 1, i64::checked_mul)),
    ("-", minus),
    ("quotient", |a| divide("quotient", a, i64::checked_div)),
    ("remainder", |a| divide("remainder", a, i64::checked_rem)),
    ("modulo", |a| {
        divide("modulo", a, |x, y| {
            x.checked_rem_euclid(y)
                .map(|r| if y < 0 && r != 0 { r + y } else { r })
        })
    }),
    ("abs", |a| {
        Ok(Value::Int(
            int1("abs", a)?.checked_abs().ok_or("abs: overflow")?,
        ))
    }),
    ("min", |a| extreme("min", a, i64::min)),
    ("max", |a| extreme("max", a, i64::max)),
    ("=", |a| compare("=", a, |x, y| x == y)),
    ("<", |a| compare("<", a, |x, y| x < y)),
    (">", |a| compare(">", a, |x, y| x > y)),
    ("<=", |a| compare("<=", a, |x, y| x <= y)),
    (">=", |a| compare(">=", a, |x, y| x >= y)),
    ("zero?", |a| Ok(Value::Bool(int1("zero?", a)? == 0))),
    ("positive?", |a| Ok(Value::Bool(int1("positive?", a)? > 0))),
    ("negative?", |a| Ok(Value::Bool(int1("negative?", a)? < 0))),
    ("even?", |a| Ok(Value::Bool(int1("even?", a)? % 2 == 0))),
    ("odd?", |a| Ok(Value::Bool(int1("odd?", a)? % 2 != 0))),
    ("number?", |a| {
        is("number?", a, |v| matches!(v, Value::Int(_)))
    }),
    ("integer?", |a| {
        is("integer?", a, |v| matches!(v, Value::Int(_)))
    }),
    ("symbol?", |a| {
        is("symbol?", a, |v| matches!(v, Value::Symbol(_)))
    }),
    ("boolean?", |a| {
        is("boolean?", a, |v| matches!(v, Value::Bool(_)))
    }),
    ("char?", |a| is("char?", a, |v| matches!(v, Value::Char(_)))),
    ("list?", |a| is("list?", a, |v| matches!(v, Value::List(_)))),
    ("atom?", |a| {
        is(
            "atom?",
            a,
            |v| !matches!(v, Value::List(l) if !l.is_empty()),
        )
    }),
    ("pair?", |a| {
        is("pair?", a, |v| matches!(v, Value::List(l) if !l.is_empty()))
    }),
    ("procedure?", |a| {
        is("procedure?", a, |v| {
            matches!(v, Value::Procedure(_) | Value::Builtin(_))
        })
    }),
    ("string->number", string_to_number),
    ("number->string", number_to_string),
    ("string-length", |a| {
        Ok(Value::Int(chars("string-length", a)?.len() as i64))
    }),
    ("substring", substring),
    ("string-ref", string_ref),
    ("string<?", |a| string_compare("string<?", a, |x, y| x < y)),
    ("string>?", |a| string_compare("string>?", a, |x, y| x > y)),
    ("string-ci=?", |a| {
        string_compare("string-ci=?", a, |x, y| x.eq_ignore_ascii_case(y))
    }),
    ("string-prefix?", |a| {
        string_compare("string-prefix?", a, |x, y| y.starts_with(x))
    }),
    ("string-suffix?", |a| {
        string_compare("string-suffix?", a, |x, y| y.ends_with(x))
    }),
    ("string-upcase", |a| {
        Ok(Value::Str(str1("string-upcase", a)?.to_uppercase()))
    }),
    ("string-downcase", |a| {
        Ok(Value::Str(str1("string-downcase", a)?.to_lowercase()))
    }),
    ("string-copy", |a| {
        Ok(Value::Str(str1("string-copy", a)?.to_owned()))
    }),
    ("string->list", |a| {
        Ok(Value::List(
            chars("string->list", a)?
                .into_iter()
                .map(Value::Char)
                .collect(),
        ))
    }),
    ("list->string", list_to_string),
    ("string", |a| list_to_string(&[Value::List(a.to_vec())])),
    ("string->symbol", |a| {
        Ok(Value::Symbol(str1("string->symbol", a)?.to_owned()))
    }),
    ("symbol->string", symbol_to_string),
    ("char->integer", |a| {
        Ok(Value::Int(i64::from(u32::from(char1("char->integer", a)?))))
    }),
    ("integer->char", integer_to_char),
    ("char=?", |a| char_compare("char=?", a, |x, y| x == y)),
    ("char<?", |a| char_compare("char<?", a, |x, y| x < y)),
    ("char>?", |a| char_compare("char>?", a, |x, y| x > y)),
    ("char-upcase", |a| {
        Ok(Value::Char(char1("char-upcase", a)?.to_ascii_uppercase()))
    }),
    ("char-downcase", |a| {
        Ok(Value::Char(char1("char-downcase", a)?.to_ascii_lowercase()))
    }),
    ("char-alphabetic?", |a| {
        Ok(Value::Bool(char1("char-alphabetic?", a)?.is_alphabetic()))
    }),
    ("char-numeric?", |a| {
        Ok(Value::Bool(char1("char-numeric?", a)?.is_numeric()))
    }),
    ("char-whitespace?", |a| {
        Ok(Value::Bool(char1("char-whitespace?", a)?.is_whitespace()))
    }),
    // libsandbox's own (not in the .scm library): `(split-string "a:b" ":")`
    // is ("a" "b"); empty pieces are kept, as a plain split gives [model].
    ("split-string", |a| {
        let [text, sep] = arity::<2>("split-string", a)?;
        let (text, sep) = (string("split-string", text)?, string("split-string", sep)?);
        if sep.is_empty() {
            return Err("split-string: the separator is empty".into());
        }
        Ok(Value::List(
            text.split(sep).map(|p| Value::Str(p.to_owned())).collect(),
        ))
    }),
    ("regex-quote", |a| {
        Ok(Value::Str(library::regex_quote(str1("regex-quote", a)?)))
    }),
    ("_IO", io),
    ("reverse", |a| {
        let mut l = list1("reverse", a)?.to_vec();
        l.reverse();
        Ok(Value::List(l))
    }),
    ("list-ref", list_ref),
    ("list-tail", list_tail),
    ("last-pair", |a| {
        let l = list1("last-pair", a)?;
        match l.last() {
            Some(v) => Ok(Value::List(vec![v.clone()])),
            None => Err("last-pair of an empty list".into()),
        }
    }),
    ("cadr", |a| cxr("cadr", a, &[1], false)),
    ("cddr", |a| cxr("cddr", a, &[2], true)),
    ("caddr", |a| cxr("caddr", a, &[2], false)),
    ("cdddr", |a| cxr("cdddr", a, &[3], true)),
    ("caar", |a| cxr("caar", a, &[0, 0], false)),
    ("cdar", |a| cxr("cdar", a, &[0, 1], true)),
    ("member", |a| member("member", a)),
    ("memq", |a| member("memq", a)),
    ("memv", |a| member("memv", a)),
    ("assoc", |a| assoc("assoc", a)),
    ("assq", |a| assoc("assq", a)),
    ("assv", |a| assoc("assv", a)),
    ("boolean=?", |a| match a {
        [Value::Bool(x), Value::Bool(y)] => Ok(Value::Bool(x == y)),
        _ => Err("boolean=? takes two booleans".into()),
    }),
];

/// The procedure called `name`, if it is one of these.
pub fn find(name: &str) -> Option<(&'static str, Proc)> {
    PROCS.iter().find(|(n, _)| *n == name).copied()
}

pub fn names() -> impl Iterator<Item = &'static str> {
    PROCS.iter().map(|(n, _)| *n)
}

/// Whether two values are `equal?`.
pub fn same(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Bool(x), Value::Bool(y)) => x == y,
        (Value::Int(x), Value::Int(y)) => x == y,
        (Value::Char(x), Value::Char(y)) => x == y,
        (Value::Str(x) | Value::Regex(x), Value::Str(y) | Value::Regex(y))
        | (Value::Symbol(x), Value::Symbol(y)) => x == y,
        (Value::List(x), Value::List(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(a, b)| same(a, b))
        }
        (Value::Filter(x), Value::Filter(y)) => x == y,
        _ => false,
    }
}

fn arity<'a, const N: usize>(name: &str, a: &'a [Value]) -> Result<&'a [Value; N], String> {
    a.try_into()
        .map_err(|_| format!("{name} takes {N} argument(s), got {}", a.len()))
}

fn int(name: &str, v: &Value) -> Result<i64, String> {
    match v {
        Value::Int(n) => Ok(*n),
        other => Err(format!("{name}: expected a number, got {}", other.kind())),
    }
}

fn int1(name: &str, a: &[Value]) -> Result<i64, String> {
    let [v] = arity::<1>(name, a)?;
    int(name, v)
}

fn str1<'a>(name: &str, a: &'a [Value]) -> Result<&'a str, String> {
    let [v] = arity::<1>(name, a)?;
    string(name, v)
}

/// A string argument; a `#"..."` literal is one too (its text as written).
fn string<'a>(name: &str, v: &'a Value) -> Result<&'a str, String> {
    match v {
        Value::Str(s) | Value::Regex(s) => Ok(s),
        other => Err(format!("{name}: expected a string, got {}", other.kind())),
    }
}

fn chars(name: &str, a: &[Value]) -> Result<Vec<char>, String> {
    Ok(str1(name, a)?.chars().collect())
}

fn char1(name: &str, a: &[Value]) -> Result<char, String> {
    match arity::<1>(name, a)? {
        [Value::Char(c)] => Ok(*c),
        [other] => Err(format!(
            "{name}: expected a character, got {}",
            other.kind()
        )),
    }
}

fn list1<'a>(name: &str, a: &'a [Value]) -> Result<&'a [Value], String> {
    match arity::<1>(name, a)? {
        [Value::List(l)] => Ok(l),
        [other] => Err(format!("{name}: expected a list, got {}", other.kind())),
    }
}

fn is(name: &str, a: &[Value], test: fn(&Value) -> bool) -> Result<Value, String> {
    let [v] = arity::<1>(name, a)?;
    Ok(Value::Bool(test(v)))
}

fn fold_ints(
    name: &str,
    a: &[Value],
    start: i64,
    op: fn(i64, i64) -> Option<i64>,
) -> Result<Value, String> {
    let mut acc = start;
    for v in a {
        acc = op(acc, int(name, v)?).ok_or_else(|| format!("{name}: integer overflow"))?;
    }
    Ok(Value::Int(acc))
}

fn minus(a: &[Value]) -> Result<Value, String> {
    match a {
        [] => Err("- takes at least one argument".into()),
        [v] => Ok(Value::Int(
            int("-", v)?.checked_neg().ok_or("-: integer overflow")?,
        )),
        [first, rest @ ..] => {
            let mut acc = int("-", first)?;
            for v in rest {
                acc = acc.checked_sub(int("-", v)?).ok_or("-: integer overflow")?;
            }
            Ok(Value::Int(acc))
        }
    }
}

fn divide(name: &str, a: &[Value], op: fn(i64, i64) -> Option<i64>) -> Result<Value, String> {
    let [x, y] = arity::<2>(name, a)?;
    let (x, y) = (int(name, x)?, int(name, y)?);
    if y == 0 {
        return Err(format!("{name}: division by zero"));
    }
    op(x, y)
        .map(Value::Int)
        .ok_or_else(|| format!("{name}: integer overflow"))
}

fn extreme(name: &str, a: &[Value], pick: fn(i64, i64) -> i64) -> Result<Value, String> {
    let (first, rest) = a
        .split_first()
        .ok_or_else(|| format!("{name} takes at least one argument"))?;
    let mut acc = int(name, first)?;
    for v in rest {
        acc = pick(acc, int(name, v)?);
    }
    Ok(Value::Int(acc))
}

/// `(< a b c)`: each neighbouring pair in order.
fn compare(name: &str, a: &[Value], test: fn(i64, i64) -> bool) -> Result<Value, String> {
    if a.len() < 2 {
        return Err(format!(
            "{name} takes at least two arguments, got {}",
            a.len()
        ));
    }
    let ints = a
        .iter()
        .map(|v| int(name, v))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Value::Bool(ints.windows(2).all(|w| test(w[0], w[1]))))
}

fn string_compare(name: &str, a: &[Value], test: fn(&str, &str) -> bool) -> Result<Value, String> {
    let [x, y] = arity::<2>(name, a)?;
    Ok(Value::Bool(test(string(name, x)?, string(name, y)?)))
}

fn char_compare(name: &str, a: &[Value], test: fn(char, char) -> bool) -> Result<Value, String> {
    match arity::<2>(name, a)? {
        [Value::Char(x), Value::Char(y)] => Ok(Value::Bool(test(*x, *y))),
        _ => Err(format!("{name} takes two characters")),
    }
}

fn radix(name: &str, a: Option<&Value>) -> Result<u32, String> {
    match a {
        None => Ok(10),
        Some(Value::Int(r @ (2 | 8 | 10 | 16))) => Ok(*r as u32),
        Some(other) => Err(format!(
            "{name}: radix must be 2, 8, 10 or 16, got {}",
            show(other)
        )),
    }
}

/// `(string->number "42")` is 42; text that is not a number gives #f.
fn string_to_number(a: &[Value]) -> Result<Value, String> {
    let (text, r) = match a {
        [t] => (t, None),
        [t, r] => (t, Some(r)),
        _ => return Err("string->number takes a string and an optional radix".into()),
    };
    let text = string("string->number", text)?;
    let radix = radix("string->number", r)?;
    let digits = text.strip_prefix(['+', '-']).unwrap_or(text);
    if digits.is_empty() || !digits.chars().all(|c| c.is_digit(radix)) {
        return Ok(Value::Bool(false));
    }
    Ok(i64::from_str_radix(text, radix).map_or(Value::Bool(false), Value::Int))
}

fn number_to_string(a: &[Value]) -> Result<Value, String> {
    let (n, r) = match a {
        [n] => (n, None),
        [n, r] => (n, Some(r)),
        _ => return Err("number->string takes a number and an optional radix".into()),
    };
    let n = int("number->string", n)?;
    // Scheme prints a sign, not two's complement, in every radix.
    let (sign, m) = (if n < 0 { "-" } else { "" }, n.unsigned_abs());
    let digits = match radix("number->string", r)? {
        2 => format!("{m:b}"),
        8 => format!("{m:o}"),
        16 => format!("{m:x}"),
        _ => m.to_string(),
    };
    Ok(Value::Str(format!("{sign}{digits}")))
}

fn index(name: &str, v: &Value, len: usize) -> Result<usize, String> {
    let n = int(name, v)?;
    usize::try_from(n)
        .ok()
        .filter(|i| *i <= len)
        .ok_or_else(|| format!("{name}: index {n} is out of range 0..{len}"))
}

fn substring(a: &[Value]) -> Result<Value, String> {
    let (s, start, end) = match a {
        [s, start] => (s, start, None),
        [s, start, end] => (s, start, Some(end)),
        _ => return Err("substring takes a string, a start and an optional end".into()),
    };
    let s: Vec<char> = string("substring", s)?.chars().collect();
    let start = index("substring", start, s.len())?;
    let end = match end {
        Some(e) => index("substring", e, s.len())?,
        None => s.len(),
    };
    if start > end {
        return Err(format!("substring: start {start} is after end {end}"));
    }
    Ok(Value::Str(s[start..end].iter().collect()))
}

fn string_ref(a: &[Value]) -> Result<Value, String> {
    let [s, i] = arity::<2>("string-ref", a)?;
    let s: Vec<char> = string("string-ref", s)?.chars().collect();
    let i = index("string-ref", i, s.len())?;
    s.get(i)
        .map(|c| Value::Char(*c))
        .ok_or_else(|| format!("string-ref: index {i} is out of range 0..{}", s.len()))
}

fn list_to_string(a: &[Value]) -> Result<Value, String> {
    let l = list1("list->string", a)?;
    if l.len() > MAX_STRING {
        return Err(format!(
            "list->string: {} characters exceed the limit of {MAX_STRING}",
            l.len()
        ));
    }
    l.iter()
        .map(|v| match v {
            Value::Char(c) => Ok(*c),
            other => Err(format!(
                "list->string: expected characters, got {}",
                other.kind()
            )),
        })
        .collect::<Result<String, _>>()
        .map(Value::Str)
}

fn symbol_to_string(a: &[Value]) -> Result<Value, String> {
    match arity::<1>("symbol->string", a)? {
        [Value::Symbol(s)] => Ok(Value::Str(s.clone())),
        [other] => Err(format!(
            "symbol->string: expected a symbol, got {}",
            other.kind()
        )),
    }
}

fn integer_to_char(a: &[Value]) -> Result<Value, String> {
    let n = int1("integer->char", a)?;
    u32::try_from(n)
        .ok()
        .and_then(char::from_u32)
        .map(Value::Char)
        .ok_or_else(|| format!("integer->char: {n} is not a character"))
}

fn io(a: &[Value]) -> Result<Value, String> {
    let [g, n] = arity::<2>("_IO", a)?;
    library::io_command(string("_IO", g)?, int("_IO", n)?).map(Value::Int)
}

fn list_ref(a: &[Value]) -> Result<Value, String> {
    match arity::<2>("list-ref", a)? {
        [Value::List(l), i] => {
            let i = index("list-ref", i, l.len())?;
            l.get(i)
                .cloned()
                .ok_or_else(|| format!("list-ref: index {i} is out of range"))
        }
        _ => Err("list-ref takes a list and an index".into()),
    }
}

fn list_tail(a: &[Value]) -> Result<Value, String> {
    match arity::<2>("list-tail", a)? {
        [Value::List(l), i] => Ok(Value::List(l[index("list-tail", i, l.len())?..].to_vec())),
        _ => Err("list-tail takes a list and an index".into()),
    }
}

/// `cadr` and friends: `path` is how many `cdr`s to take at each level
/// before a `car` (the last level keeps the tail when `tail`).
fn cxr(name: &str, a: &[Value], path: &[usize], tail: bool) -> Result<Value, String> {
    let mut v = match arity::<1>(name, a)? {
        [v] => v.clone(),
    };
    for (level, skip) in path.iter().enumerate() {
        let Value::List(l) = v else {
            return Err(format!("{name}: expected a list, got {}", v.kind()));
        };
        let last = level + 1 == path.len();
        if last && tail {
            if l.len() < *skip {
                return Err(format!("{name}: list too short"));
            }
            return Ok(Value::List(l[*skip..].to_vec()));
        }
        v = l
            .get(*skip)
            .cloned()
            .ok_or_else(|| format!("{name}: list too short"))?;
    }
    Ok(v)
}

fn member(name: &str, a: &[Value]) -> Result<Value, String> {
    match arity::<2>(name, a)? {
        [x, Value::List(l)] => Ok(l
            .iter()
            .position(|v| same(x, v))
            .map_or(Value::Bool(false), |i| Value::List(l[i..].to_vec()))),
        _ => Err(format!("{name} takes a value and a list")),
    }
}

fn assoc(name: &str, a: &[Value]) -> Result<Value, String> {
    match arity::<2>(name, a)? {
        [key, Value::List(l)] => Ok(l
            .iter()
            .find(
                |entry| matches!(entry, Value::List(e) if e.first().is_some_and(|k| same(key, k))),
            )
            .cloned()
            .unwrap_or(Value::Bool(false))),
        _ => Err(format!("{name} takes a key and a list of pairs")),
    }
}

/// A value as a message shows it.
fn show(v: &Value) -> String {
    match v {
        Value::Int(n) => n.to_string(),
        Value::Str(s) => format!("{s:?}"),
        other => other.kind().to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn call(name: &str, args: Vec<Value>) -> Result<Value, String> {
        (find(name).unwrap().1)(&args)
    }

    fn s(text: &str) -> Value {
        Value::Str(text.into())
    }

    #[test]
    fn arithmetic_and_comparison() {
        let ints = |v: &[i64]| v.iter().map(|n| Value::Int(*n)).collect::<Vec<_>>();
        assert!(matches!(call("+", ints(&[1, 2, 3])), Ok(Value::Int(6))));
        assert!(matches!(call("-", ints(&[10, 3, 2])), Ok(Value::Int(5))));
        assert!(matches!(call("-", ints(&[4])), Ok(Value::Int(-4))));
        assert!(matches!(call("*", ints(&[])), Ok(Value::Int(1))));
        assert!(matches!(call("modulo", ints(&[-7, 3])), Ok(Value::Int(2))));
        assert!(call("quotient", ints(&[1, 0]))
            .unwrap_err()
            .contains("division by zero"));
        assert!(call("+", ints(&[i64::MAX, 1]))
            .unwrap_err()
            .contains("overflow"));
        assert!(matches!(
            call("<=", ints(&[1, 2, 2])),
            Ok(Value::Bool(true))
        ));
        assert!(matches!(
            call(">", ints(&[3, 2, 2])),
            Ok(Value::Bool(false))
        ));
        assert!(call("=", vec![s("1"), Value::Int(1)])
            .unwrap_err()
            .contains("expected a number, got string"));
    }

    #[test]
    fn strings() {
        assert!(matches!(
            call("string->number", vec![s("42")]),
            Ok(Value::Int(42))
        ));
        assert!(matches!(
            call("string->number", vec![s("ff"), Value::Int(16)]),
            Ok(Value::Int(255))
        ));
        assert!(matches!(
            call("string->number", vec![s("4x")]),
            Ok(Value::Bool(false))
        ));
        assert!(
            matches!(call("number->string", vec![Value::Int(-12)]), Ok(Value::Str(t)) if t == "-12")
        );
        assert!(
            matches!(call("number->string", vec![Value::Int(-255), Value::Int(16)]), Ok(Value::Str(t)) if t == "-ff")
        );
        assert!(matches!(
            call("string-length", vec![s("héllo")]),
            Ok(Value::Int(5))
        ));
        assert!(
            matches!(call("substring", vec![s("/a/b"), Value::Int(1), Value::Int(2)]), Ok(Value::Str(t)) if t == "a")
        );
        assert!(call("substring", vec![s("ab"), Value::Int(3)])
            .unwrap_err()
            .contains("out of range"));
        assert!(matches!(
            call("string-ref", vec![s("/x"), Value::Int(0)]),
            Ok(Value::Char('/'))
        ));
        assert!(call("string-ref", vec![s("/x"), Value::Int(2)]).is_err());
        assert!(matches!(
            call("string-prefix?", vec![s("/a"), s("/a/b")]),
            Ok(Value::Bool(true))
        ));
        assert!(matches!(
            call("string-suffix?", vec![s("/a"), s("/a/b")]),
            Ok(Value::Bool(false))
        ));
        assert!(matches!(call("regex-quote", vec![s("a.b")]), Ok(Value::Str(t)) if t == r"a\.b"));
        assert!(matches!(
            call("_IO", vec![s("z"), Value::Int(1)]),
            Ok(Value::Int(31233))
        ));
        assert!(matches!(
            call("char->integer", vec![Value::Char('A')]),
            Ok(Value::Int(65))
        ));
    }

    #[test]
    fn lists() {
        let l = Value::List(vec![s("a"), s("b"), s("c")]);
        assert!(
            matches!(call("member", vec![s("b"), l.clone()]), Ok(Value::List(t)) if t.len() == 2)
        );
        assert!(matches!(
            call("member", vec![s("z"), l.clone()]),
            Ok(Value::Bool(false))
        ));
        assert!(matches!(call("cadr", vec![l.clone()]), Ok(Value::Str(t)) if t == "b"));
        assert!(matches!(call("cddr", vec![l.clone()]), Ok(Value::List(t)) if t.len() == 1));
        assert!(
            matches!(call("reverse", vec![l.clone()]), Ok(Value::List(t)) if matches!(&t[0], Value::Str(x) if x == "c"))
        );
        let pairs = Value::List(vec![Value::List(vec![s("k"), Value::Int(1)])]);
        assert!(matches!(
            call("assoc", vec![s("k"), pairs.clone()]),
            Ok(Value::List(_))
        ));
        assert!(matches!(
            call("assoc", vec![s("q"), pairs]),
            Ok(Value::Bool(false))
        ));
        assert!(call("caddr", vec![Value::List(vec![])])
            .unwrap_err()
            .contains("too short"));
    }
}
