//! The offline generator's catalogue: the app kinds it knows, their keyword tables (Chinese and
//! English) and the blueprint of each kind (data models, fields, feature pages, roles), in both
//! languages. Pure data: every table is a `static` slice, so iteration order is fixed.

/// How much an app offers, derived from the age group.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Level {
    /// Elementary school: fewer pages and fields, large friendly wording.
    Basic,
    /// Middle and high school (and unknown audiences).
    Standard,
    /// University: more fields and a statistics page.
    Advanced,
}

/// A text in both languages.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Txt {
    pub en: &'static str,
    pub zh: &'static str,
}

pub(crate) const fn t(en: &'static str, zh: &'static str) -> Txt {
    Txt { en, zh }
}

/// The type of a field plus the validation it gets.
#[derive(Debug, Clone, Copy)]
pub(crate) enum FieldType {
    /// One line of text, at most `max` characters.
    Text {
        max: u32,
    },
    /// Several lines of text, at most `max` characters.
    LongText {
        max: u32,
    },
    /// A time of day `HH:MM`, stored as a string with a pattern.
    Time,
    Number {
        min: i64,
        max: i64,
    },
    Boolean,
    Date,
}

#[derive(Debug, Clone, Copy)]
pub(crate) struct FieldDef {
    pub name: &'static str,
    pub label: Txt,
    pub ty: FieldType,
    pub required: bool,
    pub level: Level,
}

const fn req(name: &'static str, label: Txt, ty: FieldType) -> FieldDef {
    FieldDef {
        name,
        label,
        ty,
        required: true,
        level: Level::Basic,
    }
}

const fn opt(name: &'static str, label: Txt, ty: FieldType, level: Level) -> FieldDef {
    FieldDef {
        name,
        label,
        ty,
        required: false,
        level,
    }
}

const fn text(max: u32) -> FieldType {
    FieldType::Text { max }
}

const fn long(max: u32) -> FieldType {
    FieldType::LongText { max }
}

const fn num(min: i64, max: i64) -> FieldType {
    FieldType::Number { min, max }
}

/// Which actions a role may perform on a data model.
#[derive(Debug, Clone, Copy)]
pub(crate) struct RuleDef {
    pub role: &'static str,
    pub actions: &'static [&'static str],
}

const CRUD: &[&str] = &["create", "read", "update", "delete"];
const READ: &[&str] = &["read"];
const CREATE_READ: &[&str] = &["create", "read"];

const fn rule(role: &'static str, actions: &'static [&'static str]) -> RuleDef {
    RuleDef { role, actions }
}

/// A data model and the standard pages (list, form) built around it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ModelDef {
    pub id: &'static str,
    /// Path segment and id of the list page (`/{plural}`).
    pub plural: &'static str,
    pub name: Txt,
    pub plural_name: Txt,
    /// The model exists from this level on.
    pub level: Level,
    /// The list page exists from this level on.
    pub list: Option<Level>,
    /// The form page exists from this level on.
    pub form: Option<Level>,
    /// Name of the form page when it is not "New {name}" (e.g. "Sign up").
    pub form_name: Option<Txt>,
    /// The form page gets its own button on the home page.
    pub form_on_home: bool,
    pub title_field: &'static str,
    pub subtitle_field: Option<&'static str>,
    pub fields: &'static [FieldDef],
    pub rules: &'static [RuleDef],
}

/// The main widget of a feature page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Widget {
    Quiz,
    Flashcard,
    Storefront,
    Poll,
    Week,
    CheckIn,
    MoodBoard,
    Progress,
}

/// The button of a feature page and the flow it runs.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ActionDef {
    pub flow_id: &'static str,
    pub flow_name: Txt,
    pub button: Txt,
    pub state_key: &'static str,
    pub state_value: &'static str,
    /// Index (into the kind's models) of the model a record is created in, if any.
    pub creates: Option<usize>,
    /// Deletes the finished records of the widget's model (`{"done": true}`).
    pub deletes_done: bool,
}

/// A page specific to the kind (the quiz player, the storefront, ...).
#[derive(Debug, Clone, Copy)]
pub(crate) struct FeatureDef {
    pub page_id: &'static str,
    pub path: &'static str,
    pub name: Txt,
    pub purpose: Txt,
    pub level: Level,
    pub widget: Widget,
    /// Index (into the kind's models) of the model the widget shows.
    pub model: usize,
    pub action: Option<ActionDef>,
}

/// The kinds of app the offline generator recognises.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum AppKind {
    Quiz,
    Flashcards,
    Todo,
    Diary,
    Shop,
    Club,
    Poll,
    Timetable,
    Library,
    Habit,
    Guestbook,
    /// Fallback: an information app with a home page, a list and a form.
    Generic,
}

