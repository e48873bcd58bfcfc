-- Email digests waiting to be sent (email digest issue). A digest is queued here when it
-- is written; a failed send stays queued and is retried with the next digest, oldest
-- first, so no digest is lost to a flaky SMTP server.
CREATE TABLE email_outbox (
    id          INTEGER PRIMARY KEY,
    digest_date TEXT NOT NULL,
    subject     TEXT NOT NULL,
    text_body   TEXT NOT NULL,
    html_body   TEXT NOT NULL,
    created_at  INTEGER NOT NULL,
    attempts    INTEGER NOT NULL DEFAULT 0,
    last_error  TEXT
) STRICT;
