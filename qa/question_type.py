"""What kind of answer a question expects, and whether a sentence holds one. Pure.

Used two ways: a sentence that holds the expected kind of answer (a number for 'how many', a
date for 'when', a person for 'who') ranks higher, and when none of the chosen sentences holds
one the record does not state the answer, so the answerer abstains instead of quoting a
sentence that only shares words with the question.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_EXPECT = {
    "ordinal": (
        re.compile(r"\b(?:at|in) (?:which|what) (?:\w+ ){0,2}(?:meeting|session)\b|\bwhich (?:\w+ ){0,2}meeting\b",
                   re.IGNORECASE),
        re.compile(r"第几"),
    ),
    "count": (
        re.compile(r"\bhow (?:many|much|old)\b|\bwhat (?:share|percentage|proportion|amount)\b|\bnumber of\b"
                   r"|\bhow long\b", re.IGNORECASE),
        re.compile(r"多少|几个|几名|几项|几次|几位|几场|几年|几岁|多大年纪|年龄|百分之|比例|数量|人数|金额"),
    ),
    "date": (
        re.compile(r"\bwhen\b|\bwhat (?:date|day|time|year|month)\b|\bwhich (?:date|day|year|month)\b"
                   r"|\bon what (?:date|day)\b|\bwhat time\b", re.IGNORECASE),
        re.compile(r"何时|什么时候|哪一天|哪天|哪几天|几点|日期|哪一年|哪年|几月|什么时间|会期|几号"),
    ),
    "country": (
        re.compile(r"\bwhich\s+(?:[\w'’-]+\s+){0,4}?(?:country|countries|states|nations?)\b|\bwhich government\b"
                   r"|\b(?:list|name) the\s+(?:[\w'’-]+\s+){0,5}?(?:countries|states)\b"
                   r"|\bwhat (?:country|countries|nationality|nation)\b|\bnationality\b"
                   # The members a UN regional group elects are States ("Name the African members").
                   r"|\b(?:list|name|which)\b[^?]*\b(?:African|Asia-Pacific|Asian|Eastern European|"
                   r"Latin American(?: and Caribbean)?|Western European(?: and other)?)\s+members\b", re.IGNORECASE),
        re.compile(r"哪个国家|哪一个国家|哪国|哪些国家|哪些[\u4e00-\u9fff]{1,6}国家|什么国家|国籍|哪个会员国|哪些会员国"
                   r"|(?:哪些|列出|说出)[^？?]*(?:非洲|亚太|亚洲|东欧|拉丁美洲|拉美|西欧)[\u4e00-\u9fff]{0,6}成员"),
    ),
    "reference": (
        re.compile(r"\b(?:which|what)\s+(?:[\w'’-]+\s+){0,3}?(?:rules?|articles?|resolutions?|documents?|declarations?)\b"
                   r"|\bdocument symbol\b", re.IGNORECASE),
        re.compile(r"哪一?条|哪[一些]?[项份个]?[\u4e00-\u9fff]{0,4}?(?:文件|宣言|决议)|文号|什么[\u4e00-\u9fff]{0,4}?宣言"),
    ),
    "person": (
        re.compile(r"^\s*(?:who|whom)\b|\bwho (?:was|is|were|did|made|gave|chaired|opened|spoke|announced)\b"
                   r"|\bname of\b|\bwhich (?:official|person|delegate|speaker)\b", re.IGNORECASE),
        re.compile(r"谁|哪位|哪一位|何人|姓名|名字"),
    ),
    "reason": (
        re.compile(r"^\s*why\b|\bwhy (?:did|was|were|is|are|do|does|had|has)\b|\bfor what reason\b"
                   r"|\bwhat was the reason\b", re.IGNORECASE),
        re.compile(r"为什么|为何|什么原因|何故|原因是什么"),
    ),
}

_ORDINAL = re.compile(r"第\s*(?:\d+|[一二三四五六七八九十百零两]+)|\d+(?:st|nd|rd|th)\b")
# Numbers that name a rule, item, paragraph or article count nothing.
_REFERENCE_NUMBER = re.compile(
    r"\b(?:rule|item|items|paragraph|article|annex|goal|resolution|decision)s?\s+\d+(?:\s*(?:and|-|to)\s*\d+)?"
    r"|\d+\s*(?:条|段|款)|(?:目标|项目)\s*\d+", re.IGNORECASE)
_DATE_EN = re.compile(
    r"\b\d{1,2}(?:\s*(?:-|to)\s*\d{1,2})?\s+(?:January|February|March|April|May|June|July|August|September|"
    r"October|November|December)(?:\s+\d{4})?|\b(?:January|February|March|April|May|June|July|August|"
    r"September|October|November|December)\s+\d{4}|\b\d{1,2}[.:]\d{2}\s*[ap]\.m\.|\b(?:19|20)\d{2}\b"
)
_DATE_ZH = re.compile(r"\d{4}\s*年|\d{1,2}\s*月\s*\d{1,2}\s*日|\d{1,2}\s*月|\d{1,2}\s*日|[上下]午\s*\d{1,2}\s*时")
_NUMBER_WORDS = re.compile(
    r"\b(?:one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|fifteen|twenty|thirty|fifty|"
    r"hundred|thousand|million|billion|trillion|dozens?|per cent|percent|(?:hour|day|week|month|year)-long)\b|%"
    r"|[一二三四五六七八九十两百千万亿]+\s*(?:个|项|名|次|场|年|届|位|种|类|份|条|方|组|席|周|天|小时|分钟)",
    re.IGNORECASE,
)
_SYMBOL = re.compile(r"\b[A-Z]{1,6}(?:/[A-Z0-9.]+)+|\b\d+/\d+\b")
# Capitalised words that make institutions, regions and titles rather than people's names.
_NOT_NAME = frozenset(
    """States State Nations United Assembly Agenda Programme Office Committee Board Council Group Forum Goals
    Declaration Day Development European Eastern Western Latin American African Asia Asia-Pacific Pacific Plan
    Habitat Executive Director Government Republic Federation Kingdom Session Meeting City Cities Communities
    Urban New General Secretary Acting Innovation Better Quality Life Sustainable Agreement Paris Foundation
    Human Settlements Environment Permanent Representatives Caribbean Other Islamic Democratic Strategic
    World October Award Framework Action International Conference Third Chief Executives Coordination The
    In At On Of And For By To A An It He She They This That""".split()
)
_CAPITALISED_RUN = re.compile(r"\b[A-Z][a-zà-ÿ'’]+(?:\s+[A-Z][a-zà-ÿ'’]+)+")
_PERSON = re.compile(
    r"\b(?:Mr|Ms|Mrs|Dr)\.?\s+[A-Z][a-zA-Z'’-]+"
    r"|[\u4e00-\u9fff]{1,8}(?:·[\u4e00-\u9fff]{1,8})+|[\u4e00-\u9fff]{2,4}(?:女士|先生)"
    r"|[A-Z][a-z]+\s*(?:女士|先生)"
)
# Countries in both languages (UN short names), for 'which country' answers and for checking that a
# country a question names is one the answering passage is about.
_COUNTRY_TABLE = """Afghanistan 阿富汗|Albania 阿尔巴尼亚|Algeria 阿尔及利亚|Angola 安哥拉|Argentina 阿根廷
|Armenia 亚美尼亚|Australia 澳大利亚|Austria 奥地利|Azerbaijan 阿塞拜疆|Bahrain 巴林
|Bangladesh 孟加拉国|Belarus 白俄罗斯|Belgium 比利时|Benin 贝宁|Bolivia 玻利维亚|Botswana 博茨瓦纳
|Brazil 巴西|Bulgaria 保加利亚|Burkina Faso 布基纳法索|Burundi 布隆迪|Cambodia 柬埔寨
|Cameroon 喀麦隆|Canada 加拿大|Chad 乍得|Chile 智利|China 中国|Colombia 哥伦比亚|Congo 刚果
|Costa Rica 哥斯达黎加|Côte d'Ivoire 科特迪瓦|Croatia 克罗地亚|Cuba 古巴|Cyprus 塞浦路斯
|Czechia 捷克|Denmark 丹麦|Djibouti 吉布提|Ecuador 厄瓜多尔|Egypt 埃及|El Salvador 萨尔瓦多
|Eritrea 厄立特里亚|Estonia 爱沙尼亚|Ethiopia 埃塞俄比亚|Fiji 斐济|Finland 芬兰|France 法国
|Gabon 加蓬|Gambia 冈比亚|Georgia 格鲁吉亚|Germany 德国|Ghana 加纳|Greece 希腊|Guatemala 危地马拉
|Guinea 几内亚|Haiti 海地|Honduras 洪都拉斯|Hungary 匈牙利|Iceland 冰岛|India 印度
|Indonesia 印度尼西亚|Iran 伊朗|Iraq 伊拉克|Ireland 爱尔兰|Israel 以色列|Italy 意大利|Jamaica 牙买加
|Japan 日本|Jordan 约旦|Kazakhstan 哈萨克斯坦|Kenya 肯尼亚|Kuwait 科威特|Lebanon 黎巴嫩
|Lesotho 莱索托|Liberia 利比里亚|Libya 利比亚|Lithuania 立陶宛|Luxembourg 卢森堡
|Madagascar 马达加斯加|Malawi 马拉维|Malaysia 马来西亚|Mali 马里|Mauritius 毛里求斯|Mexico 墨西哥
|Mongolia 蒙古|Morocco 摩洛哥|Mozambique 莫桑比克|Myanmar 缅甸|Namibia 纳米比亚|Nepal 尼泊尔
|Netherlands 荷兰|New Zealand 新西兰|Nicaragua 尼加拉瓜|Niger 尼日尔|Nigeria 尼日利亚|Norway 挪威
|Oman 阿曼|Pakistan 巴基斯坦|Palestine 巴勒斯坦|Panama 巴拿马|Paraguay 巴拉圭|Peru 秘鲁
|Philippines 菲律宾|Poland 波兰|Portugal 葡萄牙|Qatar 卡塔尔|Republic of Korea 大韩民国
|Romania 罗马尼亚|Russian Federation 俄罗斯联邦|Rwanda 卢旺达|Saudi Arabia 沙特阿拉伯
|Senegal 塞内加尔|Serbia 塞尔维亚|Sierra Leone 塞拉利昂|Singapore 新加坡|Slovakia 斯洛伐克
|Slovenia 斯洛文尼亚|Somalia 索马里|South Africa 南非|South Sudan 南苏丹|Spain 西班牙
|Sri Lanka 斯里兰卡|Sudan 苏丹|Sweden 瑞典|Switzerland 瑞士|Syria 叙利亚|Tanzania 坦桑尼亚
|Thailand 泰国|Togo 多哥|Tunisia 突尼斯|Turkey 土耳其|Uganda 乌干达|Ukraine 乌克兰
|United Arab Emirates 阿拉伯联合酋长国|United Kingdom 英国|United States 美国
|United States of America 美利坚合众国|Uruguay 乌拉圭|Venezuela 委内瑞拉|Viet Nam 越南|Yemen 也门
|Zambia 赞比亚|Zimbabwe 津巴布韦"""
COUNTRIES: tuple[tuple[str, str], ...] = tuple(
    tuple(entry.strip().rsplit(" ", 1)) for entry in _COUNTRY_TABLE.replace("\n", "").split("|")
)
_COUNTRY_EN = re.compile(r"\b(?:" + "|".join(re.escape(en) for en, _ in sorted(COUNTRIES, key=lambda c: -len(c[0])))
                         + r")\b")
_COUNTRY_ZH = re.compile(  # 发展中国家 is "developing countries", not China
    "(?<!发展)(?:" + "|".join(re.escape(zh) for _, zh in sorted(COUNTRIES, key=lambda c: -len(c[1]))) + ")"
)
# Words that give a reason or a purpose.
_REASON = re.compile(
    r"\b(?:because|since|as a result|due to|owing to|in order to|so that|so as to|in view of|"
    r"on the grounds|in light of|therefore|thus|accordingly|for the purpose|aimed at|with a view to|"
    r"taking into account)\b|因为|由于|鉴于|为了|以便|因此|所以|考虑到|出于|旨在|目的是|以期|从而",
    re.IGNORECASE,
)
_ORDINAL_WORD = re.compile(r"\b(?:first|second|third|fourth|fifth|sixth|seventh|eighth|ninth|tenth)\b", re.I)
_RULE = re.compile(r"\b(?:rule|article)\s+\d+|第\s*\d+\s*条", re.IGNORECASE)
_TITLE = re.compile(r"《[^》]+》|\b(?:[A-Z][a-z]+\s+){1,4}(?:Declaration|Agenda|Agreement|Framework|Plan)\b")
# What a 'which rule / resolution / document / declaration' question asks for, and what answers it.
_REFERENCE_KINDS = (
    (re.compile(r"\brules?\b|\barticles?\b|哪一?条", re.IGNORECASE), _RULE),
    (re.compile(r"\bresolutions?\b|\bdecisions?\b|决议", re.IGNORECASE),
     re.compile(r"(?<![/A-Za-z0-9])\d+/\d+(?![/A-Za-z0-9])")),
    (re.compile(r"\bdocuments?\b|\bsymbol\b|文号|文件", re.IGNORECASE), _SYMBOL),
    (re.compile(r"\bdeclarations?\b|宣言|报告", re.IGNORECASE), _TITLE),
)
_PLACEHOLDER_SYMBOL = re.compile(r"\b[A-Z]{1,6}(?:/[A-Z0-9.]+)*/XX\b")
PLACEHOLDER = re.compile(r"(?<![A-Za-z])XX(?![A-Za-z])")


def expected_answer(question: str, lang: str) -> str | None:
    """'ordinal' (第几次, at which meeting), 'count', 'date', 'country', 'reference' (a rule,
    resolution, document symbol or title), 'reason' (why),
    'person' or None when the question does not call for one kind of answer."""
    for kind, (english, chinese) in _EXPECT.items():
        if (chinese if lang == "zh" else english).search(question):
            return kind
    return None


def answer_type_words(question: str, lang: str) -> str:
    """The words of the question that ask for the kind of answer ('which country', '多少')."""
    for english, chinese in _EXPECT.values():
        found = (chinese if lang == "zh" else english).findall(question)
        if found:
            return " ".join(m if isinstance(m, str) else " ".join(m) for m in found)
    return ""


def holds(sentence: str, kind: str | None, question: str = "") -> bool:
    """Whether the sentence contains an answer of the expected kind (for 'country', one the
    question does not itself name)."""
    if kind is None:
        return True
    if kind == "country":
        return bool(countries_in(sentence) - countries_in(question))
    if kind == "reason":
        return bool(_REASON.search(sentence))
    if kind == "ordinal":
        return bool(_ORDINAL.search(sentence) or _ORDINAL_WORD.search(sentence))
    sentence = _PLACEHOLDER_SYMBOL.sub(" ", sentence)  # HSP/HA/1/XX is no document symbol yet
    if kind == "reference":
        wanted = [check for words, check in _REFERENCE_KINDS if words.search(question)]
        checks = wanted or [check for _, check in _REFERENCE_KINDS]
        return any(check.search(sentence) for check in checks)
    if kind == "date":
        return bool(_DATE_EN.search(sentence) or _DATE_ZH.search(sentence))
    if kind == "count":
        rest = _ORDINAL.sub(" ", _DATE_ZH.sub(" ", _DATE_EN.sub(" ", _SYMBOL.sub(" ", sentence))))
        rest = _REFERENCE_NUMBER.sub(" ", rest)
        return bool(re.search(r"\d", rest) or _NUMBER_WORDS.search(rest))
    if kind == "person":
        cleaned = PLACEHOLDER.sub(" ", sentence)
        if _PERSON.search(cleaned):
            return True
        return any(not set(run.split()) & _NOT_NAME for run in _CAPITALISED_RUN.findall(cleaned))
    return True


def names_someone(text: str) -> bool:
    """Whether the text names a person (Ms. X, X 女士, a name with a middle dot)."""
    return bool(_PERSON.search(PLACEHOLDER.sub(" ", text)))


def countries_in(text: str) -> set[str]:
    """English names of the countries the text names, in either language."""
    to_en = {zh: en for en, zh in COUNTRIES}
    return set(_COUNTRY_EN.findall(text)) | {to_en[zh] for zh in _COUNTRY_ZH.findall(text)}


_SYMBOL_ANCHOR = re.compile(r"\b[A-Z]{1,6}(?:/[A-Z0-9.]+)+|\d+/\d+")
_ORDINAL_ANCHOR = re.compile(r"\b(\d+)(?:st|nd|rd|th)\b|第\s*(\d+)\s*(?=次|届)")
_DIGITS = re.compile(r"(?<![\d.])\d+(?![\d.])")
_QUESTION_WORDS = frozenset(
    """Which What When Where Who Whom Whose Why How Name List Did Does Do Is Was Were Are Has Had According After
    Before Under Since During Apart Besides Beyond Give Tell Please If""".split()
)
# Titles and roles: a question naming someone by role rather than by name ('the Goodwill Ambassador').
_ROLE_WORDS = frozenset(
    """Ambassador Goodwill Officer Governor Mayor Minister Ministers President Vice Chair Chairs Coordinator Branch
    Secretary Director Directors Representative Representatives Envoy Prime King Queen Prince Princess Head
    Chief Deputy Special Adviser Advisor Rapporteur Speaker Delegate Delegation Member Members Housing Affairs
    Foreign Finance Planning Urban Ministry Mission Bureau Vice-President Vice-Presidents Vice-Chair""".split()
)
_LATIN_RUN = re.compile(r"[A-Z][A-Za-zà-ÿ'’-]*(?:\s+[A-Z][A-Za-zà-ÿ'’-]*)*")
_TITLED_NAME = re.compile(r"\b(?:Mr|Ms|Mrs|Dr|President|Ambassador|Governor|Mayor|Minister)\.?\s+"
                          r"((?:[A-Z][a-zà-ÿ'’-]+\s+)*[A-Z][a-zà-ÿ'’-]+)")
_DEMONYM = re.compile(r"(?:an|ian|ese|ish)$")
_ZH_NAME = re.compile(r"[\u4e00-\u9fff]{1,8}(?:·[\u4e00-\u9fff]{1,8})+")
_ZH_TITLED = re.compile(r"([\u4e00-\u9fff]{2})(?=女士|先生)")
_NOT_A_NAME_ZH = re.compile(r"[位名这那该此各每其某哪]")


@dataclass(frozen=True)
class Anchor:
    """Something specific a question names: a number, an ordinal ('8th meeting'), a document
    symbol, a country or a name; or ('word') a lone capitalised English word, which a record must
    mention somewhere but which is too often a title or a demonym to demand of one paragraph.
    ``forms`` are the strings any one of which shows that a text mentions it."""

    label: str
    forms: tuple[str, ...]
    kind: str

    def shown(self, lang: str) -> str:
        """The label in the answer's language (a country in Chinese for a Chinese answer)."""
        if self.kind == "country" and lang == "zh":
            return next((zh for en, zh in COUNTRIES if _short(en) == self.label), self.label)
        return self.label

    def found_in(self, text: str) -> bool:
        if self.kind == "country":
            return bool({self.label} & {_short(c) for c in countries_in(text)})
        if self.kind == "ordinal":
            n = re.escape(self.forms[0])
            return bool(re.search(rf"(?<!\d){n}(?:st|nd|rd|th)\b|第\s*{n}(?!\d)", text))
        if self.kind == "number":
            return bool(re.search(rf"(?<![\d.]){re.escape(self.label)}(?![\d])", text))
        return any(form in text for form in self.forms)