impl AppKind {
    pub const ALL: [AppKind; 12] = [
        AppKind::Quiz,
        AppKind::Flashcards,
        AppKind::Todo,
        AppKind::Diary,
        AppKind::Shop,
        AppKind::Club,
        AppKind::Poll,
        AppKind::Timetable,
        AppKind::Library,
        AppKind::Habit,
        AppKind::Guestbook,
        AppKind::Generic,
    ];

    pub fn as_str(&self) -> &'static str {
        match self {
            AppKind::Quiz => "quiz",
            AppKind::Flashcards => "flashcards",
            AppKind::Todo => "todo",
            AppKind::Diary => "diary",
            AppKind::Shop => "shop",
            AppKind::Club => "club",
            AppKind::Poll => "poll",
            AppKind::Timetable => "timetable",
            AppKind::Library => "library",
            AppKind::Habit => "habit",
            AppKind::Guestbook => "guestbook",
            AppKind::Generic => "generic",
        }
    }

    pub fn parse(s: &str) -> Option<AppKind> {
        AppKind::ALL.into_iter().find(|k| k.as_str() == s)
    }

    pub(crate) fn def(&self) -> &'static KindDef {
        match self {
            AppKind::Quiz => &QUIZ,
            AppKind::Flashcards => &FLASHCARDS,
            AppKind::Todo => &TODO,
            AppKind::Diary => &DIARY,
            AppKind::Shop => &SHOP,
            AppKind::Club => &CLUB,
            AppKind::Poll => &POLL,
            AppKind::Timetable => &TIMETABLE,
            AppKind::Library => &LIBRARY,
            AppKind::Habit => &HABIT,
            AppKind::Guestbook => &GUESTBOOK,
            AppKind::Generic => &GENERIC,
        }
    }
}

/// Everything the generator knows about one kind.
#[derive(Debug)]
pub(crate) struct KindDef {
    /// Lower-case keywords with their weight (3 = decisive, 2 = strong, 1 = hint). ASCII keywords
    /// match on word boundaries (a plural `s`/`es` allowed), Chinese ones as substrings.
    pub keywords: &'static [(&'static str, u32)],
    pub default_name: Txt,
    pub intro: Txt,
    pub intro_simple: Txt,
    pub roles: &'static [&'static str],
    pub modules: &'static [&'static str],
    pub models: &'static [ModelDef],
    pub features: &'static [FeatureDef],
}

use Level::{Advanced, Basic, Standard};

static QUIZ: KindDef = KindDef {
    keywords: &[
        ("vocabulary quiz", 3),
        ("quiz", 3),
        ("quizzes", 3),
        ("trivia", 3),
        ("question bank", 3),
        ("test", 2),
        ("exam", 2),
        ("测验", 3),
        ("答题", 3),
        ("问答", 3),
        ("小测", 3),
        ("题库", 3),
        ("练习题", 3),
        ("测试", 2),
        ("考试", 2),
        ("单词", 1),
        ("背单词", 1),
    ],
    default_name: t("Quiz", "小测验"),
    intro: t(
        "Answer the questions, check your score and keep improving.",
        "回答题目，查看成绩，不断进步。",
    ),
    intro_simple: t(
        "Let's answer some questions and see how many you get right!",
        "一起来答题，看看你能答对几道吧！",
    ),
    roles: &["student", "teacher"],
    modules: &["question-bank", "quiz-player", "score-records"],
    models: &[
        ModelDef {
            id: "question",
            plural: "questions",
            name: t("Question", "题目"),
            plural_name: t("Questions", "题目列表"),
            level: Basic,
            list: Some(Standard),
            form: Some(Basic),
            form_name: None,
            form_on_home: false,
            title_field: "question",
            subtitle_field: Some("answer"),
            fields: &[
                req("question", t("Question", "题目"), text(200)),
                req(
                    "options",
                    t("Options (comma separated)", "选项（用逗号分隔）"),
                    text(300),
                ),
                req("answer", t("Correct answer", "正确答案"), text(100)),
                opt("explanation", t("Explanation", "解析"), long(500), Standard),
                opt("topic", t("Topic", "知识点"), text(50), Advanced),
                opt(
                    "difficulty",
                    t("Difficulty (1-5)", "难度（1-5）"),
                    num(1, 5),
                    Advanced,
                ),
            ],
            rules: &[rule("teacher", CRUD), rule("student", READ)],
        },
        ModelDef {
            id: "result",
            plural: "results",
            name: t("Result", "成绩"),
            plural_name: t("Results", "成绩记录"),
            level: Standard,
            list: Some(Standard),
            form: None,
            form_name: None,
            form_on_home: false,
            title_field: "playerName",
            subtitle_field: Some("score"),
            fields: &[
                req("playerName", t("Name", "姓名"), text(50)),
                req("score", t("Score", "得分"), num(0, 100)),
                req("takenAt", t("Date", "日期"), FieldType::Date),
                opt(
                    "durationSeconds",
                    t("Time used (seconds)", "用时（秒）"),
                    num(0, 36000),
                    Advanced,
                ),
            ],
            rules: &[
                rule("student", CREATE_READ),
                rule("teacher", &["read", "delete"]),
            ],
        },
    ],
    features: &[FeatureDef {
        page_id: "quiz",
        path: "/quiz",
        name: t("Take the quiz", "开始答题"),
        purpose: t(
            "Answer the questions one by one and get a score",
            "逐题作答并得到分数",
        ),
        level: Basic,
        widget: Widget::Quiz,
        model: 0,
        action: Some(ActionDef {
            flow_id: "submit-quiz",
            flow_name: t("Submit answers", "提交答案"),
            button: t("Submit answers", "提交答案"),
            state_key: "quizFinished",
            state_value: "true",
            creates: Some(1),
            deletes_done: false,
        }),
    }],
};

