//! Makes plotters' SVG small without changing what it draws: plotters writes one element per line
//! segment, marker and heatmap cell, each with every attribute spelled out. The page holds about a
//! hundred charts, so this module
//! - drops attributes that repeat SVG's defaults (`opacity="1"`, text fill black), leaves the font family
//!   and the white background to the page's CSS ([`Styles::css`]), rounds font sizes to 0.1 px and text
//!   baselines to whole pixels;
//! - thins polylines to the points that change what is drawn: repeated pixels go, and points within
//!   half a pixel (a stroked line: half its width, inside the stroke) of the line through their
//!   neighbours (a gap in a series is a separate polyline, so it stays);
//! - merges runs of consecutive opaque elements that share a style into one `<path>` (separate subpaths
//!   of one opaque colour paint the same pixels as separate elements; translucent ones are kept apart,
//!   since overlapping subpaths would blend once instead of twice);
//! - writes a straight dashed line (plotters draws each dash as an element of its own) as one segment
//!   with `stroke-dasharray`, when its dashes and gaps are regular to the pixel;
//! - joins a heatmap's touching cells of one colour into larger rectangles;
//! - wraps consecutive texts of one class in a `<g>` carrying the class (every property a class holds
//!   for text is inherited), and leaves out the whitespace between elements;
//! - gives each repeated style (fill, stroke, font size, ...) a class, written once as CSS for the page
//!   ([`Styles::css`]);
//! - names the chart for assistive technology (`role="img"` and a `<title>`).
//!
//! Input is what `plotters::backend::SVGBackend` writes; anything it does not recognise is kept as is.

use regex::Regex;
use std::sync::LazyLock;

/// Attributes in order, as (name, value).
type Attrs = Vec<(String, String)>;

/// One element of plotters' output: its tag, its attributes in order, and its text content.
#[derive(Debug, Clone)]
struct Element {
    tag: String,
    attrs: Vec<(String, String)>,
    text: Option<String>,
}

impl Element {
    fn get(&self, name: &str) -> Option<&str> {
        self.attrs.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }

    fn num(&self, name: &str) -> Option<f64> {
        self.get(name)?.parse().ok()
    }

    /// The attributes that are not geometry: what must match for two elements to merge.
    fn style(&self) -> Vec<(String, String)> {
        let geometry = ["x", "y", "width", "height", "cx", "cy", "r", "x1", "y1", "x2", "y2", "points"];
        self.attrs.iter().filter(|(k, _)| !geometry.contains(&k.as_str())).cloned().collect()
    }

    fn write(&self, items: &mut Vec<Item>, styles: &mut Styles) {
        if self.tag == "text"
            && let Some(text) = &self.text
        {
            let (css, plain): (Vec<_>, Vec<_>) =
                self.attrs.iter().cloned().partition(|(k, _)| CSS_PROPERTIES.contains(&k.as_str()));
            // Opacity is the one property a group does not pass on (it would fade the group as a whole).
            if !css.is_empty()
                && !css.iter().any(|(k, _)| k == "opacity")
                && let Some(class) = styles.class(&css)
            {
                let attrs = plain.iter().map(|(k, v)| format!(" {k}=\"{v}\"")).collect();
                items.push(Item::Text { class, attrs, text: text.clone() });
                return;
            }
        }
        let mut out = String::from("<");
        out.push_str(&self.tag);
        write_attrs(&mut out, &self.attrs, styles);
        match &self.text {
            Some(t) => out.push_str(&format!(">{t}</{}>", self.tag)),
            None => out.push_str("/>"),
        }
        items.push(Item::Raw(out));
    }
}

/// What the compacted chart is written as, before runs of texts of one class are grouped.
enum Item {
    /// A text whose style is a class: its other attributes (written) and its content.
    Text {
        class: String,
        attrs: String,
        text: String,
    },
    Raw(String),
}

/// The items as markup: two or more consecutive texts of one class go in a `<g>` that carries it.
fn serialise(items: &[Item], out: &mut String) {
    let same_class = |a: &Item, b: &Item| matches!((a, b), (Item::Text { class: x, .. }, Item::Text { class: y, .. }) if x == y);
    for run in items.chunk_by(same_class) {
        match run {
            [Item::Raw(s)] => out.push_str(s),
            [Item::Text { class, attrs, text }] => {
                out.push_str(&format!("<text{attrs} class=\"{class}\">{text}</text>"));
            }
            [Item::Text { class, .. }, ..] => {
                out.push_str(&format!("<g class=\"{class}\">"));
                for item in run {
                    if let Item::Text { attrs, text, .. } = item {
                        out.push_str(&format!("<text{attrs}>{text}</text>"));
                    }
                }
                out.push_str("</g>");
            }
            _ => unreachable!("a raw item is a run of its own"),
        }
    }
}

/// The attributes CSS can carry (the rest, like `dy` and `transform`, stay attributes).
const CSS_PROPERTIES: [&str; 8] = [
    "fill",
    "stroke",
    "stroke-width",
    "opacity",
    "font-size",
    "text-anchor",
    "font-family",
    "stroke-dasharray",
];

/// Style sets seen across the page's charts. A page is compacted twice: a first pass, from
/// `Styles::default()`, counts how often each style set occurs, then [`Styles::freeze`] names the
/// frequent ones as classes; a style used only a few times (a heatmap cell's colour) stays inline,
/// where it is shorter than a CSS rule plus a class.
#[derive(Debug, Default)]
pub struct Styles {
    counts: Vec<(Attrs, usize)>,
    classes: Vec<(Attrs, String)>,
    frozen: bool,
}

impl Styles {
    /// Names a class for each style set counted at least `min_uses` times; later passes use them. The
    /// most used sets get the shortest names (one letter, then two), since each use writes the name.
    pub fn freeze(&mut self, min_uses: usize) {
        let mut ranked: Vec<(usize, &(Attrs, usize))> =
            self.counts.iter().enumerate().filter(|(_, (_, n))| *n >= min_uses).collect();
        // By uses, most first; ties in the order first seen, so the names are the same every run.
        ranked.sort_by(|a, b| b.1.1.cmp(&a.1.1).then(a.0.cmp(&b.0)));
        self.classes =
            ranked.into_iter().enumerate().map(|(rank, (_, (s, _)))| (s.clone(), class_name(rank))).collect();
        self.frozen = true;
    }

