//! Deterministic benchmark data: the demo knowledge base padded with synthetic shop FAQ.
//!
//! [`generate`] returns exactly `n` articles: every demo article unchanged (same ids, so eval
//! queries can still be scored against them), then synthetic product-specific articles such as
//! "森屿纯棉T恤偏大还是偏小" or "Does the Nova Pro power bank work with iPhone?". A synthetic
//! article is one (product, topic) pair: the product is `series + modifier + item` of one
//! product family (apparel, shoes, electronics; 20 series × 10–12 modifiers × 10–15 items, about
//! 7 000 products per language), the topic one of 13–14 question templates of that family
//! (stock, shipping time, returns, size, washing, warranty, compatibility...), each with 4–5
//! phrasings of which an article keeps 3–5 plus a templated answer. These articles compete with
//! the demo ones on the same words (尺码, 退货, warranty...), as a real large catalogue would.
//!
//! Determinism: no network, no clock, no external RNG crate. The (product, topic) pairs are
//! shuffled with a fixed-seed SplitMix64 and taken as a prefix, two thirds Chinese (zh-CN) and
//! one third English like the demo KB; each article's phrasings are chosen by an RNG seeded from
//! its own pair, so the set for a smaller `n` is a subset of the set for a larger `n` and the
//! same `n` always gives byte-identical JSON.

use kb::Article;

/// The fixed seed of the shuffle.
const SEED: u64 = 0x6b62_5f62_656e_6368;

/// SplitMix64: a tiny, well-distributed, seedable PRNG (enough for shuffling test data).
pub struct SplitMix64(u64);

impl SplitMix64 {
    /// A generator starting from `seed`.
    pub fn new(seed: u64) -> Self {
        Self(seed)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A number in `0..bound` (`bound` > 0; the modulo bias is irrelevant here).
    pub fn below(&mut self, bound: usize) -> usize {
        (self.next_u64() % bound as u64) as usize
    }

    /// Fisher–Yates shuffle.
    pub fn shuffle<T>(&mut self, items: &mut [T]) {
        for i in (1..items.len()).rev() {
            let j = self.below(i + 1);
            items.swap(i, j);
        }
    }
}

/// One question topic of a product family: its intent label, phrasings and answer, with `{p}`
/// standing for the product name.
struct Topic {
    key: &'static str,
    category: &'static str,
    phrasings: &'static [&'static str],
    answer: &'static str,
}

/// A product family of one language: how product names are built and which topics apply.
struct Family {
    key: &'static str,
    tag: &'static str,
    modifiers: &'static [&'static str],
    items: &'static [&'static str],
    /// Topics specific to the family; [`ZH_COMMON`] / [`EN_COMMON`] apply as well.
    topics: &'static [Topic],
}

/// One language's catalogue.
struct Language {
    locale: &'static str,
    series: &'static [&'static str],
    common: &'static [Topic],
    families: &'static [Family],
    /// Builds a product name from series, modifier and item.
    product: fn(&str, &str, &str) -> String,
}

const ZH_SERIES: &[&str] = &[
    "森屿", "北野", "木槿", "半夏", "拾光", "青柠", "初语", "南风", "云朵", "小鹿", "星河", "知夏",
    "暖阳", "山茶", "鲸落", "白桦", "橙子", "麦田", "雾岛", "松果",
];

const EN_SERIES: &[&str] = &[
    "Aurora", "Breeze", "Cedar", "Dune", "Ember", "Fjord", "Grove", "Harbor", "Iris", "Juniper",
    "Kestrel", "Lumen", "Maple", "Nova", "Onyx", "Pebble", "Quill", "Ridge", "Sierra", "Tide",
];

