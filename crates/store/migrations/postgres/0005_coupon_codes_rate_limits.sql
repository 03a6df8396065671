-- Coupons keep their code as shown beside the normalised code used for look-ups.
ALTER TABLE coupons ADD COLUMN display_code TEXT NOT NULL DEFAULT '';

-- Fixed-window counters for rate limits (login attempts, unknown coupon codes), shared by
-- every instance.
CREATE TABLE rate_limits (
    bucket       TEXT NOT NULL,
    window_start TIMESTAMPTZ NOT NULL,
    hits         BIGINT NOT NULL,
    PRIMARY KEY (bucket, window_start)
);
CREATE INDEX rate_limits_window_idx ON rate_limits (window_start);
CREATE INDEX access_grants_coupon_idx ON access_grants (coupon_id);