static FLASHCARDS: KindDef = KindDef {
    keywords: &[
        ("flashcard", 3),
        ("flash card", 3),
        ("flash-card", 3),
        ("word card", 3),
        ("memory card", 3),
        ("单词卡", 3),
        ("闪卡", 3),
        ("记忆卡", 3),
        ("抽认卡", 3),
        ("卡片", 2),
    ],
    default_name: t("Flashcards", "记忆闪卡"),
    intro: t(
        "Make your own cards, flip them and remember more every day.",
        "制作自己的卡片，翻一翻，每天多记一点。",
    ),
    intro_simple: t(
        "Look at the card, guess the answer, then flip it over!",
        "看看卡片，猜一猜答案，再翻过来看看吧！",
    ),
    roles: &["student", "teacher"],
    modules: &["card-deck", "study-mode", "review-history"],
    models: &[
        ModelDef {
            id: "card",
            plural: "cards",
            name: t("Card", "卡片"),
            plural_name: t("Cards", "卡片列表"),
            level: Basic,
            list: Some(Standard),
            form: Some(Basic),
            form_name: None,
            form_on_home: false,
            title_field: "front",
            subtitle_field: Some("back"),
            fields: &[
                req(
                    "front",
                    t("Front (word or term)", "正面（单词或术语）"),
                    text(100),
                ),
                req("back", t("Back (meaning)", "背面（释义）"), text(300)),
                opt("deck", t("Deck", "卡组"), text(50), Standard),
                opt(
                    "example",
                    t("Example sentence", "例句"),
                    long(300),
                    Advanced,
                ),
                opt(
                    "mastered",
                    t("Mastered", "已掌握"),
                    FieldType::Boolean,
                    Advanced,
                ),
            ],
            rules: &[rule("student", CRUD), rule("teacher", READ)],
        },
        ModelDef {
            id: "review",
            plural: "reviews",
            name: t("Review", "复习记录"),
            plural_name: t("Review history", "复习记录"),
            level: Standard,
            list: Some(Standard),
            form: None,
            form_name: None,
            form_on_home: false,
            title_field: "cardFront",
            subtitle_field: Some("reviewedAt"),
            fields: &[
                req("cardFront", t("Card", "卡片"), text(100)),
                opt(
                    "remembered",
                    t("Remembered", "记住了"),
                    FieldType::Boolean,
                    Basic,
                ),
                req("reviewedAt", t("Reviewed on", "复习日期"), FieldType::Date),
                opt(
                    "confidence",
                    t("Confidence (1-5)", "把握程度（1-5）"),
                    num(1, 5),
                    Advanced,
                ),
            ],
            rules: &[rule("student", CREATE_READ), rule("teacher", READ)],
        },
    ],
    features: &[FeatureDef {
        page_id: "study",
        path: "/study",
        name: t("Study", "开始学习"),
        purpose: t("Flip through the cards one at a time", "一张一张翻卡片学习"),
        level: Basic,
        widget: Widget::Flashcard,
        model: 0,
        action: Some(ActionDef {
            flow_id: "next-card",
            flow_name: t("I remember it", "我记住了"),
            button: t("I remember it", "我记住了"),
            state_key: "cardIndex",
            state_value: "next",
            creates: Some(1),
            deletes_done: false,
        }),
    }],
};

