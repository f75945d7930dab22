//! Text normalization shared by indexing, querying and scoring.

use std::borrow::Cow;

/// Normalizes customer or article text before it is analyzed.
///
/// The steps, in order:
/// - full-width ASCII variants (U+FF01..=U+FF5E, e.g. `ＡＢＣ１２３！`) become their
///   half-width forms (`ABC123!`), and the ideographic space U+3000 becomes a plain space;
/// - Traditional Chinese is folded to Simplified (see [`to_simplified`]);
/// - everything is lowercased;
/// - runs of whitespace collapse to one space, and the ends are trimmed.
///
/// ```
/// assert_eq!(kb::normalize("  ＡＢＣ１２３！\u{3000}Hello   World "), "abc123! hello world");
/// ```
pub fn normalize(text: &str) -> String {
    let folded: String = text.chars().map(fold_width).collect();
    let simplified = to_simplified(&folded);
    let mut out = String::with_capacity(simplified.len());
    let mut pending_space = false;
    for c in simplified.chars() {
        if c.is_whitespace() {
            pending_space = !out.is_empty();
            continue;
        }
        if pending_space {
            out.push(' ');
            pending_space = false;
        }
        out.extend(c.to_lowercase());
    }
    out
}

/// Maps one full-width ASCII variant or the ideographic space to its half-width form.
fn fold_width(c: char) -> char {
    match c {
        '\u{3000}' => ' ',
        '\u{FF01}'..='\u{FF5E}' => {
            // The full-width block mirrors ASCII 0x21..=0x7E at a fixed offset.
            char::from_u32(u32::from(c) - 0xFEE0).unwrap_or(c)
        }
        _ => c,
    }
}

/// Folds Traditional Chinese characters to Simplified ones ("請問運費怎麼算" -> "请问运费怎么算").
///
/// It uses the `fast2s` character table (with its few context rules, e.g. "乾隆" keeps its
/// "乾"). Simplified text and non-CJK text pass through unchanged. Because every analysis path
/// (indexing, querying, scoring) goes through [`normalize`], zh-TW articles and queries match
/// zh-CN ones on the same words.
fn to_simplified(text: &str) -> Cow<'_, str> {
    // Only CJK characters (3 bytes in UTF-8) can change: skip the conversion for plain ASCII.
    if text.is_ascii() {
        return Cow::Borrowed(text);
    }
    Cow::Owned(fast2s::convert(text))
}

#[cfg(test)]
mod tests {
    use super::normalize;

    #[test]
    fn full_width_ascii_becomes_half_width_and_lowercase() {
        assert_eq!(normalize("ＡＢＣ１２３！"), "abc123!");
        assert_eq!(normalize("（ｏｒｄｅｒ）：＃１２"), "(order):#12");
    }

    #[test]
    fn ideographic_space_becomes_a_plain_space() {
        assert_eq!(normalize("你好\u{3000}世界"), "你好 世界");
        assert_eq!(normalize("\u{3000}\u{3000}退货\u{3000}"), "退货");
    }

    #[test]
    fn mixed_case_is_lowercased() {
        assert_eq!(normalize("Where's My ORDER"), "where's my order");
        assert_eq!(normalize("iPhone 充电器"), "iphone 充电器");
    }

    #[test]
    fn whitespace_runs_collapse_and_ends_are_trimmed() {
        assert_eq!(
            normalize("  how \t\n long   does\u{3000} \u{3000}it take  "),
            "how long does it take"
        );
        assert_eq!(normalize(" \t\n\u{3000} "), "");
        assert_eq!(normalize(""), "");
    }

    #[test]
    fn other_characters_are_left_alone() {
        assert_eq!(normalize("快递到哪了？🙂"), "快递到哪了?🙂");
        assert_eq!(normalize("。。。"), "。。。");
    }

    #[test]
    fn traditional_chinese_becomes_simplified() {
        assert_eq!(normalize("請問運費怎麼算"), normalize("请问运费怎么算"));
        assert_eq!(normalize("請問運費怎麼算"), "请问运费怎么算");
        assert_eq!(normalize("退貨"), "退货");
        assert_eq!(normalize("發票"), "发票");
        assert_eq!(normalize("我的訂單還沒發貨嗎？"), "我的订单还没发货吗?");
    }

    #[test]
    fn simplified_and_mixed_text_is_unchanged_by_the_folding() {
        for text in [
            "请问运费怎么算",
            "iphone 充电器",
            "满59包邮",
            "where is my order",
        ] {
            assert_eq!(normalize(text), text);
        }
        assert_eq!(
            normalize("ＡｉｒＰｏｄｓ耳機保固多久"),
            "airpods耳机保固多久"
        );
    }
}
