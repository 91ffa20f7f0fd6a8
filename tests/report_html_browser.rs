//! The report in a real browser: headless Chromium (Debian's `chromium`
//! package; .ci/run installs it) opens `report.html` from a real run of the
//! matrix. A mouse click on a grid cell must show that cell's detail and
//! only that; the keyboard must work the same way (Escape back, arrow to
//! the next cell, Enter opens it); `#cell=` must open a cell on load. A
//! screenshot of the clicked state is saved as `out/report-screenshot.png`.
//!
//! Chromium is driven over `--remote-debugging-pipe` (the DevTools protocol
//! on fds 3 and 4, NUL-separated JSON), which needs no port and no
//! WebSocket. Without Chromium these tests fail, saying how to install it.

mod report_html_support;

use report_html_support::{cell_id, results, root, run_real};
use serde_json::{json, Value};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{channel, Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

/// How long any one browser step may take before the test fails.
const STEP: Duration = Duration::from_secs(30);

/// Chromium, or `None` when it is missing and this is not CI: the test
/// then says on the terminal that it was skipped and why (libtest captures
/// `eprintln!`, not a direct write to stderr). Under CI (`CI` set and not
/// `false`) a missing browser fails the test: .ci/run installs it.
fn chromium(test: &str) -> Option<PathBuf> {
    let path = std::env::var_os("SBCHECK_CHROMIUM")
        .map_or_else(|| PathBuf::from("/usr/bin/chromium"), PathBuf::from);
    if path.exists() {
        return Some(path);
    }
    let why = format!(
        "Chromium not found at {}: the browser tests need Debian's chromium package \
         (apt-get update && apt-get install -y chromium; .ci/run does this), or \
         SBCHECK_CHROMIUM=/path/to/chromium",
        path.display()
    );
    let ci = std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "false" && v != "0");
    assert!(!ci, "{why}");
    let _ = writeln!(std::io::stderr(), "skipped {test}: {why}");
    None
}

/// The flags every run uses: no sandbox (we run as root in CI), nothing
/// fetched, a fresh profile.
fn chromium_args(profile: &Path) -> Vec<String> {
    [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--hide-scrollbars",
    ]
    .iter()
    .map(|s| s.to_string())
    .chain([format!("--user-data-dir={}", profile.display())])
    .collect()
}

/// A real run of the matrix and its report.
fn real_report(dir: &Path) -> (PathBuf, Value) {
    let out = dir.join("out");
    run_real(&out);
    (out.join("report.html"), results(&out))
}

fn file_url(path: &Path) -> String {
    format!("file://{}", path.display())
}

/// A Chromium driven over the DevTools pipe.
struct Browser {
    child: Child,
    input: ChildStdin,
    messages: Receiver<Value>,
    next_id: u64,
    session: Option<String>,
    _profile: tempfile::TempDir,
}

impl Browser {
    fn start(chromium: &Path) -> Browser {
        let profile = tempfile::tempdir().unwrap();
        // The shell hands our pipes to Chromium as fds 3 (commands in) and
        // 4 (replies out), and its own stdout to stderr so that nothing
        // else lands in the reply stream.
        let mut child = Command::new("sh")
            .arg("-c")
            .arg("exec \"$0\" \"$@\" 3<&0 4>&1 >&2 </dev/null")
            .arg(chromium)
            .args(chromium_args(profile.path()))
            .arg("--remote-debugging-pipe")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("starting chromium");
        let input = child.stdin.take().unwrap();
        let output = child.stdout.take().unwrap();
        let (tx, messages) = channel();
        std::thread::spawn(move || {
            let mut reader = BufReader::new(output);
            let mut buf = Vec::new();
            while reader.read_until(0, &mut buf).unwrap_or(0) > 0 {
                if buf.last() == Some(&0) {
                    buf.pop();
                }
                if let Ok(v) = serde_json::from_slice::<Value>(&buf) {
                    if tx.send(v).is_err() {
                        break;
                    }
                }
                buf.clear();
            }
        });
        Browser {
            child,
            input,
            messages,
            next_id: 0,
            session: None,
            _profile: profile,
        }
    }

