//! The flow editor of `/builder/:id`: a builder server's tools edited node
//! by node, in the browser, on the definition itself (JSON in a signal).
//!
//! - the canvas: each tool's flow as nodes (Start → HTTP requests and
//!   transforms → Return) joined by edges; add, remove and reorder steps
//!   with the toolbar, by drag and drop, or by keyboard (`Alt+↑`/`Alt+↓`
//!   move the selected step, `Delete` removes it); undo and redo
//!   (`Ctrl+Z`, `Ctrl+Shift+Z`), saved with `Ctrl+S`;
//! - the side panel edits the selected node: the arguments (a table that
//!   writes the JSON Schema, shown beside it), an HTTP request (method, URL
//!   with the names it may use offered as you type `{{`, query, headers
//!   and body), a transform, or the Return mapping, where a click on a
//!   field of the last test's response maps it, and the mapped result
//!   previews as you go;
//! - a test runs the draft as it is (saved first) and shows each request as
//!   sent (secrets masked) and the result a client gets.
//!
//! Fields commit on `change` (leaving the field), so one edit is one undo
//! step and the panel never re-renders under the cursor.

use leptos::prelude::*;
use serde_json::{Map, Value, json};

use crate::{
    components::{BUTTON_PRIMARY, BUTTON_SECONDARY},
    model::BuilderTestView,
    pages::builder::TestResult,
    server_fns::{save_builder, test_builder},
};

const INPUT: &str = "block w-full rounded-md border border-slate-300 bg-white px-2.5 py-1.5 text-sm shadow-sm outline-none focus:border-indigo-500 focus:ring-2 focus:ring-indigo-100";
const MONO: &str = "block w-full rounded-md border border-slate-300 bg-white px-2.5 py-1.5 font-mono text-xs shadow-sm outline-none focus:border-indigo-500 focus:ring-2 focus:ring-indigo-100";
const SMALL: &str = "rounded-md px-2 py-1 text-xs font-medium text-slate-700 ring-1 ring-slate-300 hover:bg-slate-50";
const TYPES: [&str; 6] = ["string", "number", "integer", "boolean", "object", "array"];
const METHODS: [&str; 6] = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD"];

/// What the side panel edits.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Sel {
    Start,
    Step(usize),
    Return,
}

/// The definition with each tool's `action` as its first (only) step, so
/// the editor deals with one shape; the meaning is the same.
pub fn normalize(mut def: Value) -> Value {
    if !def.is_object() {
        def = json!({"tools": []});
    }
    let tools = def.as_object_mut().expect("an object").entry("tools").or_insert(json!([]));
    for t in tools.as_array_mut().into_iter().flatten() {
        if let Some(obj) = t.as_object_mut() {
            if let Some(action) = obj.remove("action") {
                obj.insert("steps".into(), Value::Array(vec![action]));
            }
            obj.entry("steps").or_insert(json!([]));
        }
    }
    def
}

fn tool_mut(def: &mut Value, i: usize) -> Option<&mut Map<String, Value>> {
    def.get_mut("tools")?.get_mut(i)?.as_object_mut()
}

fn steps_mut(def: &mut Value, i: usize) -> Option<&mut Vec<Value>> {
    tool_mut(def, i)?.entry("steps").or_insert(json!([])).as_array_mut()
}

fn steps_of(def: &Value, i: usize) -> Vec<Value> {
    def.pointer(&format!("/tools/{i}/steps")).and_then(Value::as_array).cloned().unwrap_or_default()
}

fn step_id(step: &Value, i: usize) -> String {
    step.get("id").and_then(Value::as_str).map(str::to_string).unwrap_or_else(|| format!("step{}", i + 1))
}

fn text_at(def: &Value, pointer: &str) -> String {
    match def.pointer(pointer) {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Null) | None => String::new(),
        Some(other) => other.to_string(),
    }
}

/// Sets the value at a JSON pointer, creating objects on the way.
fn set_at(def: &mut Value, pointer: &str, value: Value) {
    let mut here = def;
    let parts: Vec<String> = pointer.split('/').skip(1).map(|p| p.replace("~1", "/").replace("~0", "~")).collect();
    for (n, part) in parts.iter().enumerate() {
        let last = n + 1 == parts.len();
        if let Ok(i) = part.parse::<usize>()
            && here.is_array()
        {
            let Some(next) = here.get_mut(i) else { return };
            if last {
                *next = value;
                return;
            }
            here = next;
            continue;
        }
        if !here.is_object() {
            *here = json!({});
        }
        let map = here.as_object_mut().expect("an object");
        if last {
            if value.is_null() {
                map.remove(part);
            } else {
                map.insert(part.clone(), value);
            }
            return;
        }
        here = map.entry(part.clone()).or_insert(json!({}));
    }
}

/// A JSONPath to a value, from its keys and indexes.
fn json_path(parts: &[Value]) -> String {
    let mut out = String::from("$");
    for p in parts {
        match p {
            Value::Number(n) => out.push_str(&format!("[{n}]")),
            Value::String(k) if !k.is_empty() && k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') => {
                out.push('.');
                out.push_str(k);
            }
            Value::String(k) => out.push_str(&format!("['{}']", k.replace('\\', "\\\\").replace('\'', "\\'"))),
            _ => {}
        }
    }
    out
}

/// The value a simple mapping expression names in `data` (the last
/// response): `$.a.b[0]`, `$['a']` or `{{data.a.b[0]}}`. `None` for what
/// only the server computes (filters, wildcards, text with values in it).
pub fn preview(expr: &str, data: &Value) -> Option<Value> {
    let path = if let Some(p) = expr.strip_prefix('$') {
        p.to_string()
    } else {
        let inner = expr.strip_prefix("{{")?.strip_suffix("}}")?.trim();
        inner.strip_prefix("data")?.to_string()
    };
    let mut here = data;
    let mut rest = path.as_str();
    while !rest.is_empty() {
        if let Some(r) = rest.strip_prefix("['") {
            let (key, tail) = r.split_once("']")?;
            here = here.get(key)?;
            rest = tail;
        } else if let Some(r) = rest.strip_prefix('[') {
            let (index, tail) = r.split_once(']')?;
            here = here.get(index.parse::<usize>().ok()?)?;
            rest = tail;
        } else if let Some(r) = rest.strip_prefix('.') {
            let end = r.find(['.', '[']).unwrap_or(r.len());
            let key = &r[..end];
            if key.is_empty() || key.contains(['*', '?']) {
                return None;
            }
            here = here.get(key)?;
            rest = &r[end..];
        } else {
            return None;
        }
    }
    Some(here.clone())
}

/// The editor's state; every handle is `Copy`.
#[derive(Clone, Copy)]
pub struct Ed {
    pub def: RwSignal<Value>,
    past: RwSignal<Vec<Value>>,
    future: RwSignal<Vec<Value>>,
    pub tool: RwSignal<usize>,
    pub sel: RwSignal<Sel>,
    pub dirty: RwSignal<bool>,
    dragging: RwSignal<Option<usize>>,
    /// The last test's last response, for the mapping panel.
    last_response: RwSignal<Option<Value>>,
}