def _short(country: str) -> str:
    return country.removesuffix(" of America")


def question_anchors(question: str, lang: str) -> list[Anchor]:
    """The specific things a question names, which a passage that answers it must mention too:
    numbers and document symbols, countries, and people's names (Latin-script names in either
    language, Chinese names with a middle dot or before 女士/先生)."""
    anchors: dict[str, Anchor] = {}
    rest = question
    for m in _SYMBOL_ANCHOR.finditer(question):
        anchors.setdefault(m.group(), Anchor(m.group(), (m.group(),), "symbol"))
    rest = _SYMBOL_ANCHOR.sub(" ", rest)
    for m in _ORDINAL_ANCHOR.finditer(rest):
        number = m.group(1) or m.group(2)
        label = f"第 {number} 次" if lang == "zh" else m.group()
        anchors.setdefault(label, Anchor(label, (number,), "ordinal"))
    rest = _ORDINAL_ANCHOR.sub(" ", rest)
    for number in _DIGITS.findall(rest):
        anchors.setdefault(number, Anchor(number, (number,), "number"))
    for country in sorted(countries_in(question)):
        short = _short(country)
        anchors.setdefault(short, Anchor(short, (short,), "country"))
    country_words = {w for c in countries_in(question) for w in c.split()}
    for m in _TITLED_NAME.finditer(question):
        # "Mr. Kenyatta": a title makes a single word a person's name.
        anchors.setdefault(m.group(1), Anchor(m.group(1), (m.group(1),), "name"))
    for m in _LATIN_RUN.finditer(question):
        run = m.group()
        words = [w.strip("'’-") for w in run.split()]
        while words and words[0] in _QUESTION_WORDS:
            words = words[1:]
        words = [w.removesuffix("'s").removesuffix("’s") for w in words]
        parts = {p for w in words for p in w.split("-") if p}
        if not words or parts & (_NOT_NAME | _ROLE_WORDS | country_words) or any(p.isupper() for p in parts):
            continue  # institutions, titles, places named by country, acronyms
        if lang != "zh" and len(words) < 2:
            # A lone capitalised English word is as often a demonym or a title as a name: it only
            # counts as a place or a name the record must mention somewhere ("Geneva").
            if m.start() > 0 and len(words[0]) >= 3 and not _DEMONYM.search(words[0]):
                anchors.setdefault(words[0], Anchor(words[0], (words[0],), "word"))
            continue
        forms = tuple(w for w in words if len(w) >= 3)
        if forms:
            anchors.setdefault(" ".join(words), Anchor(" ".join(words), forms, "name"))
    if lang == "zh":
        for m in _ZH_NAME.finditer(question):
            forms = tuple(part for part in m.group().split("·") if len(part) >= 2)
            anchors.setdefault(m.group(), Anchor(m.group(), forms, "name"))
        for m in _ZH_TITLED.finditer(question):
            name = m.group(1)
            if not _NOT_A_NAME_ZH.search(name) and not any(name in a.label for a in anchors.values()):
                anchors.setdefault(name, Anchor(name, (name,), "name"))
    return list(anchors.values())