const ZH_COMMON: &[Topic] = &[
    Topic {
        key: "stock",
        category: "product_inquiry",
        phrasings: &[
            "{p}还有货吗",
            "{p}什么时候补货",
            "{p}是不是断货了",
            "{p}有现货吗",
            "想买{p}，现在还能拍吗",
        ],
        answer: "亲，{p}目前有现货，下单后48小时内发货；个别颜色或规格缺货时详情页会显示预计到货时间，点「到货通知」就能第一时间收到提醒哦～",
    },
    Topic {
        key: "ship",
        category: "shipping",
        phrasings: &[
            "{p}什么时候发货",
            "{p}今天下单今天能发吗",
            "{p}几天能到",
            "拍了{p}多久发货",
            "{p}是预售吗",
        ],
        answer: "亲，{p}是现货款，当天16点前付款当天发出，之后的次日发出；默认中通/圆通，江浙沪一般1-2天到，其他地区2-4天，偏远地区5-7天～",
    },
    Topic {
        key: "return",
        category: "return_refund",
        phrasings: &[
            "{p}可以退货吗",
            "{p}支持七天无理由吗",
            "{p}不喜欢能退吗",
            "{p}拆封了还能退吗",
            "{p}退货运费谁出",
        ],
        answer: "亲，{p}支持七天无理由退换，不影响二次销售（吊牌、包装、配件齐全）即可；质量问题运费由我们承担，非质量问题来回运费需要您承担，下单时已送运费险的可抵扣～",
    },
    Topic {
        key: "promo",
        category: "promotion",
        phrasings: &[
            "{p}有优惠吗",
            "{p}能用优惠券吗",
            "{p}参加满减吗",
            "{p}什么时候降价",
            "{p}买两件有折扣吗",
        ],
        answer: "亲，{p}参加店铺满199减20、满399减50活动，可以和店铺优惠券叠加使用；首页领券中心每天10点发券，买两件以上还能再享9.5折～",
    },
    Topic {
        key: "genuine",
        category: "product_inquiry",
        phrasings: &[
            "{p}是正品吗",
            "{p}有质检报告吗",
            "{p}是不是原厂的",
            "{p}假一赔几",
        ],
        answer: "亲，{p}是品牌官方授权正品，每批次都有第三方质检报告，可以在详情页最后一张图查看；支持专柜验货，假一赔十～",
    },
    Topic {
        key: "gift",
        category: "product_inquiry",
        phrasings: &[
            "{p}有赠品吗",
            "{p}可以送礼吗，有礼盒包装吗",
            "{p}能帮忙写贺卡吗",
            "{p}包装怎么样",
        ],
        answer: "亲，{p}下单备注「礼盒」即可免费升级礼盒包装，可以代写贺卡（备注里写上祝福语），包裹内不放价格单，直接寄给对方也没问题～",
    },
    Topic {
        key: "price_protect",
        category: "promotion",
        phrasings: &[
            "{p}买贵了能退差价吗",
            "{p}保价吗",
            "{p}降价了怎么补差价",
            "刚买的{p}就降价了怎么办",
        ],
        answer: "亲，{p}签收后15天内价保，如果同款同规格降价，联系客服提供订单号即可退差价，差价原路退回；大促预售和限时秒杀价格不在价保范围内哦～",
    },
    Topic {
        key: "invoice",
        category: "invoice",
        phrasings: &[
            "{p}能开发票吗",
            "{p}可以开专票吗",
            "买{p}怎么开发票",
            "{p}发票抬头写公司可以吗",
        ],
        answer: "亲，{p}支持开具电子普票和专票，确认收货后在订单详情点「申请开票」填写抬头和税号即可，电子发票1-3个工作日发到您的邮箱～",
    },
];