impl Ed {
    pub fn new(definition: &str) -> Self {
        let def = normalize(serde_json::from_str(definition).unwrap_or_else(|_| json!({"tools": []})));
        Self {
            def: RwSignal::new(def),
            past: RwSignal::new(Vec::new()),
            future: RwSignal::new(Vec::new()),
            tool: RwSignal::new(0),
            sel: RwSignal::new(Sel::Start),
            dirty: RwSignal::new(false),
            dragging: RwSignal::new(None),
            last_response: RwSignal::new(None),
        }
    }

    /// Applies an edit as one undo step.
    pub fn change(&self, edit: impl FnOnce(&mut Value)) {
        let before = self.def.get_untracked();
        let mut after = before.clone();
        edit(&mut after);
        if after != before {
            self.past.update(|p| {
                p.push(before);
                if p.len() > 200 {
                    p.remove(0);
                }
            });
            self.future.update(Vec::clear);
            self.def.set(after);
            self.dirty.set(true);
        }
    }

    fn undo(&self) {
        if let Some(previous) = self.past.try_update(Vec::pop).flatten() {
            let current = self.def.get_untracked();
            self.future.update(|f| f.push(current));
            self.def.set(previous);
            self.dirty.set(true);
            self.clamp();
        }
    }

    fn redo(&self) {
        if let Some(next) = self.future.try_update(Vec::pop).flatten() {
            let current = self.def.get_untracked();
            self.past.update(|p| p.push(current));
            self.def.set(next);
            self.dirty.set(true);
            self.clamp();
        }
    }

    /// Keeps the selection on something that exists.
    fn clamp(&self) {
        let tools = self.def.with_untracked(|d| d["tools"].as_array().map_or(0, Vec::len));
        if self.tool.get_untracked() >= tools.max(1) {
            self.tool.set(tools.saturating_sub(1));
        }
        let steps = self.def.with_untracked(|d| steps_of(d, self.tool.get_untracked()).len());
        if let Sel::Step(i) = self.sel.get_untracked()
            && i >= steps
        {
            self.sel.set(Sel::Start);
        }
    }

    fn steps(&self) -> Vec<Value> {
        self.def.with(|d| steps_of(d, self.tool.get()))
    }

    /// The pointer of the current tool (`/tools/N`).
    fn at(&self) -> String {
        format!("/tools/{}", self.tool.get_untracked())
    }

    fn move_step(&self, from: usize, to: usize) {
        let t = self.tool.get_untracked();
        self.change(|d| {
            if let Some(steps) = steps_mut(d, t)
                && from < steps.len()
                && to < steps.len()
            {
                let step = steps.remove(from);
                steps.insert(to, step);
            }
        });
        self.sel.set(Sel::Step(to));
    }

    fn remove_step(&self, i: usize) {
        let t = self.tool.get_untracked();
        self.change(|d| {
            if let Some(steps) = steps_mut(d, t)
                && i < steps.len()
            {
                steps.remove(i);
            }
        });
        self.sel.set(Sel::Start);
    }

    fn add_step(&self, kind: &str) {
        let t = self.tool.get_untracked();
        let at = match self.sel.get_untracked() {
            Sel::Step(i) => i + 1,
            Sel::Start => 0,
            Sel::Return => usize::MAX,
        };
        let existing: Vec<String> =
            steps_of(&self.def.get_untracked(), t).iter().enumerate().map(|(i, s)| step_id(s, i)).collect();
        let mut n = existing.len() + 1;
        let prefix = if kind == "transform" { "transform" } else { "request" };
        while existing.contains(&format!("{prefix}{n}")) {
            n += 1;
        }
        let id = format!("{prefix}{n}");
        let step = if kind == "transform" {
            json!({"type": "transform", "id": id, "mapping": {}})
        } else {
            json!({"type": "http_request", "id": id, "config": {"method": "GET", "url": "https://"}})
        };
        let mut placed = 0;
        self.change(|d| {
            if let Some(steps) = steps_mut(d, t) {
                placed = at.min(steps.len());
                steps.insert(placed, step);
            }
        });
        self.sel.set(Sel::Step(placed));
    }
}

/// The editor: tools, canvas, side panel, test.
#[component]
pub fn FlowEditor(id: String, ed: Ed) -> impl IntoView {
    let saving = RwSignal::new(None::<Result<Vec<(String, String)>, String>>);
    let save_id = id.clone();
    let save = move || {
        let id = save_id.clone();
        let text = ed.def.with_untracked(|d| serde_json::to_string(d).unwrap_or_default());
        leptos::task::spawn_local(async move {
            let result = save_builder(id, text).await.map_err(|e| e.message);
            if result.is_ok() {
                ed.dirty.set(false);
            }
            saving.set(Some(result));
        });
    };
    let save_for_keys = save.clone();
    let keys = move |ev: leptos::ev::KeyboardEvent| {
        let target: leptos::web_sys::Element = event_target(&ev);
        let typing = matches!(target.tag_name().as_str(), "INPUT" | "TEXTAREA" | "SELECT");
        let key = ev.key();
        let ctrl = ev.ctrl_key() || ev.meta_key();
        if ctrl && key.eq_ignore_ascii_case("s") {
            ev.prevent_default();
            save_for_keys();
        } else if ctrl && key.eq_ignore_ascii_case("z") && !typing {
            ev.prevent_default();
            if ev.shift_key() { ed.redo() } else { ed.undo() }
        } else if ctrl && key.eq_ignore_ascii_case("y") && !typing {
            ev.prevent_default();
            ed.redo();
        }
    };
    view! {
        <section class="rounded-2xl bg-white shadow-sm ring-1 ring-slate-200/80" data-testid="flow-editor" on:keydown=keys>
            <div class="flex flex-wrap items-center gap-2 border-b border-slate-200 px-4 py-3">
                <Tools ed=ed />
                <span class="flex-1"></span>
                <button type="button" class=SMALL on:click=move |_| ed.undo() disabled=move || ed.past.with(Vec::is_empty)
                    title="Undo (Ctrl+Z)">"Undo"</button>
                <button type="button" class=SMALL on:click=move |_| ed.redo() disabled=move || ed.future.with(Vec::is_empty)
                    title="Redo (Ctrl+Shift+Z)">"Redo"</button>
                <button type="button" class=BUTTON_PRIMARY data-testid="editor-save" on:click=move |_| save()
                    title="Save the draft (Ctrl+S)">"Save draft"</button>
                <span class="text-xs" role="status" data-testid="editor-status">{move || {
                    if ed.dirty.get() {
                        "Unsaved changes".to_string()
                    } else {
                        match saving.get() {
                            Some(Ok(problems)) if problems.is_empty() => "Saved.".to_string(),
                            Some(Ok(problems)) => format!("Saved. Not ready yet: {}: {}", problems[0].0, problems[0].1),
                            Some(Err(e)) => e,
                            None => String::new(),
                        }
                    }
                }}</span>
            </div>
            {move || {
                if ed.def.with(|d| d["tools"].as_array().is_none_or(Vec::is_empty)) {
                    view! { <p class="p-6 text-sm text-slate-600">"No tools yet: add one above."</p> }.into_any()
                } else {
                    view! {
                        <div class="grid gap-0 lg:grid-cols-[minmax(0,1fr)_26rem]">
                            <Canvas ed=ed />
                            <Panel ed=ed />
                        </div>
                    }.into_any()
                }
            }}
            <EditorTest id=id ed=ed />
        </section>
    }
}

