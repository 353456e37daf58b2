//! Reading terminal menus off a screen, so startup dialogs are answered by what they say rather
//! than by blind key presses.
//!
//! A menu is a run of option lines such as `❯ 1. Yes, proceed` / `  2. No, exit`; the
//! highlighted option is the one carrying a pointer glyph (`❯`, `›`, `>`, `→`). To pick an
//! option, [`select`] returns `Enter` when the wanted option is already highlighted, otherwise
//! the arrow keys that move the highlight onto it; the caller looks at the screen again before
//! confirming.

/// One option line of a menu.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MenuOption {
    /// Position in the menu, from 0.
    pub index: usize,
    /// The number printed before the text, when there is one.
    pub number: Option<u32>,
    /// The option's text without pointer and number.
    pub text: String,
    /// Whether the pointer is on this option.
    pub highlighted: bool,
}

const POINTERS: &[char] = &['\u{276F}', '\u{203A}', '>', '\u{2192}', '\u{25B8}', '\u{25B6}'];

/// Parses one line as a numbered option (`❯ 2. Text`, `  3) Text`).
fn parse_option(line: &str) -> Option<(bool, u32, String)> {
    let trimmed = line.trim_start_matches(|c: char| c.is_whitespace() || c == '│' || c == '┃' || c == '|');
    let (highlighted, rest) = match trimmed.strip_prefix(POINTERS) {
        Some(r) => (true, r.trim_start()),
        None => (false, trimmed),
    };
    let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
    if digits.is_empty() || digits.len() > 2 {
        return None;
    }
    let after = rest[digits.len()..].strip_prefix(['.', ')'])?;
    if !after.starts_with(char::is_whitespace) {
        return None;
    }
    let text = after.trim().trim_end_matches(['│', '|']).trim();
    if text.is_empty() {
        return None;
    }
    Some((highlighted, digits.parse().ok()?, text.to_owned()))
}

/// The last numbered menu on the screen (the options of one contiguous run, numbered 1, 2, …).
pub fn menu(screen: &str) -> Vec<MenuOption> {
    let mut current: Vec<MenuOption> = Vec::new();
    let mut last: Vec<MenuOption> = Vec::new();
    for line in screen.lines() {
        match parse_option(line) {
            Some((highlighted, number, text)) if number as usize == current.len() + 1 => {
                current.push(MenuOption { index: current.len(), number: Some(number), text, highlighted });
            }
            Some((highlighted, 1, text)) => {
                if !current.is_empty() {
                    last = std::mem::take(&mut current);
                }
                current.push(MenuOption { index: 0, number: Some(1), text, highlighted });
            }
            _ if line.trim().is_empty() || current.is_empty() => {}
            // A wrapped continuation or a hint line ends nothing; a new menu starts with `1.`.
            _ => {}
        }
    }
    if current.is_empty() { last } else { current }
}

/// The last menu on the screen: the numbered one ([`menu`]), else an unnumbered one — a pointer
/// line (`❯ Red`) among lines whose text starts in the pointer's text column (`  Blue`), right
/// above a hint that says how to confirm (a line with "enter"), as Copilot CLI's question form
/// draws it. An unnumbered option has no `number`; [`chosen`] then counts options from 1.
pub fn options(screen: &str) -> Vec<MenuOption> {
    let numbered = menu(screen);
    if !numbered.is_empty() {
        return numbered;
    }
    unnumbered(screen)
}

/// A line without a box's left border: its text and the column that text starts at.
fn unboxed(line: &str) -> (usize, &str) {
    let text = line.trim_start_matches(|c: char| c.is_whitespace() || c == '\u{2502}' || c == '|');
    let column = line.chars().count() - text.chars().count();
    (column, text.trim_end().trim_end_matches(['\u{2502}', '|']).trim_end())
}

