//! The clinician's search of the directory: words, a category, and "accepting referrals only".
//!
//! Every word must appear (ignoring case and accents) in the service's name, offered code
//! displays, category display, comment or eligibility text. Services whose name alone holds
//! every word come first; otherwise the directory's order is kept.

use super::catalogue::{Directory, Service};

#[derive(Debug, Clone, Default)]
pub struct Query {
    /// Whitespace-separated words, all of which must match.
    pub text: String,
    /// A category code; empty means any category.
    pub category: String,
    /// Leave out services not accepting referrals.
    pub accepting_only: bool,
}

/// A search uses at most this many words, each cut to [`MAX_WORD_CHARS`]: the text comes from the
/// URL (`?q=`) and no service name needs more.
pub const MAX_WORDS: usize = 12;
pub const MAX_WORD_CHARS: usize = 64;

impl Directory {
    pub fn search(&self, q: &Query) -> Vec<&Service> {
        let words: Vec<String> = q
            .text
            .split_whitespace()
            .take(MAX_WORDS)
            .map(|w| fold(&w.chars().take(MAX_WORD_CHARS).collect::<String>()))
            .filter(|w| !w.is_empty())
            .collect();
        let category = q.category.trim();
        let mut by_name = Vec::new();
        let mut by_other = Vec::new();
        for s in self.services() {
            if q.accepting_only && !s.accepting {
                continue;
            }
            if !category.is_empty() && s.category.as_ref().map(|(code, _)| code.as_str()) != Some(category) {
                continue;
            }
            let name = fold(&s.name);
            if words.iter().all(|w| name.contains(w.as_str())) {
                by_name.push(s);
            } else {
                let all = haystack(s);
                if words.iter().all(|w| all.contains(w.as_str())) {
                    by_other.push(s);
                }
            }
        }
        by_name.extend(by_other);
        by_name
    }
}

/// Everything searchable about a service, folded. Fields are kept apart by newlines so that no
/// word matches across two of them.
fn haystack(s: &Service) -> String {
    let mut parts: Vec<&str> = vec![&s.name];
    parts.extend(s.codes.iter().map(|c| c.display.as_str()));
    parts.extend(s.category.as_ref().map(|(_, display)| display.as_str()));
    parts.extend(s.comment.as_deref());
    parts.extend(s.eligibility.iter().map(String::as_str));
    fold(&parts.join("\n"))
}

/// Lower case without accents: "Nutrición" and "NUTRICION" both become "nutricion".
/// Covers Latin-1 and Latin Extended-A letters, and drops combining accents (decomposed text).
pub(crate) fn fold(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars().flat_map(char::to_lowercase) {
        match fold_char(c) {
            Some(plain) => out.push_str(plain),
            None if ('\u{0300}'..='\u{036f}').contains(&c) => {}
            None => out.push(c),
        }
    }
    out
}