const ZH_APPAREL: &[Topic] = &[
    Topic {
        key: "size",
        category: "product_inquiry",
        phrasings: &[
            "{p}尺码怎么选",
            "{p}偏大还是偏小",
            "{p}有尺码表吗",
            "身高165体重55穿{p}什么码",
            "{p}要不要拍大一码",
        ],
        answer: "亲，{p}是标准码，详情页有尺码表（胸围、衣长、肩宽、袖长）；身高160-165、体重45-55kg选S，165-170、55-62kg选M，喜欢宽松可以拍大一码，把身高体重发给我可以帮您推荐～",
    },
    Topic {
        key: "wash",
        category: "product_inquiry",
        phrasings: &[
            "{p}可以机洗吗",
            "{p}怎么洗",
            "{p}会缩水吗",
            "{p}掉色吗",
            "{p}能烘干吗",
        ],
        answer: "亲，{p}建议30℃以下冷水手洗或洗衣袋轻柔机洗，深浅色分开，不可漂白、不建议烘干，反面晾晒；出厂前做过预缩处理，正常洗涤基本不缩水～",
    },
    Topic {
        key: "fabric",
        category: "product_inquiry",
        phrasings: &[
            "{p}是什么面料",
            "{p}含棉量多少",
            "{p}透气吗",
            "{p}起球吗",
            "{p}厚不厚",
        ],
        answer: "亲，{p}面料成分在详情页「商品参数」里有写，主面料经过抗起球测试，亲肤透气，厚度适中，春秋单穿、冬天内搭都合适～",
    },
    Topic {
        key: "color",
        category: "product_inquiry",
        phrasings: &[
            "{p}有色差吗",
            "{p}有哪些颜色",
            "{p}黑色好看还是白色好看",
            "{p}实物和图片一样吗",
        ],
        answer: "亲，{p}的图片都是实物自然光拍摄，不同屏幕可能有轻微色差；目前有黑、白、杏、灰、雾蓝五个颜色，最受欢迎的是杏色和雾蓝～",
    },
    Topic {
        key: "exchange",
        category: "return_refund",
        phrasings: &[
            "{p}不合适能换码吗",
            "{p}换尺码运费谁出",
            "{p}怎么换大一号",
            "{p}尺码拍错了能换吗",
        ],
        answer: "亲，{p}收到后7天内可以换码，在订单里申请「换货」选择新尺码，寄回时吊牌保持完好；有运费险的寄回运费由运费险赔付，换出的新件包邮寄给您～",
    },
];

const ZH_SHOES: &[Topic] = &[
    Topic {
        key: "size",
        category: "product_inquiry",
        phrasings: &[
            "{p}尺码标准吗",
            "{p}偏大还是偏小",
            "脚长25厘米穿{p}多大码",
            "{p}要买大半码吗",
            "{p}脚宽能穿吗",
        ],
        answer: "亲，{p}是标准码，按平时穿的码数拍就行；脚长24.5cm对应39码、25cm对应40码、25.5cm对应41码，脚宽或脚背高建议拍大半码～",
    },
    Topic {
        key: "comfort",
        category: "product_inquiry",
        phrasings: &[
            "{p}磨脚吗",
            "{p}软不软",
            "{p}走路久了累吗",
            "{p}适合跑步吗",
        ],
        answer: "亲，{p}内里是柔软的超纤皮，鞋垫带回弹缓震层，日常通勤走一天也不累脚；新鞋前两天可能略硬，穿开就好，专业跑步建议选我们的跑鞋系列～",
    },
    Topic {
        key: "material",
        category: "product_inquiry",
        phrasings: &[
            "{p}是真皮吗",
            "{p}鞋底是什么材质",
            "{p}防水吗",
            "{p}防滑吗",
        ],
        answer: "亲，{p}的鞋面材质详见商品参数，鞋底是耐磨防滑橡胶大底，日常小雨天没问题，但不建议长时间泡水～",
    },
    Topic {
        key: "care",
        category: "product_inquiry",
        phrasings: &[
            "{p}怎么清洗",
            "{p}能水洗吗",
            "{p}发黄了怎么办",
            "{p}有异味怎么处理",
        ],
        answer: "亲，{p}建议用软毛刷加中性清洁剂局部刷洗，不要整只泡水或暴晒，阴干即可；鞋边发黄可以用白色牙膏轻擦，鞋里放竹炭包能去味～",
    },
    Topic {
        key: "exchange",
        category: "return_refund",
        phrasings: &[
            "{p}不合适能换码吗",
            "{p}换尺码运费谁出",
            "{p}怎么换大半码",
            "{p}码数拍错了能换吗",
        ],
        answer: "亲，{p}收到后7天内可以换码，鞋盒和鞋底保持干净无磨损即可，在订单里申请「换货」选择新码数，新鞋包邮寄出～",
    },
];