fn unnumbered(screen: &str) -> Vec<MenuOption> {
    let lines: Vec<&str> = screen.lines().collect();
    // The last pointer line with text: its text column.
    let Some((at, column, first)) = lines.iter().enumerate().rev().find_map(|(i, line)| {
        let (col, text) = unboxed(line);
        let rest = text.strip_prefix(POINTERS)?;
        let option = rest.trim_start();
        (!option.is_empty() && rest.starts_with(char::is_whitespace))
            .then(|| (i, col + (text.chars().count() - option.chars().count()), option.to_owned()))
    }) else {
        return Vec::new();
    };
    let option_at = |i: usize| {
        let (col, text) = unboxed(lines[i]);
        (col == column && !text.is_empty() && !text.starts_with(POINTERS)).then(|| text.to_owned())
    };
    let mut above: Vec<String> = Vec::new();
    let mut i = at;
    while i > 0
        && let Some(text) = option_at(i - 1)
    {
        above.push(text);
        i -= 1;
    }
    above.reverse();
    let mut below: Vec<String> = Vec::new();
    let mut j = at + 1;
    while j < lines.len()
        && let Some(text) = option_at(j)
    {
        below.push(text);
        j += 1;
    }
    // A hint to confirm right after the options (one blank line allowed) makes it a menu.
    let hint = lines[j..].iter().map(|l| unboxed(l).1).find(|l| !l.is_empty());
    let blank_gap = lines[j..].iter().take_while(|l| unboxed(l).1.is_empty()).count();
    if blank_gap > 1 || !hint.is_some_and(|h| h.to_lowercase().contains("enter")) || above.len() + below.len() == 0 {
        return Vec::new();
    }
    let highlighted = above.len();
    above
        .into_iter()
        .chain(std::iter::once(first))
        .chain(below)
        .enumerate()
        .map(|(index, text)| MenuOption { index, number: None, text, highlighted: index == highlighted })
        .collect()
}

/// Keys that select the first option whose text satisfies `wanted`: `Enter` when it is
/// highlighted, arrows towards it when another option is, `None` when there is no such option
/// or no highlight to move from.
pub fn select(options: &[MenuOption], wanted: impl Fn(&str) -> bool) -> Option<Vec<String>> {
    let target = options.iter().find(|o| wanted(&o.text.to_lowercase()))?;
    let current = options.iter().find(|o| o.highlighted)?;
    if current.index == target.index {
        return Some(vec!["Enter".to_owned()]);
    }
    Some(arrows(current, target))
}

/// The option an answer names: its number (`2`), or its text — the whole text or, when only one
/// option starts with it, the start of it — ignoring case. `None`: the answer names no option
/// (free text, to be typed).
pub fn chosen<'a>(options: &'a [MenuOption], answer: &str) -> Option<&'a MenuOption> {
    let answer = answer.trim();
    if answer.is_empty() {
        return None;
    }
    if let Ok(n) = answer.parse::<u32>() {
        if options.iter().all(|o| o.number.is_none()) {
            return n.checked_sub(1).and_then(|i| options.get(i as usize));
        }
        return options.iter().find(|o| o.number == Some(n));
    }
    let lower = answer.to_lowercase();
    if let Some(o) = options.iter().find(|o| o.text.to_lowercase() == lower) {
        return Some(o);
    }
    let mut starting = options.iter().filter(|o| o.text.to_lowercase().starts_with(&lower));
    match (starting.next(), starting.next()) {
        (Some(o), None) => Some(o),
        _ => None,
    }
}

/// The arrow keys that move the highlight from `current` to `target` (none when they are one).
pub fn arrows(current: &MenuOption, target: &MenuOption) -> Vec<String> {
    let (key, n) = if target.index >= current.index {
        ("Down", target.index - current.index)
    } else {
        ("Up", current.index - target.index)
    };
    vec![key.to_owned(); n]
}

/// The answer for keys from [`select`]: `action` when they confirm the highlighted option
/// (`Enter`), `moved_selection` when they only move the highlight (the screen is read again
/// before anything is confirmed).
pub fn answer(dialog: &str, action: &str, keys: Vec<String>) -> crate::provider::DialogAnswer {
    let action = if keys == ["Enter"] { action } else { "moved_selection" };
    crate::provider::DialogAnswer { dialog: dialog.to_owned(), action: action.to_owned(), keys }
}

/// Whether the lower-cased screen contains every needle.
pub fn contains_all(lower_screen: &str, needles: &[&str]) -> bool {
    needles.iter().all(|n| lower_screen.contains(n))
}

#[cfg(test)]
mod chosen_tests {
    use super::*;

    const QUESTION: &str = "Which color should the button be?\n\u{276F} 1. Red\n     A red button\n  2. Blue\n     A blue button\n  3. Type something.\n\u{2500}\u{2500}\u{2500}\n  4. Chat about this\nEnter to select";