/// The tool tabs, and adding or removing a tool.
#[component]
fn Tools(ed: Ed) -> impl IntoView {
    let (new_name, set_new_name) = signal(String::new());
    let add = move || {
        let name = new_name.get_untracked().trim().to_string();
        if name.is_empty() {
            return;
        }
        let mut index = 0;
        ed.change(|d| {
            let tools = d.as_object_mut().expect("an object").entry("tools").or_insert(json!([]));
            if let Some(list) = tools.as_array_mut() {
                list.push(json!({"name": name, "inputSchema": {"type": "object", "properties": {}, "required": []}, "steps": []}));
                index = list.len() - 1;
            }
        });
        ed.tool.set(index);
        ed.sel.set(Sel::Start);
        set_new_name.set(String::new());
    };
    view! {
        <div class="flex flex-wrap items-center gap-1.5" role="tablist" aria-label="Tools">
            {move || ed.def.with(|d| d["tools"].as_array().cloned().unwrap_or_default()).into_iter().enumerate().map(|(i, t)| {
                let name = t["name"].as_str().unwrap_or("(unnamed)").to_string();
                view! {
                    <button type="button" role="tab" aria-selected=move || (ed.tool.get() == i).to_string()
                        class=move || if ed.tool.get() == i { "rounded-md bg-indigo-600 px-2.5 py-1 font-mono text-xs font-semibold text-white" } else { "rounded-md px-2.5 py-1 font-mono text-xs text-slate-700 ring-1 ring-slate-300 hover:bg-slate-50" }
                        on:click=move |_| { ed.tool.set(i); ed.sel.set(Sel::Start); }>{name}</button>
                }
            }).collect_view()}
            <label for="new-tool" class="sr-only">"New tool's name"</label>
            <input id="new-tool" class="w-36 rounded-md border border-slate-300 px-2 py-1 font-mono text-xs" placeholder="new_tool"
                prop:value=move || new_name.get()
                on:input=move |ev| set_new_name.set(event_target_value(&ev))
                on:keydown=move |ev: leptos::ev::KeyboardEvent| if ev.key() == "Enter" { ev.prevent_default(); add() } />
            <button type="button" class=SMALL on:click=move |_| add()>"Add tool"</button>
            <button type="button" class="rounded-md px-2 py-1 text-xs font-medium text-rose-700 ring-1 ring-rose-200 hover:bg-rose-50"
                on:click=move |_| {
                    let t = ed.tool.get_untracked();
                    ed.change(|d| { if let Some(list) = d["tools"].as_array_mut() && t < list.len() { list.remove(t); } });
                    ed.clamp();
                    ed.sel.set(Sel::Start);
                }>"Remove tool"</button>
        </div>
    }
}

/// One node on the canvas.
#[component]
fn Node(
    ed: Ed,
    sel: Sel,
    #[prop(into)] kind: String,
    #[prop(into)] title: Signal<String>,
    #[prop(into)] detail: Signal<String>,
) -> impl IntoView {
    let colour = match kind.as_str() {
        "start" => "bg-indigo-50 ring-indigo-300",
        "http_request" => "bg-sky-50 ring-sky-300",
        "transform" => "bg-violet-50 ring-violet-300",
        _ => "bg-emerald-50 ring-emerald-300",
    };
    let step = match sel {
        Sel::Step(i) => Some(i),
        _ => None,
    };
    let on_key = move |ev: leptos::ev::KeyboardEvent| {
        let Some(i) = step else { return };
        let count = ed.def.with_untracked(|d| steps_of(d, ed.tool.get_untracked()).len());
        match (ev.key().as_str(), ev.alt_key()) {
            ("ArrowUp", true) if i > 0 => {
                ev.prevent_default();
                ed.move_step(i, i - 1);
            }
            ("ArrowDown", true) if i + 1 < count => {
                ev.prevent_default();
                ed.move_step(i, i + 1);
            }
            ("Delete" | "Backspace", _) => {
                ev.prevent_default();
                ed.remove_step(i);
            }
            _ => {}
        }
    };
    view! {
        <li class="relative flex flex-col items-center"
            data-kind=kind.clone()
            draggable=step.map(|_| "true")
            on:dragstart=move |_| ed.dragging.set(step)
            on:dragover=move |ev: leptos::ev::DragEvent| if step.is_some() { ev.prevent_default() }
            on:drop=move |ev: leptos::ev::DragEvent| {
                ev.prevent_default();
                if let (Some(from), Some(to)) = (ed.dragging.get_untracked(), step) && from != to { ed.move_step(from, to) }
                ed.dragging.set(None);
            }>
            <button type="button" data-testid="node" id=node_dom_id(sel)
                aria-pressed=move || (ed.sel.get() == sel).to_string()
                aria-keyshortcuts=step.map(|_| "Alt+ArrowUp Alt+ArrowDown Delete")
                class=move || format!("w-72 rounded-xl px-3 py-2 text-left ring-1 transition {colour} {}",
                    if ed.sel.get() == sel { "ring-2 ring-indigo-600 shadow-md" } else { "hover:shadow" })
                on:click=move |_| ed.sel.set(sel)
                on:keydown=on_key>
                <span class="block text-xs font-semibold text-slate-800">{move || title.get()}</span>
                <span class="mt-0.5 block truncate font-mono text-[11px] text-slate-600">{move || detail.get()}</span>
            </button>
        </li>
    }
}

/// The DOM id of a node's button (for the minimap's jumps).
fn node_dom_id(sel: Sel) -> String {
    match sel {
        Sel::Start => "node-start".into(),
        Sel::Step(i) => format!("node-step-{i}"),
        Sel::Return => "node-return".into(),
    }
}

fn edge() -> impl IntoView {
    view! {
        <li aria-hidden="true" class="flex h-6 flex-col items-center">
            <span class="h-full w-px bg-slate-400"></span>
        </li>
    }
}