/// The unaccented spelling of a lower-case letter, when it has one.
fn fold_char(c: char) -> Option<&'static str> {
    Some(match c {
        'à' | 'á' | 'â' | 'ã' | 'ä' | 'å' | 'ā' | 'ă' | 'ą' => "a",
        'æ' => "ae",
        'ç' | 'ć' | 'ĉ' | 'ċ' | 'č' => "c",
        'ð' | 'ď' | 'đ' => "d",
        'è' | 'é' | 'ê' | 'ë' | 'ē' | 'ĕ' | 'ė' | 'ę' | 'ě' => "e",
        'ĝ' | 'ğ' | 'ġ' | 'ģ' => "g",
        'ĥ' | 'ħ' => "h",
        'ì' | 'í' | 'î' | 'ï' | 'ĩ' | 'ī' | 'ĭ' | 'į' | 'ı' => "i",
        'ĳ' => "ij",
        'ĵ' => "j",
        'ķ' | 'ĸ' => "k",
        'ĺ' | 'ļ' | 'ľ' | 'ŀ' | 'ł' => "l",
        'ñ' | 'ń' | 'ņ' | 'ň' | 'ŉ' | 'ŋ' => "n",
        'ò' | 'ó' | 'ô' | 'õ' | 'ö' | 'ø' | 'ō' | 'ŏ' | 'ő' => "o",
        'œ' => "oe",
        'ŕ' | 'ŗ' | 'ř' => "r",
        'ś' | 'ŝ' | 'ş' | 'š' | 'ſ' => "s",
        'ß' => "ss",
        'ţ' | 'ť' | 'ŧ' => "t",
        'þ' => "th",
        'ù' | 'ú' | 'û' | 'ü' | 'ũ' | 'ū' | 'ŭ' | 'ů' | 'ű' | 'ų' => "u",
        'ŵ' => "w",
        'ý' | 'ÿ' | 'ŷ' => "y",
        'ź' | 'ż' | 'ž' => "z",
        '‘' | '’' => "'",
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::directory::catalogue::ACCEPTING_REFERRALS_URL;
    use serde_json::{json, Value};

    fn hs(id: &str, name: &str, category: &str, code_display: &str, comment: &str, accepting: bool) -> Value {
        json!({
            "resourceType": "HealthcareService",
            "id": id,
            "name": name,
            "category": [{"coding": [{"code": category, "display": format!("Category {category}")}]}],
            "type": [{"coding": [{"system": "http://snomed.info/sct", "code": "1", "display": code_display}]}],
            "comment": comment,
            "eligibility": [{"comment": format!("Eligibility of {id}")}],
            "extension": [{"url": ACCEPTING_REFERRALS_URL, "valueBoolean": accepting}]
        })
    }

    fn dir() -> Directory {
        let services = json!([
            hs("walk", "Arthritis workshop", "chronic", "Exercise education", "Includes a walking group.", true),
            hs("nino", "Nutrición infantil", "nutrition", "Nutrition education", "Para familias.", true),
            hs("steps", "Walking for Health", "prevention", "Fall prevention", "Gentle outdoor walks.", true),
            hs("closed", "Stress group", "mental", "Cognitive behavioral therapy", "Waiting list closed.", false),
        ]);
        Directory::from_json(&services.to_string()).unwrap()
    }

    fn ids(found: Vec<&Service>) -> Vec<&str> {
        found.into_iter().map(|s| s.id.as_str()).collect()
    }

    fn text(t: &str) -> Query {
        Query { text: t.into(), ..Query::default() }
    }

    #[test]
    fn an_empty_query_returns_everything_in_order() {
        assert_eq!(ids(dir().search(&Query::default())), ["walk", "nino", "steps", "closed"]);
        assert_eq!(ids(dir().search(&text("   "))), ["walk", "nino", "steps", "closed"]);
        assert_eq!(Directory::builtin().search(&Query::default()).len(), Directory::builtin().services().len());
    }

    #[test]
    fn a_huge_query_is_cut_to_its_first_words() {
        // Twelve words that match, then a non-matching one: only the first twelve count.
        let q = format!("{} zzzz", ["arthritis"; MAX_WORDS].join(" "));
        assert_eq!(ids(dir().search(&text(&q))), ["walk"]);
        let q = "walk ".repeat(100_000);
        assert_eq!(ids(dir().search(&text(&q))), ["steps", "walk"]);
    }

    #[test]
    fn words_match_the_name_ignoring_case() {
        assert_eq!(ids(dir().search(&text("ARTHRITIS"))), ["walk"]);
        assert_eq!(ids(dir().search(&text("stress"))), ["closed"]);
        assert!(dir().search(&text("zzzz")).is_empty());
    }

    #[test]
    fn words_match_code_displays_category_comment_and_eligibility() {
        assert_eq!(ids(dir().search(&text("cognitive"))), ["closed"]);
        assert_eq!(ids(dir().search(&text("exercise"))), ["walk"]);
        assert_eq!(ids(dir().search(&text("category prevention"))), ["steps"]);
        assert_eq!(ids(dir().search(&text("outdoor"))), ["steps"]);
        assert_eq!(ids(dir().search(&text("eligibility nino"))), ["nino"]);
        // A word does not match across two fields.
        assert!(dir().search(&text("groupexercise")).is_empty());
    }

    #[test]
    fn accents_are_ignored_both_ways() {
        assert_eq!(ids(dir().search(&text("nutricion"))), ["nino"]);
        assert_eq!(ids(dir().search(&text("NUTRICIÓN infantil"))), ["nino"]);
        assert_eq!(ids(dir().search(&text("nutrición"))), ["nino"], "the accented word matches the plain one too");
        assert_eq!(fold("Ça Œuvre Straße Łódź Ångström"), "ca oeuvre strasse lodz angstrom");
        assert_eq!(fold("Nutric\u{0069}\u{0301}on"), "nutricion", "decomposed accents are dropped");
        assert_eq!(fold("İstanbul"), "istanbul");
    }

    #[test]
    fn every_word_must_match() {
        assert_eq!(ids(dir().search(&text("walking gentle"))), ["steps"]);
        assert_eq!(ids(dir().search(&text("walk"))), ["steps", "walk"]);
        assert!(dir().search(&text("walking stress")).is_empty());
    }

    #[test]
    fn name_matches_come_first() {
        // "walk" is only in the arthritis workshop's comment, but in the other's name.
        assert_eq!(ids(dir().search(&text("walking"))), ["steps", "walk"]);
        assert_eq!(ids(dir().search(&text("education"))), ["walk", "nino"], "otherwise directory order");
    }

    #[test]
    fn the_category_filters() {
        let q = Query { category: "prevention".into(), ..Query::default() };
        assert_eq!(ids(dir().search(&q)), ["steps"]);
        let q = Query { text: "walking".into(), category: "chronic".into(), ..Query::default() };
        assert_eq!(ids(dir().search(&q)), ["walk"]);
        let q = Query { category: "unknown".into(), ..Query::default() };
        assert!(dir().search(&q).is_empty());
    }

    #[test]
    fn accepting_only_drops_closed_services() {
        let q = Query { accepting_only: true, ..Query::default() };
        assert_eq!(ids(dir().search(&q)), ["walk", "nino", "steps"]);
        let q = Query { text: "stress".into(), accepting_only: true, ..Query::default() };
        assert!(dir().search(&q).is_empty());
    }

    #[test]
    fn the_builtin_directory_answers_each_use_case() {
        let dir = Directory::builtin();
        for (words, id) in [
            ("arthritis", "svc-arthritis-self-management"),
            ("diabetes prevention", "svc-diabetes-prevention"),
            ("child nutrition", "svc-early-childhood-nutrition"),
            ("blood pressure", "svc-hypertension"),
            ("hypertension", "svc-hypertension"),
            ("weight", "svc-weight-management"),
            ("smoking", "svc-tobacco-cessation"),
            ("falls", "svc-falls-prevention"),
        ] {
            let found = ids(dir.search(&text(words)));
            assert_eq!(found.first(), Some(&id), "{words}: {found:?}");
        }
        assert_eq!(ids(dir.search(&text("smoking"))), ["svc-tobacco-cessation"]);
        let q = Query { category: "nutrition".into(), ..Query::default() };
        assert!(dir.search(&q).iter().all(|s| s.category.as_ref().unwrap().0 == "nutrition"));
        assert_eq!(dir.search(&q).len(), 2);
    }
}
