-- Back to version 10: entry rules that are an "all" of field-in tests
-- return to {"match": [...]}. Other conditions have no older form and stay
-- as they are; code of version 10 refuses them.
UPDATE {{schema}}.crm_pools
SET definition = jsonb_set(definition, '{entry}', jsonb_build_object('match', (
        SELECT jsonb_agg(jsonb_build_object('field', c->'field', 'in', c->'in') ORDER BY ord)
        FROM jsonb_array_elements(definition->'entry'->'all') WITH ORDINALITY AS t(c, ord))))
WHERE jsonb_typeof(definition->'entry'->'all') = 'array'
  AND jsonb_array_length(definition->'entry'->'all') > 0
  AND NOT EXISTS (
        SELECT 1 FROM jsonb_array_elements(definition->'entry'->'all') AS c
        WHERE NOT (c ? 'field' AND c ? 'in') OR (SELECT count(*) FROM jsonb_object_keys(c)) <> 2);
