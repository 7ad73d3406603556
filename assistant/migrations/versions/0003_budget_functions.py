"""PostgreSQL: the budget's reserve and settle as server-side functions (one round trip each).

They do exactly what `assistant.budget.Budget` does step by step on SQLite: take the lock row, read
live reservations, the turn's charge and the settled counters, cap the output or refuse, insert the
reservation; settling records the usage and adds the cost to the counters. Keep the two in step:
the same tests run on both databases.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-22
"""

from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

COUNTERS = """
CREATE OR REPLACE FUNCTION budget_add(p_owner text, p_at timestamptz, p_zone text, p_delta numeric)
RETURNS void LANGUAGE plpgsql AS $$
DECLARE
  v_minute text := 'm:' || to_char(p_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI');
  v_day text := 'd:' || to_char(p_at AT TIME ZONE p_zone, 'YYYY-MM-DD');
BEGIN
  IF p_delta = 0 THEN RETURN; END IF;
  INSERT INTO budget_counter (scope, bucket, amount)
  SELECT s, b, p_delta
  FROM unnest(CASE WHEN p_owner IS NULL THEN ARRAY['all'] ELSE ARRAY['all', 'user:' || p_owner] END) AS s,
       unnest(ARRAY[v_minute, v_day]) AS b
  ON CONFLICT (scope, bucket) DO UPDATE SET amount = budget_counter.amount + EXCLUDED.amount;
END $$;
"""

RESERVE = """
CREATE OR REPLACE FUNCTION budget_reserve(
  p_now timestamptz, p_ttl_s int, p_zone text, p_owner text, p_thread text, p_turn text,
  p_provider text, p_model text, p_input int, p_max_out int, p_min_out int,
  p_price_in numeric, p_price_out numeric, p_hour_from text, p_day text,
  p_names text[], p_values numeric[], p_kinds text[])
RETURNS TABLE (call_id bigint, reserved numeric, max_out int, capped boolean,
               limit_name text, limit_value numeric, spent numeric)
LANGUAGE plpgsql AS $$
DECLARE
  v jsonb;
  v_live_all numeric; v_live_user numeric;
  v_room numeric; v_i int; v_best int := 0; v_spent numeric;
  v_out int := p_max_out; v_capped boolean := false;
  v_input_cost numeric := ceil(p_input * p_price_in) / 1000000;
  v_reserved numeric;
  v_id bigint;
  v_user text := 'user:' || coalesce(p_owner, '-');
BEGIN
  UPDATE budget_lock SET version = version + 1 WHERE id = 1;
  SELECT coalesce(sum(reserved_cost), 0), coalesce(sum(reserved_cost) FILTER (WHERE owner_id = p_owner), 0)
    INTO v_live_all, v_live_user
    FROM llm_usage WHERE status = 'reserved' AND expires_at > p_now;
  SELECT jsonb_build_object(
    'turn', (SELECT coalesce(sum(CASE WHEN status = 'settled' THEN cost
                                      WHEN status = 'reserved' AND expires_at > p_now THEN reserved_cost
                                      ELSE 0 END), 0) FROM llm_usage WHERE turn_id = coalesce(p_turn, '')),
    'hour_all', v_live_all + (SELECT coalesce(sum(amount), 0) FROM budget_counter
                 WHERE scope = 'all' AND bucket >= p_hour_from AND bucket < 'm;'),
    'hour_user', v_live_user + (SELECT coalesce(sum(amount), 0) FROM budget_counter
                  WHERE scope = v_user AND bucket >= p_hour_from AND bucket < 'm;'),
    'day_all', v_live_all + (SELECT coalesce(sum(amount), 0) FROM budget_counter
                 WHERE scope = 'all' AND bucket = p_day),
    'day_user', v_live_user + (SELECT coalesce(sum(amount), 0) FROM budget_counter
                  WHERE scope = v_user AND bucket = p_day)) INTO v;
  FOR v_i IN 1 .. array_length(p_names, 1) LOOP
    v_spent := (v ->> p_kinds[v_i])::numeric;
    IF v_best = 0 OR p_values[v_i] - v_spent < v_room THEN
      v_best := v_i; v_room := p_values[v_i] - v_spent;
    END IF;
  END LOOP;
  v_spent := (v ->> p_kinds[v_best])::numeric;
  IF ceil(p_input * p_price_in + p_max_out * p_price_out) / 1000000 > v_room THEN
    v_capped := true;
    v_out := 0;
    IF p_price_out > 0 THEN
      v_out := greatest(0, floor((v_room - v_input_cost - 0.000001) * 1000000 / p_price_out));
    END IF;
    IF v_out < least(p_min_out, p_max_out) THEN
      RETURN QUERY SELECT NULL::bigint, 0::numeric, 0, true, p_names[v_best], p_values[v_best], v_spent;
      RETURN;
    END IF;
    v_out := least(v_out, p_max_out);
  END IF;
  v_reserved := ceil(p_input * p_price_in + v_out * p_price_out) / 1000000;
  IF v_reserved > v_room THEN
    RETURN QUERY SELECT NULL::bigint, 0::numeric, 0, true, p_names[v_best], p_values[v_best], v_spent;
    RETURN;
  END IF;
  INSERT INTO llm_usage (owner_id, thread_id, turn_id, provider, model, input_tokens, output_tokens,
                         cached_tokens, reserved_cost, cost, status, created_at, expires_at)
  VALUES (p_owner, p_thread, p_turn, p_provider, p_model, p_input, v_out, 0, v_reserved, 0, 'reserved',
          p_now, p_now + make_interval(secs => p_ttl_s))
  RETURNING id INTO v_id;
  RETURN QUERY SELECT v_id, v_reserved, v_out, v_capped, p_names[v_best], p_values[v_best], v_spent;
END $$;
"""

SETTLE = """
CREATE OR REPLACE FUNCTION budget_settle(p_id bigint, p_input int, p_output int, p_cached int, p_cost numeric,
                                         p_now timestamptz, p_zone text)
RETURNS void LANGUAGE plpgsql AS $$
DECLARE r record;
BEGIN
  UPDATE llm_usage SET status = 'settled', input_tokens = p_input, output_tokens = p_output,
         cached_tokens = p_cached, cost = p_cost, settled_at = p_now
   WHERE id = p_id RETURNING owner_id, created_at INTO r;
  PERFORM budget_add(r.owner_id, r.created_at, p_zone, p_cost);
END $$;
"""


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for sql in (COUNTERS, RESERVE, SETTLE):
        op.execute(sql)


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("DROP FUNCTION IF EXISTS budget_settle(bigint, int, int, int, numeric, timestamptz, text)")
    op.execute("DROP FUNCTION IF EXISTS budget_reserve(timestamptz, int, text, text, text, text, text, text, int, "
               "int, int, numeric, numeric, text, text, text[], numeric[], text[])")
    op.execute("DROP FUNCTION IF EXISTS budget_add(text, timestamptz, text, numeric)")
