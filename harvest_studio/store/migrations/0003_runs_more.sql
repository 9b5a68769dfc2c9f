-- Continue-as-new chains, search attributes, memo, namespaces, delayed starts.

ALTER TABLE harvest.runs ADD COLUMN continued_from uuid;
ALTER TABLE harvest.runs ADD COLUMN search_attributes jsonb NOT NULL DEFAULT '{}'::jsonb;
ALTER TABLE harvest.runs ADD COLUMN memo jsonb;
CREATE INDEX runs_continued_from ON harvest.runs (continued_from) WHERE continued_from IS NOT NULL;
CREATE INDEX runs_search_attributes ON harvest.runs USING gin (search_attributes jsonb_path_ops);

CREATE TABLE harvest.namespaces (
    name         text PRIMARY KEY,
    description  text,
    created_at   timestamptz NOT NULL DEFAULT now()
);
INSERT INTO harvest.namespaces (name, description) VALUES ('default', 'the default namespace');
