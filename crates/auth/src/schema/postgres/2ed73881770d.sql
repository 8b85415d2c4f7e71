CREATE TABLE workspace_permissions (
    workspace character varying(63) NOT NULL,
    user_id integer NOT NULL,
    permission character varying(32) NOT NULL
);
ALTER TABLE ONLY workspace_permissions
    ADD CONSTRAINT workspace_permissions_pk PRIMARY KEY (workspace, user_id);
ALTER TABLE ONLY workspace_permissions
    ADD CONSTRAINT workspace_permissions_user_id_fkey FOREIGN KEY (user_id) REFERENCES users(id);
CREATE INDEX idx_workspace_permissions_user_id ON workspace_permissions USING btree (user_id);
CREATE INDEX idx_workspace_permissions_workspace ON workspace_permissions USING btree (workspace);
ALTER TABLE registered_model_permissions
    ADD COLUMN workspace character varying(63) DEFAULT 'default'::character varying NOT NULL;
ALTER TABLE registered_model_permissions DROP CONSTRAINT IF EXISTS unique_name_user;
ALTER TABLE ONLY registered_model_permissions
    ADD CONSTRAINT unique_workspace_name_user UNIQUE (workspace, name, user_id);
