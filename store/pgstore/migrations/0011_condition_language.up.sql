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

-- Lead scoring models (rows of kind 'scoring' in crm_lead_models; kind
-- 'predictor' holds no conditions) move from lead's own conditions to the
-- condition language, at any depth inside all, any and not:
--   {"field": f, "op": "equals", "value": v}        -> {"field": f, "equals": v}
--   {"field": f, "op": "in", "values": [...]}        -> {"field": f, "in": [...]}
--   {"field": f, "op": "contains", "value": v}      -> {"field": f, "contains": v}
--   {"field": f, "op": "exists"}                    -> {"field": f, "exists": true}
--   {"field": f, "op": "range", "min": a, "max": b} -> {"field": f, "range": {"gte": a, "lte": b}}
-- (a range keeps only the bounds it had). Event tests stay as they are.
-- Literals keep their text: the language reads a decimal string as a
-- number for company_size, compares numeric text with the numbers of
-- custom fields, and compares text ignoring case, as lead did. Two old
-- meanings need more than a new spelling and are kept exactly:
--   - a custom field equal to "true" or "false" held for a bool field of
--     that value as well as for that text; the language compares a bool
--     only with a bool literal, so the test becomes
--     {"any": [{"field": f, "equals": true}, {"field": f, "equals": "true"}]};
--   - company_size read a lead without a size as 0, so a test that 0
--     passes (a range whose lower bound is absent or at most 0, equals or
--     in with 0) held for such a lead; in the language an unset field
--     passes no test, so the test becomes
--     {"any": [test, {"field": "company_size", "exists": false}]}.
-- Two old meanings are not kept, as the language has no way to say them:
-- a test of a custom field whose value is of another type than the
-- literal (text tested with a range, a number with contains) is unknown
-- rather than false, so a not around it no longer holds; and an in on a
-- custom number field no longer matches 0 for a listed text that is not
-- a number (lead read such text as 0).
-- A document is rewritten only when it changes, as PostgreSQL prints
-- jsonb (lead's loader reads it like any JSON); one that is not JSON, or
-- holds a number PostgreSQL cannot read, is left for the loader to report.
CREATE FUNCTION {{schema}}.crm_lead_condition_v11(c jsonb) RETURNS jsonb
LANGUAGE plpgsql IMMUTABLE AS $$
DECLARE
    f    text;
    v    text;
    lits jsonb;
    out  jsonb;
    zero boolean;
BEGIN
    CASE jsonb_typeof(c)
    WHEN 'array' THEN
        RETURN (SELECT coalesce(jsonb_agg({{schema}}.crm_lead_condition_v11(e) ORDER BY i), '[]'::jsonb)
                FROM jsonb_array_elements(c) WITH ORDINALITY AS t(e, i));
    WHEN 'object' THEN
        IF NOT (c ? 'field' AND c ? 'op') THEN
            -- a group, an event test or another part of the model
            RETURN (SELECT coalesce(jsonb_object_agg(k, {{schema}}.crm_lead_condition_v11(e)), '{}'::jsonb)
                    FROM jsonb_each(c) AS t(k, e));
        END IF;
    ELSE
        RETURN c;
    END CASE;
    f := c->>'field';
    CASE c->>'op'
    WHEN 'equals' THEN
        out := jsonb_build_object('field', c->'field', 'equals', c->'value');
        lits := jsonb_build_array(c->'value');
        v := lower(btrim(c->>'value'));
        IF f LIKE 'fields.%' AND v IN ('true', 'false') THEN
            out := jsonb_build_object('any', jsonb_build_array(
                jsonb_build_object('field', c->'field', 'equals', v::jsonb), out));
        END IF;
    WHEN 'in' THEN
        out := jsonb_build_object('field', c->'field', 'in', c->'values');
        lits := c->'values';
    WHEN 'contains' THEN
        out := jsonb_build_object('field', c->'field', 'contains', c->'value');
    WHEN 'exists' THEN
        out := jsonb_build_object('field', c->'field', 'exists', true);
    WHEN 'range' THEN
        out := jsonb_build_object('field', c->'field', 'range',
            jsonb_strip_nulls(jsonb_build_object('gte', c->'min', 'lte', c->'max')));
    ELSE
        RETURN c; -- not an operator of lead's: left for the loader to refuse
    END CASE;
    IF f = 'company_size' THEN
        -- Does the old test hold for 0, a lead without a size?
        zero := CASE c->>'op'
            WHEN 'range' THEN coalesce((c->>'min')::numeric <= 0, true) AND coalesce((c->>'max')::numeric >= 0, true)
            ELSE EXISTS (SELECT 1 FROM jsonb_array_elements(coalesce(lits, '[]'::jsonb)) AS t(e)
                         WHERE CASE WHEN btrim(e #>> '{}') ~ '^[+-]?([0-9]+[.]?[0-9]*|[.][0-9]+)([eE][+-]?[0-9]+)?$'
                                    THEN btrim(e #>> '{}')::numeric = 0 ELSE false END)
            END;
        IF zero THEN
            out := jsonb_build_object('any', jsonb_build_array(out,
                jsonb_build_object('field', 'company_size', 'exists', false)));
        END IF;
    END IF;
    RETURN out;
END
$$;

CREATE FUNCTION {{schema}}.crm_lead_model_v11(data bytea) RETURNS bytea
LANGUAGE plpgsql IMMUTABLE AS $$
DECLARE
    doc jsonb;
    out jsonb;
BEGIN
    doc := convert_from(data, 'UTF8')::jsonb;
    out := {{schema}}.crm_lead_condition_v11(doc);
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
FROM (SELECT tenant_id, kind, model_id, version, {{schema}}.crm_lead_model_v11(data) AS data
      FROM {{schema}}.crm_lead_models WHERE kind = 'scoring') AS n
WHERE m.tenant_id = n.tenant_id AND m.kind = n.kind AND m.model_id = n.model_id AND m.version = n.version
  AND m.data <> n.data;

DROP FUNCTION {{schema}}.crm_lead_model_v11(bytea);
DROP FUNCTION {{schema}}.crm_lead_condition_v11(jsonb);