    /// The class of a style set, if it has one (before freezing: counts it, and every set gets one).
    fn class(&mut self, style: &[(String, String)]) -> Option<String> {
        if !self.frozen {
            match self.counts.iter_mut().find(|(s, _)| s == style) {
                Some((_, n)) => *n += 1,
                None => self.counts.push((style.to_vec(), 1)),
            }
            let i = self.counts.iter().position(|(s, _)| s == style).expect("just counted");
            return Some(format!("s{i}"));
        }
        self.classes.iter().find(|(s, _)| s == style).map(|(_, c)| c.clone())
    }

    /// One CSS rule per class, scoped to the charts.
    pub fn css(&self) -> String {
        let mut out = format!("svg[role=img]{{font-family:{};background:#fff}}\n", super::FONT);
        let all: Vec<(Vec<(String, String)>, String)> = if self.frozen {
            self.classes.clone()
        } else {
            self.counts.iter().enumerate().map(|(i, (s, _))| (s.clone(), format!("s{i}"))).collect()
        };
        for (style, name) in &all {
            let decl: Vec<String> = style
                .iter()
                .map(|(k, v)| if k == "font-size" { format!("{k}:{v}px") } else { format!("{k}:{v}") })
                .collect();
            out.push_str(&format!("svg .{name}{{{}}}\n", decl.join(";")));
        }
        out
    }
}

/// The class name of the `rank`-th most used style: `a`–`z`, `A`–`Z`, then a letter and a letter or digit.
fn class_name(rank: usize) -> String {
    const FIRST: &[u8] = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";
    const NEXT: &[u8] = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    if rank < FIRST.len() {
        return char::from(FIRST[rank]).to_string();
    }
    let k = rank - FIRST.len();
    match FIRST.get(k / NEXT.len()) {
        Some(&a) => format!("{}{}", char::from(a), char::from(NEXT[k % NEXT.len()])),
        None => format!("s{rank}"),
    }
}

/// Writes attributes, the CSS-able ones as a class where their set has one.
fn write_attrs(out: &mut String, attrs: &[(String, String)], styles: &mut Styles) {
    let (css, plain): (Vec<_>, Vec<_>) =
        attrs.iter().cloned().partition(|(k, _)| CSS_PROPERTIES.contains(&k.as_str()));
    for (k, v) in plain {
        out.push_str(&format!(" {k}=\"{v}\""));
    }
    if css.is_empty() {
        return;
    }
    match styles.class(&css) {
        Some(class) => out.push_str(&format!(" class=\"{class}\"")),
        None => {
            for (k, v) in css {
                out.push_str(&format!(" {k}=\"{v}\""));
            }
        }
    }
}

/// Reads plotters' SVG into the root's attributes and its elements; `None` when it is not that shape.
fn parse(svg: &str) -> Option<(Attrs, Vec<Element>)> {
    let start = svg.find("<svg")?;
    let root_end = start + svg[start..].find('>')?;
    let root = attrs(&svg[start + 4..root_end]);
    let mut rest = &svg[root_end + 1..];
    let mut elements = Vec::new();
    loop {
        rest = rest.trim_start();
        if rest.starts_with("</svg>") {
            return Some((root, elements));
        }
        let body = rest.strip_prefix('<')?;
        let tag_end = body.find(|c: char| c.is_whitespace() || c == '>' || c == '/')?;
        let tag = &body[..tag_end];
        let close = body.find('>')?;
        let self_closing = body[..close].ends_with('/');
        let inner = body[tag_end..close].trim_end_matches('/');
        let attrs = attrs(inner);
        if self_closing {
            elements.push(Element { tag: tag.into(), attrs, text: None });
            rest = &body[close + 1..];
        } else {
            let end_tag = format!("</{tag}>");
            let after = &body[close + 1..];
            let end = after.find(&end_tag)?;
            let text = after[..end].trim().to_string();
            elements.push(Element { tag: tag.into(), attrs, text: Some(text) });
            rest = &after[end + end_tag.len()..];
        }
    }
}

