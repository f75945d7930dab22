//! Entities a customer mentions: order numbers, phone numbers, amounts, e-mail addresses.
//!
//! Extraction runs on normalised text (half-width digits). Digit runs are classified by
//! length and shape rather than by regular-expression look-around, which the `regex` crate
//! does not offer: an 11-digit run starting `1[3-9]` is a mainland mobile number, a run of
//! 10 to 20 digits is an order number (Taobao and Tmall use 18 or 19 digits, JD 11 to 12).

use regex::Regex;
use serde::{Deserialize, Serialize};
use std::sync::OnceLock;

/// What the customer mentioned, each list in order of first mention without repeats.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entities {
    pub order_ids: Vec<String>,
    pub phones: Vec<String>,
    pub amounts: Vec<String>,
    pub emails: Vec<String>,
    /// Courier tracking numbers (SF, YT, JT, JD, EMS... followed by digits).
    #[serde(default)]
    pub tracking_numbers: Vec<String>,
}

/// Shop-specific order-number shapes, beside the built-in ones (digit runs of 10 to 20, and
/// dated numbers such as `20231122-8842`).
#[derive(Debug, Clone, Default)]
pub struct EntityConfig {
    pub order_patterns: Vec<Regex>,
}

fn tracking_re() -> &'static Regex {
    static RE: OnceLock<Regex> = OnceLock::new();
    RE.get_or_init(|| {
        Regex::new(r"(?i)(?:jdv|sf|yt|jt|jd|ems|dpk|zto|sto|yd)[0-9]{10,15}")
            .expect("the tracking pattern is a valid regex")
    })
}

fn dated_order_re() -> &'static Regex {
    static RE: OnceLock<Regex> = OnceLock::new();
    RE.get_or_init(|| {
        Regex::new(r"20[0-9]{6}-[0-9]{3,10}").expect("the dated order pattern is a valid regex")
    })
}

fn amount_re() -> &'static Regex {
    static RE: OnceLock<Regex> = OnceLock::new();
    RE.get_or_init(|| {
        Regex::new(r"(?i)(?:[¥￥$]\s*\d+(?:\.\d{1,2})?)|(?:\d+(?:\.\d{1,2})?\s*(?:元|块钱|块|rmb|yuan|usd|dollars?))")
            .expect("the amount pattern is a valid regex")
    })
}

fn email_re() -> &'static Regex {
    static RE: OnceLock<Regex> = OnceLock::new();
    RE.get_or_init(|| {
        Regex::new(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}")
            .expect("the e-mail pattern is a valid regex")
    })
}

fn digits_re() -> &'static Regex {
    static RE: OnceLock<Regex> = OnceLock::new();
    // Order numbers may carry a letter prefix (e.g. "DD20240101..."); the run itself is digits.
    RE.get_or_init(|| Regex::new(r"[0-9]+").expect("the digit pattern is a valid regex"))
}

fn push_unique(list: &mut Vec<String>, value: String) {
    if !list.contains(&value) {
        list.push(value);
    }
}

/// Finds the entities in `text` (normalised or not: full-width digits are folded first).
pub fn extract_entities(text: &str) -> Entities {
    extract_entities_with(text, &EntityConfig::default())
}