static TODO: KindDef = KindDef {
    keywords: &[
        ("to-do", 3),
        ("todo", 3),
        ("to do list", 3),
        ("task list", 3),
        ("checklist", 3),
        ("task", 2),
        ("homework", 1),
        ("待办", 3),
        ("任务清单", 3),
        ("清单", 2),
        ("任务", 2),
        ("作业", 1),
    ],
    default_name: t("To-Do List", "待办清单"),
    intro: t(
        "Write down what you need to do and tick it off when it is done.",
        "记下要做的事情，完成后把它勾掉。",
    ),
    intro_simple: t(
        "Write down your jobs for today and tick them when you finish!",
        "把今天要做的事写下来，做完就打个勾吧！",
    ),
    roles: &["student", "teacher"],
    modules: &["task-list", "task-editor", "progress"],
    models: &[ModelDef {
        id: "task",
        plural: "tasks",
        name: t("Task", "任务"),
        plural_name: t("Tasks", "任务列表"),
        level: Basic,
        list: Some(Basic),
        form: Some(Basic),
        form_name: None,
        form_on_home: false,
        title_field: "title",
        subtitle_field: Some("done"),
        fields: &[
            req("title", t("Task", "任务"), text(100)),
            opt("done", t("Done", "已完成"), FieldType::Boolean, Basic),
            opt(
                "dueDate",
                t("Due date", "截止日期"),
                FieldType::Date,
                Standard,
            ),
            opt("subject", t("Subject", "科目"), text(30), Standard),
            opt(
                "priority",
                t("Priority (1-3)", "优先级（1-3）"),
                num(1, 3),
                Advanced,
            ),
            opt("notes", t("Notes", "备注"), long(500), Advanced),
        ],
        rules: &[rule("student", CRUD), rule("teacher", READ)],
    }],
    features: &[FeatureDef {
        page_id: "progress",
        path: "/progress",
        name: t("My progress", "完成进度"),
        purpose: t(
            "See how many tasks are done and clear finished ones",
            "查看完成了多少任务，清理已完成的任务",
        ),
        level: Standard,
        widget: Widget::Progress,
        model: 0,
        action: Some(ActionDef {
            flow_id: "clear-done",
            flow_name: t("Clear finished tasks", "清除已完成任务"),
            button: t("Clear finished tasks", "清除已完成任务"),
            state_key: "lastCleared",
            state_value: "done",
            creates: None,
            deletes_done: true,
        }),
    }],
};

static DIARY: KindDef = KindDef {
    keywords: &[
        ("diary", 3),
        ("diaries", 3),
        ("journal", 3),
        ("mood", 2),
        ("日记", 3),
        ("心情", 2),
        ("日志", 2),
        ("随笔", 2),
    ],
    default_name: t("My Diary", "日记本"),
    intro: t(
        "Write about your day, record your mood and look back on good memories.",
        "记录每一天，写下心情，回顾美好的时光。",
    ),
    intro_simple: t(
        "Tell your diary what happened today and how you feel!",
        "把今天发生的事和你的心情告诉日记本吧！",
    ),
    roles: &["student", "teacher"],
    modules: &["entries", "entry-editor", "mood-board"],
    models: &[ModelDef {
        id: "entry",
        plural: "entries",
        name: t("Entry", "日记"),
        plural_name: t("Entries", "日记列表"),
        level: Basic,
        list: Some(Basic),
        form: Some(Basic),
        form_name: Some(t("Write an entry", "写日记")),
        form_on_home: true,
        title_field: "title",
        subtitle_field: Some("date"),
        fields: &[
            req("title", t("Title", "标题"), text(100)),
            req("date", t("Date", "日期"), FieldType::Date),
            req(
                "content",
                t("What happened today", "今天发生了什么"),
                long(2000),
            ),
            opt("mood", t("Mood", "心情"), text(20), Standard),
            opt("weather", t("Weather", "天气"), text(20), Advanced),
            opt("tags", t("Tags", "标签"), text(100), Advanced),
        ],
        rules: &[rule("student", CRUD), rule("teacher", READ)],
    }],
    features: &[FeatureDef {
        page_id: "moods",
        path: "/moods",
        name: t("Mood board", "心情墙"),
        purpose: t(
            "See which moods came up most often",
            "看看哪种心情出现得最多",
        ),
        level: Standard,
        widget: Widget::MoodBoard,
        model: 0,
        action: None,
    }],
};