const ZH_ELECTRONICS: &[Topic] = &[
    Topic {
        key: "warranty",
        category: "product_inquiry",
        phrasings: &[
            "{p}保修多久",
            "{p}坏了怎么保修",
            "{p}有没有售后",
            "{p}支持全国联保吗",
        ],
        answer: "亲，{p}享受一年质保、7天无理由退货、15天质量问题换新；保修期内非人为损坏免费维修，联系客服提供订单号和故障视频即可申请～",
    },
    Topic {
        key: "compat",
        category: "product_inquiry",
        phrasings: &[
            "{p}支持苹果手机吗",
            "{p}兼容安卓吗",
            "{p}能连电脑吗",
            "{p}支持华为吗",
        ],
        answer: "亲，{p}兼容iPhone、安卓（华为、小米、OPPO、vivo等）以及Windows/Mac电脑，蓝牙5.3，连接稳定，详细兼容列表在详情页有写～",
    },
    Topic {
        key: "battery",
        category: "product_inquiry",
        phrasings: &[
            "{p}续航多久",
            "{p}能用多长时间",
            "{p}充满电要多久",
            "{p}电池耐用吗",
        ],
        answer: "亲，{p}满电可以连续使用约8-10小时，待机约30天，支持快充，充电1.5小时左右充满；电池循环寿命500次以上～",
    },
    Topic {
        key: "usage",
        category: "product_inquiry",
        phrasings: &[
            "{p}怎么连接",
            "{p}怎么配对",
            "{p}说明书在哪",
            "{p}怎么恢复出厂设置",
        ],
        answer: "亲，{p}首次使用长按电源键3秒进入配对模式（指示灯蓝红交替闪），在手机蓝牙里选择设备名即可；恢复出厂设置长按电源键10秒，电子说明书在详情页底部～",
    },
    Topic {
        key: "fault",
        category: "complaint",
        phrasings: &[
            "{p}充不进电怎么办",
            "{p}连不上怎么办",
            "{p}没声音怎么回事",
            "{p}开不了机",
        ],
        answer: "亲，{p}先换一根数据线和充电头试试，再长按电源键10秒重启；还不行请拍一段故障视频发给客服，确认是质量问题我们直接换新，来回运费我们承担～",
    },
    Topic {
        key: "spec",
        category: "product_inquiry",
        phrasings: &[
            "{p}有什么参数",
            "{p}重量多少",
            "{p}支持快充吗",
            "{p}防水等级是多少",
        ],
        answer: "亲，{p}的完整参数（尺寸、重量、电池容量、接口、防水等级）都在详情页「规格参数」里，支持PD快充，防水等级IPX5，日常防汗防溅水没问题～",
    },
];

const ZH_FAMILIES: &[Family] = &[
    Family {
        key: "apparel",
        tag: "服装",
        modifiers: &[
            "纯棉", "宽松", "修身", "加厚", "薄款", "复古", "法式", "韩版", "百搭", "长款", "短款",
            "高领",
        ],
        items: &[
            "T恤",
            "衬衫",
            "连衣裙",
            "卫衣",
            "羽绒服",
            "风衣",
            "毛衣",
            "针织衫",
            "牛仔裤",
            "阔腿裤",
            "半身裙",
            "西装外套",
            "夹克",
            "睡衣",
            "运动裤",
        ],
        topics: ZH_APPAREL,
    },
    Family {
        key: "shoes",
        tag: "鞋子",
        modifiers: &[
            "透气", "防滑", "厚底", "轻便", "真皮", "网面", "加绒", "复古", "百搭", "软底",
        ],
        items: &[
            "运动鞋",
            "帆布鞋",
            "小白鞋",
            "马丁靴",
            "乐福鞋",
            "凉鞋",
            "拖鞋",
            "跑步鞋",
            "雪地靴",
            "板鞋",
        ],
        topics: ZH_SHOES,
    },
    Family {
        key: "electronics",
        tag: "数码",
        modifiers: &[
            "Pro",
            "Max",
            "Mini",
            "Lite",
            "Plus",
            "Air",
            "标准版",
            "青春版",
            "旗舰版",
            "2024款",
        ],
        items: &[
            "蓝牙耳机",
            "充电宝",
            "数据线",
            "充电器",
            "智能手表",
            "手机壳",
            "蓝牙音箱",
            "机械键盘",
            "无线鼠标",
            "护眼台灯",
        ],
        topics: ZH_ELECTRONICS,
    },
];