    /// Sends a command and waits for its reply, skipping events.
    fn call(&mut self, method: &str, params: Value) -> Value {
        self.next_id += 1;
        let id = self.next_id;
        let mut msg = json!({ "id": id, "method": method, "params": params });
        if let Some(s) = &self.session {
            msg["sessionId"] = s.clone().into();
        }
        let mut bytes = msg.to_string().into_bytes();
        bytes.push(0);
        self.input
            .write_all(&bytes)
            .and_then(|_| self.input.flush())
            .unwrap_or_else(|e| panic!("{method}: writing to chromium: {e}"));
        let deadline = Instant::now() + STEP;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.messages.recv_timeout(left) {
                Ok(reply) if reply["id"] == id => {
                    assert!(reply["error"].is_null(), "{method}: {}", reply["error"]);
                    return reply["result"].clone();
                }
                Ok(_event) => continue,
                Err(RecvTimeoutError::Timeout) => panic!("{method}: no reply in {STEP:?}"),
                Err(RecvTimeoutError::Disconnected) => panic!("{method}: chromium exited"),
            }
        }
    }

    /// Opens a page in a fresh tab of the given size and waits for its load.
    fn open(&mut self, url: &str, width: u32, height: u32) {
        let target = self.call("Target.createTarget", json!({ "url": "about:blank" }));
        let attached = self.call(
            "Target.attachToTarget",
            json!({ "targetId": target["targetId"], "flatten": true }),
        );
        self.session = attached["sessionId"].as_str().map(str::to_owned);
        self.call(
            "Emulation.setDeviceMetricsOverride",
            json!({ "width": width, "height": height, "deviceScaleFactor": 1, "mobile": false }),
        );
        self.call("Page.navigate", json!({ "url": url }));
        let deadline = Instant::now() + STEP;
        while self.eval("document.readyState") != "complete" {
            assert!(Instant::now() < deadline, "{url} did not load in {STEP:?}");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Evaluates a JavaScript expression in the page; its value as JSON.
    fn eval(&mut self, expression: &str) -> Value {
        let r = self.call(
            "Runtime.evaluate",
            json!({ "expression": expression, "returnByValue": true }),
        );
        assert!(
            r["exceptionDetails"].is_null(),
            "{expression}: {}",
            r["exceptionDetails"]
        );
        r["result"]["value"].clone()
    }

    /// A left click at the middle of the element `selector` selects.
    fn click(&mut self, selector: &str) {
        let rect = self.eval(&format!(
            "(() => {{ const e = document.querySelector({sel}); if (!e) return null; \
             e.scrollIntoView({{block: 'center'}}); const r = e.getBoundingClientRect(); \
             return {{x: r.x + r.width / 2, y: r.y + r.height / 2}}; }})()",
            sel = json!(selector)
        ));
        assert!(!rect.is_null(), "nothing on the page matches {selector}");
        for kind in ["mouseMoved", "mousePressed", "mouseReleased"] {
            self.call(
                "Input.dispatchMouseEvent",
                json!({ "type": kind, "x": rect["x"], "y": rect["y"],
                        "button": "left", "clickCount": 1 }),
            );
        }
    }

    /// A key press as a keyboard makes it (down, up).
    fn key(&mut self, key: &str, code: u32) {
        let text = if key == "Enter" { "\r" } else { "" };
        self.call(
            "Input.dispatchKeyEvent",
            json!({ "type": "keyDown", "key": key, "code": key,
                    "windowsVirtualKeyCode": code, "text": text }),
        );
        self.call(
            "Input.dispatchKeyEvent",
            json!({ "type": "keyUp", "key": key, "code": key, "windowsVirtualKeyCode": code }),
        );
    }

    /// What the page shows: which panels are visible, and what has focus.
    fn state(&mut self) -> Value {
        self.eval(
            "(() => { const shown = [...document.querySelectorAll('section.detail')] \
             .filter(p => !p.hidden && p.getBoundingClientRect().height > 0); \
             const a = document.activeElement; \
             return { shown: shown.map(p => p.id), \
                      text: shown.map(p => p.innerText).join('\\n'), \
                      graphs: shown.map(p => [...p.querySelectorAll('svg.graph rect')] \
                        .filter(r => r.getBoundingClientRect().width > 0).length), \
                      hash: location.hash, \
                      focus: a ? (a.id || a.getAttribute('data-cell') || a.tagName) : null, \
                      expanded: [...document.querySelectorAll('button.cell[aria-expanded=true]')] \
                        .map(b => b.getAttribute('data-cell')) }; })()",
        )
    }

    fn screenshot(&mut self, path: &Path) {
        let shot = self.call("Page.captureScreenshot", json!({ "format": "png" }));
        let png = base64_decode(shot["data"].as_str().unwrap());
        assert!(png.starts_with(b"\x89PNG"), "not a PNG");
        sbcheck::report::write_atomic(path, &png).unwrap();
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        self.session = None;
        self.next_id += 1;
        let msg = format!("{{\"id\":{},\"method\":\"Browser.close\"}}\0", self.next_id);
        let _ = self.input.write_all(msg.as_bytes());
        let _ = self.input.flush();
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn base64_decode(text: &str) -> Vec<u8> {
    let value = |c: u8| match c {
        b'A'..=b'Z' => Some(c - b'A'),
        b'a'..=b'z' => Some(c - b'a' + 26),
        b'0'..=b'9' => Some(c - b'0' + 52),
        b'+' => Some(62),
        b'/' => Some(63),
        _ => None,
    };
    let digits: Vec<u8> = text.bytes().filter_map(value).collect();
    let mut out = Vec::with_capacity(digits.len() * 3 / 4);
    for chunk in digits.chunks(4) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, d)| n | u32::from(*d) << (18 - 6 * i));
        let bytes = n.to_be_bytes();
        out.extend_from_slice(&bytes[1..chunk.len()]);
    }
    out
}