static SHOP: KindDef = KindDef {
    keywords: &[
        ("shop", 3),
        ("store", 3),
        ("shopping", 3),
        ("market", 2),
        ("商店", 3),
        ("商城", 3),
        ("小卖部", 3),
        ("购物", 3),
        ("义卖", 3),
        ("跳蚤市场", 3),
        ("商品", 2),
    ],
    default_name: t("School Shop", "校园小商店"),
    intro: t(
        "Browse the products, place an order and let the shopkeeper handle the rest.",
        "浏览商品、下单购买，店主会处理你的订单。",
    ),
    intro_simple: t(
        "Come and see what is in the shop today!",
        "快来看看小商店里今天有什么吧！",
    ),
    roles: &["customer", "shopkeeper"],
    modules: &["catalogue", "storefront", "orders"],
    models: &[
        ModelDef {
            id: "product",
            plural: "products",
            name: t("Product", "商品"),
            plural_name: t("Products", "商品管理"),
            level: Basic,
            list: Some(Standard),
            form: Some(Basic),
            form_name: None,
            form_on_home: false,
            title_field: "name",
            subtitle_field: Some("price"),
            fields: &[
                req("name", t("Product name", "商品名称"), text(60)),
                req("price", t("Price", "价格"), num(0, 100_000)),
                opt("stock", t("Stock", "库存"), num(0, 100_000), Standard),
                opt("description", t("Description", "描述"), long(300), Standard),
                opt("category", t("Category", "分类"), text(30), Advanced),
                opt(
                    "onSale",
                    t("On sale", "促销中"),
                    FieldType::Boolean,
                    Advanced,
                ),
            ],
            rules: &[rule("shopkeeper", CRUD), rule("customer", READ)],
        },
        ModelDef {
            id: "order",
            plural: "orders",
            name: t("Order", "订单"),
            plural_name: t("Orders", "订单列表"),
            level: Basic,
            list: Some(Standard),
            form: None,
            form_name: None,
            form_on_home: false,
            title_field: "productName",
            subtitle_field: Some("quantity"),
            fields: &[
                req("productName", t("Product", "商品"), text(60)),
                req("quantity", t("Quantity", "数量"), num(1, 99)),
                req("buyerName", t("Buyer", "购买人"), text(30)),
                opt(
                    "orderedAt",
                    t("Order date", "下单日期"),
                    FieldType::Date,
                    Standard,
                ),
                opt("paid", t("Paid", "已付款"), FieldType::Boolean, Advanced),
            ],
            rules: &[
                rule("customer", CREATE_READ),
                rule("shopkeeper", &["read", "update"]),
            ],
        },
    ],
    features: &[FeatureDef {
        page_id: "shop",
        path: "/shop",
        name: t("Shop", "逛商店"),
        purpose: t("Browse the products and buy one", "浏览商品并下单购买"),
        level: Basic,
        widget: Widget::Storefront,
        model: 0,
        action: Some(ActionDef {
            flow_id: "place-order",
            flow_name: t("Place order", "下单"),
            button: t("Buy now", "立即购买"),
            state_key: "lastOrder",
            state_value: "placed",
            creates: Some(1),
            deletes_done: false,
        }),
    }],
};

static CLUB: KindDef = KindDef {
    keywords: &[
        ("club", 3),
        ("sign-up", 2),
        ("signup", 2),
        ("sign up", 1),
        ("registration", 2),
        ("register", 1),
        ("enrol", 2),
        ("enroll", 2),
        ("recruit", 2),
        ("recruitment", 2),
        ("社团", 3),
        ("报名", 3),
        ("招新", 3),
        ("纳新", 3),
    ],
    default_name: t("Club Sign-up", "社团报名"),
    intro: t(
        "Find a club you like and sign up in a minute.",
        "找到喜欢的社团，一分钟完成报名。",
    ),
    intro_simple: t(
        "Pick a club you like and tell us your name to join!",
        "选一个你喜欢的社团，填上名字就能报名啦！",
    ),
    roles: &["student", "organizer"],
    modules: &["clubs", "sign-up-form", "applications"],
    models: &[
        ModelDef {
            id: "club",
            plural: "clubs",
            name: t("Club", "社团"),
            plural_name: t("Clubs", "社团列表"),
            level: Standard,
            list: Some(Standard),
            form: Some(Standard),
            form_name: None,
            form_on_home: false,
            title_field: "name",
            subtitle_field: Some("meetingTime"),
            fields: &[
                req("name", t("Club name", "社团名称"), text(50)),
                req("description", t("Introduction", "社团简介"), long(300)),
                opt(
                    "meetingTime",
                    t("Meeting time", "活动时间"),
                    text(50),
                    Standard,
                ),
                opt("capacity", t("Places", "招收人数"), num(1, 500), Advanced),
                opt(
                    "advisor",
                    t("Advisor teacher", "指导老师"),
                    text(30),
                    Advanced,
                ),
            ],
            rules: &[rule("organizer", CRUD), rule("student", READ)],
        },
        ModelDef {
            id: "application",
            plural: "applications",
            name: t("Application", "报名"),
            plural_name: t("Applications", "报名名单"),
            level: Basic,
            list: Some(Basic),
            form: Some(Basic),
            form_name: Some(t("Sign up", "我要报名")),
            form_on_home: true,
            title_field: "studentName",
            subtitle_field: Some("clubName"),
            fields: &[
                req("studentName", t("Name", "姓名"), text(30)),
                req("className", t("Class", "班级"), text(30)),
                req("clubName", t("Club", "想加入的社团"), text(50)),
                opt(
                    "contact",
                    t("Contact (phone or email)", "联系方式"),
                    text(50),
                    Standard,
                ),
                opt(
                    "reason",
                    t("Why do you want to join?", "报名理由"),
                    long(300),
                    Standard,
                ),
                opt(
                    "experience",
                    t("Related experience", "相关经历"),
                    long(300),
                    Advanced,
                ),
                opt(
                    "appliedAt",
                    t("Date", "报名日期"),
                    FieldType::Date,
                    Advanced,
                ),
            ],
            rules: &[
                rule("student", CREATE_READ),
                rule("organizer", &["read", "update", "delete"]),
            ],
        },
    ],
    features: &[],
};