/// The canvas: the selected tool's flow, top to bottom, on a dotted
/// background that pans (drag it) and zooms (the buttons, or Ctrl+wheel);
/// long flows get a minimap that jumps to a step.
#[component]
fn Canvas(ed: Ed) -> impl IntoView {
    let args = move || {
        ed.def.with(|d| {
            d.pointer(&format!("/tools/{}/inputSchema/properties", ed.tool.get()))
                .and_then(Value::as_object)
                .map(|p| p.keys().cloned().collect::<Vec<_>>().join(", "))
                .filter(|s| !s.is_empty())
                .unwrap_or_else(|| "no arguments".into())
        })
    };
    let returns = move || {
        ed.def.with(|d| {
            match d.pointer(&format!("/tools/{}/responseMapping", ed.tool.get())).and_then(Value::as_object) {
                Some(m) if !m.is_empty() => m.keys().cloned().collect::<Vec<_>>().join(", "),
                _ => "the whole response".into(),
            }
        })
    };
    // Zoom steps, as classes (the Content-Security-Policy refuses inline
    // styles): a transform, so the layout and drag targets keep their size.
    const ZOOMS: [(i32, &str); 7] = [
        (50, "scale-50"),
        (75, "scale-75"),
        (90, "scale-90"),
        (100, "scale-100"),
        (110, "scale-110"),
        (125, "scale-125"),
        (150, "scale-150"),
    ];
    let zoom = RwSignal::new(3_usize);
    let set_zoom =
        move |step: isize| zoom.set((zoom.get_untracked() as isize + step).clamp(0, ZOOMS.len() as isize - 1) as usize);
    let viewport = NodeRef::<leptos::html::Div>::new();
    // Where a pan started: pointer position and scroll offsets.
    let panning = RwSignal::new(None::<(i32, i32, i32, i32)>);
    let kind_colour = |kind: &str| match kind {
        "transform" => "bg-violet-400",
        "http_request" => "bg-sky-400",
        _ => "bg-slate-400",
    };
    view! {
        <div class="border-slate-200 lg:border-r">
            <div class="flex flex-wrap items-center gap-2 border-b border-slate-100 px-4 py-2">
                <button type="button" class=SMALL data-testid="add-http" on:click=move |_| ed.add_step("http_request")>"+ HTTP request"</button>
                <button type="button" class=SMALL data-testid="add-transform" on:click=move |_| ed.add_step("transform")>"+ Transform"</button>
                <span class="text-xs text-slate-500">"Drag steps to reorder, or Alt+↑/↓; Delete removes."</span>
                <span class="flex-1"></span>
                <button type="button" class=SMALL aria-label="Zoom out" on:click=move |_| set_zoom(-1)>"−"</button>
                <button type="button" class=SMALL aria-label="Reset the zoom" data-testid="zoom" on:click=move |_| zoom.set(3)>{move || format!("{}%", ZOOMS[zoom.get()].0)}</button>
                <button type="button" class=SMALL aria-label="Zoom in" on:click=move |_| set_zoom(1)>"+"</button>
            </div>
            <div class="relative">
                <div node_ref=viewport data-testid="viewport"
                    class=move || format!("h-[34rem] overflow-auto bg-[radial-gradient(circle,_#cbd5e1_1px,_transparent_1px)] [background-size:16px_16px] {}",
                        if panning.get().is_some() { "cursor-grabbing" } else { "cursor-grab" })
                    on:wheel=move |ev: leptos::ev::WheelEvent| {
                        if ev.ctrl_key() {
                            ev.prevent_default();
                            set_zoom(if ev.delta_y() < 0.0 { 1 } else { -1 });
                        }
                    }
                    on:pointerdown=move |ev: leptos::ev::PointerEvent| {
                        // Only the background pans: nodes and buttons keep their clicks.
                        let target: leptos::web_sys::Element = event_target(&ev);
                        if target.closest("button, input, select, textarea, [draggable=true]").ok().flatten().is_some() { return; }
                        if let Some(el) = viewport.get_untracked() {
                            panning.set(Some((ev.client_x(), ev.client_y(), el.scroll_left(), el.scroll_top())));
                        }
                    }
                    on:pointermove=move |ev: leptos::ev::PointerEvent| {
                        if let (Some((x, y, left, top)), Some(el)) = (panning.get_untracked(), viewport.get_untracked()) {
                            el.set_scroll_left(left - (ev.client_x() - x));
                            el.set_scroll_top(top - (ev.client_y() - y));
                        }
                    }
                    on:pointerup=move |_| panning.set(None)
                    on:pointerleave=move |_| panning.set(None)>
                    <ol class=move || format!("flex min-w-max origin-top flex-col items-center px-16 py-8 transition-transform {}", ZOOMS[zoom.get()].1)
                        aria-label="The flow" data-testid="canvas">
                        <Node ed=ed sel=Sel::Start kind="start" title=Signal::derive(|| "Start".to_string()) detail=Signal::derive(args) />
                        {move || ed.steps().into_iter().enumerate().map(|(i, step)| {
                            let kind = step["type"].as_str().unwrap_or("http_request").to_string();
                            let id = step_id(&step, i);
                            let title = if kind == "transform" { format!("Transform · {id}") } else { format!("HTTP request · {id}") };
                            let detail = if kind == "transform" {
                                step["mapping"].as_object().map(|m| m.keys().cloned().collect::<Vec<_>>().join(", ")).unwrap_or_default()
                            } else {
                                format!("{} {}", step["config"]["method"].as_str().unwrap_or("GET"), step["config"]["url"].as_str().unwrap_or(""))
                            };
                            view! {
                                {edge()}
                                <Node ed=ed sel=Sel::Step(i) kind=kind title=Signal::derive(move || title.clone()) detail=Signal::derive(move || detail.clone()) />
                            }
                        }).collect_view()}
                        {edge()}
                        <Node ed=ed sel=Sel::Return kind="return" title=Signal::derive(|| "Return".to_string()) detail=Signal::derive(returns) />
                    </ol>
                </div>
                // The minimap: every node as a bar; a click selects the
                // node and brings it into view.
                <Show when=move || { ed.steps().len() >= 4 }>
                    <nav class="absolute bottom-3 right-3 w-24 rounded-lg bg-white/90 p-1.5 shadow ring-1 ring-slate-200" aria-label="Minimap" data-testid="minimap">
                        {move || {
                            let steps = ed.steps();
                            let mut bars = vec![(Sel::Start, "start".to_string())];
                            bars.extend(steps.iter().enumerate().map(|(i, s)| (Sel::Step(i), s["type"].as_str().unwrap_or("http_request").to_string())));
                            bars.push((Sel::Return, "return".to_string()));
                            bars.into_iter().enumerate().map(|(n, (sel, kind))| view! {
                                <button type="button" aria-label=format!("Go to node {}", n + 1)
                                    class=move || format!("my-0.5 block h-2 w-full rounded {} {}", kind_colour(&kind), if ed.sel.get() == sel { "ring-2 ring-indigo-600" } else { "" })
                                    on:click=move |_| {
                                        ed.sel.set(sel);
                                        if let Some(node) = document().get_element_by_id(&node_dom_id(sel)) {
                                            node.scroll_into_view();
                                        }
                                    }></button>
                            }).collect_view()
                        }}
                    </nav>
                </Show>
            </div>
        </div>
    }
}

/// The side panel: what the selected node is made of.
#[component]
fn Panel(ed: Ed) -> impl IntoView {
    view! {
        <aside class="space-y-4 p-5" data-testid="panel" aria-label="The selected node">
            {move || {
                let _ = ed.tool.get();
                match ed.sel.get() {
                    Sel::Start => view! { <StartPanel ed=ed /> }.into_any(),
                    Sel::Step(i) => {
                        let kind = ed.def.with_untracked(|d| steps_of(d, ed.tool.get_untracked()).get(i).and_then(|s| s["type"].as_str().map(str::to_string)));
                        match kind.as_deref() {
                            Some("transform") => view! { <TransformPanel ed=ed index=i /> }.into_any(),
                            Some(_) => view! { <HttpPanel ed=ed index=i /> }.into_any(),
                            None => ().into_any(),
                        }
                    }
                    Sel::Return => view! { <ReturnPanel ed=ed /> }.into_any(),
                }
            }}
        </aside>
    }
}

/// A labelled text field bound to a JSON pointer of the current tool.
#[component]
fn TextAt(
    ed: Ed,
    #[prop(into)] label: String,
    /// The pointer inside the tool (`/description`).
    #[prop(into)]
    pointer: String,
    #[prop(optional)] mono: bool,
    #[prop(optional, into)] placeholder: String,
) -> impl IntoView {
    let id = format!("f{}", pointer.replace(['/', '~'], "-"));
    let (p1, p2) = (pointer.clone(), pointer);
    view! {
        <div class="space-y-1">
            <label for=id.clone() class="block text-xs font-medium text-slate-700">{label}</label>
            <input id=id class=if mono { MONO } else { INPUT } placeholder=placeholder
                prop:value=move || ed.def.with(|d| text_at(d, &format!("/tools/{}{}", ed.tool.get(), p1)))
                on:change=move |ev| {
                    let v = event_target_value(&ev);
                    let at = format!("{}{}", ed.at(), p2);
                    ed.change(|d| set_at(d, &at, if v.is_empty() { Value::Null } else { Value::String(v) }));
                } />
        </div>
    }
}

