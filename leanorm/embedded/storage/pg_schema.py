"""What a PostgreSQL database holds for the embedded server beside the class tables: the server's own
tables (the SQLite store's, typed for PostgreSQL) and the functions and operators the translated SQL
(:mod:`.pg_dialect`) calls.

``jsonb`` values of a document are compared with parameters as SQLite compares ``json_extract``'s typed
result: a string with text, a number with a number (``1 = 1.0``), by operators between ``jsonb`` and
``text``/``bigint``/``integer``/``double precision``/``numeric`` that are plain (``STABLE``) SQL functions
PostgreSQL inlines, so a comparison with an expression index's expression uses the index. Strings order by the
database's collation: create the database with ``LC_COLLATE 'C'`` for SQLite's (byte) order.
"""
from __future__ import annotations

from typing import List

__all__ = ["SYSTEM_TABLES", "FUNCTIONS", "statements", "VERSION", "CHANGES_CHANNEL", "TABLES_CHANNEL", "CATALOGUE",
           "CATALOGUE_MOVED", "FEED_LOCK"]

#: the version of what :data:`FUNCTIONS` defines: a database set up by an older one is set up again
VERSION = "13"

#: what a counter's entry is unique by: a missing value (SQLite's ``x'00'``: a sentinel no value compared
#: with a parameter equals) and a public ACL are keys like any other
COUNTS_KEY = "class_name, field, lo_ifnull(value, '\\x00'::bytea), COALESCE(acl, 'null'::jsonb)"
COUNTS_KEY_INDEX = f"CREATE UNIQUE INDEX IF NOT EXISTS _counts_key ON _counts ({COUNTS_KEY});"

