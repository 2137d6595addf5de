"""Click commands, one module per command family.

Commands are imported only when used, so `transcribe` or `--help` do not pay for spaCy, the
evidence pack or the OCR models. cli.py registers COMMANDS (name -> "module:attribute").
"""

from __future__ import annotations

COMMANDS: dict[str, str] = {
    "run": "pipeline.commands.run:run_command",
    "transcribe": "pipeline.commands.transcribe:transcribe_command",
    "review": "pipeline.commands.review_cmd:review_command",
    "export": "pipeline.commands.export_cmd:export_command",
    "verify": "pipeline.commands.export_cmd:verify_command",
    "add-messages": "pipeline.commands.messages_cmd:add_messages_command",
    "add-calllog": "pipeline.commands.calllog_cmd:add_calllog_command",
    "flag-text": "pipeline.commands.rules_cmd:flag_text_command",
    "flag": "pipeline.commands.rules_cmd:flag_command",
    "rules": "pipeline.commands.rules_cmd:rules_group",
    "models": "pipeline.commands.models:models_group",
}