/// `k="v"` pairs in order (plotters writes every value in double quotes, escaped).
fn attrs(s: &str) -> Attrs {
    static PAIR: LazyLock<Regex> =
        LazyLock::new(|| Regex::new(r#"(?s)(.*?)="([^"]*)""#).expect("a valid pattern"));
    PAIR.captures_iter(s).map(|c| (c[1].trim().to_string(), c[2].to_string())).collect()
}

/// DejaVu Sans' x-height (1120 of 2048 units per em).
const X_HEIGHT_EM: f64 = 1120.0 / 2048.0;

/// Drops default-valued attributes, rounds font sizes, and moves a text's `dy` into its `y` (an em is
/// the font size, so the glyphs land on the same pixels; an ex is the bundled font's x-height).
fn tidy(e: &mut Element) {
    let is_text = e.tag == "text";
    e.attrs.retain(|(k, v)| {
        !(k == "opacity" && v == "1"
            || is_text && (k == "font-family" && v == super::FONT || k == "fill" && v == "#000000"))
    });
    for (k, v) in &mut e.attrs {
        if k == "font-size"
            && let Ok(size) = v.parse::<f64>()
        {
            *v = trim_num(size, 1);
        }
    }
    // A circle or filled shape with no stroke needs no stroke width.
    if e.get("stroke") == Some("none") {
        e.attrs.retain(|(k, _)| k != "stroke-width");
    }
    // An ex is the font's x-height: 0.545 em in DejaVu Sans, the font plotters lays the text out with
    // (a sans-serif fallback differs by a few hundredths of an em, a fraction of a pixel here).
    let dy = e.get("dy").unwrap_or_default();
    let em = match (dy.strip_suffix("em"), dy.strip_suffix("ex")) {
        (Some(v), _) => v.parse::<f64>().ok(),
        (_, Some(v)) => v.parse::<f64>().ok().map(|x| x * X_HEIGHT_EM),
        _ => None,
    };
    if is_text
        && e.get("transform").is_none()
        && let (Some(em), Some(size), Some(y)) = (em, e.num("font-size"), e.num("y"))
    {
        // Whole pixels: the drawing's resolution (a baseline moves by at most half a pixel).
        let y = trim_num(y + em * size, 0);
        e.attrs.retain(|(k, _)| k != "dy");
        for (k, v) in &mut e.attrs {
            if k == "y" {
                *v = y.clone();
            }
        }
    }
}

/// A number with at most `decimals` decimals and no trailing zeros.
fn trim_num(v: f64, decimals: usize) -> String {
    let s = format!("{v:.decimals$}");
    let s = if s.contains('.') { s.trim_end_matches('0').trim_end_matches('.').to_string() } else { s };
    if s == "-0" { "0".into() } else { s }
}

/// How far a point may lie from the line through its neighbours and still go: half a pixel (it would
/// not move a pixel's edge), or for a stroked line half its width, where the point lies inside the
/// stroke drawn without it (plotters has already rounded every point to a whole pixel, so a series
/// drawn 2 px wide zigzags by a pixel where the data run straight).
fn tolerance(e: &Element) -> f64 {
    let open = e.tag == "polyline" && e.get("fill") == Some("none");
    let width = if open { e.num("stroke-width").unwrap_or(1.0) } else { 0.0 };
    (width / 2.0).max(0.5)
}

/// The polyline's points with only those that change what is drawn: consecutive repeats dropped, then
/// Douglas–Peucker at `tol` pixels (ends always kept).
fn thin(points: &[(f64, f64)], tol: f64) -> Vec<(f64, f64)> {
    let mut pts: Vec<(f64, f64)> = Vec::with_capacity(points.len());
    for &p in points {
        if pts.last() != Some(&p) {
            pts.push(p);
        }
    }
    if pts.len() <= 2 {
        return pts;
    }
    let mut keep = vec![false; pts.len()];
    keep[0] = true;
    keep[pts.len() - 1] = true;
    let mut stack = vec![(0, pts.len() - 1)];
    while let Some((a, b)) = stack.pop() {
        let (mut far, mut dist) = (0, 0.0);
        for i in a + 1..b {
            let d = distance(pts[i], pts[a], pts[b]);
            if d > dist {
                (far, dist) = (i, d);
            }
        }
        if dist > tol {
            keep[far] = true;
            stack.push((a, far));
            stack.push((far, b));
        }
    }
    pts.into_iter().zip(keep).filter(|(_, k)| *k).map(|(p, _)| p).collect()
}

/// Distance from `p` to the segment `a`–`b`.
fn distance(p: (f64, f64), a: (f64, f64), b: (f64, f64)) -> f64 {
    let (dx, dy) = (b.0 - a.0, b.1 - a.1);
    let len2 = dx * dx + dy * dy;
    let t = if len2 == 0.0 { 0.0 } else { (((p.0 - a.0) * dx + (p.1 - a.1) * dy) / len2).clamp(0.0, 1.0) };
    let (x, y) = (a.0 + t * dx, a.1 + t * dy);
    ((p.0 - x).powi(2) + (p.1 - y).powi(2)).sqrt()
}

fn points(s: &str) -> Option<Vec<(f64, f64)>> {
    s.split_whitespace()
        .map(|p| {
            let (x, y) = p.split_once(',')?;
            Some((x.parse().ok()?, y.parse().ok()?))
        })
        .collect()
}

fn n(v: f64) -> String {
    trim_num(v, 1)
}

/// The element as path data, with the style its path needs; `None` for what does not merge.
fn as_path(e: &Element) -> Option<(Vec<(String, String)>, String)> {
    let opaque = e.get("opacity").is_none_or(|o| o == "1");
    if e.text.is_some() {
        return None;
    }
    // A translucent shape becomes a path of its own: merged, overlaps would blend once, not twice.
    if !opaque && e.tag != "polygon" {
        return None;
    }
    let style = e.style();
    let d = match e.tag.as_str() {
        "polyline" if e.get("fill") == Some("none") => {
            relative(&thin(&points(e.get("points")?)?, tolerance(e)), false)?
        }
        "polygon" => relative(&thin(&points(e.get("points")?)?, tolerance(e)), true)?,
        "line" => {
            let (x1, y1, x2, y2) = (e.num("x1")?, e.num("y1")?, e.num("x2")?, e.num("y2")?);
            let mut style = style;
            style.insert(0, ("fill".into(), "none".into()));
            return Some((style, relative(&[(x1, y1), (x2, y2)], false)?));
        }
        "rect" if e.get("stroke") == Some("none") || e.get("stroke").is_none() => {
            let (x, y, w, h) = (e.num("x")?, e.num("y")?, e.num("width")?, e.num("height")?);
            format!("M{} {}h{}v{}h{}z", n(x), n(y), n(w), n(h), n(-w))
        }
        // A filled marker is a zero-length line with round caps as wide as the disc: the same pixels in
        // a quarter of the bytes.
        "circle"
            if e.get("stroke").is_none_or(|s| s == "none") && e.get("fill").is_some_and(|f| f != "none") =>
        {
            let (x, y, r) = (e.num("cx")?, e.num("cy")?, e.num("r")?);
            let fill = e.get("fill")?.to_string();
            let mut style: Vec<(String, String)> = style
                .into_iter()
                .filter(|(k, _)| !matches!(k.as_str(), "fill" | "stroke" | "stroke-width"))
                .collect();
            style.extend([
                ("fill".into(), "none".into()),
                ("stroke".into(), fill),
                ("stroke-width".into(), n(2.0 * r)),
                ("stroke-linecap".into(), "round".into()),
            ]);
            return Some((style, format!("M{} {}h0", n(x), n(y))));
        }
        "circle" => {
            let (x, y, r) = (e.num("cx")?, e.num("cy")?, e.num("r")?);
            format!(
                "M{} {}a{r} {r} 0 1 0 {} 0a{r} {r} 0 1 0 {} 0",
                n(x - r),
                n(y),
                n(2.0 * r),
                n(-2.0 * r),
                r = n(r)
            )
        }
        _ => return None,
    };
    Some((style, d))
}

/// Path data through these points, each after the first relative to the one before (shorter), closed
/// for a polygon.
fn relative(pts: &[(f64, f64)], close: bool) -> Option<String> {
    let (first, rest) = pts.split_first()?;
    let mut d = format!("M{} {}", n(first.0), n(first.1));
    let mut at = *first;
    // After an `l`, further pairs need no letter (a minus sign separates as well as a space).
    let mut in_l = false;
    for p in rest {
        let (dx, dy) = (n(p.0 - at.0), n(p.1 - at.1));
        at = *p;
        // Axis-parallel steps (grid lines, dashes, ticks) need one number.
        if dy == "0" || dx == "0" {
            d.push_str(&if dy == "0" { format!("h{dx}") } else { format!("v{dy}") });
            in_l = false;
            continue;
        }
        if in_l {
            if !dx.starts_with('-') {
                d.push(' ');
            }
        } else {
            d.push('l');
            in_l = true;
        }
        d.push_str(&dx);
        if !dy.starts_with('-') {
            d.push(' ');
        }
        d.push_str(&dy);
    }
    if close {
        d.push('z');
    }
    Some(d)
}

/// Where a path from [`as_path`] (or a merge of them) leaves the pen: its commands are `M`/`m`, then
/// relative `l` pairs, `h`, `v`,
/// `a` (seven numbers) and `z` (back to the start).
fn end_point(d: &str) -> Option<(f64, f64)> {
    // A command letter, or a number: a minus starts one, a space or a letter ends one.
    static TOKEN: LazyLock<Regex> =
        LazyLock::new(|| Regex::new("[A-Za-z]|-[^A-Za-z -]*|[^A-Za-z -]+").expect("a valid pattern"));
    let mut tokens: Vec<(char, Vec<f64>)> = Vec::new();
    for t in TOKEN.find_iter(d).map(|m| m.as_str()) {
        match t.chars().next() {
            Some(c) if c.is_ascii_alphabetic() => tokens.push((c, Vec::new())),
            _ => tokens.last_mut()?.1.push(t.parse().ok()?),
        }
    }
    let (mut start, mut at) = ((0.0, 0.0), (0.0, 0.0));
    for (cmd, args) in tokens {
        match cmd {
            'M' => {
                at = (*args.first()?, *args.get(1)?);
                start = at;
            }
            'm' => {
                at = (at.0 + args.first()?, at.1 + args.get(1)?);
                start = at;
            }
            'l' => {
                for pair in args.chunks(2) {
                    at = (at.0 + pair.first()?, at.1 + pair.get(1)?);
                }
            }
            'h' => at.0 += args.iter().sum::<f64>(),
            'v' => at.1 += args.iter().sum::<f64>(),
            'a' => {
                for arc in args.chunks(7) {
                    at = (at.0 + arc.get(5)?, at.1 + arc.get(6)?);
                }
            }
            'z' => at = start,
            _ => return None,
        }
    }
    Some(at)
}

/// A path's leading `Mx y` rewritten as a move relative to `from` (shorter in a merged path).
fn rebase(d: &str, from: (f64, f64)) -> Option<String> {
    let body = d.strip_prefix('M')?;
    let k = body.find(|c: char| c.is_ascii_alphabetic())?;
    let (x, y) = body[..k].split_once(' ')?;
    let (x, y) = (x.parse::<f64>().ok()?, y.parse::<f64>().ok()?);
    Some(format!("m{} {}{}", n(x - from.0), n(y - from.1), &body[k..]))
}

/// Appends a subpath to a merged path, as a relative move from where the path left the pen.
fn append(d: &mut String, more: &str) {
    match end_point(d).and_then(|end| rebase(more, end)) {
        Some(rel) => d.push_str(&rel),
        None => d.push_str(more),
    }
}

/// A rectangle as (x0, y0, x1, y1).
type Box4 = (f64, f64, f64, f64);

/// Rectangles as (x0, y0, x1, y1).
fn rect_box(e: &Element) -> Option<Box4> {
    let (x, y) = (e.num("x")?, e.num("y")?);
    Some((x, y, x + e.num("width")?, y + e.num("height")?))
}

/// Whether any two of these rectangles with different styles overlap (then their order matters).
fn rects_overlap(run: &[(Attrs, Box4)]) -> bool {
    for (i, (sa, a)) in run.iter().enumerate() {
        for (sb, b) in &run[i + 1..] {
            if sa != sb && a.0 < b.2 && b.0 < a.2 && a.1 < b.3 && b.1 < a.3 {
                return true;
            }
        }
    }
    false
}

/// The chart with the same picture in fewer bytes and elements; `title` names it for screen readers.
/// Output that is not plotters' shape is returned unchanged (with its title).
pub fn compact(svg: &str, title: &str, styles: &mut Styles) -> String {
    let Some((mut root, mut elements)) = parse(svg) else { return svg.to_string() };
    elements.iter_mut().for_each(tidy);
    // Inline in HTML, the parser puts `<svg>` in the SVG namespace; the font family is the page's CSS
    // ([`Styles::css`]) rather than an attribute on every chart.
    root.retain(|(k, _)| k != "xmlns");
    // A white rectangle over the whole drawing is the background the page's CSS gives every chart.
    let whole = |e: &Element| {
        let root_num = |k: &str| root.iter().find(|(n, _)| n == k).and_then(|(_, v)| v.parse::<f64>().ok());
        e.tag == "rect"
            && e.get("fill").is_some_and(|f| f.eq_ignore_ascii_case("#FFFFFF"))
            && e.get("opacity").is_none_or(|o| o == "1")
            && e.get("stroke").is_none_or(|s| s == "none")
            && (e.num("x"), e.num("y")) == (Some(0.0), Some(0.0))
            && (e.num("width"), e.num("height")) == (root_num("width"), root_num("height"))
    };
    if elements.first().is_some_and(whole) {
        elements.remove(0);
    }
    root.push(("role".into(), "img".into()));
    let mut out = String::with_capacity(svg.len() / 3);
    out.push_str("<svg");
    for (k, v) in &root {
        out.push_str(&format!(" {k}=\"{v}\""));
    }
    out.push_str(&format!("><title>{}</title>", escape(title)));
    let mut items = Vec::new();
    let mut i = 0;
    while i < elements.len() {
        // A run of opaque filled rectangles that do not overlap across colours (a heatmap's cells):
        // one path per colour, in the order the colours first appear.
        let mut j = i;
        let mut run = Vec::new();
        while j < elements.len() && elements[j].tag == "rect" {
            match (as_path(&elements[j]), rect_box(&elements[j])) {
                (Some((style, _)), Some(b)) => run.push((style, b)),
                _ => break,
            }
            j += 1;
        }
        if run.len() > 1 && !rects_overlap(&run) {
            let mut groups: Vec<(Attrs, Vec<Box4>)> = Vec::new();
            for (style, b) in run {
                match groups.iter_mut().find(|g| g.0 == style) {
                    Some(g) => g.1.push(b),
                    None => groups.push((style, vec![b])),
                }
            }
            for (style, boxes) in groups {
                let mut d = String::new();
                for b in join_boxes(boxes) {
                    let cell =
                        format!("M{} {}h{}v{}h{}z", n(b.0), n(b.1), n(b.2 - b.0), n(b.3 - b.1), n(b.0 - b.2));
                    if d.is_empty() { d = cell } else { append(&mut d, &cell) }
                }
                write_path(&mut items, &style, &d, styles);
            }
            i = j;
            continue;
        }
        // Otherwise: consecutive elements of one style become one path. Text between them (an axis'
        // tick labels between its tick marks) is written after the path: lines and labels beside each
        // other do not overlap, and text stays above lines.
        match as_path(&elements[i]) {
            Some((style, mut d)) => {
                let mut j = i + 1;
                let mut texts = Vec::new();
                let mut merged = vec![i];
                loop {
                    let mut k = j;
                    while elements.get(k).is_some_and(|e| e.tag == "text") {
                        k += 1;
                    }
                    let translucent = style.iter().any(|(k, v)| k == "opacity" && v != "1");
                    match elements.get(k).and_then(as_path).filter(|(s, _)| *s == style && !translucent) {
                        Some((_, more)) => {
                            texts.extend(j..k);
                            append(&mut d, &more);
                            merged.push(k);
                            j = k + 1;
                        }
                        None => break,
                    }
                }
                // Dashed lines among the merged elements (two event markers in one colour) become one
                // segment each, with a dash array; the rest stays one path.
                let lines = collinear_runs(merged.iter().map(|&m| &elements[m]).collect());
                let dashed_lines: Vec<(Attrs, String)> = lines
                    .iter()
                    .filter_map(|run| {
                        let (a, b, dash, gap) = dashed(run)?;
                        let mut style = style.clone();
                        style.push(("stroke-dasharray".into(), format!("{} {}", n(dash), n(gap))));
                        Some((style, relative(&[a, b], false)?))
                    })
                    .collect();
                if !dashed_lines.is_empty() {
                    d = String::new();
                    for e in lines.iter().filter(|run| dashed(run).is_none()).flatten() {
                        let (_, more) = as_path(e).expect("merged above");
                        if d.is_empty() { d = more } else { append(&mut d, &more) }
                    }
                }
                if !d.is_empty() {
                    write_path(&mut items, &style, &d, styles);
                }
                for (style, line) in dashed_lines {
                    write_path(&mut items, &style, &line, styles);
                }
                for t in texts {
                    elements[t].write(&mut items, styles);
                }
                i = j;
            }
            None => {
                let e = &mut elements[i];
                if (e.tag == "polyline" || e.tag == "polygon")
                    && let Some(pts) = e.get("points").and_then(points)
                {
                    let thinned: Vec<String> =
                        thin(&pts, tolerance(e)).iter().map(|p| format!("{},{}", n(p.0), n(p.1))).collect();
                    let joined = thinned.join(" ");
                    for (k, v) in &mut e.attrs {
                        if k == "points" {
                            *v = joined.clone();
                        }
                    }
                }
                e.write(&mut items, styles);
                i += 1;
            }
        }
    }
    serialise(&items, &mut out);
    out.push_str("</svg>");
    out
}

fn write_path(items: &mut Vec<Item>, style: &[(String, String)], d: &str, styles: &mut Styles) {
    let mut out = String::from("<path");
    write_attrs(&mut out, style, styles);
    out.push_str(&format!(" d=\"{d}\"/>"));
    items.push(Item::Raw(out));
}

/// Rectangles of one colour with touching neighbours joined: along rows first (same top and bottom),
/// then the rows' runs down columns (same left and right). Coordinates compare exactly: plotters draws
/// on whole pixels, and what does not touch exactly stays apart.
fn join_boxes(mut boxes: Vec<Box4>) -> Vec<Box4> {
    boxes.sort_by(|a, b| a.1.total_cmp(&b.1).then(a.3.total_cmp(&b.3)).then(a.0.total_cmp(&b.0)));
    let mut rows: Vec<Box4> = Vec::new();
    for b in boxes {
        match rows.last_mut() {
            Some(r) if r.1 == b.1 && r.3 == b.3 && r.2 == b.0 => r.2 = b.2,
            _ => rows.push(b),
        }
    }
    rows.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.2.total_cmp(&b.2)).then(a.1.total_cmp(&b.1)));
    let mut out: Vec<Box4> = Vec::new();
    for b in rows {
        match out.last_mut() {
            Some(r) if r.0 == b.0 && r.2 == b.2 && r.3 == b.1 => r.3 = b.3,
            _ => out.push(b),
        }
    }
    out
}