/// A denied cell with an interesting walk (a filter, then a terminal), and
/// the cell after it in its row.
fn pick_cells(results: &Value) -> (Value, Value) {
    let cells = results["cells"].as_array().unwrap();
    let i = (0..cells.len().saturating_sub(1))
        .find(|&i| {
            let (c, next) = (&cells[i], &cells[i + 1]);
            c["decoder"]["nodes"].as_array().map_or(0, Vec::len) >= 2
                && c["observed"]["errno_name"] == "EPERM"
                && next["profile"] == c["profile"]
        })
        .expect("the matrix has a denied cell whose walk passes a filter");
    (cells[i].clone(), cells[i + 1].clone())
}

#[test]
fn clicking_a_cell_shows_its_detail_and_the_keyboard_works_too() {
    let Some(chromium) = chromium("clicking_a_cell_shows_its_detail_and_the_keyboard_works_too")
    else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let (report, results) = real_report(dir.path());
    let (cell, next) = pick_cells(&results);
    let (id, next_id) = (cell_id(&cell), cell_id(&next));

    let mut b = Browser::start(&chromium);
    b.open(&file_url(&report), 1600, 1100);
    let before = b.state();
    assert_eq!(before["shown"], json!([]), "no panel before a click");

    b.click(&format!("button.cell[data-cell=\"{id}\"]"));
    let s = b.state();
    assert_eq!(s["shown"], json!([format!("detail-{id}")]), "{s}");
    assert_eq!(s["expanded"], json!([id]));
    assert_eq!(s["hash"], format!("#cell={id}"));
    let text = s["text"].as_str().unwrap();
    for fact in [
        cell["decoder"]["rule"].as_str().unwrap(),
        cell["observed"]["errno_name"].as_str().unwrap(),
        cell["intercepts"][0]["log"].as_str().unwrap(),
        cell["backend"].as_str().unwrap(),
    ] {
        assert!(text.contains(fact), "{id}: {fact:?} not shown in\n{text}");
    }
    // Every visited node is a visible box of the graph, plus the
    // untaken-edge stubs.
    let nodes = cell["decoder"]["nodes"].as_array().unwrap().len() as u64;
    assert!(s["graphs"][0].as_u64().unwrap() >= nodes, "{s}");
    b.screenshot(&root().join("out/report-screenshot.png"));

    // Keyboard: Escape returns to the cell, ArrowRight moves to the next
    // one, Enter opens it.
    b.key("Escape", 27);
    let s = b.state();
    assert_eq!(s["shown"], json!([]), "{s}");
    assert_eq!(s["focus"], id, "focus back on the cell");
    b.key("ArrowRight", 39);
    assert_eq!(b.state()["focus"], next_id);
    b.key("Enter", 13);
    let s = b.state();
    assert_eq!(s["shown"], json!([format!("detail-{next_id}")]), "{s}");
    assert_eq!(s["focus"], format!("h-{next_id}"), "focus on the panel");
}

#[test]
fn a_cell_link_opens_that_cell_on_load() {
    let Some(chromium) = chromium("a_cell_link_opens_that_cell_on_load") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let (report, results) = real_report(dir.path());
    let (cell, _) = pick_cells(&results);
    let id = cell_id(&cell);
    let profile = tempfile::tempdir().unwrap();
    let output = Command::new(&chromium)
        .args(chromium_args(profile.path()))
        .arg("--dump-dom")
        .arg(format!("{}#cell={id}", file_url(&report)))
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output()
        .expect("running chromium");
    assert!(output.status.success(), "chromium: {:?}", output.status);
    let dom = String::from_utf8_lossy(&output.stdout);
    let tags: Vec<&str> = dom
        .split("<section class=\"detail")
        .skip(1)
        .map(|s| &s[..s.find('>').unwrap_or(s.len())])
        .collect();
    assert_eq!(tags.len(), results["cells"].as_array().unwrap().len());
    let mine = format!("id=\"detail-{id}\"");
    for tag in tags {
        let open = tag.contains(&mine);
        assert_eq!(tag.starts_with(" open\""), open, "{tag}");
        assert_eq!(tag.contains(" hidden"), !open, "only {id} is shown: {tag}");
    }
}