#[component]
fn StartPanel(ed: Ed) -> impl IntoView {
    let props = move || {
        ed.def.with(|d| {
            d.pointer(&format!("/tools/{}/inputSchema/properties", ed.tool.get()))
                .and_then(Value::as_object)
                .map(|m| m.keys().cloned().collect::<Vec<_>>())
                .unwrap_or_default()
        })
    };
    let schema_json = move || {
        ed.def.with(|d| {
            serde_json::to_string_pretty(
                d.pointer(&format!("/tools/{}/inputSchema", ed.tool.get())).unwrap_or(&json!({})),
            )
            .unwrap_or_default()
        })
    };
    let (new_arg, set_new_arg) = signal(String::new());
    let add_arg = move || {
        let name = new_arg.get_untracked().trim().to_string();
        if name.is_empty() {
            return;
        }
        let at = ed.at();
        ed.change(|d| {
            set_at(d, &format!("{at}/inputSchema/type"), json!("object"));
            set_at(
                d,
                &format!("{at}/inputSchema/properties/{}", name.replace('~', "~0").replace('/', "~1")),
                json!({"type": "string"}),
            );
        });
        set_new_arg.set(String::new());
    };
    view! {
        <h3 class="text-sm font-semibold text-slate-900">"Start: the tool and its arguments"</h3>
        <TextAt ed=ed label="Tool name" pointer="/name" mono=true />
        <TextAt ed=ed label="Description (what the LLM reads)" pointer="/description" />
        <div class="space-y-1" data-testid="arguments">
            <p class="text-xs font-medium text-slate-700">"Arguments"</p>
            <For each=props key=|name| name.clone() let:name>
                <ArgRow ed=ed name=name />
            </For>
            <div class="flex gap-2">
                <label for="new-arg" class="sr-only">"New argument's name"</label>
                <input id="new-arg" class=MONO placeholder="city" prop:value=move || new_arg.get()
                    on:input=move |ev| set_new_arg.set(event_target_value(&ev))
                    on:keydown=move |ev: leptos::ev::KeyboardEvent| if ev.key() == "Enter" { ev.prevent_default(); add_arg() } />
                <button type="button" class=SMALL on:click=move |_| add_arg()>"Add argument"</button>
            </div>
        </div>
        <details>
            <summary class="cursor-pointer text-xs font-medium text-slate-600">"The input schema (JSON Schema)"</summary>
            <pre class="mt-1 max-h-64 overflow-auto rounded bg-slate-50 p-2 font-mono text-[11px]" data-testid="schema-json">{schema_json}</pre>
        </details>
    }
}

/// One argument: type, description, required, enum, default.
#[component]
fn ArgRow(ed: Ed, name: String) -> impl IntoView {
    let key = name.replace('~', "~0").replace('/', "~1");
    let prop = move |field: &str| format!("/inputSchema/properties/{key}/{field}");
    let required = {
        let name = name.clone();
        move || {
            ed.def.with(|d| {
                d.pointer(&format!("/tools/{}/inputSchema/required", ed.tool.get()))
                    .and_then(Value::as_array)
                    .is_some_and(|r| r.iter().any(|v| v.as_str() == Some(name.as_str())))
            })
        }
    };
    let type_pointer = prop("type");
    let type_value = {
        let p = type_pointer.clone();
        move || ed.def.with(|d| text_at(d, &format!("/tools/{}{}", ed.tool.get(), p)))
    };
    let enum_pointer = prop("enum");
    let enum_text = {
        let p = enum_pointer.clone();
        move || {
            ed.def.with(|d| {
                d.pointer(&format!("/tools/{}{}", ed.tool.get(), p))
                    .and_then(Value::as_array)
                    .map(|a| {
                        a.iter()
                            .map(|v| v.as_str().map(str::to_string).unwrap_or_else(|| v.to_string()))
                            .collect::<Vec<_>>()
                            .join(", ")
                    })
                    .unwrap_or_default()
            })
        }
    };
    let default_pointer = prop("default");
    let (n1, n2) = (name.clone(), name.clone());
    view! {
        <div class="rounded-lg p-2 ring-1 ring-slate-200" data-testid="arg" data-name=name.clone()>
            <div class="flex items-center gap-2">
                <span class="font-mono text-xs font-semibold">{name.clone()}</span>
                <label class="sr-only" for=format!("type-{n1}")>{format!("Type of {n1}")}</label>
                <select id=format!("type-{n1}") class="rounded border border-slate-300 px-1 py-0.5 text-xs"
                    prop:value=type_value
                    on:change=move |ev| { let v = event_target_value(&ev); let at = format!("{}{}", ed.at(), type_pointer); ed.change(|d| set_at(d, &at, json!(v))); }>
                    {TYPES.iter().map(|t| view! { <option value=*t>{*t}</option> }).collect_view()}
                </select>
                <label class="flex items-center gap-1 text-xs">
                    <input type="checkbox" prop:checked=required
                        on:change=move |ev| {
                            let on = event_target_checked(&ev);
                            let (at, name) = (ed.at(), n2.clone());
                            ed.change(|d| {
                                let req = d.pointer_mut(&format!("{at}/inputSchema")).and_then(Value::as_object_mut).map(|s| s.entry("required").or_insert(json!([])));
                                if let Some(Value::Array(list)) = req {
                                    list.retain(|v| v.as_str() != Some(name.as_str()));
                                    if on { list.push(json!(name)); }
                                }
                            });
                        } />
                    "required"
                </label>
                <button type="button" class="ml-auto text-xs text-rose-700" aria-label=format!("Remove the argument {name}")
                    on:click={
                        let name = name.clone();
                        move |_| {
                            let (at, name) = (ed.at(), name.clone());
                            ed.change(|d| {
                                if let Some(p) = d.pointer_mut(&format!("{at}/inputSchema/properties")).and_then(Value::as_object_mut) { p.remove(&name); }
                                if let Some(r) = d.pointer_mut(&format!("{at}/inputSchema/required")).and_then(Value::as_array_mut) { r.retain(|v| v.as_str() != Some(name.as_str())); }
                            });
                        }
                    }>"✕"</button>
            </div>
            <div class="mt-1 grid grid-cols-3 gap-1">
                <TextAt ed=ed label="Description" pointer=prop("description") />
                <div class="space-y-1">
                    <label class="block text-xs font-medium text-slate-700" for=format!("enum-{name}")>"Choices"</label>
                    <input id=format!("enum-{name}") class=INPUT placeholder="a, b" prop:value=enum_text
                        on:change=move |ev| {
                            let v = event_target_value(&ev);
                            let at = format!("{}{}", ed.at(), enum_pointer);
                            let items: Vec<Value> = v.split(',').map(str::trim).filter(|s| !s.is_empty()).map(|s| json!(s)).collect();
                            ed.change(|d| set_at(d, &at, if items.is_empty() { Value::Null } else { Value::Array(items) }));
                        } />
                </div>
                <div class="space-y-1">
                    <label class="block text-xs font-medium text-slate-700" for=format!("default-{name}")>"Default"</label>
                    <input id=format!("default-{name}") class=INPUT
                        prop:value={ let p = default_pointer.clone(); move || ed.def.with(|d| text_at(d, &format!("/tools/{}{}", ed.tool.get(), p))) }
                        on:change=move |ev| {
                            let v = event_target_value(&ev);
                            let at = format!("{}{}", ed.at(), default_pointer);
                            // A number or boolean stays typed.
                            let value = if v.is_empty() { Value::Null } else { serde_json::from_str(&v).ok().filter(|x: &Value| !x.is_object() && !x.is_array()).unwrap_or(Value::String(v)) };
                            ed.change(|d| set_at(d, &at, value));
                        } />
                </div>
            </div>
        </div>
    }
}

