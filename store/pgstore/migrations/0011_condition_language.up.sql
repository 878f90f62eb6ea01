-- crmkit schema, version 11: one condition language (package cond).
-- A pool's entry rule moves from {"match": [{"field": f, "in": [...]}]},
-- every match holding, to the condition {"all": [{"field": f, "in": [...]}]}.
-- Field names and values keep their meaning: customer attributes by name,
-- custom fields as "fields.<name>", department IDs as ID strings.
UPDATE {{schema}}.crm_pools
SET definition = jsonb_set(definition, '{entry}', jsonb_build_object('all', (
        SELECT jsonb_agg(jsonb_build_object('field', m->'field', 'in', m->'in') ORDER BY ord)
        FROM jsonb_array_elements(definition->'entry'->'match') WITH ORDINALITY AS t(m, ord))))
WHERE jsonb_typeof(definition->'entry'->'match') = 'array'
  AND jsonb_array_length(definition->'entry'->'match') > 0;
