-- The plan a tenant had from each moment on: billing prices a closed period by the plan in effect
-- when the period closed, not by today's plan. Kept by a trigger, so every way of changing a
-- tenant's plan records it.
CREATE TABLE tenant_plans (
    org_id text NOT NULL,
    since  timestamptz NOT NULL,
    plan   text NOT NULL REFERENCES plans (name),
    PRIMARY KEY (org_id, since)
);

INSERT INTO tenant_plans (org_id, since, plan) SELECT org_id, created_at, plan FROM tenants;

CREATE FUNCTION gw_record_plan() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO tenant_plans (org_id, since, plan) VALUES (NEW.org_id, NEW.created_at, NEW.plan)
        ON CONFLICT (org_id, since) DO UPDATE SET plan = EXCLUDED.plan;
    ELSIF NEW.plan IS DISTINCT FROM OLD.plan THEN
        INSERT INTO tenant_plans (org_id, since, plan) VALUES (NEW.org_id, gw_now(), NEW.plan)
        ON CONFLICT (org_id, since) DO UPDATE SET plan = EXCLUDED.plan;
    END IF;
    RETURN NEW;
END $$;

CREATE TRIGGER tenants_plan_history AFTER INSERT OR UPDATE OF plan ON tenants
    FOR EACH ROW EXECUTE FUNCTION gw_record_plan();
