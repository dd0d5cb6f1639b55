-- The console: keyset pages of the hot list ordered by score then contact
-- id, and per-step counts of a flow's runs.
CREATE INDEX scores_hot_page ON scores (model, score DESC, contact_id);
CREATE INDEX flow_runs_flow_step ON flow_runs (flow_id, status, step_id);
-- Segment member counts over time (entered/exited per day).
CREATE INDEX segment_history_segment ON segment_history (segment_id, at);