SYSTEM_TABLES = """
CREATE TABLE IF NOT EXISTS _schema (class_name TEXT NOT NULL, field TEXT NOT NULL, type TEXT NOT NULL,
    target_class TEXT, PRIMARY KEY (class_name, field));
CREATE TABLE IF NOT EXISTS _field_options (class_name TEXT NOT NULL, field TEXT NOT NULL,
    required BIGINT NOT NULL, default_value TEXT, PRIMARY KEY (class_name, field));
CREATE TABLE IF NOT EXISTS _named_indexes (class_name TEXT NOT NULL, name TEXT NOT NULL, keys TEXT NOT NULL,
    PRIMARY KEY (class_name, name));
CREATE TABLE IF NOT EXISTS _relations (owner_class TEXT NOT NULL, owner_id TEXT NOT NULL, key TEXT NOT NULL,
    target_class TEXT NOT NULL, target_id TEXT NOT NULL, PRIMARY KEY (owner_class, owner_id, key, target_id));
CREATE INDEX IF NOT EXISTS _relations_target ON _relations (target_class, target_id, key);
CREATE TABLE IF NOT EXISTS _sessions (token TEXT PRIMARY KEY, user_id TEXT NOT NULL, created_at TEXT NOT NULL,
    expires_at TEXT NOT NULL, installation_id TEXT, created_with TEXT);
-- columns _sessions gained after its first release, for a database made before them
ALTER TABLE _sessions ADD COLUMN IF NOT EXISTS installation_id TEXT;
ALTER TABLE _sessions ADD COLUMN IF NOT EXISTS created_with TEXT;
CREATE INDEX IF NOT EXISTS _sessions_user ON _sessions (user_id);
CREATE TABLE IF NOT EXISTS _passwords (user_id TEXT PRIMARY KEY, hash TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS _login_failures (login TEXT NOT NULL, at DOUBLE PRECISION NOT NULL);
CREATE TABLE IF NOT EXISTS _outbox (id BIGSERIAL PRIMARY KEY, kind TEXT NOT NULL,
    recipient TEXT NOT NULL, purpose TEXT NOT NULL, code TEXT, body TEXT NOT NULL, created_at TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS _file_uploads (token TEXT PRIMARY KEY, object_id TEXT NOT NULL,
    expires_at DOUBLE PRECISION NOT NULL);
CREATE TABLE IF NOT EXISTS _request_ids (id TEXT PRIMARY KEY, expires_at DOUBLE PRECISION NOT NULL);
CREATE TABLE IF NOT EXISTS _class_permissions (class_name TEXT PRIMARY KEY, permissions TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS _code_failures (recipient TEXT NOT NULL, purpose TEXT NOT NULL, address TEXT NOT NULL,
    at DOUBLE PRECISION NOT NULL);
CREATE INDEX IF NOT EXISTS _code_failures_recipient ON _code_failures (recipient, at);
CREATE INDEX IF NOT EXISTS _code_failures_address ON _code_failures (address, at);
CREATE TABLE IF NOT EXISTS _one_time_codes (purpose TEXT NOT NULL, recipient TEXT NOT NULL, user_id TEXT NOT NULL,
    code TEXT NOT NULL, expires_at DOUBLE PRECISION NOT NULL, PRIMARY KEY (purpose, recipient, user_id));
CREATE TABLE IF NOT EXISTS _config (name TEXT PRIMARY KEY, value TEXT NOT NULL, master_only BIGINT NOT NULL);
CREATE TABLE IF NOT EXISTS _status_inbox (message_id BIGSERIAL PRIMARY KEY, owner_id TEXT NOT NULL,
    inbox_type TEXT NOT NULL, status_id TEXT NOT NULL, unread BIGINT NOT NULL DEFAULT 1);
CREATE INDEX IF NOT EXISTS _status_inbox_owner ON _status_inbox (owner_id, inbox_type, message_id);
CREATE TABLE IF NOT EXISTS _leaderboards (name TEXT PRIMARY KEY, object_id TEXT NOT NULL, member_type TEXT NOT NULL,
    sort_order TEXT NOT NULL, strategy TEXT NOT NULL, period TEXT NOT NULL, version BIGINT NOT NULL,
    activated_at TEXT NOT NULL, expires_at TEXT, created_at TEXT NOT NULL, updated_at TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS _leaderboard_statistics (name TEXT NOT NULL, version BIGINT NOT NULL,
    member TEXT NOT NULL, value DOUBLE PRECISION NOT NULL, updated_at TEXT NOT NULL,
    PRIMARY KEY (name, version, member));
CREATE INDEX IF NOT EXISTS _leaderboard_statistics_rank ON _leaderboard_statistics (name, version, value, updated_at,
    member);
CREATE INDEX IF NOT EXISTS _leaderboard_statistics_member ON _leaderboard_statistics (member, name);
CREATE TABLE IF NOT EXISTS _leaderboard_archives (object_id TEXT PRIMARY KEY, name TEXT NOT NULL,
    version BIGINT NOT NULL, activated_at TEXT NOT NULL, deactivated_at TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS _leaderboard_archives_name ON _leaderboard_archives (name, version);
CREATE TABLE IF NOT EXISTS _migrations (name TEXT PRIMARY KEY, done_at TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS _file_bytes (object_id TEXT PRIMARY KEY, bytes BYTEA NOT NULL);
CREATE TABLE IF NOT EXISTS _leanorm (name TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS _counts (class_name TEXT NOT NULL, field TEXT NOT NULL, value JSONB, acl JSONB,
    n BIGINT NOT NULL);
CREATE TABLE IF NOT EXISTS _changes (seq BIGINT PRIMARY KEY, class_name TEXT NOT NULL, object_id TEXT NOT NULL,
    before TEXT, after TEXT);
CREATE TABLE IF NOT EXISTS _live_subscriptions (id BIGSERIAL PRIMARY KEY, query_id TEXT NOT NULL UNIQUE,
    installation_id TEXT NOT NULL, query TEXT NOT NULL, token TEXT, master BIGINT NOT NULL, address TEXT NOT NULL,
    touched_at DOUBLE PRECISION NOT NULL, since BIGINT NOT NULL DEFAULT 0, UNIQUE (installation_id, query));
CREATE INDEX IF NOT EXISTS _live_subscriptions_address ON _live_subscriptions (address);
""" + COUNTS_KEY_INDEX + """
"""

#: the channel a change of the catalogue is announced on, its payload the schema (:data:`CATALOGUE_CHANGED`)
TABLES_CHANNEL = "leanorm_tables"
#: the channel a committed change is announced on, its payload the schema written (:data:`RECORD_CHANGE`)
CHANGES_CHANNEL = "leanorm_changes"

