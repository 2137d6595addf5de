"""Text evidence: SMS backups (XML / CSV), chat text exports and screenshots -> ``Message``s.

    from pipeline.messages.importer import discover_messages, import_messages, parse_message_file
    parsed = parse_message_file(path)          # parser chosen by content; InputError if unknown
    parsed.messages, parsed.problems           # problems: malformed entries, skipped with their line
    report = import_messages(store, discover_messages(input_dir), rules, input_dir)

Modules: ``model`` (dataclasses), ``sms_xml`` / ``sms_csv`` / ``sms_db`` / ``chat_text`` /
``qq_mht`` / ``qq_exporter`` (QQChatExporter JSON/TXT) / ``memotrace_html`` (留痕 HTML) /
``wechat_exporter`` (WechatExporter TXT/HTML) / ``vmsg`` (vMessage SMS) / ``android_backup`` (.ab, MIUI .bak)
(parsers), ``owner`` (a group chat's owner from the private chats beside it), ``ocr``
(screenshots, offline RapidOCR) with ``layout`` (lines -> bubbles), ``times`` (time formats),
``importer`` (detection by content, messages.csv, into a case, outputs), ``summary`` (what run and
add-messages print).
"""