const EN_COMMON: &[Topic] = &[
    Topic {
        key: "stock",
        category: "product_inquiry",
        phrasings: &[
            "Is the {p} in stock?",
            "When will the {p} be restocked?",
            "Is the {p} sold out?",
            "Can I still order the {p}?",
            "Do you have the {p} available now?",
        ],
        answer: "The {p} is in stock and ships within 48 hours of your order. If a colour or size is sold out, the product page shows the expected restock date, and you can tap \"Notify me\" to get an email when it is back.",
    },
    Topic {
        key: "ship",
        category: "shipping",
        phrasings: &[
            "When will the {p} ship?",
            "If I order the {p} today, does it ship today?",
            "How long does the {p} take to arrive?",
            "Is the {p} a pre-order?",
            "How soon do you dispatch the {p}?",
        ],
        answer: "Orders for the {p} placed before 4 pm ship the same day, later ones the next business day. Domestic delivery usually takes 2-4 days, international 7-15 days; you will get a tracking number by email.",
    },
    Topic {
        key: "return",
        category: "return_refund",
        phrasings: &[
            "Can I return the {p}?",
            "What is the return policy for the {p}?",
            "Can I return the {p} if I opened it?",
            "Who pays return shipping for the {p}?",
            "I don't like the {p}, can I send it back?",
        ],
        answer: "You can return the {p} within 7 days of delivery as long as it is unused with tags and packaging. We cover return shipping for defects; for a change of mind the return postage is yours. Refunds go back to the original payment method.",
    },
    Topic {
        key: "promo",
        category: "promotion",
        phrasings: &[
            "Is there a discount on the {p}?",
            "Can I use a coupon for the {p}?",
            "Will the {p} go on sale?",
            "Do you have a promo code for the {p}?",
            "Is there a bundle deal if I buy two {p}?",
        ],
        answer: "The {p} is included in our store-wide offer: $20 off orders over $199 and $50 off over $399, stackable with store coupons. Buy two or more and get an extra 5% off at checkout.",
    },
    Topic {
        key: "genuine",
        category: "product_inquiry",
        phrasings: &[
            "Is the {p} authentic?",
            "Is the {p} an original product?",
            "Does the {p} come with a quality certificate?",
            "Is the {p} a knockoff?",
        ],
        answer: "The {p} is 100% authentic and sourced directly from the brand. Every batch passes a third-party quality inspection; the report is the last image on the product page.",
    },
    Topic {
        key: "gift",
        category: "product_inquiry",
        phrasings: &[
            "Can the {p} be gift wrapped?",
            "Can I add a gift message to the {p}?",
            "How is the {p} packaged?",
            "Does the {p} come with a free gift?",
        ],
        answer: "Add the note \"gift box\" at checkout and we wrap the {p} in a gift box for free. We can include a handwritten card with your message, and no price slip is put in the parcel.",
    },
    Topic {
        key: "price_protect",
        category: "promotion",
        phrasings: &[
            "The {p} dropped in price after I bought it, can I get the difference?",
            "Do you offer price protection on the {p}?",
            "Can I get a partial refund on the {p} now that it is cheaper?",
            "I paid more for the {p} than today's price",
        ],
        answer: "The {p} has 15-day price protection from delivery: if the same item drops in price, contact us with your order number and we refund the difference to your original payment method. Flash sales are excluded.",
    },
    Topic {
        key: "invoice",
        category: "invoice",
        phrasings: &[
            "Can I get an invoice for the {p}?",
            "Can I get a VAT invoice for the {p}?",
            "How do I get a receipt for the {p}?",
            "Can the {p} invoice be issued to my company?",
        ],
        answer: "Yes, after the {p} is delivered open the order and choose \"Request invoice\", then enter the billing name and tax ID. The electronic invoice is emailed to you within 1-3 business days.",
    },
];