#: the advisory lock the change feed's numbering takes (:data:`RECORD_CHANGE`), held until the transaction ends
FEED_LOCK = 0x6C656166  # "leaf"

#: appends a change to the feed (``Store.record_change``), at every ``changes.trim_step(keep)``-th one drops
#: what is older than the newest ``keep`` (a statement under the feed's lock: not at every write), and
#: announces it on :data:`CHANGES_CHANNEL` when the transaction commits (PostgreSQL sends a transaction's
#: notifications at its commit, and one of several alike); its ``seq``.
#:
#: ``seq`` is commit order, gapless: the function takes :data:`FEED_LOCK` (transaction-scoped) and then
#: numbers the change the largest committed ``seq`` plus one (a statement after the lock: its snapshot
#: sees every feed write committed before the lock was granted). PostgreSQL makes a commit visible before
#: it releases the transaction's locks, so the next transaction to number a change does so after this one
#: committed, and numbers it after it: a reader never sees ``n + 1`` before ``n`` is committed, and a
#: rolled-back transaction takes no number. The store calls it in the round trip of the ``COMMIT``, after
#: every other statement of the write, so the lock is held only for the numbering and the commit while
#: the writes themselves run side by side (``PostgreSQLStore.transact``).
RECORD_CHANGE = f"""
CREATE OR REPLACE FUNCTION leanorm_record_change(class_name text, object_id text, before text, after text,
                                                 keep bigint) RETURNS bigint LANGUAGE plpgsql AS $$
    DECLARE
        assigned bigint;
    BEGIN
        PERFORM pg_advisory_xact_lock({FEED_LOCK});
        SELECT COALESCE(max(c.seq), 0) + 1 INTO assigned FROM _changes AS c;
        INSERT INTO _changes VALUES (assigned, class_name, object_id, before, after);
        IF assigned % GREATEST(keep / 100, 1) = 0 THEN
            DELETE FROM _changes WHERE seq <= assigned - keep;
        END IF;
        PERFORM pg_notify('{CHANGES_CHANNEL}', current_schema());
        RETURN assigned;
    END $$;
"""

#: the tables whose rows describe the classes (types, options, permissions, indexes): what a store may
#: keep in memory between requests (``PostgreSQLStore``'s catalogue cache), told when they change
CATALOGUE = ("_schema", "_field_options", "_class_permissions", "_named_indexes")

#: a change to the catalogue (one of its tables written, a class table made or dropped): its version
#: (``_leanorm``'s ``catalogue``) grows in the writing transaction, and every node's listener hears of it
#: on ``leanorm_tables`` when it commits
CATALOGUE_CHANGED = f"""
CREATE OR REPLACE FUNCTION leanorm_catalogue_changed() RETURNS void LANGUAGE sql AS $$
    INSERT INTO _leanorm VALUES ('catalogue', '1') ON CONFLICT (name)
        DO UPDATE SET value = (_leanorm.value::bigint + 1)::text;
    SELECT pg_notify('{TABLES_CHANNEL}', current_schema());
$$;
CREATE OR REPLACE FUNCTION leanorm_catalogue_trigger() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        PERFORM leanorm_catalogue_changed();
        RETURN NULL;
    END $$;
""" + "".join(f"""CREATE OR REPLACE TRIGGER {name}_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON {name}
    FOR EACH STATEMENT EXECUTE FUNCTION leanorm_catalogue_trigger();
""" for name in CATALOGUE)

#: the SQLSTATE :data:`CATALOGUE_IS` raises when the catalogue is not at the version a statement was built at
CATALOGUE_MOVED = "LOCAT"

#: ``leanorm_catalogue_is(version)``: true when the catalogue's version is ``version``, else an error
#: (:data:`CATALOGUE_MOVED`). A store that kept the catalogue between requests sends it with a request's
#: first statement (a condition that reads no row: PostgreSQL evaluates it once, before the statement's
#: rows) instead of reading the version in a round trip of its own; an error ends that statement (and
#: its transaction) before it did anything. ``STABLE``: never evaluated once for all at planning.
CATALOGUE_IS = f"""
CREATE OR REPLACE FUNCTION leanorm_catalogue_is(version text) RETURNS boolean LANGUAGE plpgsql STABLE AS $$
    BEGIN
        IF version IS DISTINCT FROM (SELECT value FROM _leanorm WHERE name = 'catalogue') THEN
            RAISE EXCEPTION 'the catalogue is no longer at version %', version USING ERRCODE = '{CATALOGUE_MOVED}';
        END IF;
        RETURN true;
    END $$;
"""