static POLL: KindDef = KindDef {
    keywords: &[
        ("poll", 3),
        ("vote", 3),
        ("voting", 3),
        ("survey", 2),
        ("election", 2),
        ("questionnaire", 2),
        ("投票", 3),
        ("问卷", 2),
        ("调查", 2),
        ("选举", 2),
    ],
    default_name: t("Class Poll", "班级投票"),
    intro: t(
        "Ask a question, let everyone vote and see the results straight away.",
        "发起一个问题，大家一起投票，马上看到结果。",
    ),
    intro_simple: t(
        "Choose your favourite answer and see what your classmates chose!",
        "选出你最喜欢的答案，看看同学们都选了什么！",
    ),
    roles: &["student", "teacher"],
    modules: &["polls", "voting", "results"],
    models: &[
        ModelDef {
            id: "poll",
            plural: "polls",
            name: t("Poll", "投票"),
            plural_name: t("Polls", "投票列表"),
            level: Basic,
            list: Some(Standard),
            form: Some(Basic),
            form_name: None,
            form_on_home: false,
            title_field: "question",
            subtitle_field: Some("options"),
            fields: &[
                req("question", t("Question", "投票问题"), text(200)),
                req(
                    "options",
                    t("Options (comma separated)", "选项（用逗号分隔）"),
                    text(300),
                ),
                opt(
                    "closesAt",
                    t("Closes on", "截止日期"),
                    FieldType::Date,
                    Standard,
                ),
                opt(
                    "anonymous",
                    t("Anonymous", "匿名投票"),
                    FieldType::Boolean,
                    Advanced,
                ),
                opt(
                    "multipleChoice",
                    t("Allow several choices", "允许多选"),
                    FieldType::Boolean,
                    Advanced,
                ),
            ],
            rules: &[rule("teacher", CRUD), rule("student", CREATE_READ)],
        },
        ModelDef {
            id: "vote",
            plural: "votes",
            name: t("Vote", "选票"),
            plural_name: t("Results", "投票结果"),
            level: Basic,
            list: Some(Standard),
            form: None,
            form_name: None,
            form_on_home: false,
            title_field: "choice",
            subtitle_field: Some("pollQuestion"),
            fields: &[
                req("pollQuestion", t("Poll", "投票"), text(200)),
                req("choice", t("Choice", "选择"), text(100)),
                opt("voterName", t("Voter", "投票人"), text(30), Standard),
                opt("votedAt", t("Date", "投票日期"), FieldType::Date, Advanced),
            ],
            rules: &[
                rule("student", CREATE_READ),
                rule("teacher", &["read", "delete"]),
            ],
        },
    ],
    features: &[FeatureDef {
        page_id: "voting",
        path: "/vote",
        name: t("Vote", "去投票"),
        purpose: t(
            "Pick an answer and cast your vote",
            "选择一个选项并投出你的一票",
        ),
        level: Basic,
        widget: Widget::Poll,
        model: 0,
        action: Some(ActionDef {
            flow_id: "cast-vote",
            flow_name: t("Cast vote", "投票"),
            button: t("Vote", "投票"),
            state_key: "hasVoted",
            state_value: "true",
            creates: Some(1),
            deletes_done: false,
        }),
    }],
};

static TIMETABLE: KindDef = KindDef {
    keywords: &[
        ("timetable", 3),
        ("time table", 3),
        ("class schedule", 3),
        ("schedule", 2),
        ("课程表", 3),
        ("课表", 3),
        ("日程", 2),
        ("时间表", 2),
    ],
    default_name: t("Timetable", "课程表"),
    intro: t(
        "See your lessons for the week and never miss a class.",
        "一眼看清一周的课程，再也不会错过上课。",
    ),
    intro_simple: t(
        "Look at what lessons you have today!",
        "看看今天有哪些课吧！",
    ),
    roles: &["student", "teacher"],
    modules: &["lessons", "week-view"],
    models: &[ModelDef {
        id: "lesson",
        plural: "lessons",
        name: t("Lesson", "课程"),
        plural_name: t("Lessons", "课程列表"),
        level: Basic,
        list: Some(Standard),
        form: Some(Basic),
        form_name: None,
        form_on_home: false,
        title_field: "subject",
        subtitle_field: Some("startTime"),
        fields: &[
            req("subject", t("Subject", "科目"), text(30)),
            req("day", t("Day of the week", "星期"), text(10)),
            req(
                "startTime",
                t("Start time (HH:MM)", "开始时间（HH:MM）"),
                FieldType::Time,
            ),
            opt("room", t("Room", "教室"), text(30), Standard),
            opt("teacherName", t("Teacher", "任课老师"), text(30), Standard),
            opt(
                "endTime",
                t("End time (HH:MM)", "结束时间（HH:MM）"),
                FieldType::Time,
                Advanced,
            ),
            opt("credits", t("Credits", "学分"), num(0, 20), Advanced),
        ],
        rules: &[rule("student", CRUD), rule("teacher", READ)],
    }],
    features: &[FeatureDef {
        page_id: "week",
        path: "/week",
        name: t("This week", "本周课表"),
        purpose: t("The lessons of the week, day by day", "按天查看一周的课程"),
        level: Basic,
        widget: Widget::Week,
        model: 0,
        action: Some(ActionDef {
            flow_id: "show-today",
            flow_name: t("Show today's lessons", "只看今天的课"),
            button: t("Today's lessons", "今天的课"),
            state_key: "dayFilter",
            state_value: "today",
            creates: None,
            deletes_done: false,
        }),
    }],
};

