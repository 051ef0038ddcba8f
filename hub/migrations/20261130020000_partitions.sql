-- migrate:up
-- A table partitioned by time gets one partition per period, created ahead by the retention job and dropped
-- whole once past retention. A row whose time no partition covers waits in the table's DEFAULT partition
-- (rows written by hand, or far in the past or future); when the partition for its period is created, it
-- moves there. The partition is named after its parent and first day: deliveries_20261130.
CREATE FUNCTION hub_ensure_partition(parent text, key text, lo timestamptz, hi timestamptz)
RETURNS boolean LANGUAGE plpgsql AS $$
DECLARE
    part text := parent || '_' || to_char(lo AT TIME ZONE 'UTC', 'YYYYMMDD');
    fallback text := parent || '_default';
BEGIN
    IF to_regclass(quote_ident(part)) IS NOT NULL THEN
        RETURN false;
    END IF;
    EXECUTE format('CREATE TABLE %I (LIKE %I INCLUDING DEFAULTS INCLUDING CONSTRAINTS)', part, parent);
    IF to_regclass(quote_ident(fallback)) IS NOT NULL THEN
        EXECUTE format(
            'WITH moved AS (DELETE FROM %I WHERE %I >= $1 AND %I < $2 RETURNING *) INSERT INTO %I SELECT * FROM moved',
            fallback, key, key, part
        ) USING lo, hi;
    END IF;
    -- attaching builds the parent's indexes and foreign keys on the new partition
    EXECUTE format('ALTER TABLE %I ATTACH PARTITION %I FOR VALUES FROM (%L) TO (%L)', parent, part, lo, hi);
    RETURN true;
END
$$;

-- migrate:down
DROP FUNCTION hub_ensure_partition;
