-- Failed console sign-ins, per username (known or not), for throttling guessing.
CREATE TABLE staff_login_failures (
    username TEXT NOT NULL,
    at       INTEGER NOT NULL
);
CREATE INDEX staff_login_failures_user ON staff_login_failures (username, at);