_VOTE_COUNT = (
    re.compile(r"\bhow many (?:votes|delegations|members|states|countries|representatives)\b[^?]*\bvot"
               r"|\bvotes? (?:in favour|against|cast)\b|\bvoted (?:for|against|in favour)\b|\bhow many votes\b"
               r"|\bvote (?:count|tally)\b|\bby (?:what|how large a|how much of a) margin\b|\brecorded vote\b",
               re.IGNORECASE),
    re.compile(r"多少票|几票|票赞成|票反对|赞成票|反对票|弃权票|投票结果|表决结果|计票|投了?(?:赞成|反对)票?"),
)
VOTE_TALLY = re.compile(r"\d+\s*votes?\b|\bvotes? in favour\b|\brecorded vote\b|\babstentions?\b|\d+\s*票|赞成票"
                        r"|反对票|弃权", re.IGNORECASE)
WITHOUT_VOTE = re.compile(r"acclamation|consensus|without a vote|鼓掌|协商一致|未经表决", re.IGNORECASE)


def asks_vote_count(question: str, lang: str) -> bool:
    """Whether the question presupposes a counted vote (how many votes, who voted against)."""
    return bool(_VOTE_COUNT[1 if lang == "zh" else 0].search(question))


_FINAL = (re.compile(r"\b(?:finally|eventually|ultimately|in the end)\b", re.IGNORECASE), re.compile(r"最终|最后"))
_DECISION_VERBS = (
    re.compile(r"\b(?:adopt|approve|endorse|reject|decide|elect|appoint|award|choose|chose|select|postpone|"
               r"defer|cancel)\w*", re.IGNORECASE),
    re.compile(r"核准|通过|批准|否决|核可|选出|任命|采用|采纳|颁给|授予|选定|推迟|延期|取消"),
)