static LIBRARY: KindDef = KindDef {
    keywords: &[
        ("library", 3),
        ("book", 2),
        ("borrow", 2),
        ("reading", 1),
        ("图书", 3),
        ("借书", 3),
        ("图书角", 3),
        ("书籍", 2),
        ("读书", 1),
    ],
    default_name: t("Class Library", "班级图书角"),
    intro: t(
        "Find a good book, borrow it and remember to bring it back.",
        "找一本好书，登记借阅，记得按时归还。",
    ),
    intro_simple: t(
        "Find a book you like and borrow it!",
        "找一本你喜欢的书，借回家看吧！",
    ),
    roles: &["student", "librarian"],
    modules: &["catalogue", "loans"],
    models: &[
        ModelDef {
            id: "book",
            plural: "books",
            name: t("Book", "图书"),
            plural_name: t("Books", "图书列表"),
            level: Basic,
            list: Some(Basic),
            form: Some(Standard),
            form_name: None,
            form_on_home: false,
            title_field: "title",
            subtitle_field: Some("author"),
            fields: &[
                req("title", t("Title", "书名"), text(100)),
                req("author", t("Author", "作者"), text(60)),
                opt(
                    "available",
                    t("Available", "可借阅"),
                    FieldType::Boolean,
                    Basic,
                ),
                opt("category", t("Category", "分类"), text(30), Standard),
                opt("isbn", t("ISBN", "ISBN"), text(20), Advanced),
                opt(
                    "publishedYear",
                    t("Year published", "出版年份"),
                    num(1000, 2100),
                    Advanced,
                ),
            ],
            rules: &[rule("librarian", CRUD), rule("student", READ)],
        },
        ModelDef {
            id: "loan",
            plural: "loans",
            name: t("Loan", "借阅"),
            plural_name: t("Loans", "借阅记录"),
            level: Basic,
            list: Some(Standard),
            form: Some(Basic),
            form_name: Some(t("Borrow a book", "借书登记")),
            form_on_home: true,
            title_field: "bookTitle",
            subtitle_field: Some("borrower"),
            fields: &[
                req("bookTitle", t("Book", "书名"), text(100)),
                req("borrower", t("Borrower", "借阅人"), text(30)),
                req("borrowedAt", t("Borrowed on", "借阅日期"), FieldType::Date),
                opt(
                    "dueDate",
                    t("Return by", "应还日期"),
                    FieldType::Date,
                    Standard,
                ),
                opt(
                    "returned",
                    t("Returned", "已归还"),
                    FieldType::Boolean,
                    Advanced,
                ),
            ],
            rules: &[
                rule("student", CREATE_READ),
                rule("librarian", &["read", "update", "delete"]),
            ],
        },
    ],
    features: &[],
};