/// [`extract_entities`] with the shop's own order-number patterns.
pub fn extract_entities_with(text: &str, config: &EntityConfig) -> Entities {
    let text = kb::normalize(text);
    let mut out = Entities::default();
    // Parts already claimed by a more specific entity are not read again as digit runs.
    let mut claimed: Vec<std::ops::Range<usize>> = Vec::new();
    for m in tracking_re().find_iter(&text) {
        push_unique(&mut out.tracking_numbers, m.as_str().to_uppercase());
        claimed.push(m.range());
    }
    for re in config
        .order_patterns
        .iter()
        .chain(std::iter::once(dated_order_re()))
    {
        for m in re.find_iter(&text) {
            if !claimed
                .iter()
                .any(|r| r.start <= m.start() && m.end() <= r.end)
            {
                push_unique(&mut out.order_ids, m.as_str().to_owned());
                claimed.push(m.range());
            }
        }
    }
    for m in email_re().find_iter(&text) {
        push_unique(&mut out.emails, m.as_str().to_owned());
    }
    for m in amount_re().find_iter(&text) {
        push_unique(&mut out.amounts, m.as_str().replace(' ', ""));
    }
    for m in digits_re().find_iter(&text) {
        // Digits inside an e-mail address are part of the address, not an order.
        if out.emails.iter().any(|e| e.contains(m.as_str()))
            || claimed
                .iter()
                .any(|r| r.start <= m.start() && m.end() <= r.end)
        {
            continue;
        }
        let run = m.as_str();
        let bytes = run.as_bytes();
        if run.len() == 11 && bytes[0] == b'1' && (b'3'..=b'9').contains(&bytes[1]) {
            push_unique(&mut out.phones, run.to_owned());
        } else if (10..=20).contains(&run.len()) {
            push_unique(&mut out.order_ids, run.to_owned());
        }
    }
    out
}

/// Masks a phone number or e-mail address for logs: `138****5678`, `a***@example.com`.
pub fn mask(value: &str) -> String {
    if let Some((user, domain)) = value.split_once('@') {
        let first: String = user.chars().take(1).collect();
        return format!("{first}***@{domain}");
    }
    let chars: Vec<char> = value.chars().collect();
    if chars.len() <= 7 {
        return "*".repeat(chars.len());
    }
    let head: String = chars[..3].iter().collect();
    let tail: String = chars[chars.len() - 4..].iter().collect();
    format!("{head}****{tail}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(text: &str, orders: &[&str], phones: &[&str], amounts: &[&str]) {
        let e = extract_entities(text);
        assert_eq!(e.order_ids, orders, "orders in {text:?}");
        assert_eq!(e.phones, phones, "phones in {text:?}");
        assert_eq!(e.amounts, amounts, "amounts in {text:?}");
    }

    #[test]
    fn finds_order_numbers_phones_and_amounts_in_chinese_text() {
        check(
            "订单号3456789012345678901还没发货",
            &["3456789012345678901"],
            &[],
            &[],
        );
        check(
            "我的电话13812345678，订单１２３４５６７８９０１２",
            &["123456789012"],
            &["13812345678"],
            &[],
        );
        check(
            "退款¥129.50还没到，另外付了20元运费",
            &[],
            &[],
            &["¥129.50", "20元"],
        );
        check(
            "order 2024010112345678 charged $35 twice",
            &["2024010112345678"],
            &[],
            &["$35"],
        );
        check("我要退货", &[], &[], &[]);
    }

    #[test]
    fn repeated_mentions_are_listed_once() {
        check(
            "订单1234567890123，就是1234567890123",
            &["1234567890123"],
            &[],
            &[],
        );
    }

    #[test]
    fn e_mail_addresses_are_found_and_their_digits_are_not_orders() {
        let e = extract_entities("mail me at buyer2024123456789@example.com");
        assert_eq!(e.emails, ["buyer2024123456789@example.com"]);
        assert!(e.order_ids.is_empty());
    }

    #[test]
    fn tracking_numbers_and_dated_or_configured_orders_are_recognised() {
        let e = extract_entities("顺丰单号SF1234567890123，订单 20231122-8842");
        assert_eq!(e.tracking_numbers, ["SF1234567890123"]);
        assert_eq!(e.order_ids, ["20231122-8842"]);
        let config = EntityConfig {
            order_patterns: vec![Regex::new(r"dd[0-9]{6}").expect("valid")],
        };
        let e = extract_entities_with("my order DD123456 is late", &config);
        assert_eq!(e.order_ids, ["dd123456"]);
    }

    #[test]
    fn masks_hide_the_middle() {
        assert_eq!(mask("13812345678"), "138****5678");
        assert_eq!(mask("alice@example.com"), "a***@example.com");
    }
}