    #[test]
    fn an_answer_names_an_option_by_number_or_text() {
        let options = menu(QUESTION);
        assert_eq!(options.len(), 4, "{options:?}");
        let text = |a: &str| chosen(&options, a).map(|o| o.text.clone());
        assert_eq!(text("2").as_deref(), Some("Blue"));
        assert_eq!(text(" blue ").as_deref(), Some("Blue"));
        assert_eq!(text("Chat").as_deref(), Some("Chat about this"));
        assert_eq!(text("9"), None, "no such number");
        assert_eq!(text("Green, please"), None, "free text is typed, not chosen");
        assert_eq!(text(""), None);
        let red = &options[0];
        assert_eq!(arrows(red, &options[3]), ["Down", "Down", "Down"]);
        assert_eq!(arrows(&options[3], red), ["Up", "Up", "Up"]);
        assert!(arrows(red, red).is_empty());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_last_menu_and_its_highlight() {
        let screen = "Old menu\n\u{203A} 1. A\n  2. B\n\nDo you trust the files in this folder?\n\n  1. Yes, proceed\n\u{276F} 2. No, exit\n\nEnter to confirm";
        let m = menu(screen);
        assert_eq!(m.len(), 2);
        assert_eq!(m[0].text, "Yes, proceed");
        assert!(!m[0].highlighted && m[1].highlighted);
        assert_eq!(select(&m, |t| t.starts_with("yes")), Some(vec!["Up".to_owned()]));
        assert_eq!(select(&m, |t| t.starts_with("no")), Some(vec!["Enter".to_owned()]));
        assert_eq!(select(&m, |t| t.contains("maybe")), None);
    }

    #[test]
    fn boxed_and_parenthesised_options() {
        let screen = "│ > 1) Update now      │\n│   2) Skip             │\n│   3) Skip until next  │";
        let m = menu(screen);
        assert_eq!(m.iter().map(|o| o.text.as_str()).collect::<Vec<_>>(), ["Update now", "Skip", "Skip until next"]);
        assert_eq!(select(&m, |t| t == "skip"), Some(vec!["Down".to_owned()]));
    }

    #[test]
    fn unnumbered_menus_above_a_confirm_hint() {
        // Copilot CLI 1.0.102's `ask_user` form.
        let screen = " \u{276F} Pick a button color. scenario-ask\n \u{25CB} Asking user Waiting for response\n\u{2500}\u{2500}\u{2500}\n Copilot needs information.\n Which color should the button be?\n Color:\n \u{276F} Red\n   Blue\n   Other (type your answer)\n \u{2191}/\u{2193} select \u{b7} enter accept \u{b7} ctrl+d decline \u{b7} esc cancel\n";
        assert!(menu(screen).is_empty(), "not numbered");
        let m = options(screen);
        assert_eq!(m.iter().map(|o| o.text.as_str()).collect::<Vec<_>>(), ["Red", "Blue", "Other (type your answer)"]);
        assert!(m[0].highlighted && m.iter().all(|o| o.number.is_none()));
        assert_eq!(chosen(&m, "2").map(|o| o.text.as_str()), Some("Blue"));
        assert_eq!(chosen(&m, "blue").map(|o| o.index), Some(1));
        assert_eq!(chosen(&m, "0"), None);
        assert_eq!(chosen(&m, "4"), None);
        // Boxed, highlight in the middle, a blank line before the hint.
        let boxed = "\u{2502}   No, exit       \u{2502}\n\u{2502} \u{276F} Yes, I trust  \u{2502}\n\u{2502}                \u{2502}\n\u{2502} Enter to confirm \u{2502}";
        let m = options(boxed);
        assert_eq!(
            m.iter().map(|o| (o.text.as_str(), o.highlighted)).collect::<Vec<_>>(),
            [("No, exit", false), ("Yes, I trust", true)]
        );
        // A numbered menu wins; a prompt echo or a lone pointer line is no menu.
        assert_eq!(options("\u{276F} 1. Yes\n  2. No\nEnter to confirm")[0].number, Some(1));
        assert!(options(" \u{276F} Say hello.\n \u{25CF} Hello from the stand-in.\n\u{276F}\n").is_empty());
        assert!(options(" \u{276F} Red\n   Blue\n\n\n enter accept").is_empty(), "the hint is too far");
        assert!(options(" \u{276F} Red\n   Blue\n some other text").is_empty(), "no hint");
        assert!(options(" \u{276F} Red\n enter accept").is_empty(), "one option is no menu");
    }

    #[test]
    fn no_highlight_means_no_answer() {
        let m = menu("1. Yes\n2. No");
        assert_eq!(m.len(), 2);
        assert_eq!(select(&m, |t| t == "yes"), None);
        assert!(menu("version 1.2 is out\nnothing else").is_empty());
        assert!(menu("1.5x faster").is_empty());
    }
}