/// A key → value table at a pointer of the current tool (params, headers,
/// mappings).
#[component]
fn Table(
    ed: Ed,
    #[prop(into)] label: String,
    #[prop(into)] pointer: String,
    #[prop(into)] key_label: String,
    #[prop(into)] value_label: String,
    #[prop(into, optional)] test_id: String,
) -> impl IntoView {
    let p = pointer.clone();
    let rows = move || {
        ed.def.with(|d| {
            d.pointer(&format!("/tools/{}{}", ed.tool.get(), p))
                .and_then(Value::as_object)
                .map(|m| {
                    m.iter()
                        .map(|(k, v)| (k.clone(), v.as_str().map(str::to_string).unwrap_or_else(|| v.to_string())))
                        .collect::<Vec<_>>()
                })
                .unwrap_or_default()
        })
    };
    let (p_add, p_rows) = (pointer.clone(), pointer.clone());
    let add_label = format!("Add {}", key_label.to_lowercase());
    view! {
        <div class="space-y-1" data-testid=test_id>
            <p class="text-xs font-medium text-slate-700">{label.clone()}</p>
            <For each=rows key=|(k, v)| (k.clone(), v.clone()) let:row>
                {
                    let (key, value) = row;
                    let (p1, p2, p3) = (p_rows.clone(), p_rows.clone(), p_rows.clone());
                    let (k1, k2, k3) = (key.clone(), key.clone(), key.clone());
                    view! {
                        <div class="flex gap-1" data-testid="row" data-key=key.clone()>
                            <input class=MONO aria-label=key_label.clone() value=key.clone()
                                on:change=move |ev| {
                                    let new_key = event_target_value(&ev);
                                    let at = format!("{}{}", ed.at(), p1);
                                    let old = k1.clone();
                                    ed.change(|d| {
                                        if let Some(m) = d.pointer_mut(&at).and_then(Value::as_object_mut) && !m.contains_key(&new_key) {
                                            let v = m.remove(&old).unwrap_or(json!(""));
                                            m.insert(new_key, v);
                                        }
                                    });
                                } />
                            <input class=MONO aria-label=format!("{} of {k2}", value_label) value=value
                                on:change=move |ev| {
                                    let v = event_target_value(&ev);
                                    let at = format!("{}{}", ed.at(), p2);
                                    let k = k2.clone();
                                    ed.change(|d| { if let Some(m) = d.pointer_mut(&at).and_then(Value::as_object_mut) { m.insert(k, json!(v)); } });
                                } />
                            <button type="button" class="px-1 text-xs text-rose-700" aria-label=format!("Remove {k3}")
                                on:click=move |_| {
                                    let at = format!("{}{}", ed.at(), p3);
                                    let k = k3.clone();
                                    ed.change(|d| { if let Some(m) = d.pointer_mut(&at).and_then(Value::as_object_mut) { m.remove(&k); } });
                                }>"✕"</button>
                        </div>
                    }
                }
            </For>
            <button type="button" class=SMALL on:click=move |_| {
                let at = format!("{}{}", ed.at(), p_add);
                ed.change(|d| {
                    let mut n = 1;
                    let existing = d.pointer(&at).and_then(Value::as_object).cloned().unwrap_or_default();
                    while existing.contains_key(&format!("name{n}")) { n += 1; }
                    let mut m = existing;
                    m.insert(format!("name{n}"), json!(""));
                    set_at(d, &at, Value::Object(m));
                });
            }>{add_label}</button>
        </div>
    }
}

/// The names a template here may use: arguments, settings, secrets,
/// earlier steps.
fn offered_names(def: &Value, tool: usize, step: usize) -> Vec<String> {
    let mut names: Vec<String> = def
        .pointer(&format!("/tools/{tool}/inputSchema/properties"))
        .and_then(Value::as_object)
        .map(|p| p.keys().map(|k| format!("{{{{{k}}}}}")).collect())
        .unwrap_or_default();
    for s in def["settings"].as_array().into_iter().flatten() {
        if let Some(n) = s["name"].as_str() {
            names.push(format!("{{{{config.{n}}}}}"));
        }
    }
    for s in def["secrets"].as_array().into_iter().flatten() {
        if let Some(n) = s.as_str() {
            names.push(format!("{{{{secrets.{n}}}}}"));
        }
    }
    for (i, s) in steps_of(def, tool).iter().enumerate().take(step) {
        names.push(format!("{{{{steps.{}}}}}", step_id(s, i)));
    }
    names
}