static HABIT: KindDef = KindDef {
    keywords: &[
        ("habit", 3),
        ("habit tracker", 3),
        ("check-in", 2),
        ("check in", 2),
        ("streak", 2),
        ("tracker", 1),
        ("打卡", 3),
        ("习惯", 3),
        ("坚持", 1),
    ],
    default_name: t("Habit Tracker", "习惯打卡"),
    intro: t(
        "Pick good habits, check in every day and watch your streak grow.",
        "选择好习惯，每天打卡，看着坚持的天数一天天增加。",
    ),
    intro_simple: t(
        "Did you do your good habit today? Check in!",
        "今天的好习惯完成了吗？快来打卡吧！",
    ),
    roles: &["student", "teacher"],
    modules: &["habits", "daily-check-in", "history"],
    models: &[
        ModelDef {
            id: "habit",
            plural: "habits",
            name: t("Habit", "习惯"),
            plural_name: t("Habits", "习惯列表"),
            level: Basic,
            list: Some(Standard),
            form: Some(Basic),
            form_name: None,
            form_on_home: false,
            title_field: "name",
            subtitle_field: Some("goalPerWeek"),
            fields: &[
                req("name", t("Habit", "习惯"), text(50)),
                opt(
                    "goalPerWeek",
                    t("Days per week", "每周目标天数"),
                    num(1, 7),
                    Standard,
                ),
                opt("category", t("Category", "类别"), text(30), Advanced),
                opt(
                    "startDate",
                    t("Start date", "开始日期"),
                    FieldType::Date,
                    Advanced,
                ),
            ],
            rules: &[rule("student", CRUD), rule("teacher", READ)],
        },
        ModelDef {
            id: "checkin",
            plural: "checkins",
            name: t("Check-in", "打卡记录"),
            plural_name: t("Check-in history", "打卡记录"),
            level: Basic,
            list: Some(Standard),
            form: None,
            form_name: None,
            form_on_home: false,
            title_field: "habitName",
            subtitle_field: Some("date"),
            fields: &[
                req("habitName", t("Habit", "习惯"), text(50)),
                req("date", t("Date", "日期"), FieldType::Date),
                opt("note", t("Note", "备注"), text(200), Advanced),
            ],
            rules: &[
                rule("student", &["create", "read", "delete"]),
                rule("teacher", READ),
            ],
        },
    ],
    features: &[FeatureDef {
        page_id: "today",
        path: "/today",
        name: t("Check in today", "今日打卡"),
        purpose: t("Tick the habits you kept today", "勾选今天坚持了的习惯"),
        level: Basic,
        widget: Widget::CheckIn,
        model: 0,
        action: Some(ActionDef {
            flow_id: "do-check-in",
            flow_name: t("Check in", "打卡"),
            button: t("Check in", "打卡"),
            state_key: "streak",
            state_value: "increment",
            creates: Some(1),
            deletes_done: false,
        }),
    }],
};

static GUESTBOOK: KindDef = KindDef {
    keywords: &[
        ("guestbook", 3),
        ("guest book", 3),
        ("message board", 3),
        ("message wall", 3),
        ("wish wall", 3),
        ("留言板", 3),
        ("留言墙", 3),
        ("许愿墙", 3),
        ("留言", 2),
    ],
    default_name: t("Guestbook", "留言板"),
    intro: t(
        "Leave a message for the class and read what others wrote.",
        "给大家留下你想说的话，也看看别人写了什么。",
    ),
    intro_simple: t(
        "Write a kind message for your friends!",
        "给好朋友写一句暖心的话吧！",
    ),
    roles: &["student", "teacher"],
    modules: &["message-wall", "message-form"],
    models: &[ModelDef {
        id: "message",
        plural: "messages",
        name: t("Message", "留言"),
        plural_name: t("Messages", "留言墙"),
        level: Basic,
        list: Some(Basic),
        form: Some(Basic),
        form_name: Some(t("Leave a message", "写留言")),
        form_on_home: true,
        title_field: "content",
        subtitle_field: Some("author"),
        fields: &[
            req("author", t("Your name", "你的名字"), text(30)),
            req("content", t("Message", "留言内容"), long(500)),
            opt("createdAt", t("Date", "日期"), FieldType::Date, Standard),
            opt("reply", t("Reply", "回复"), long(500), Advanced),
            opt(
                "approved",
                t("Approved", "已审核"),
                FieldType::Boolean,
                Advanced,
            ),
        ],
        rules: &[rule("student", CREATE_READ), rule("teacher", CRUD)],
    }],
    features: &[],
};

static GENERIC: KindDef = KindDef {
    keywords: &[],
    default_name: t("Information App", "信息应用"),
    intro: t(
        "Collect information in one place, browse it and add new items.",
        "把信息集中在一起，随时浏览，也能添加新内容。",
    ),
    intro_simple: t(
        "Look at the list and add something new!",
        "看看列表里有什么，也来添加新的内容吧！",
    ),
    roles: &["student", "teacher"],
    modules: &["item-list", "item-editor"],
    models: &[ModelDef {
        id: "item",
        plural: "items",
        name: t("Item", "条目"),
        plural_name: t("Items", "信息列表"),
        level: Basic,
        list: Some(Basic),
        form: Some(Basic),
        form_name: None,
        form_on_home: false,
        title_field: "title",
        subtitle_field: Some("description"),
        fields: &[
            req("title", t("Title", "标题"), text(100)),
            opt("description", t("Description", "描述"), long(1000), Basic),
            opt("category", t("Category", "分类"), text(30), Standard),
            opt("date", t("Date", "日期"), FieldType::Date, Standard),
            opt("link", t("Link", "链接"), text(200), Advanced),
            opt(
                "featured",
                t("Featured", "精选"),
                FieldType::Boolean,
                Advanced,
            ),
        ],
        rules: &[
            rule("teacher", CRUD),
            rule("student", &["create", "read", "update"]),
        ],
    }],
    features: &[],
};