/// The elements in runs of consecutive segments on one line (the line through the run's first segment,
/// in its direction); anything that is not a segment is a run of its own.
fn collinear_runs(elements: Vec<&Element>) -> Vec<Vec<&Element>> {
    const EPS: f64 = 1e-6;
    let mut runs: Vec<Vec<&Element>> = Vec::new();
    for e in elements {
        let on_line = |run: &Vec<&Element>| -> Option<bool> {
            let (a, b) = segment(run.first()?)?;
            let (p, q) = segment(e)?;
            let len = (b.0 - a.0).hypot(b.1 - a.1);
            let u = ((b.0 - a.0) / len, (b.1 - a.1) / len);
            let off = |p: (f64, f64)| ((p.0 - a.0) * u.1 - (p.1 - a.1) * u.0).abs();
            let forward = (q.0 - p.0) * u.0 + (q.1 - p.1) * u.1 > EPS;
            Some(len > EPS && forward && off(p) < EPS && off(q) < EPS)
        };
        match runs.last_mut() {
            Some(run) if on_line(run) == Some(true) => run.push(e),
            _ => runs.push(vec![e]),
        }
    }
    runs
}

/// A dashed line as its start, its end, and the lengths of a dash and of a gap.
type Dashes = ((f64, f64), (f64, f64), f64, f64);