const EN_APPAREL: &[Topic] = &[
    Topic {
        key: "size",
        category: "product_inquiry",
        phrasings: &[
            "What size should I get in the {p}?",
            "Does the {p} run small or large?",
            "Is there a size chart for the {p}?",
            "I'm 5'6 and 130 lbs, which size of the {p} fits me?",
            "Should I size up in the {p}?",
        ],
        answer: "The {p} is true to size; the size chart (chest, length, shoulder, sleeve) is on the product page. 5'3-5'5 and 100-120 lbs usually take S, 5'5-5'7 and 120-135 lbs take M. Size up for a relaxed fit, or send us your height and weight for a recommendation.",
    },
    Topic {
        key: "wash",
        category: "product_inquiry",
        phrasings: &[
            "Can the {p} be machine washed?",
            "How do I wash the {p}?",
            "Will the {p} shrink?",
            "Does the {p} fade?",
            "Can I tumble dry the {p}?",
        ],
        answer: "Wash the {p} cold (below 30°C) by hand or in a laundry bag on a gentle cycle, separate darks and lights, no bleach, and dry flat inside out. The fabric is pre-shrunk, so it keeps its size.",
    },
    Topic {
        key: "fabric",
        category: "product_inquiry",
        phrasings: &[
            "What material is the {p}?",
            "How much cotton is in the {p}?",
            "Is the {p} breathable?",
            "Does the {p} pill?",
            "How thick is the {p}?",
        ],
        answer: "The full composition of the {p} is listed under \"Details\" on the product page. The main fabric passed an anti-pilling test, is soft and breathable, and has a medium weight that works alone in spring or layered in winter.",
    },
    Topic {
        key: "color",
        category: "product_inquiry",
        phrasings: &[
            "Does the {p} look like the photos?",
            "What colors does the {p} come in?",
            "Is the {p} color accurate?",
            "Which color of the {p} is most popular?",
        ],
        answer: "All photos of the {p} are of the real item in natural light, though screens can show slight differences. It comes in black, white, apricot, grey and misty blue; apricot and misty blue are the favourites.",
    },
    Topic {
        key: "exchange",
        category: "return_refund",
        phrasings: &[
            "Can I exchange the {p} for another size?",
            "Who pays shipping to exchange the {p}?",
            "How do I swap the {p} for a bigger size?",
            "I ordered the wrong size of the {p}, can I exchange it?",
        ],
        answer: "You can exchange the {p} for another size within 7 days of delivery: choose \"Exchange\" in the order and pick the new size, and keep the tags on. The replacement ships to you for free.",
    },
];

const EN_SHOES: &[Topic] = &[
    Topic {
        key: "size",
        category: "product_inquiry",
        phrasings: &[
            "Are the {p} true to size?",
            "Do the {p} run small or large?",
            "My foot is 25 cm long, what size of the {p} should I get?",
            "Should I go half a size up in the {p}?",
            "Are the {p} good for wide feet?",
        ],
        answer: "The {p} are true to size, so order your usual size. Foot length 24.5 cm is EU 39, 25 cm is EU 40, 25.5 cm is EU 41; with wide feet or a high instep go half a size up.",
    },
    Topic {
        key: "comfort",
        category: "product_inquiry",
        phrasings: &[
            "Are the {p} comfortable?",
            "Do the {p} rub or give blisters?",
            "Can I walk all day in the {p}?",
            "Are the {p} good for running?",
        ],
        answer: "The {p} have a soft microfibre lining and a cushioned insole, comfortable for a full day of walking. They may feel a little stiff for the first two days; for serious running pick our running line.",
    },
    Topic {
        key: "material",
        category: "product_inquiry",
        phrasings: &[
            "Are the {p} real leather?",
            "What is the sole of the {p} made of?",
            "Are the {p} waterproof?",
            "Are the {p} slip resistant?",
        ],
        answer: "The upper material of the {p} is listed in the product details; the outsole is hard-wearing non-slip rubber. They handle light rain, but do not soak them.",
    },
    Topic {
        key: "care",
        category: "product_inquiry",
        phrasings: &[
            "How do I clean the {p}?",
            "Can the {p} go in the washing machine?",
            "The {p} turned yellow, what can I do?",
            "How do I get rid of the smell in the {p}?",
        ],
        answer: "Clean the {p} with a soft brush and mild detergent, spot by spot; do not soak or dry them in direct sun. White toothpaste removes yellowing on the edges and a charcoal bag inside keeps them fresh.",
    },
    Topic {
        key: "exchange",
        category: "return_refund",
        phrasings: &[
            "Can I exchange the {p} for another size?",
            "Who pays shipping to exchange the {p}?",
            "How do I swap the {p} for half a size bigger?",
            "I ordered the wrong size of the {p}, can I exchange it?",
        ],
        answer: "You can exchange the {p} within 7 days of delivery if the soles are clean and unworn: choose \"Exchange\" in the order, pick the new size, and the new pair ships for free.",
    },
];

