-- What a workflow type is beyond its code: for a DAG, its compiled graph (nodes, edges,
-- rules) per code version, so the graph of any past run can be read and drawn.
ALTER TABLE harvest.registry ADD COLUMN details jsonb;
