"""Logging filter that removes credentials from every record (RELIABILITY X1)."""

from __future__ import annotations

import logging
import re

# (pattern, replacement): each keeps the name and masks the value.
_RULES = [
    (
        re.compile(r"(X-Amz-(?:Signature|Security-Token|Credential)=)[^&\s\"']+", re.I),
        r"\1REDACTED",
    ),
    (re.compile(r"(Authorization[\"']?\s*[:=]\s*[\"']?)[^\"'\n]+", re.I), r"\1REDACTED"),
    (re.compile(r"(aws_secret_access_key[\"']?\s*[:=]\s*[\"']?)[^\s\"',]+", re.I), r"\1REDACTED"),
    (re.compile(r"(://[^:/@\s]+:)[^@\s]+@"), r"\1REDACTED@"),  # passwords in URLs
]


def redact(text: str) -> str:
    """Return text with signatures, tokens, authorisation and URL passwords masked.

    >>> redact("https://h/k?X-Amz-Signature=abc&X-Amz-Expires=60")
    'https://h/k?X-Amz-Signature=REDACTED&X-Amz-Expires=60'
    >>> redact("redis://user:hunter2@127.0.0.1:6379/0")
    'redis://user:REDACTED@127.0.0.1:6379/0'
    """
    for pattern, replacement in _RULES:
        text = pattern.sub(replacement, text)
    return text


class RedactSecrets(logging.Filter):
    """Rewrite each record's message with secrets masked."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        return True