def outcome_terms(question: str, lang: str, tokenizer) -> set[str]:
    """For a question about a final outcome ('did the Assembly finally approve…', '最终是否核准')
    or the reason for a decision ('why did the Assembly reject…'), the tokens of the decision it
    asks about; a passage that answers must state that decision. Empty for other questions."""
    i = 1 if lang == "zh" else 0
    if not (_FINAL[i].search(question) or _EXPECT["reason"][i].search(question)):
        return set()
    return set(tokenizer.tokens(" ".join(_DECISION_VERBS[i].findall(question)), lang))


def agenda_reference(question: str) -> tuple[int, bool] | None:
    """(item number, asks what the item was) for 'agenda item 9' / 'item 12 of the agenda' /
    '议程项目 9' / '议程第 12 项'; None otherwise."""
    m = re.search(r"\bitem\s+(\d+)\s+(?:of|on)\s+the\s+agenda|议程第\s*(\d+)\s*项", question, re.IGNORECASE)
    if m:
        return int(m.group(1) or m.group(2)), True
    m = re.search(r"agenda\s+item\s+(\d+)|议程项目\s*(\d+)", question, re.IGNORECASE)
    if m:
        return int(m.group(1) or m.group(2)), False
    return None


# The session's agenda itself ("the agenda of the session", "本届会议的议程"), not a named programme
# ("the New Urban Agenda", "《2030 年议程》", "全球议程").
_AGENDA_ITSELF = (
    re.compile(r"\b(?:the|provisional|its|this)\s+agenda\b(?!\s+item)", re.IGNORECASE),
    re.compile(r"(?<![城市年展球])议程(?!项目|第)"),
)


def about_agenda(question: str) -> bool:
    """Whether the question asks about the session's agenda (its items, how it was adopted)
    without naming an item; titles that contain "Agenda" do not count."""
    if re.search(r"[\u4e00-\u9fff]", question):
        return bool(_AGENDA_ITSELF[1].search(re.sub(r"《[^》]*》", " ", question)))
    return bool(_AGENDA_ITSELF[0].search(question))


_FOCUS_EN = re.compile(
    r"^\s*what\s+(?:is|was|are|were)\s+the\s+((?:[a-z-]+\s+){0,2}?[a-z-]+?)\s+(?:of|like|for|in|on)\b", re.IGNORECASE)


def question_focus(question: str, lang: str) -> str:
    """What a "What was the X of Y?" question asks for ("weather", "annual budget"); the last word is
    its head, which an answer has to mention. Empty for other questions."""
    if lang != "en":
        return ""
    m = _FOCUS_EN.search(question)
    return m.group(1) if m else ""
