-- The colour of a contact's band in a model, kept beside the band wherever
-- the engine records one. Existing rows take the colour their band has in
-- the current version of their model.
ALTER TABLE scores ADD COLUMN IF NOT EXISTS band_color text NOT NULL DEFAULT '';

UPDATE scores s SET band_color = b.color
FROM (SELECT d.id AS model, e->>'name' AS name, coalesce(e->>'color', '') AS color
      FROM definitions d
      JOIN definition_versions v ON v.id = d.id AND v.version = d.current_version
      CROSS JOIN LATERAL jsonb_array_elements(CASE WHEN jsonb_typeof(v.body->'bands') = 'array' THEN v.body->'bands' ELSE '[]'::jsonb END) e
      WHERE d.kind = 'score_model') b
WHERE b.model = s.model AND b.name = s.band AND s.band_color = '';
