"""Text evidence: SMS backups (XML / CSV), chat text exports and screenshots -> ``Message``s.

    parsed = parse_message_file(path)          # format chosen by content; InputError if unknown
    parsed.messages, parsed.problems           # problems: malformed entries, skipped with their line

Modules: ``model`` (dataclasses), ``sms_xml`` / ``sms_csv`` / ``chat_text`` (parsers), ``ocr``
(screenshots, offline RapidOCR) with ``layout`` (lines -> bubbles), ``times`` (time formats),
``detect`` (which parser a file needs), ``importer`` (into a case).
"""