const EN_ELECTRONICS: &[Topic] = &[
    Topic {
        key: "warranty",
        category: "product_inquiry",
        phrasings: &[
            "What is the warranty on the {p}?",
            "My {p} broke, how do I claim the warranty?",
            "Does the {p} have after-sales support?",
            "How long is the {p} covered?",
        ],
        answer: "The {p} has a one-year warranty, 7-day returns and 15-day replacement for defects. Within the warranty, non-accidental faults are repaired for free: send us the order number and a short video of the problem.",
    },
    Topic {
        key: "compat",
        category: "product_inquiry",
        phrasings: &[
            "Does the {p} work with iPhone?",
            "Is the {p} compatible with Android?",
            "Can I connect the {p} to my laptop?",
            "Does the {p} work with Samsung phones?",
        ],
        answer: "The {p} works with iPhone, Android phones (Samsung, Pixel, Xiaomi...) and Windows or Mac computers over Bluetooth 5.3. The full compatibility list is on the product page.",
    },
    Topic {
        key: "battery",
        category: "product_inquiry",
        phrasings: &[
            "How long does the {p} battery last?",
            "How long does it take to charge the {p}?",
            "What is the battery life of the {p}?",
            "Does the {p} battery degrade quickly?",
        ],
        answer: "A full charge of the {p} lasts about 8-10 hours of use and 30 days on standby. It supports fast charging and is full in about 1.5 hours; the battery is rated for 500+ cycles.",
    },
    Topic {
        key: "usage",
        category: "product_inquiry",
        phrasings: &[
            "How do I pair the {p}?",
            "How do I connect the {p}?",
            "Where is the manual for the {p}?",
            "How do I factory reset the {p}?",
        ],
        answer: "To pair the {p}, hold the power button for 3 seconds until the light flashes blue and red, then pick it in your phone's Bluetooth list. Hold the button for 10 seconds to factory reset; the manual is at the bottom of the product page.",
    },
    Topic {
        key: "fault",
        category: "complaint",
        phrasings: &[
            "My {p} won't charge",
            "My {p} won't connect, what should I do?",
            "The {p} has no sound",
            "The {p} won't turn on",
        ],
        answer: "Please try another cable and charger with the {p}, then hold the power button for 10 seconds to restart it. If it still fails, send us a short video: if it is a defect we replace it and cover shipping both ways.",
    },
    Topic {
        key: "spec",
        category: "product_inquiry",
        phrasings: &[
            "What are the specs of the {p}?",
            "How much does the {p} weigh?",
            "Does the {p} support fast charging?",
            "Is the {p} waterproof?",
        ],
        answer: "All specs of the {p} (size, weight, battery capacity, ports, water resistance) are under \"Specifications\" on the product page. It supports PD fast charging and is rated IPX5 against sweat and splashes.",
    },
];

const EN_FAMILIES: &[Family] = &[
    Family {
        key: "apparel",
        tag: "apparel",
        modifiers: &[
            "cotton",
            "linen",
            "oversized",
            "slim-fit",
            "cropped",
            "vintage",
            "fleece-lined",
            "lightweight",
            "high-waist",
            "longline",
            "relaxed",
            "ribbed",
        ],
        items: &[
            "T-shirt",
            "shirt",
            "dress",
            "hoodie",
            "down jacket",
            "trench coat",
            "sweater",
            "cardigan",
            "jeans",
            "wide-leg pants",
            "skirt",
            "blazer",
            "jacket",
            "pajamas",
            "joggers",
        ],
        topics: EN_APPAREL,
    },
    Family {
        key: "shoes",
        tag: "shoes",
        modifiers: &[
            "breathable",
            "non-slip",
            "platform",
            "lightweight",
            "leather",
            "mesh",
            "waterproof",
            "retro",
            "slip-on",
            "cushioned",
        ],
        items: &[
            "sneakers",
            "canvas shoes",
            "white sneakers",
            "Chelsea boots",
            "loafers",
            "sandals",
            "slippers",
            "running shoes",
            "snow boots",
            "court shoes",
        ],
        topics: EN_SHOES,
    },
    Family {
        key: "electronics",
        tag: "electronics",
        modifiers: &[
            "Pro", "Max", "Mini", "Lite", "Plus", "Air", "SE", "Ultra", "Neo", "2024",
        ],
        items: &[
            "wireless earbuds",
            "power bank",
            "USB-C cable",
            "charger",
            "smartwatch",
            "phone case",
            "Bluetooth speaker",
            "mechanical keyboard",
            "wireless mouse",
            "desk lamp",
        ],
        topics: EN_ELECTRONICS,
    },
];