#[component]
fn HttpPanel(ed: Ed, index: usize) -> impl IntoView {
    let base = format!("/steps/{index}");
    let url_pointer = format!("{base}/config/url");
    let (url_draft, set_url_draft) = signal(None::<String>);
    let url_input = NodeRef::<leptos::html::Input>::new();
    let url_value = {
        let p = url_pointer.clone();
        move || {
            url_draft.get().unwrap_or_else(|| ed.def.with(|d| text_at(d, &format!("/tools/{}{}", ed.tool.get(), p))))
        }
    };
    let offering = move || url_draft.get().is_some_and(|u| u.ends_with("{{"));
    // A memo: the buttons stay the same elements while only the URL changes
    // (a click must land on the button its mousedown did).
    let names = Memo::new(move |_| ed.def.with(|d| offered_names(d, ed.tool.get(), index)));
    let method_pointer = format!("{base}/config/method");
    let body_pointer = format!("{base}/config/body");
    let (body_error, set_body_error) = signal(None::<String>);
    let commit_url = {
        let p = url_pointer.clone();
        move |v: String| {
            let at = format!("{}{}", ed.at(), p);
            ed.change(|d| set_at(d, &at, json!(v)));
            set_url_draft.set(None);
        }
    };
    let commit_url2 = commit_url.clone();
    let url_now = url_value.clone();
    view! {
        <h3 class="text-sm font-semibold text-slate-900">"HTTP request"</h3>
        <TextAt ed=ed label="Step id (later steps read {{steps.ID}})" pointer=format!("{base}/id") mono=true />
        <div class="space-y-1">
            <label for="method" class="block text-xs font-medium text-slate-700">"Method"</label>
            <select id="method" class=INPUT
                prop:value={ let p = method_pointer.clone(); move || { let m = ed.def.with(|d| text_at(d, &format!("/tools/{}{}", ed.tool.get(), p))); if m.is_empty() { "GET".to_string() } else { m.to_ascii_uppercase() } } }
                on:change=move |ev| { let v = event_target_value(&ev); let at = format!("{}{}", ed.at(), method_pointer); ed.change(|d| set_at(d, &at, json!(v))); }>
                {METHODS.iter().map(|m| view! { <option value=*m>{*m}</option> }).collect_view()}
            </select>
        </div>
        <div class="space-y-1">
            <label for="url" class="block text-xs font-medium text-slate-700">"URL (the host is fixed; {{names}} fill the path and query)"</label>
            <input id="url" class=MONO prop:value=url_value autocomplete="off" node_ref=url_input
                on:input=move |ev| set_url_draft.set(Some(event_target_value(&ev)))
                on:change=move |ev| commit_url(event_target_value(&ev)) />
            <div class="flex flex-wrap gap-1" data-testid="suggestions" class:hidden=move || !offering() && url_draft.get().is_some()>
                {move || names.get().into_iter().map(|n| {
                    let commit = commit_url2.clone();
                    let url_now = url_now.clone();
                    let label = n.clone();
                    view! {
                        <button type="button" class="rounded bg-slate-100 px-1.5 py-0.5 font-mono text-[11px] text-indigo-700 hover:bg-indigo-50"
                            on:mousedown=move |ev| ev.prevent_default()
                            on:click=move |_| {
                                let current = url_now();
                                let joined = match current.strip_suffix("{{") { Some(head) => format!("{head}{n}"), None => format!("{current}{n}") };
                                // The field shows it at once, so a `change` it fires
                                // next (leaving it) carries it too.
                                if let Some(input) = url_input.get_untracked() {
                                    input.set_value(&joined);
                                }
                                commit(joined);
                            }>{label}</button>
                    }
                }).collect_view()}
            </div>
        </div>
        <Table ed=ed label="Query parameters" pointer=format!("{base}/config/params") key_label="Name" value_label="Value" test_id="params" />
        <Table ed=ed label="Headers" pointer=format!("{base}/config/headers") key_label="Header" value_label="Value" test_id="headers" />
        <div class="space-y-1">
            <label for="body" class="block text-xs font-medium text-slate-700">"JSON body (\"{{n}}\" puts the value itself, typed)"</label>
            <textarea id="body" rows="4" class=MONO spellcheck="false"
                prop:value={ let p = body_pointer.clone(); move || ed.def.with(|d| d.pointer(&format!("/tools/{}{}", ed.tool.get(), p)).map(|b| serde_json::to_string_pretty(b).unwrap_or_default()).unwrap_or_default()) }
                on:change=move |ev| {
                    let v = event_target_value(&ev);
                    let at = format!("{}{}", ed.at(), body_pointer);
                    if v.trim().is_empty() { set_body_error.set(None); ed.change(|d| set_at(d, &at, Value::Null)); return; }
                    match serde_json::from_str::<Value>(&v) {
                        Ok(body) => { set_body_error.set(None); ed.change(|d| set_at(d, &at, body)); }
                        Err(e) => set_body_error.set(Some(format!("Not JSON: {e}"))),
                    }
                }></textarea>
            <p class="text-xs text-rose-600" role="alert">{move || body_error.get()}</p>
        </div>
        <Declarations ed=ed />
    }
}

/// The settings users give and the publisher's secrets, declared here so
/// templates may use them.
#[component]
fn Declarations(ed: Ed) -> impl IntoView {
    let (setting, set_setting) = signal(String::new());
    let (secret, set_secret) = signal(String::new());
    view! {
        <details class="rounded-lg p-2 ring-1 ring-slate-200">
            <summary class="cursor-pointer text-xs font-medium text-slate-700">"Settings and secrets"</summary>
            <p class="mt-1 text-xs text-slate-500">{move || ed.def.with(|d| {
                let settings: Vec<String> = d["settings"].as_array().into_iter().flatten().filter_map(|s| s["name"].as_str().map(|n| format!("config.{n}"))).collect();
                let secrets: Vec<String> = d["secrets"].as_array().into_iter().flatten().filter_map(|s| s.as_str().map(|n| format!("secrets.{n}"))).collect();
                let all = [settings, secrets].concat();
                if all.is_empty() { "None declared.".to_string() } else { all.join(", ") }
            })}</p>
            <div class="mt-2 flex gap-1">
                <input class=MONO aria-label="New setting (each user gives it)" placeholder="UNITS" prop:value=move || setting.get() on:input=move |ev| set_setting.set(event_target_value(&ev)) />
                <button type="button" class=SMALL on:click=move |_| {
                    let name = setting.get_untracked().trim().to_string();
                    if name.is_empty() { return; }
                    ed.change(|d| {
                        let list = d.as_object_mut().expect("an object").entry("settings").or_insert(json!([]));
                        if let Some(l) = list.as_array_mut() && !l.iter().any(|s| s["name"].as_str() == Some(name.as_str())) { l.push(json!({"name": name})); }
                    });
                    set_setting.set(String::new());
                }>"Add setting"</button>
            </div>
            <div class="mt-1 flex gap-1">
                <input class=MONO aria-label="New secret (yours)" placeholder="API_KEY" prop:value=move || secret.get() on:input=move |ev| set_secret.set(event_target_value(&ev)) />
                <button type="button" class=SMALL on:click=move |_| {
                    let name = secret.get_untracked().trim().to_string();
                    if name.is_empty() { return; }
                    ed.change(|d| {
                        let list = d.as_object_mut().expect("an object").entry("secrets").or_insert(json!([]));
                        if let Some(l) = list.as_array_mut() && !l.iter().any(|s| s.as_str() == Some(name.as_str())) { l.push(json!(name)); }
                    });
                    set_secret.set(String::new());
                }>"Add secret"</button>
            </div>
        </details>
    }
}

#[component]
fn TransformPanel(ed: Ed, index: usize) -> impl IntoView {
    let pointer = format!("/steps/{index}/mapping");
    view! {
        <h3 class="text-sm font-semibold text-slate-900">"Transform"</h3>
        <TextAt ed=ed label="Step id" pointer=format!("/steps/{index}/id") mono=true />
        <Table ed=ed label="Values it computes (later steps read {{steps.ID.name}})" pointer=pointer key_label="Name" value_label="From" />
    }
}

