-- A wizard sign-out ends the user's sessions on every replica. Sessions are signed cookies, so
-- each signed-in request checks when its user last signed out: one row per user (a hash of the
-- identity), kept only while a session issued before it could still be alive: each sign-out
-- deletes those older than that, through the index.
CREATE TABLE wizard_sign_outs (user_key TEXT PRIMARY KEY, at_us BIGINT NOT NULL);
CREATE INDEX wizard_sign_outs_at ON wizard_sign_outs (at_us);