FUNCTIONS = RECORD_CHANGE + CATALOGUE_CHANGED + CATALOGUE_IS + r"""CREATE OR REPLACE FUNCTION lo_extract(doc jsonb, path text[]) RETURNS jsonb
    LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$ SELECT NULLIF(doc #> path, 'null'::jsonb) $$;
CREATE OR REPLACE FUNCTION lo_type(v jsonb) RETURNS text LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE jsonb_typeof(v) WHEN 'number' THEN CASE WHEN v::text ~ '[.eE]' THEN 'real' ELSE 'integer' END
        WHEN 'string' THEN 'text' WHEN 'boolean' THEN v::text ELSE jsonb_typeof(v) END $$;
CREATE OR REPLACE FUNCTION lo_type(doc jsonb, path text[]) RETURNS text
    LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$ SELECT lo_type(doc #> path) $$;
CREATE OR REPLACE FUNCTION lo_each(doc jsonb, path text[] DEFAULT '{}')
    RETURNS TABLE (key text, value jsonb, type text) LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT e.key, NULLIF(e.value, 'null'::jsonb), lo_type(e.value)
      FROM jsonb_each(CASE WHEN jsonb_typeof(doc #> path) = 'object' THEN doc #> path END) AS e
    UNION ALL
    SELECT (a.n - 1)::text, NULLIF(a.value, 'null'::jsonb), lo_type(a.value)
      FROM jsonb_array_elements(CASE WHEN jsonb_typeof(doc #> path) = 'array' THEN doc #> path END)
           WITH ORDINALITY AS a(value, n)
    UNION ALL
    SELECT NULL, NULLIF(doc #> path, 'null'::jsonb), lo_type(doc #> path)
     WHERE jsonb_typeof(doc #> path) NOT IN ('object', 'array') $$;
CREATE OR REPLACE FUNCTION lo_each(doc text) RETURNS TABLE (key text, value jsonb, type text)
    LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$ SELECT * FROM lo_each(doc::jsonb) $$;
CREATE OR REPLACE FUNCTION lo_array_length(doc jsonb, path text[]) RETURNS bigint
    LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE WHEN jsonb_typeof(doc #> path) = 'array' THEN jsonb_array_length(doc #> path) END $$;
CREATE OR REPLACE FUNCTION lo_json(v text) RETURNS jsonb
    LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$ SELECT v::jsonb $$;
CREATE OR REPLACE FUNCTION lo_set(doc jsonb, path text[], v jsonb) RETURNS jsonb
    LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$ SELECT jsonb_set(doc, path, COALESCE(v, 'null'::jsonb), true) $$;
CREATE OR REPLACE FUNCTION lo_set(doc jsonb, path text[], v text) RETURNS jsonb
    LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$ SELECT jsonb_set(doc, path, COALESCE(to_jsonb(v), 'null'::jsonb), true) $$;
CREATE OR REPLACE FUNCTION lo_remove(doc jsonb, path text[]) RETURNS jsonb
    LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$ SELECT doc #- path $$;
CREATE OR REPLACE FUNCTION lo_truthy(v jsonb) RETURNS boolean LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE jsonb_typeof(v) WHEN 'boolean' THEN v = 'true'::jsonb
        WHEN 'number' THEN v <> '0'::jsonb ELSE false END $$;
CREATE OR REPLACE FUNCTION lo_ifnull(a boolean, b integer) RETURNS boolean
    LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$ SELECT COALESCE(a, b <> 0) $$;
CREATE OR REPLACE FUNCTION lo_ifnull(a boolean, b boolean) RETURNS boolean
    LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$ SELECT COALESCE(a, b) $$;
CREATE OR REPLACE FUNCTION lo_ifnull(a text, b text) RETURNS text
    LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$ SELECT COALESCE(a, b) $$;
CREATE OR REPLACE FUNCTION lo_ifnull(a jsonb, b jsonb) RETURNS jsonb
    LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$ SELECT COALESCE(a, b) $$;
CREATE OR REPLACE FUNCTION lo_ifnull(a jsonb, b bytea) RETURNS jsonb
    LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$ SELECT COALESCE(a, '["$missing"]'::jsonb) $$;
CREATE OR REPLACE FUNCTION lo_ifnull(a bigint, b bigint) RETURNS bigint
    LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$ SELECT COALESCE(a, b) $$;
CREATE OR REPLACE FUNCTION lo_ifnull(a double precision, b double precision) RETURNS double precision
    LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$ SELECT COALESCE(a, b) $$;
CREATE OR REPLACE FUNCTION lo_number(v jsonb) RETURNS double precision LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE WHEN jsonb_typeof(v) = 'number' THEN v::double precision END $$;
CREATE OR REPLACE FUNCTION leanorm_regexp(pattern text, options text, v jsonb) RETURNS boolean
    LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT jsonb_typeof(v) = 'string' AND (v #>> '{}') ~ pattern $$;
CREATE OR REPLACE FUNCTION leanorm_distance(lat1 double precision, lng1 double precision,
                                            lat2 double precision, lng2 double precision)
    RETURNS double precision LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT 2 * asin(least(1.0, sqrt(power(sin((radians(lat2) - radians(lat1)) / 2), 2)
        + cos(radians(lat1)) * cos(radians(lat2)) * power(sin(radians(lng2 - lng1) / 2), 2)))) $$;
CREATE OR REPLACE FUNCTION leanorm_distance(lat1 jsonb, lng1 jsonb, lat2 double precision, lng2 double precision)
    RETURNS double precision LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT leanorm_distance(lo_number(lat1), lo_number(lng1), lat2, lng2) $$;
CREATE OR REPLACE FUNCTION leanorm_in_polygon(lat jsonb, lng jsonb, polygon text) RETURNS boolean
    LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT point(lo_number(lng), lo_number(lat)) <@ polygon(translate(polygon, '[]', '()')) $$;
CREATE OR REPLACE FUNCTION leanorm_polygon_holds(coordinates jsonb, lat double precision, lng double precision)
    RETURNS boolean LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE WHEN jsonb_typeof(coordinates) = 'array' THEN point(lng, lat) <@ polygon('(' || (
        SELECT string_agg('(' || (e ->> 1) || ',' || (e ->> 0) || ')', ',')
          FROM jsonb_array_elements(coordinates) AS e) || ')') END $$;
CREATE OR REPLACE FUNCTION lo_sum_step(s numeric, v jsonb) RETURNS numeric LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE WHEN jsonb_typeof(v) = 'number' THEN COALESCE(s, 0) + v::numeric ELSE s END $$;
CREATE OR REPLACE AGGREGATE sum(jsonb) (SFUNC = lo_sum_step, STYPE = numeric);
CREATE OR REPLACE FUNCTION lo_sum_true(s bigint, v boolean) RETURNS bigint LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE WHEN v IS NULL THEN s ELSE COALESCE(s, 0) + v::integer END $$;
CREATE OR REPLACE AGGREGATE sum(boolean) (SFUNC = lo_sum_true, STYPE = bigint);
CREATE OR REPLACE FUNCTION lo_avg_step(s double precision[], v jsonb) RETURNS double precision[]
    LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE WHEN jsonb_typeof(v) = 'number' THEN ARRAY[COALESCE(s[1], 0) + v::double precision,
                                                            COALESCE(s[2], 0) + 1] ELSE s END $$;
CREATE OR REPLACE FUNCTION lo_avg_final(s double precision[]) RETURNS double precision
    LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$ SELECT s[1] / s[2] $$;
CREATE OR REPLACE AGGREGATE avg(jsonb) (SFUNC = lo_avg_step, STYPE = double precision[], FINALFUNC = lo_avg_final);
CREATE OR REPLACE FUNCTION lo_least(a jsonb, b jsonb) RETURNS jsonb LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE WHEN a IS NULL THEN b WHEN b IS NULL OR a <= b THEN a ELSE b END $$;
CREATE OR REPLACE FUNCTION lo_greatest(a jsonb, b jsonb) RETURNS jsonb LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE WHEN a IS NULL THEN b WHEN b IS NULL OR a >= b THEN a ELSE b END $$;
CREATE OR REPLACE AGGREGATE min(jsonb) (SFUNC = lo_least, STYPE = jsonb);
CREATE OR REPLACE AGGREGATE max(jsonb) (SFUNC = lo_greatest, STYPE = jsonb);
CREATE OR REPLACE FUNCTION lo_text_dictionary(language text) RETURNS regdictionary
    LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT d.oid::regdictionary FROM pg_ts_dict AS d
     WHERE d.dictname = 'leanorm_' || language AND d.dictnamespace = current_schema()::regnamespace $$;
DO $$ DECLARE language text; BEGIN
    -- text_search.py's stemmers: Snowball's, one dictionary per language PostgreSQL has one for, without
    -- the built-in dictionaries' stop words (the SQLite store stems and counts every word)
    FOR language IN SELECT substr(d.dictname, 1, length(d.dictname) - 5) FROM pg_ts_dict AS d
                      JOIN pg_ts_template AS t ON t.oid = d.dicttemplate
                     WHERE t.tmplname = 'snowball' AND d.dictnamespace = 'pg_catalog'::regnamespace
                       AND d.dictname LIKE '%\_stem' LOOP
        IF lo_text_dictionary(language) IS NULL THEN  -- a set-up runs under the set-up lock: no race
            EXECUTE format('CREATE TEXT SEARCH DICTIONARY %I (TEMPLATE = pg_catalog.snowball, LANGUAGE = %L)',
                           'leanorm_' || language, language);
        END IF;
    END LOOP;
END $$;
CREATE OR REPLACE FUNCTION lo_text_normal(t text, case_sensitive boolean, diacritic_sensitive boolean)
    RETURNS text LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE WHEN diacritic_sensitive OR c !~ '[^\x01-\x7f]' THEN c
        ELSE regexp_replace(normalize(c, NFKD), '[\u0300-\u036f\u1ab0-\u1aff\u1dc0-\u1dff\u20d0-\u20ff\ufe20-\ufe2f]',
                            '', 'g') END
      FROM (SELECT CASE WHEN case_sensitive THEN t ELSE lower(t) END) AS s(c) $$;
CREATE OR REPLACE FUNCTION leanorm_text_score(v jsonb, term text, language text, case_sensitive integer,
                                              diacritic_sensitive integer)
    RETURNS double precision LANGUAGE plpgsql STABLE PARALLEL SAFE AS $$
    -- text_search.text_score step for step: the same rows and the same scores. Loops of plain expressions,
    -- no statement or function call per word (which cost 5x as much): 0.12 ms a row of 9 words measured
    -- on 2 cores under a load average of 14
    DECLARE
        cs boolean := case_sensitive <> 0;
        dictionary regdictionary := lo_text_dictionary(language);
        body text := lo_text_normal(CASE jsonb_typeof(v) WHEN 'string' THEN v #>> '{}' WHEN 'array' THEN v::text END,
                                    cs, diacritic_sensitive <> 0);
        parts text[] := string_to_array(lo_text_normal(term, cs, diacritic_sensitive <> 0), '"');
        rest text := '';
        wanted text[] := '{}';
        excluded text[] := '{}';
        token text;
        word text;
        stem text;
        words bigint := 0;
        hits bigint := 0;
        k integer;
    BEGIN
        IF body IS NULL THEN
            RETURN NULL;
        END IF;
        -- the term: "phrases" (each must appear in the text), words (any), -words (none)
        FOR k IN 1 .. cardinality(parts) LOOP
            IF k % 2 = 1 THEN
                rest := rest || ' ' || parts[k];
            ELSIF k = cardinality(parts) THEN
                rest := rest || ' "' || parts[k];  -- an unclosed quote opens no phrase
            ELSIF btrim(parts[k], E' \t\n\r\f\v') <> '' THEN
                IF strpos(body, btrim(parts[k], E' \t\n\r\f\v')) = 0 THEN
                    RETURN NULL;
                END IF;
                hits := hits + 1;
            END IF;
        END LOOP;
        FOREACH token IN ARRAY regexp_split_to_array(rest, '\s+') LOOP
            FOREACH word IN ARRAY regexp_split_to_array(token, '\W+') LOOP
                CONTINUE WHEN word = '';
                stem := COALESCE((ts_lexize(dictionary, word))[1], lower(word));
                IF cs THEN  -- Snowball's dictionaries lower-case: keep which letters the word capitalised
                    stem := stem || ' ' || regexp_replace(regexp_replace(left(word, length(stem)), '[[:upper:]]', 'U',
                                                                         'g'), '[^U]', 'l', 'g');
                END IF;
                IF left(token, 1) = '-' THEN
                    excluded := excluded || stem;
                ELSE
                    wanted := wanted || stem;
                END IF;
            END LOOP;
        END LOOP;
        -- the text: its words' stems, each counted
        FOREACH word IN ARRAY regexp_split_to_array(body, '\W+') LOOP
            CONTINUE WHEN word = '';
            stem := COALESCE((ts_lexize(dictionary, word))[1], lower(word));
            IF cs THEN
                stem := stem || ' ' || regexp_replace(regexp_replace(left(word, length(stem)), '[[:upper:]]', 'U',
                                                                     'g'), '[^U]', 'l', 'g');
            END IF;
            IF stem = ANY (excluded) THEN
                RETURN NULL;
            END IF;
            words := words + 1;
            IF stem = ANY (wanted) THEN
                hits := hits + 1;
            END IF;
        END LOOP;
        RETURN CASE WHEN words > 0 AND hits > 0 THEN hits::double precision / words END;
    END $$;
"""

