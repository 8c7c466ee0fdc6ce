"""Interface strings in the two interface languages. Answers follow the question's language;
these follow the page's zh/en switch."""

from __future__ import annotations

LABELS: dict[str, dict[str, str]] = {
    "en": {
        "title": "RecordQA",
        "subtitle": "Ask the record: {records}.",
        "question": "Your question (Chinese or English)",
        "placeholder": "e.g. {example}",
        "ask": "Ask",
        "new": "New conversation",
        "examples": "Example questions",
        "chat": "Conversation",
        "interface": "Interface language",
        "mode": "Answers",
        "extractive": "extractive (sentences quoted from the record, no language model)",
        "dense": "Semantic search",
        "dense_on": "on",
        "dense_off": "off",
        "dense_partial": "{languages} only ({model}); other languages by keywords alone",
        "no_answer": "No answer from the record",
        "indirect": "Not stated directly in the record; closest passages",
        "cannot_ask": "Cannot ask this question",
        "rate_limited": "Too many questions from you in the last minute; try again in {seconds} s.",
        "sources": "Open a cited paragraph",
        "searched": "Searched as: {question}",
        "paragraph": "Paragraph",
        "section": "Section",
        "agenda_item": "Agenda item",
        "close": "Close",
        "pending": "to be completed in the record",
        "server_error": "The answer could not be produced; the error was logged. Please ask again.",
        "conversation_title": "RecordQA conversation",
        "citations_heading": "Cited paragraphs",
        "download": "Download conversation (Markdown)",
        "feedback_comment": "Comment on an answer (optional; sent with 👍 or 👎 under it)",
        "feedback_thanks": "Thank you: your feedback on this answer was saved.",
        "feedback_unknown": "This message is not an answer that can be rated.",
        "lang_zh": "Chinese",
        "lang_en": "English",
        "languages_joiner": " and ",
        "show_agenda_item": "agenda item {item}",
        "flag_pending": "pending",
        "flag_missing_annex": "missing_annex",
        "flag_placeholder": "placeholder",
        "widget_title_many": "Ask {count} records",
        "subtitle_many": "Ask {count} records: {records}.",
        "record_selector": "Records searched",
        "all_records": "All records",
    },
    "zh": {
        "title": "RecordQA 会议记录问答",
        "subtitle": "查询会议记录：{records}。",
        "question": "您的问题（中文或英文）",
        "placeholder": "例如：{example}",
        "ask": "提问",
        "new": "新对话",
        "examples": "示例问题",
        "chat": "对话",
        "interface": "界面语言",
        "mode": "回答方式",
        "extractive": "摘录式（直接引用记录原句，不使用语言模型）",
        "dense": "语义检索",
        "dense_on": "开启",
        "dense_off": "关闭",
        "dense_partial": "仅限{languages}（{model}）；其他语言仅按关键词检索",
        "no_answer": "记录中没有答案",
        "indirect": "记录没有直接说明；最相关的段落",
        "cannot_ask": "无法提出此问题",
        "rate_limited": "您在一分钟内提问过多，请在 {seconds} 秒后再试。",
        "sources": "打开引用的段落",
        "searched": "检索问题：{question}",
        "paragraph": "段落",
        "section": "章节",
        "agenda_item": "议程项目",
        "close": "关闭",
        "pending": "记录尚待补充",
        "server_error": "未能生成回答，错误已记录。请重新提问。",
        "conversation_title": "RecordQA 对话记录",
        "citations_heading": "引用的段落",
        "download": "下载对话（Markdown）",
        "feedback_comment": "对回答的意见（可选；点击回答下方的 👍 或 👎 时一并发送）",
        "feedback_thanks": "谢谢，您对该回答的反馈已保存。",
        "feedback_unknown": "这条消息不是可以评价的回答。",
        "lang_zh": "中文",
        "lang_en": "英文",
        "languages_joiner": "和",
        "show_agenda_item": "议程项目 {item}",
        "flag_pending": "待补",
        "flag_missing_annex": "附件缺失",
        "flag_placeholder": "占位文字",
        "widget_title_many": "查询 {count} 份记录",
        "subtitle_many": "查询 {count} 份记录：{records}。",
        "record_selector": "检索的记录",
        "all_records": "全部记录",
    },
}

def label(lang: str, key: str, **values: object) -> str:
    text = LABELS.get(lang, LABELS["en"])[key]
    return text.format(**values) if values else text


def interface_language(requested: str | None, accept_language: str | None = None) -> str:
    """zh or en: an explicit choice first, then the browser's Accept-Language, else English."""
    if requested in LABELS:
        return requested
    for part in (accept_language or "").split(","):
        tag = part.split(";")[0].strip().lower()
        if tag.startswith("zh"):
            return "zh"
        if tag.startswith("en"):
            return "en"
    return "en"