/// A line or a two-point polyline as its ends.
fn segment(e: &Element) -> Option<((f64, f64), (f64, f64))> {
    match e.tag.as_str() {
        "line" => Some(((e.num("x1")?, e.num("y1")?), (e.num("x2")?, e.num("y2")?))),
        "polyline" => match thin(&points(e.get("points")?)?, 0.5)[..] {
            [a, b] => Some((a, b)),
            _ => None,
        },
        _ => None,
    }
}

/// A straight dashed line that plotters drew dash by dash, as (start, end, dash, gap): at least three
/// dashes on one line, in one direction, each as long as the first (the last may be shorter: the line
/// ended inside it) and evenly spaced, so `stroke-dasharray` paints the same pixels. `None` otherwise.
fn dashed(elements: &[&Element]) -> Option<Dashes> {
    const EPS: f64 = 1e-6;
    if elements.len() < 3 {
        return None;
    }
    let segs: Vec<((f64, f64), (f64, f64))> = elements.iter().map(|e| segment(e)).collect::<Option<_>>()?;
    let (a, b) = segs[0];
    let dash = (b.0 - a.0).hypot(b.1 - a.1);
    if dash < EPS {
        return None;
    }
    let u = ((b.0 - a.0) / dash, (b.1 - a.1) / dash);
    // Position along the first dash's line, and distance from that line.
    let along = |p: (f64, f64)| (p.0 - a.0) * u.0 + (p.1 - a.1) * u.1;
    let off = |p: (f64, f64)| ((p.0 - a.0) * u.1 - (p.1 - a.1) * u.0).abs();
    let gap = along(segs[1].0) - dash;
    if gap < EPS {
        return None;
    }
    for (k, &(p, q)) in segs.iter().enumerate() {
        let length = along(q) - along(p);
        let fits = if k + 1 == segs.len() {
            length > EPS && length < dash + EPS
        } else {
            (length - dash).abs() < EPS
        };
        if !fits || off(p) > EPS || off(q) > EPS || (along(p) - k as f64 * (dash + gap)).abs() > EPS {
            return None;
        }
    }
    Some((a, segs[segs.len() - 1].1, dash, gap))
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thinning_keeps_every_point_that_changes_a_pixel() {
        // Repeats and collinear points go; a corner stays; ends stay.
        let pts = [(0.0, 0.0), (0.0, 0.0), (1.0, 1.0), (2.0, 2.0), (3.0, 3.0), (3.0, 10.0)];
        assert_eq!(thin(&pts, 0.5), vec![(0.0, 0.0), (3.0, 3.0), (3.0, 10.0)]);
        // A one-pixel bump is kept.
        let bump = [(0.0, 0.0), (5.0, 1.0), (10.0, 0.0)];
        assert_eq!(thin(&bump, 0.5), bump.to_vec());
        // A one-pixel zigzag is inside a 2 px stroke: the line drawn through its ends covers it.
        let zigzag = [(0.0, 0.0), (3.0, 1.0), (6.0, 0.0), (9.0, 1.0), (12.0, 0.0)];
        assert_eq!(thin(&zigzag, 1.0), vec![(0.0, 0.0), (12.0, 0.0)]);
        assert_eq!(thin(&zigzag, 0.5), zigzag.to_vec());
        let line = |width: &str, fill: &str| Element {
            tag: "polyline".into(),
            attrs: vec![("fill".into(), fill.into()), ("stroke-width".into(), width.into())],
            text: None,
        };
        assert_eq!(tolerance(&line("2", "none")), 1.0);
        assert_eq!(tolerance(&line("1", "none")), 0.5);
        // A filled shape's edge has no stroke to hide a point in.
        assert_eq!(tolerance(&line("2", "#0072B2")), 0.5);
    }

    #[test]
    fn same_style_runs_merge_and_translucent_and_text_stay_apart() {
        let svg = r##"<svg width="10" height="10" viewBox="0 0 10 10" xmlns="http://www.w3.org/2000/svg">
<polyline fill="none" opacity="1" stroke="#666666" stroke-width="1" points="0,0 1,0 "/>
<polyline fill="none" opacity="1" stroke="#666666" stroke-width="1" points="3,0 4,0 "/>
<polygon opacity="0.18" fill="#0072B2" points="0,0 1,1 2,0 "/>
<circle cx="5" cy="5" r="3" opacity="1" fill="#D55E00" stroke="none" stroke-width="1"/>
<circle cx="7" cy="5" r="3" opacity="1" fill="#D55E00" stroke="none" stroke-width="1"/>
<text x="1" y="2" dy="0.76em" text-anchor="middle" font-family="sans-serif" font-size="12.903225806451614" opacity="1" fill="#000000">
a &lt; b
</text>
</svg>
"##;
        let mut styles = Styles::default();
        let out = compact(svg, "A & B", &mut styles);
        assert!(out.contains("<title>A &amp; B</title>") && out.contains("role=\"img\""), "{out}");
        assert!(out.contains(r##"<path class="s0" d="M0 0h1m2 0h1"/>"##), "{out}");
        assert!(out.contains(r##"<path class="s1" d="M0 0l1 1 1-1z"/>"##), "{out}");
        assert_eq!(out.matches("<path").count(), 3, "{out}");
        assert!(out.contains(r##"d="M5 5h0m2 0h0""##), "markers as round-capped dots: {out}");
        // dy = 0.76em at 12.9 px moves y from 2 to 11.8, on the pixel grid 12.
        assert!(out.contains(r##"<text x="1" y="12" class="s3">a &lt; b</text>"##), "{out}");
        let css = styles.css();
        assert!(css.contains("svg .s3{text-anchor:middle;font-size:12.9px}"), "{css}");
    }

    #[test]
    fn path_data_is_relative_and_axis_steps_take_one_number() {
        let d = relative(&[(0.0, 0.0), (3.0, 4.0), (5.0, 2.0), (5.0, 7.0), (6.0, 8.0)], true).unwrap();
        assert_eq!(d, "M0 0l3 4 2-2v5l1 1z");
    }

    #[test]
    fn rare_styles_stay_inline_after_freezing() {
        let svg = r##"<svg width="9" height="9">
<rect x="0" y="0" width="2" height="2" opacity="1" fill="#111111" stroke="none"/>
<circle cx="5" cy="5" r="3" opacity="1" fill="none" stroke="#222222"/>
<circle cx="5" cy="5" r="3" opacity="1" fill="none" stroke="#222222"/>
<text x="1" y="2" font-size="12">a</text>
<text x="1" y="4" font-size="12">b</text>
</svg>"##;
        let mut styles = Styles::default();
        compact(svg, "t", &mut styles);
        styles.freeze(2);
        let out = compact(svg, "t", &mut styles);
        assert!(out.contains(r##"fill="#111111""##), "{out}");
        // The two texts share the class, written once on their group.
        assert!(
            out.contains(r#"<g class="a"><text x="1" y="2">a</text><text x="1" y="4">b</text></g>"#),
            "{out}"
        );
        assert_eq!(
            styles.css(),
            "svg[role=img]{font-family:sans-serif;background:#fff}\nsvg .a{font-size:12px}\n"
        );
    }

    #[test]
    fn the_most_used_styles_get_the_shortest_class_names() {
        let svg = r##"<svg width="9" height="9">
<text x="1" y="2" font-size="10">a</text>
<path d="M0 0h1" fill="none" stroke="#111111"/>
<text x="1" y="4" font-size="12">b</text>
<path d="M0 0h1" fill="none" stroke="#111111"/>
<text x="1" y="6" font-size="12">c</text>
</svg>"##;
        let mut styles = Styles::default();
        compact(svg, "t", &mut styles);
        styles.freeze(1);
        let css = styles.css();
        // Used twice before once; of the two used twice, the one seen first (the path's) first.
        assert!(css.contains("svg .a{fill:none;stroke:#111111}"), "{css}");
        assert!(css.contains("svg .b{font-size:12px}") && css.contains("svg .c{font-size:10px}"), "{css}");
        assert_eq!(class_name(0), "a");
        assert_eq!(class_name(51), "Z");
        assert_eq!(class_name(52), "aa");
        assert_eq!(class_name(52 + 61), "a9");
        assert_eq!(class_name(52 + 62), "ba");
        assert_eq!(class_name(52 + 52 * 62), "s3276");
    }

    #[test]
    fn merged_subpaths_move_relative_to_where_the_pen_is() {
        assert_eq!(end_point("M1 2l3 4 2-2v5h-1z"), Some((1.0, 2.0)));
        assert_eq!(end_point("M1 2l3 4 2-2v5h-1"), Some((5.0, 9.0)));
        assert_eq!(end_point("M5 5a3 3 0 1 0 6 0a3 3 0 1 0 -6 0"), Some((5.0, 5.0)));
        let mut d = "M76 343h0".to_string();
        append(&mut d, "M87 345h0");
        append(&mut d, "M80 340l2 2");
        assert_eq!(d, "M76 343h0m11 2h0m-7 -5l2 2");
    }

    #[test]
    fn heatmap_cells_group_by_colour_unless_colours_overlap() {
        let cell = |x: u32, fill: &str| {
            format!(r#"<rect x="{x}" y="0" width="2" height="2" opacity="1" fill="{fill}" stroke="none"/>"#)
        };
        let grid = format!(
            "<svg width=\"9\" height=\"9\">{}{}{}</svg>",
            cell(0, "#111111"),
            cell(2, "#222222"),
            cell(4, "#111111")
        );
        let out = compact(&grid, "h", &mut Styles::default());
        assert_eq!(out.matches("<path").count(), 2, "{out}");
        assert!(out.contains("d=\"M0 0h2v2h-2zm4 0h2v2h-2z\""), "{out}");
        // A later rectangle over an earlier one of another colour keeps the drawing order.
        let over = format!(
            "<svg width=\"9\" height=\"9\">{}{}{}</svg>",
            cell(0, "#111111"),
            cell(1, "#222222"),
            cell(0, "#111111")
        );
        assert_eq!(compact(&over, "h", &mut Styles::default()).matches("<path").count(), 3);
    }

    /// A chart of plotters' dashes: `dashes` polylines of length `dash` every `dash + gap` pixels down
    /// from (10, 100), the last `last` long.
    fn dashes(count: u32, dash: u32, gap: u32, last: u32) -> String {
        let mut svg = String::from("<svg width=\"200\" height=\"200\">");
        for k in 0..count {
            let y0 = 100 - k * (dash + gap);
            let len = if k + 1 == count { last } else { dash };
            svg.push_str(&format!(
                r##"<polyline fill="none" opacity="1" stroke="#888888" stroke-width="1" points="10,{y0} 10,{} "/>"##,
                y0 - len
            ));
        }
        svg + "</svg>"
    }

    #[test]
    fn a_regular_dashed_line_is_one_segment_with_a_dash_array() {
        let out = compact(&dashes(10, 3, 3, 2), "d", &mut Styles::default());
        assert_eq!(out.matches("<path").count(), 1, "{out}");
        assert!(out.contains(r#"d="M10 100v-56""#), "{out}");
        let mut styles = Styles::default();
        compact(&dashes(10, 3, 3, 3), "d", &mut styles);
        assert!(styles.css().contains("stroke-dasharray:3 3"), "{}", styles.css());
        // Uneven dashes or gaps are drawn as they are: a dash array would move pixels.
        let mut uneven = dashes(10, 3, 3, 3);
        uneven = uneven.replacen("points=\"10,100 10,97 \"", "points=\"10,100 10,96 \"", 1);
        assert!(!compact(&uneven, "d", &mut Styles::default()).contains("dasharray"));
        let mut uneven = dashes(10, 3, 3, 3);
        uneven = uneven.replacen("points=\"10,94 10,91 \"", "points=\"10,93 10,90 \"", 1);
        assert!(!compact(&uneven, "d", &mut Styles::default()).contains("dasharray"));
        // Parallel ticks, evenly spaced but not on one line, stay ticks.
        let tick = |y: u32| {
            format!(
                r##"<polyline fill="none" opacity="1" stroke="#888888" stroke-width="1" points="10,{y} 13,{y} "/>"##
            )
        };
        let ticks =
            format!("<svg width=\"20\" height=\"20\">{}{}{}{}</svg>", tick(1), tick(5), tick(9), tick(13));
        let out = compact(&ticks, "d", &mut Styles::default());
        assert!(out.contains(r#"d="M10 1h3m-3 4h3m-3 4h3m-3 4h3""#), "{out}");
        // Two dashed lines of one colour side by side (plotters' elements merge into one run): one
        // segment each.
        let second = dashes(10, 3, 3, 2).replace("points=\"10,", "points=\"40,").replace(" 10,", " 40,");
        let both = dashes(10, 3, 3, 2).replace("</svg>", "")
            + second.trim_start_matches("<svg width=\"200\" height=\"200\">");
        let out = compact(&both, "d", &mut Styles::default());
        assert!(out.contains(r#"d="M10 100v-56""#) && out.contains(r#"d="M40 100v-56""#), "{out}");
        assert_eq!(out.matches("<path").count(), 2, "{out}");
        // Too few dashes to tell a pattern.
        assert!(!compact(&dashes(2, 3, 3, 3), "d", &mut Styles::default()).contains("dasharray"));
    }

    #[test]
    fn plotters_dashed_threshold_and_events_become_dash_arrays() {
        let chart = super::super::LineChart {
            series: vec![super::super::Series {
                name: "s".into(),
                points: (0..50).map(|i| (i as f64, (i as f64 * 0.3).sin())).collect(),
                band: vec![],
            }],
            threshold: Some((0.5, "threshold".into())),
            events: vec![(10.0, "a".into()), (30.0, "b".into())],
            ..Default::default()
        };
        let raw = super::super::line_chart(&chart).unwrap();
        let mut styles = Styles::default();
        let out = compact(&raw, "c", &mut styles);
        let css = styles.css();
        // The threshold (6 on, 4 off) and both events (3 on, 3 off) are single dashed segments.
        assert!(css.contains("stroke-dasharray:6 4") && css.contains("stroke-dasharray:3 3"), "{css}");
        assert!(out.len() * 3 < raw.len(), "{} of {} bytes", out.len(), raw.len());
        for text in ["threshold", ">a<", ">b<", ">s<"] {
            assert!(out.contains(text), "{text} kept: {out}");
        }
    }

    #[test]
    fn touching_cells_of_one_colour_join_and_others_stay() {
        let cell = |x: u32, y: u32, fill: &str| {
            format!(r#"<rect x="{x}" y="{y}" width="2" height="2" opacity="1" fill="{fill}" stroke="none"/>"#)
        };
        // A 2 × 2 block of one colour, a cell of another beside it, and one of the first colour apart.
        let grid = format!(
            "<svg width=\"9\" height=\"9\">{}{}{}{}{}{}</svg>",
            cell(0, 0, "#111111"),
            cell(2, 0, "#111111"),
            cell(4, 0, "#222222"),
            cell(0, 2, "#111111"),
            cell(2, 2, "#111111"),
            cell(6, 2, "#111111")
        );
        let out = compact(&grid, "h", &mut Styles::default());
        assert!(out.contains(r#"d="M0 0h4v4h-4zm6 2h2v2h-2z""#), "{out}");
        assert!(out.contains(r#"d="M4 0h2v2h-2z""#), "{out}");
    }

    #[test]
    fn the_white_background_is_the_pages_css() {
        let bg = r##"<rect x="0" y="0" width="9" height="9" opacity="1" fill="#FFFFFF" stroke="none"/>"##;
        let svg = format!("<svg width=\"9\" height=\"9\">{bg}<text x=\"1\" y=\"2\">a</text></svg>");
        let mut styles = Styles::default();
        let out = compact(&svg, "t", &mut styles);
        assert!(!out.contains("<path") && !out.contains("<rect"), "{out}");
        assert!(styles.css().starts_with("svg[role=img]{font-family:sans-serif;background:#fff}"));
        // A smaller or coloured rectangle is drawn.
        let part = svg.replace("width=\"9\" height=\"9\" opacity", "width=\"8\" height=\"9\" opacity");
        assert!(compact(&part, "t", &mut Styles::default()).contains("<path"));
        let grey = svg.replace("#FFFFFF", "#EEEEEE");
        assert!(compact(&grey, "t", &mut Styles::default()).contains("<path"));
    }

    #[test]
    fn translucent_texts_are_not_grouped() {
        let svg = r##"<svg width="9" height="9">
<text x="1" y="2" font-size="12" opacity="0.5">a</text>
<text x="1" y="4" font-size="12" opacity="0.5">b</text>
</svg>"##;
        let out = compact(svg, "t", &mut Styles::default());
        assert!(!out.contains("<g"), "{out}");
        assert_eq!(out.matches("class=\"s0\"").count(), 2, "{out}");
    }
}
