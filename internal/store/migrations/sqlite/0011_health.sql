-- One row that readiness rewrites to learn whether writes reach the disk again.
CREATE TABLE health_probe (id INTEGER PRIMARY KEY, probed_at BIGINT NOT NULL);
INSERT INTO health_probe (id, probed_at) VALUES (1, 0);