const LANGUAGES: &[Language] = &[
    Language {
        locale: "zh-CN",
        series: ZH_SERIES,
        common: ZH_COMMON,
        families: ZH_FAMILIES,
        // "森屿" + "纯棉" + "T恤" -> "森屿纯棉T恤"
        product: |series, modifier, item| format!("{series}{modifier}{item}"),
    },
    Language {
        locale: "en",
        series: EN_SERIES,
        common: EN_COMMON,
        families: EN_FAMILIES,
        // "Nova" + "Pro" + "power bank" -> "Nova Pro power bank"
        product: |series, modifier, item| format!("{series} {modifier} {item}"),
    },
];

/// One synthetic article before rendering: indices into a language's catalogue.
#[derive(Clone, Copy)]
struct Pair {
    family: usize,
    series: usize,
    modifier: usize,
    item: usize,
    /// Index into `common ++ family.topics`.
    topic: usize,
}

/// Every (product, topic) pair of a language, in a fixed order.
fn pairs(lang: &Language) -> Vec<Pair> {
    let mut out = Vec::new();
    for (family, f) in lang.families.iter().enumerate() {
        let topics = lang.common.len() + f.topics.len();
        for series in 0..lang.series.len() {
            for modifier in 0..f.modifiers.len() {
                for item in 0..f.items.len() {
                    for topic in 0..topics {
                        out.push(Pair {
                            family,
                            series,
                            modifier,
                            item,
                            topic,
                        });
                    }
                }
            }
        }
    }
    out
}

/// Renders one pair into an article; its phrasings depend only on the pair.
fn render(lang: &Language, pair: Pair) -> Article {
    let family = &lang.families[pair.family];
    let topic = lang
        .common
        .iter()
        .chain(family.topics)
        .nth(pair.topic)
        .expect("pair.topic indexes common ++ family topics");
    let product = (lang.product)(
        lang.series[pair.series],
        family.modifiers[pair.modifier],
        family.items[pair.item],
    );
    let id = format!(
        "syn-{}-{}-{}-{}-{}-{}",
        lang.locale, family.key, pair.series, pair.modifier, pair.item, topic.key
    );
    // Per-article RNG seeded from the id: 3–5 of the topic's phrasings, in a random order.
    let mut rng = SplitMix64::new(SEED ^ fnv1a(id.as_bytes()));
    let mut order: Vec<usize> = (0..topic.phrasings.len()).collect();
    rng.shuffle(&mut order);
    let keep = (3 + rng.below(3)).min(order.len());
    let mut phrasings = order[..keep]
        .iter()
        .map(|&ix| topic.phrasings[ix].replace("{p}", &product));
    let question = phrasings
        .next()
        .expect("every topic has at least 3 phrasings");
    Article {
        id,
        question,
        similar: phrasings.collect(),
        answer: topic.answer.replace("{p}", &product),
        category: topic.category.to_string(),
        locale: lang.locale.to_string(),
        tags: vec![family.tag.to_string(), topic.key.to_string()],
        enabled: true,
    }
}

/// FNV-1a, to derive per-article seeds from ids (stable across platforms and Rust versions,
/// unlike `DefaultHasher`).
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, &b| {
        (hash ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

/// Exactly `n` articles: all of `demo` (first, unchanged), then `n - demo.len()` synthetic
/// ones, two thirds zh-CN and one third en. Panics if `n` is smaller than the demo set or
/// larger than the catalogue (about 190 000 articles).
pub fn generate(demo: &[Article], n: usize) -> Vec<Article> {
    assert!(
        n >= demo.len(),
        "asked for {n} articles, fewer than the {} demo articles",
        demo.len()
    );
    let synthetic = n - demo.len();
    let zh = synthetic * 2 / 3;
    let quotas = [zh, synthetic - zh];
    let mut out = demo.to_vec();
    out.reserve(synthetic);
    for (li, (lang, quota)) in LANGUAGES.iter().zip(quotas).enumerate() {
        let mut all = pairs(lang);
        assert!(
            quota <= all.len(),
            "{} catalogue has {} pairs, {quota} asked",
            lang.locale,
            all.len()
        );
        SplitMix64::new(SEED.wrapping_add(li as u64)).shuffle(&mut all);
        out.extend(all[..quota].iter().map(|&pair| render(lang, pair)));
    }
    out
}
