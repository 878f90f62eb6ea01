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

-- Lead scoring models return to lead's own conditions where they have
-- one: equals, in, contains and exists tests, ranges with gte and lte
-- bounds, {"field": f, "exists": false} as {"not": {"field": f, "op":
-- "exists"}}, and the two any forms the up migration writes for one old
-- test. Literals become the strings lead read (a number 50 becomes "50";
-- range bounds become numbers). Tests with no older form (prefix, under,
-- ranges with gt or lt, literals the old form cannot hold) stay as they
-- are, and the document with them is refused by code of version 10; a
-- document that is not JSON is left as it is.
CREATE FUNCTION {{schema}}.crm_lead_condition_v10(c jsonb) RETURNS jsonb
LANGUAGE plpgsql IMMUTABLE AS $$
DECLARE
    a jsonb;
    b jsonb;
    f jsonb;
    r jsonb;
BEGIN
    CASE jsonb_typeof(c)
    WHEN 'array' THEN
        RETURN (SELECT coalesce(jsonb_agg({{schema}}.crm_lead_condition_v10(e) ORDER BY i), '[]'::jsonb)
                FROM jsonb_array_elements(c) WITH ORDINALITY AS t(e, i));
    WHEN 'object' THEN
        NULL;
    ELSE
        RETURN c;
    END CASE;
    IF jsonb_typeof(c->'any') = 'array' AND jsonb_array_length(c->'any') = 2 AND (SELECT count(*) FROM jsonb_object_keys(c)) = 1 THEN
        a := c->'any'->0;
        b := c->'any'->1;
        IF b = '{"field": "company_size", "exists": false}'::jsonb AND a->>'field' = 'company_size' THEN
            RETURN {{schema}}.crm_lead_condition_v10(a);
        END IF;
        IF jsonb_typeof(a) = 'object' AND jsonb_typeof(b) = 'object'
           AND (SELECT count(*) FROM jsonb_object_keys(a)) = 2 AND (SELECT count(*) FROM jsonb_object_keys(b)) = 2
           AND a->'field' = b->'field' AND a->>'field' LIKE 'fields.%'
           AND jsonb_typeof(a->'equals') = 'boolean' AND jsonb_typeof(b->'equals') = 'string'
           AND lower(btrim(b->>'equals')) = a->>'equals' THEN
            RETURN jsonb_build_object('field', b->'field', 'op', 'equals', 'value', b->'equals');
        END IF;
    END IF;
    IF NOT c ? 'field' OR (SELECT count(*) FROM jsonb_object_keys(c)) <> 2 THEN
        -- a group, an event test or another part of the model
        RETURN (SELECT coalesce(jsonb_object_agg(k, {{schema}}.crm_lead_condition_v10(e)), '{}'::jsonb)
                FROM jsonb_each(c) AS t(k, e));
    END IF;
    f := c->'field';
    IF c ? 'equals' AND jsonb_typeof(c->'equals') IN ('string', 'number', 'boolean') THEN
        RETURN jsonb_build_object('field', f, 'op', 'equals', 'value', to_jsonb(c->>'equals'));
    ELSIF c ? 'in' AND jsonb_typeof(c->'in') = 'array'
          AND NOT EXISTS (SELECT 1 FROM jsonb_array_elements(c->'in') AS t(e) WHERE jsonb_typeof(e) NOT IN ('string', 'number')) THEN
        RETURN jsonb_build_object('field', f, 'op', 'in', 'values',
            (SELECT jsonb_agg(to_jsonb(e #>> '{}') ORDER BY i) FROM jsonb_array_elements(c->'in') WITH ORDINALITY AS t(e, i)));
    ELSIF c ? 'contains' THEN
        RETURN jsonb_build_object('field', f, 'op', 'contains', 'value', c->'contains');
    ELSIF c->'exists' = 'true'::jsonb THEN
        RETURN jsonb_build_object('field', f, 'op', 'exists');
    ELSIF c->'exists' = 'false'::jsonb THEN
        RETURN jsonb_build_object('not', jsonb_build_object('field', f, 'op', 'exists'));
    ELSIF jsonb_typeof(c->'range') = 'object' AND NOT (c->'range' ?| ARRAY['gt', 'lt']) THEN
        r := jsonb_build_object('field', f, 'op', 'range');
        IF c->'range' ? 'gte' THEN
            r := r || jsonb_build_object('min', (c->'range'->>'gte')::numeric);
        END IF;
        IF c->'range' ? 'lte' THEN
            r := r || jsonb_build_object('max', (c->'range'->>'lte')::numeric);
        END IF;
        RETURN r;
    END IF;
    RETURN c;
END
$$;

CREATE FUNCTION {{schema}}.crm_lead_model_v10(data bytea) RETURNS bytea
LANGUAGE plpgsql IMMUTABLE AS $$
DECLARE
    doc jsonb;
    out jsonb;
BEGIN
    doc := convert_from(data, 'UTF8')::jsonb;
    out := {{schema}}.crm_lead_condition_v10(doc);
    IF out = doc THEN
        RETURN data;
    END IF;
    RETURN convert_to(out::text, 'UTF8');
EXCEPTION WHEN OTHERS THEN
    RETURN data;
END
$$;

UPDATE {{schema}}.crm_lead_models AS m
SET data = n.data
FROM (SELECT tenant_id, kind, model_id, version, {{schema}}.crm_lead_model_v10(data) AS data
      FROM {{schema}}.crm_lead_models WHERE kind = 'scoring') AS n
WHERE m.tenant_id = n.tenant_id AND m.kind = n.kind AND m.model_id = n.model_id AND m.version = n.version
  AND m.data <> n.data;

DROP FUNCTION {{schema}}.crm_lead_model_v10(bytea);
DROP FUNCTION {{schema}}.crm_lead_condition_v10(jsonb);