#[component]
fn ReturnPanel(ed: Ed) -> impl IntoView {
    let mapped = move || ed.def.with(|d| d.pointer(&format!("/tools/{}/responseMapping", ed.tool.get())).cloned());
    let preview_rows = move || {
        let data = ed.last_response.get()?;
        let mapping = mapped()?;
        let out: Map<String, Value> = mapping
            .as_object()?
            .iter()
            .map(|(k, v)| {
                (k.clone(), v.as_str().and_then(|e| preview(e, &data)).unwrap_or(json!("(computed when it runs)")))
            })
            .collect();
        Some(serde_json::to_string_pretty(&Value::Object(out)).unwrap_or_default())
    };
    let pick = move |(name, path): (String, String)| {
        let at = format!("{}/responseMapping", ed.at());
        ed.change(|d| {
            let existing = d.pointer(&at).and_then(Value::as_object).cloned().unwrap_or_default();
            let mut key = if name.is_empty() { "value".to_string() } else { name.clone() };
            let mut n = 2;
            while existing.get(&key).is_some_and(|v| v.as_str() != Some(path.as_str())) {
                key = format!("{name}_{n}");
                n += 1;
            }
            let mut m = existing;
            m.insert(key, json!(path));
            set_at(d, &at, Value::Object(m));
        });
    };
    view! {
        <h3 class="text-sm font-semibold text-slate-900">"Return: what the tool answers"</h3>
        <Table ed=ed label="Outputs ({{data.x}} or a JSONPath such as $.x[0].y; none: the whole response)" pointer="/responseMapping" key_label="Output" value_label="From" test_id="mapping" />
        <div>
            <p class="text-xs font-medium text-slate-700">"The last test's response: click a field to return it"</p>
            {move || match ed.last_response.get() {
                None => view! { <p class="text-xs text-slate-500">"Run a test below to see it here."</p> }.into_any(),
                Some(v) => view! { <div class="max-h-72 overflow-auto rounded bg-slate-50 p-2 font-mono text-[11px]" data-testid="response-tree">{tree(&v, Vec::new(), Callback::new(pick), 0)}</div> }.into_any(),
            }}
        </div>
        {move || preview_rows().map(|p| view! {
            <div>
                <p class="text-xs font-medium text-slate-700">"Preview"</p>
                <pre class="rounded bg-slate-950 p-2 font-mono text-[11px] text-slate-100" data-testid="mapping-preview">{p}</pre>
            </div>
        })}
    }
}

/// A response as a tree whose fields are buttons: a click maps the field
/// (its JSONPath) to an output named after it.
fn tree(value: &Value, path: Vec<Value>, pick: Callback<(String, String)>, depth: usize) -> AnyView {
    let name = match path.last() {
        Some(Value::String(k)) => k.clone(),
        Some(Value::Number(_)) => path.iter().rev().find_map(|p| p.as_str().map(str::to_string)).unwrap_or_default(),
        _ => String::new(),
    };
    let label = match path.last() {
        Some(Value::String(k)) => format!("{k}: "),
        Some(Value::Number(n)) => format!("[{n}]: "),
        _ => String::new(),
    };
    let json = json_path(&path);
    match value {
        Value::Object(map) if depth < 8 => {
            let children = map
                .iter()
                .take(100)
                .map(|(k, v)| {
                    let mut p = path.clone();
                    p.push(json!(k));
                    view! { <li>{tree(v, p, pick, depth + 1)}</li> }
                })
                .collect_view();
            view! { <div><span class="text-slate-500">{label}"{"</span><ul class="pl-3">{children}</ul><span class="text-slate-500">"}"</span></div> }.into_any()
        }
        Value::Array(items) if depth < 8 => {
            let children = items
                .iter()
                .take(20)
                .enumerate()
                .map(|(i, v)| {
                    let mut p = path.clone();
                    p.push(json!(i));
                    view! { <li>{tree(v, p, pick, depth + 1)}</li> }
                })
                .collect_view();
            view! { <div><span class="text-slate-500">{label}"["</span><ul class="pl-3">{children}</ul><span class="text-slate-500">"]"</span></div> }.into_any()
        }
        leaf => {
            let shown = leaf.to_string();
            view! {
                <button type="button" class="rounded px-0.5 text-left hover:bg-indigo-100" data-path=json.clone()
                    title=format!("Return {json}")
                    on:click=move |_| pick.run((name.clone(), json.clone()))>
                    <span class="text-slate-600">{label}</span><span class="text-indigo-800">{shown}</span>
                </button>
            }
            .into_any()
        }
    }
}

/// A test of the draft as edited: saved first, then run.
#[component]
fn EditorTest(id: String, ed: Ed) -> impl IntoView {
    let (args, set_args) = signal(String::from("{}"));
    let (config, set_config) = signal(String::from("{}"));
    let result = RwSignal::new(None::<Result<BuilderTestView, String>>);
    let running = RwSignal::new(false);
    let run = move |_| {
        let id = id.clone();
        let tool = ed.def.with_untracked(|d| {
            d.pointer(&format!("/tools/{}/name", ed.tool.get_untracked()))
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string()
        });
        let text = ed.def.with_untracked(|d| serde_json::to_string(d).unwrap_or_default());
        running.set(true);
        result.set(None);
        leptos::task::spawn_local(async move {
            let outcome = match save_builder(id.clone(), text).await {
                Err(e) => Err(e.message),
                Ok(_) => {
                    ed.dirty.set(false);
                    test_builder(id, tool, args.get_untracked(), config.get_untracked()).await.map_err(|e| {
                        match e.field {
                            Some(f) => format!("{f}: {}", e.message),
                            None => e.message,
                        }
                    })
                }
            };
            if let Ok(r) = &outcome
                && let Some(last) = r.exchanges.last()
            {
                ed.last_response.set(serde_json::from_str(&last.response).ok());
            }
            result.set(Some(outcome));
            running.set(false);
        });
    };
    view! {
        <div class="border-t border-slate-200 p-5" data-testid="editor-test">
            <h3 class="text-sm font-semibold text-slate-900">"Test the selected tool"</h3>
            <div class="mt-2 grid gap-3 md:grid-cols-2">
                <div class="space-y-1">
                    <label for="editor-args" class="block text-xs font-medium text-slate-700">"Sample arguments (JSON)"</label>
                    <textarea id="editor-args" rows="3" class=MONO spellcheck="false" prop:value=move || args.get() on:input=move |ev| set_args.set(event_target_value(&ev))></textarea>
                </div>
                <div class="space-y-1">
                    <label for="editor-config" class="block text-xs font-medium text-slate-700">"Sample settings (JSON)"</label>
                    <textarea id="editor-config" rows="3" class=MONO spellcheck="false" prop:value=move || config.get() on:input=move |ev| set_config.set(event_target_value(&ev))></textarea>
                </div>
            </div>
            <button type="button" class=format!("{BUTTON_SECONDARY} mt-3") on:click=run disabled=move || running.get()>"Save and run test"</button>
            {move || result.get().map(|r| match r {
                Ok(r) => view! { <TestResult result=r /> }.into_any(),
                Err(e) => view! { <p class="mt-2 text-sm text-rose-700" role="alert">{e}</p> }.into_any(),
            })}
        </div>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_design_documents_action_becomes_a_step() {
        let d =
            normalize(json!({"tools": [{"name": "t", "action": {"type": "http_request", "config": {"url": "u"}}}]}));
        assert_eq!(d["tools"][0]["steps"][0]["config"]["url"], "u");
        assert!(d["tools"][0].get("action").is_none());
    }

    #[test]
    fn paths_and_previews_agree() {
        let data = json!({"main": {"temp": 3.5}, "weather": [{"main": "Clouds"}], "odd key": 1});
        let p = json_path(&[json!("weather"), json!(0), json!("main")]);
        assert_eq!(p, "$.weather[0].main");
        assert_eq!(preview(&p, &data), Some(json!("Clouds")));
        assert_eq!(preview(&json_path(&[json!("odd key")]), &data), Some(json!(1)));
        assert_eq!(preview("{{data.main.temp}}", &data), Some(json!(3.5)));
        assert_eq!(preview("$.weather[*].main", &data), None);
        let mut d = json!({});
        set_at(&mut d, "/tools/0", json!(1));
        set_at(&mut d, "/a/b", json!("x"));
        assert_eq!(d["a"]["b"], "x");
        set_at(&mut d, "/a/b", Value::Null);
        assert!(d["a"].get("b").is_none());
    }
}