_COMPARED = ("text", "bigint", "integer", "double precision", "numeric")
_OPERATORS = {"=": "eq", "<>": "ne", "<": "lt", "<=": "le", ">": "gt", ">=": "ge"}
_COMMUTED = {"=": "=", "<>": "<>", "<": ">", "<=": ">=", ">": "<", ">=": "<="}
_NEGATED = {"=": "<>", "<>": "=", "<": ">=", "<=": ">", ">": "<=", ">=": "<"}


def _operators() -> List[str]:
    """A document's value (``jsonb``) compared with a parameter's type, both ways round."""
    out = []
    for other in _COMPARED:
        short = other.split()[0]
        for op, name in _OPERATORS.items():
            left, right = f"lo_{name}_j_{short}", f"lo_{name}_{short}_j"
            # STABLE, as to_jsonb is: PostgreSQL inlines a function only when its body is no more volatile
            # than it is declared, and only the inlined comparison (jsonb with jsonb) can use an index on
            # the document's value (an IMMUTABLE one here read every row: 3 ms for 2,000 against 0.07)
            out.append(f"CREATE OR REPLACE FUNCTION {left}(a jsonb, b {other}) RETURNS boolean LANGUAGE sql "
                       f"STABLE PARALLEL SAFE AS $$ SELECT a {op} to_jsonb(b) $$")
            out.append(f"CREATE OR REPLACE FUNCTION {right}(a {other}, b jsonb) RETURNS boolean LANGUAGE sql "
                       f"STABLE PARALLEL SAFE AS $$ SELECT to_jsonb(a) {op} b $$")
        for op, name in _OPERATORS.items():
            for function, larg, rarg in ((f"lo_{name}_j_{short}", "jsonb", other),
                                         (f"lo_{name}_{short}_j", other, "jsonb")):
                out.append(f"DO $$ BEGIN CREATE OPERATOR {op} (LEFTARG = {larg}, RIGHTARG = {rarg}, "
                           f"FUNCTION = {function}, COMMUTATOR = {_COMMUTED[op]}, NEGATOR = {_NEGATED[op]}); "
                           f"EXCEPTION WHEN duplicate_function THEN NULL; END $$")
    return out


def statements() -> List[str]:
    """Everything :data:`SYSTEM_TABLES` and :data:`FUNCTIONS` make, statement by statement, then the
    operators."""
    def split(script: str) -> List[str]:
        parts, current, quoted = [], [], False
        for line in script.strip().splitlines():
            current.append(line)
            quoted ^= line.count("$$") % 2 == 1
            if not quoted and line.rstrip().endswith(";"):
                parts.append("\n".join(current).rstrip().rstrip(";"))
                current = []
        return parts
    tables = split(SYSTEM_TABLES)
    key_index = [t for t in tables if "_counts_key" in t]
    return [t for t in tables if t not in key_index] + split(FUNCTIONS) + _operators() + key_index
